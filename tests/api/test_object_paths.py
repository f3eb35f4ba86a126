"""Object paths the API cannot serve answer 404 naming the right form, never 500: a Kubernetes-style
`/api/v1/namespaces/default/replicas` (a cluster-wide kind given a namespace), an empty namespace.

The handler runs in this process on a real SQLite store, as in test_bad_input.
"""

from __future__ import annotations

import pytest

from modelplane.api.routes import Api
from tests.api.test_bad_input import api, call  # noqa: F401  (api is a fixture)


@pytest.mark.parametrize(
    ("method", "path", "says"),
    [
        ("GET", "/api/v1/namespaces/default/replicas", "/api/v1/namespaces/<name>"),
        ("GET", "/api/v1/namespaces/default/replicas/x", "/api/v1/namespaces/<name>"),
        ("DELETE", "/api/v1/nodepools/a/b", "/api/v1/nodepools/<name>"),
        ("GET", "/api/v1/replicas//x", "/api/v1/replicas/<namespace>/<name>"),
        ("GET", "/api/v1/modeldeployments//iris/scale", "/api/v1/modeldeployments/<namespace>/<name>"),
    ],
)
def test_a_path_with_the_wrong_scope_is_404_with_the_right_form(
    api: Api,  # noqa: F811
    method: str,
    path: str,
    says: str,
) -> None:
    status, body = call(api, method, path)
    assert status == 404, body
    assert says in body["error"], body


def test_the_right_forms_still_answer(api: Api) -> None:  # noqa: F811
    assert call(api, "GET", "/api/v1/namespaces/default")[0] in (200, 404)
    status, body = call(api, "GET", "/api/v1/replicas/default/nope")
    assert status == 404 and "nope" in body["error"], body

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


DEPLOYMENT = b"""\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: iris}
spec: {replicas: 0, model: {format: sklearn, uri: models/iris.joblib}}
"""


@pytest.mark.parametrize("base_dir", ["%00", "/srv/app%00", "relative/dir"])
def test_apply_with_a_base_dir_that_is_not_an_absolute_path_is_400(
    api: Api,  # noqa: F811
    base_dir: str,
) -> None:
    # a NUL raised ValueError resolving the uri (a 500); a relative one resolved against the control
    # plane's working directory, which the client cannot know
    status, body = call(api, "POST", f"/api/v1/apply?file=spec.yaml&baseDir={base_dir}", DEPLOYMENT)
    assert status == 400, body
    assert "baseDir" in body["error"] and "absolute" in body["error"], body
    assert call(api, "GET", "/api/v1/modeldeployments")[1]["items"] == []


def test_apply_with_an_absolute_base_dir_resolves_the_uri_there(api: Api) -> None:  # noqa: F811
    status, body = call(api, "POST", "/api/v1/apply?file=spec.yaml&baseDir=/srv/app", DEPLOYMENT)
    assert status == 200, body
    stored = call(api, "GET", "/api/v1/modeldeployments/default/iris")[1]
    assert stored["spec"]["model"]["uri"] == "/srv/app/models/iris.joblib"

"""`scale` and autoscaling: one owner for how many replicas a deployment wants (modelplane.spec).

A deployment with spec.autoscaling is scaled by the autoscaler only: `POST .../scale` answers 409 with
the fields to change instead and stores nothing; a fixed deployment scales as before. The handler is
tested in this process on a real store; the end-to-end test goes through a real control plane and
the CLI, and checks the count the controller publishes (status.desiredReplicas).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from modelplane.api.routes import Api, Hub, render_error
from modelplane.net.errors import HttpError
from modelplane.net.http import Deferred, Request
from modelplane.store import Store
from tests.api.conftest import ControlPlane
from tests.conftest import wait_for

DEPLOYMENT = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: {name}}}
spec:
  model: {{format: simulated, params: {{latencyMs: 1}}}}
  probes: {{readiness: {{periodSeconds: 1}}}}
"""
AUTOSCALING = """\
  autoscaling:
    minReplicas: {low}
    maxReplicas: 3
    metrics: [{{type: concurrency, target: 4}}]
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with Store(tmp_path / "state") as store:
        yield Api(store, hub=Hub(), state_dir=tmp_path / "state", token=None, on_down=lambda: None)


def call(api: Api, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    target, _, query = path.partition("?")
    request = Request(method, target, query, body, None, {b"host": b"127.0.0.1"})
    try:
        response = api(request)
    except HttpError as error:
        response = render_error(error)
    assert not isinstance(response, Deferred)
    return response.status, orjson.loads(response.body)


def test_scale_of_an_autoscaled_deployment_is_refused_409_and_changes_nothing(api: Api) -> None:
    text = DEPLOYMENT.format(name="auto") + AUTOSCALING.format(low=1)
    assert call(api, "POST", "/api/v1/apply", text.encode())[0] == 200
    before = call(api, "GET", "/api/v1/modeldeployments/default/auto")[1]
    status, body = call(api, "POST", "/api/v1/modeldeployments/default/auto/scale", b'{"replicas": 3}')
    assert status == 409 and body["reason"] == "Conflict", body
    assert body["error"].startswith(
        "ModelDeployment 'auto' (namespace default) is autoscaled between 1 and 3 replicas"
    )
    assert "spec.autoscaling.minReplicas / maxReplicas" in body["error"]
    assert call(api, "GET", "/api/v1/modeldeployments/default/auto")[1] == before  # not even the rv


def test_scale_of_a_fixed_deployment_sets_spec_replicas(api: Api) -> None:
    assert call(api, "POST", "/api/v1/apply", DEPLOYMENT.format(name="fixed").encode())[0] == 200
    status, body = call(api, "POST", "/api/v1/modeldeployments/default/fixed/scale", b'{"replicas": 3}')
    assert status == 200 and body["spec"]["replicas"] == 3, body


@pytest.mark.slow
def test_scale_refused_end_to_end_and_min_replicas_is_what_runs(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(DEPLOYMENT.format(name="auto") + AUTOSCALING.format(low=1), tmp_path)
    control_plane.wait_ready("auto", 1)
    assert control_plane.deployment("auto")["status"]["desiredReplicas"] == 1

    done = control_plane.cli("scale", "auto", "--replicas", "3")
    assert done.returncode == 1 and done.stdout == "", done.stdout + done.stderr
    assert "is autoscaled between 1 and 3 replicas" in done.stderr
    assert "Change spec.autoscaling.minReplicas / maxReplicas" in done.stderr.replace("\n", " ")
    assert control_plane.deployment("auto")["spec"]["replicas"] == 1  # untouched

    # what the message says to do: raise minReplicas and apply
    control_plane.apply(DEPLOYMENT.format(name="auto") + AUTOSCALING.format(low=2), tmp_path)
    control_plane.wait_ready("auto", 2)
    wait_for(
        lambda: control_plane.deployment("auto")["status"].get("desiredReplicas") == 2,
        timeout=30,
        what="status.desiredReplicas 2",
    )
    shown = control_plane.cli("get", "md", "auto")
    assert shown.returncode == 0 and "2/2" in shown.stdout, shown.stdout + shown.stderr

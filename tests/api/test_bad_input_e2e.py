"""The bad input of test_bad_input.py, end to end: the CLI and raw HTTP against a real control plane
started by `modelplane up`, whose state dir is private."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.api.conftest import ControlPlane, run_cli
from tests.spec.test_yaml_limits import LAUGHS

HUGE = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: huge}
spec:
  model: {format: simulated}
  terminationGracePeriodSeconds: 100000000000000000000000
"""


def test_bad_input_is_refused_and_the_api_keeps_answering(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(LAUGHS)
    for command in ("validate", "apply"):
        done = (
            control_plane.cli(command, "-f", str(bomb))
            if command == "apply"
            else run_cli(command, "-f", str(bomb))
        )
        assert done.returncode != 0
        assert f"{bomb}:1: ModelDeployment/bomb: YAML aliases expand" in done.stderr + done.stdout
    status, body = control_plane.request("POST", "/api/v1/apply", LAUGHS.encode())
    assert status == 400 and body["reason"] == "BadRequest", body
    status, body = control_plane.request("POST", "/api/v1/apply", HUGE.encode())
    assert status == 422 and "must be ≤ 2,147,483,647" in body["details"][0], body
    status, body = control_plane.request("GET", "/api/v1/modeldeployments")
    assert status == 200 and body["items"] == []
    for query in ("watch?since=99999999999999999999", "watch?since=-1", "endpoints?since=abc"):
        status, body = control_plane.request("GET", f"/api/v1/{query}")
        assert status == 400 and body["error"].startswith("query parameter since must be"), (query, body)

    control_plane.apply(HUGE.replace("100000000000000000000000", "5"), tmp_path)
    control_plane.wait_ready("huge", 1)
    replica = control_plane.replicas("huge")[0]["metadata"]["name"]
    status, body = control_plane.request("GET", f"/api/v1/logs/default/{replica}?offset=-100")
    assert status == 400 and body["error"].startswith("query parameter offset must be"), body

    state = control_plane.state
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = [path for path in state.rglob("*") if path.is_file()]
    names = {path.name for path in files}
    assert {"state.db", "controlplane.log", "up.json", f"default.{replica}.log"} <= names, names
    assert any(path.parent.name == "replicas" for path in files), files
    assert {path.name: stat.S_IMODE(path.stat().st_mode) & 0o077 for path in files} == {
        path.name: 0 for path in files
    }

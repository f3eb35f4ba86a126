"""`modelplane recommend` end to end: usage recorded by the node agent, advice from the API, the CLI."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelplane.spec import parse_memory
from tests.api.conftest import ControlPlane
from tests.conftest import wait_for

OVERSIZED = textwrap.dedent(
    """
    apiVersion: modelplane.dev/v1alpha1
    kind: ModelDeployment
    metadata: {name: oversized}
    spec:
      model: {format: simulated}
      resources: {requests: {cpu: "1", memory: 2Gi}, limits: {cpu: "2", memory: 2Gi}}
    """
)


@pytest.mark.skipif(
    not (os.access("/sys/fs/cgroup/memory", os.W_OK) or os.path.exists("/sys/fs/cgroup/cgroup.controllers")),
    reason="no writable memory cgroup on this machine: usage is not measured here",
)
def test_an_idle_deployment_asking_for_2gi_is_shown_over_provisioned(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(OVERSIZED, tmp_path)

    def memory_advice() -> dict[str, Any]:
        status, body = control_plane.request(
            "GET", "/api/v1/recommendations?namespace=default&deployment=oversized"
        )
        assert status == 200, body
        [item] = body["items"]
        return dict(next(r for r in item["resources"] if r["resource"] == "memory"))

    wait_for(lambda: memory_advice()["samples"] >= 3, timeout=60, what="3 usage samples", interval=0.5)

    shown = control_plane.cli("recommend", "oversized")
    assert shown.returncode == 0, shown.stderr
    [memory_row] = [line.split() for line in shown.stdout.splitlines() if line.startswith("memory ")]
    assert memory_row[1:3] == ["2Gi", "2Gi"] and memory_row[-1] == "over-provisioned", shown.stdout
    block = yaml.safe_load(shown.stdout.split("Proposed for the spec of oversized:\n")[1])
    proposed = parse_memory(block["resources"]["requests"]["memory"])
    assert proposed <= 1 << 30, shown.stdout  # a simulated model needs a fraction of the 2Gi it asks for
    assert proposed == parse_memory(memory_row[5])

    unknown = control_plane.cli("recommend", "nope")
    assert unknown.returncode == 1
    assert "Deployment 'nope' was not found in namespace default" in unknown.stderr
    assert "modelplane get md" in unknown.stderr
    status, body = control_plane.request("GET", "/api/v1/recommendations?window=0")
    assert status == 400 and "window" in body["error"]

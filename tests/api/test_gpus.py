"""GPU pools with an injected inventory (no GPU here): whole devices, CUDA_VISIBLE_DEVICES, taints,
and a replica that waits Pending once the inventory is exhausted, never landing on a CPU pool."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.api.conftest import running_control_plane
from tests.conftest import wait_for

SPECS = """
apiVersion: modelplane.dev/v1alpha1
kind: NodePool
metadata: {name: gpu}
spec:
  capacity: {cpu: "1", memory: 4Gi, gpu: 1}
  labels: {accelerator: nvidia}
  taints: [{key: nvidia.com/gpu, effect: NoSchedule}]
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: llm-a}
spec:
  model: {format: simulated}
  resources: {limits: {gpu: 1}}
  nodeSelector: {accelerator: nvidia}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
  probes: {readiness: {periodSeconds: 1}}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: llm-b}
spec:
  model: {format: simulated}
  resources: {limits: {gpu: 1}}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: cpu-only}
spec:
  model: {format: simulated}
  probes: {readiness: {periodSeconds: 1}}
"""


@pytest.mark.slow
def test_gpus_are_whole_devices_and_an_exhausted_inventory_leaves_replicas_pending(tmp_path: Path) -> None:
    inventory = json.dumps([{"index": 0, "name": "NVIDIA H100 (injected)", "memory": "80Gi"}])
    with running_control_plane(tmp_path, {"MODELPLANE_GPUS": inventory}) as plane:
        plane.apply(textwrap.dedent(SPECS), tmp_path)
        plane.wait_ready("llm-a", 1)
        plane.wait_ready("cpu-only", 1)
        llm_a = plane.replicas("llm-a")[0]
        assert llm_a["spec"]["pool"] == "gpu" and llm_a["spec"]["gpus"] == [0]
        environ = Path(f"/proc/{llm_a['status']['pid']}/environ").read_bytes().split(b"\0")
        assert b"CUDA_VISIBLE_DEVICES=0" in environ
        cpu_only = plane.replicas("cpu-only")[0]
        assert cpu_only["spec"]["pool"] == "local"  # the taint keeps it off the GPU pool
        environ = Path(f"/proc/{cpu_only['status']['pid']}/environ").read_bytes().split(b"\0")
        assert b"CUDA_VISIBLE_DEVICES=" in environ  # a CPU replica sees no GPU

        def pending_reason() -> str:
            replicas = plane.replicas("llm-b")
            return replicas[0]["status"].get("message", "") if replicas else ""

        wait_for(lambda: "Insufficient gpu" in pending_reason(), timeout=30, what="llm-b to be unschedulable")
        llm_b = plane.replicas("llm-b")[0]
        assert llm_b["status"]["phase"] == "Pending" and llm_b["spec"]["pool"] is None
        assert pending_reason() == "0/2 pools are available: 2 Insufficient gpu."

"""Staging and production side by side (issue 4): same model names routed separately, a quota that
refuses a replica with Kubernetes' message, and namespace defaults filled into replicas."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

from tests.api.conftest import ControlPlane
from tests.api.test_controlplane import ACCEL_BODY
from tests.conftest import wait_for

SPECS = """
apiVersion: modelplane.dev/v1alpha1
kind: Namespace
metadata: {name: staging}
spec:
  quota: {cpu: "1"}
  defaults: {limits: {cpu: 500m, memory: 256Mi}}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel, namespace: staging}
spec:
  model: {format: simulated, version: staging, params: {latencyMs: 5}}
  replicas: 3
  probes: {readiness: {periodSeconds: 1}}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel}
spec:
  model: {format: simulated, version: production, params: {latencyMs: 5}}
  probes: {readiness: {periodSeconds: 1}}
"""


def test_staging_and_production_side_by_side_with_a_quota(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(textwrap.dedent(SPECS), tmp_path)

    def staging_failure() -> str:
        status, body = control_plane.request("GET", "/api/v1/modeldeployments/staging/accel")
        conditions = (body.get("status") or {}).get("conditions") or [] if status == 200 else []
        return next((c["message"] for c in conditions if c["type"] == "ReplicaFailure"), "")

    wait_for(lambda: bool(staging_failure()), timeout=30, what="the quota refusal")
    assert staging_failure() == "exceeded quota: staging, requested: cpu=500m, used: cpu=1, limited: cpu=1"
    staging = [r for r in control_plane.replicas() if r["metadata"]["namespace"] == "staging"]
    assert len(staging) == 2
    assert all(r["spec"]["resources"]["limits"]["cpu"] == "500m" for r in staging)  # namespace defaults
    answers: dict[str, str] = {}

    def answered() -> bool:
        for prefix, version in (("", "production"), ("/ns/staging", "staging")):
            request = urllib.request.Request(
                control_plane.ingress + prefix + "/v2/models/accel/infer", data=ACCEL_BODY, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answers[version] = json.loads(response.read())["model_version"]
            except urllib.error.HTTPError:
                return False
        return True

    wait_for(answered, timeout=60, what="both namespaces to answer through the router")
    assert answers == {"production": "production", "staging": "staging"}

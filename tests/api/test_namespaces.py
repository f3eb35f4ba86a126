"""Staging and production side by side (issue 4): same model names routed separately, a quota that
refuses a replica with Kubernetes' message, and namespace defaults filled into replicas."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.api.conftest import ControlPlane, Load
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
---
apiVersion: modelplane.dev/v1alpha1
kind: Namespace
metadata: {name: bare}
spec:
  quota: {memory: 1Gi}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel, namespace: bare}
spec:
  model: {format: simulated, params: {latencyMs: 5}}
"""


def test_staging_and_production_side_by_side_with_a_quota(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(textwrap.dedent(SPECS), tmp_path)

    def staging_failure(namespace: str = "staging") -> str:
        status, body = control_plane.request("GET", f"/api/v1/modeldeployments/{namespace}/accel")
        conditions = (body.get("status") or {}).get("conditions") or [] if status == 200 else []
        return next((c["message"] for c in conditions if c["type"] == "ReplicaFailure"), "")

    wait_for(lambda: bool(staging_failure()), timeout=30, what="the quota refusal")
    assert staging_failure() == "exceeded quota: staging, requested: cpu=500m, used: cpu=1, limited: cpu=1"
    # a memory quota and no memory request, none from the namespace: Kubernetes' "must specify"
    wait_for(lambda: bool(staging_failure("bare")), timeout=30, what="the must-specify refusal")
    assert staging_failure("bare") == "failed quota: bare: must specify memory for: accel"
    assert not [r for r in control_plane.replicas() if r["metadata"]["namespace"] == "bare"]
    staging = [r for r in control_plane.replicas() if r["metadata"]["namespace"] == "staging"]
    assert len(staging) == 2
    assert all(r["spec"]["resources"]["limits"]["cpu"] == "500m" for r in staging)  # namespace defaults
    answers: dict[str, str] = {}

    def answered() -> bool:
        for prefix, version in (("", "production"), ("/ns/staging", "staging")):
            request = urllib.request.Request(
                control_plane.ingress + prefix + "/v2/models/accel/infer",
                data=ACCEL_BODY,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answers[version] = json.loads(response.read())["model_version"]
            except urllib.error.HTTPError:
                return False
        return True

    wait_for(answered, timeout=60, what="both namespaces to answer through the router")
    assert answers == {"production": "production", "staging": "staging"}


DEPLOYMENT_THEN_NAMESPACE = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel}
spec:
  model: {format: simulated, version: production, params: {latencyMs: 5}}
  probes: {readiness: {periodSeconds: 1}}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel, namespace: staging}
spec:
  model: {format: simulated, version: staging, params: {latencyMs: 5}}
  probes: {readiness: {periodSeconds: 1}}
"""
STAGING = """---
apiVersion: modelplane.dev/v1alpha1
kind: Namespace
metadata: {name: staging}
"""


def infer(plane: ControlPlane, prefix: str = "") -> str:
    """The model version that answers one request through the router; '' when it fails."""
    url = plane.ingress + prefix + "/v2/models/accel/infer"
    try:
        request = urllib.request.Request(url, data=ACCEL_BODY, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.loads(response.read())["model_version"])
    except urllib.error.HTTPError:
        return ""


def test_apply_into_a_missing_namespace_stores_nothing_until_the_file_declares_it(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    spec = tmp_path / "accel.yaml"
    spec.write_text(textwrap.dedent(DEPLOYMENT_THEN_NAMESPACE))
    refused = control_plane.cli("apply", "-f", str(spec))
    assert refused.returncode == 1
    assert 'namespaces "staging" not found; nothing was stored.' in refused.stderr, refused.stderr
    assert (
        f'{spec}:9: ModelDeployment/staging/accel: namespace "staging" does not exist; apply a Namespace '
        "named staging first (kind: Namespace, metadata.name: staging)"
    ) in refused.stderr
    assert control_plane.request("GET", "/api/v1/modeldeployments")[1]["items"] == []  # not even default's

    spec.write_text(textwrap.dedent(DEPLOYMENT_THEN_NAMESPACE + STAGING))  # the Namespace comes last
    applied = control_plane.cli("apply", "-f", str(spec))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [
        "namespace.modelplane.dev/staging created",
        "modeldeployment.modelplane.dev/accel created",
        "modeldeployment.modelplane.dev/accel created",
    ]
    listed = control_plane.cli("get", "ns")
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [
        ["NAME", "STATUS"], ["default", "Active"], ["staging", "Active"],
    ]  # fmt: skip
    forbidden = control_plane.cli("delete", "ns", "default")
    assert forbidden.returncode == 1
    assert 'namespace "default" is forbidden: this namespace may not be deleted' in forbidden.stderr


def test_deleting_a_namespace_drains_everything_in_it_and_nothing_else(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(textwrap.dedent(STAGING + "---\n" + DEPLOYMENT_THEN_NAMESPACE), tmp_path)
    wait_for(
        lambda: infer(control_plane) == "production" and infer(control_plane, "/ns/staging") == "staging",
        timeout=60,
        what="both namespaces to answer through the router",
    )
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=4) as load:
        load.wait_for_more(50)
        deleted = control_plane.cli("delete", "ns", "staging")
        assert deleted.returncode == 0, deleted.stderr
        # the namespace stays, Terminating, while its replica drains (at least the router's 1 s)
        status, refused = control_plane.request(
            "POST", "/api/v1/apply", textwrap.dedent(DEPLOYMENT_THEN_NAMESPACE).encode()
        )
        assert status == 403, refused
        assert "unable to create new content in namespace staging because it is being terminated" in str(
            refused
        )

        def staging(kind: str) -> list[dict[str, Any]]:
            items = control_plane.request("GET", f"/api/v1/{kind}?namespace=staging")[1]["items"]
            return list(items)

        def phase() -> str:
            answer = control_plane.request("GET", "/api/v1/namespaces/staging")[1]
            return str((answer.get("status") or {}).get("phase"))

        wait_for(lambda: phase() == "Terminating", timeout=10, what="staging to be Terminating")
        wait_for(
            lambda: any(r["status"].get("phase") == "Terminating" for r in staging("replicas")),
            timeout=10,
            what="the staging replica to drain",
        )
        wait_for(
            lambda: control_plane.request("GET", "/api/v1/namespaces/staging")[0] == 404,
            timeout=60,
            what="the namespace to be removed once empty",
        )
        assert [staging(kind) for kind in ("modeldeployments", "revisions", "replicas")] == [[], [], []]
        load.wait_for_more(50)
    assert load.failures == [], load.failures[:5]
    assert infer(control_plane) == "production"
    assert control_plane.deployment("accel")["status"]["readyReplicas"] == 1

"""The endpoints table the router reads: per deployment, its replicas' addresses and readiness.

Without `spec.traffic`, each live version's weight is its number of replicas, so every replica takes
an equal share whatever its version (what a Kubernetes Service does during a rolling update); that
default and how many replicas a deployment wants are modelplane.spec's (`default_split`,
`awaited_replicas`), the one owner of what a deployment wants.

Pure: built from the stored deployments and replicas. A replica is listed once it has a port and a
live process; `ready` is its readiness, `terminating` is set from the moment its deletion starts,
so the router stops sending it new requests before it is drained (k8s §8: ready = podReady and not
terminating).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from modelplane.spec import awaited_replicas, default_split, sizing_of


class Stored(Protocol):
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def spec(self) -> dict[str, Any]: ...
    @property
    def status(self) -> dict[str, Any]: ...
    @property
    def deletion_timestamp(self) -> float | None: ...


def endpoints_table(deployments: Sequence[Stored], replicas: Sequence[Stored], *, rv: int) -> dict[str, Any]:
    by_deployment: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for replica in replicas:
        status, spec = replica.status, replica.spec
        if not status.get("pid") or not spec.get("port"):
            continue
        terminating = replica.deletion_timestamp is not None or status.get("phase") == "Terminating"
        by_deployment.setdefault((replica.namespace, spec["deployment"]), []).append(
            {
                "replica": replica.name,
                "version": spec.get("version"),
                "address": f"127.0.0.1:{spec['port']}",
                "ready": bool(status.get("ready")) and not terminating,
                "terminating": terminating,
            }
        )
    table = []
    for deployment in deployments:
        spec = deployment.spec
        endpoints = sorted(
            by_deployment.get((deployment.namespace, deployment.name), []), key=lambda e: e["replica"]
        )
        table.append(
            {
                "namespace": deployment.namespace,
                "name": deployment.name,
                "concurrency": spec.get("concurrency"),
                "replicas": _wanted(deployment),
                "traffic": spec.get("traffic") or _by_replicas(spec, endpoints),
                "endpoints": endpoints,
            }
        )
    return {"resourceVersion": rv, "deployments": table}


def _wanted(deployment: Stored) -> int | None:
    """How many replicas the router may wait for: 0 when none will come (scaled to 0, being deleted),
    so it answers 503 at once; None under autoscaling (one may come on demand)."""
    if deployment.deletion_timestamp is not None:
        return 0
    return awaited_replicas(sizing_of(deployment.spec))


def _by_replicas(spec: dict[str, Any], endpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Without an explicit split, every replica of every live version takes an equal share (as a
    Kubernetes Service selects all of a deployment's pods): during a rollout old and new both serve."""
    counts: dict[str, int] = {}
    for endpoint in endpoints:
        counts[endpoint["version"]] = counts.get(endpoint["version"], 0) + 1
    version = str((spec.get("model") or {}).get("version") or "")
    return [share._asdict() for share in default_split(version, counts)]

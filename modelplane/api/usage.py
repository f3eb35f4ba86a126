"""`GET /api/v1/usage`: each replica's latest CPU and memory reading, from the node agent's memory.

Kubernetes keeps usage out of the Pod object: the kubelet measures, metrics-server holds the latest
readings in memory and serves them (`metrics.k8s.io` PodMetrics, read by `kubectl top`). Here the node
agent measures (`runtime/readings.py`) and this route serves its readings to `modelplane top`; the
replicas' stored status carries none, so a reading moves no resourceVersion and wakes nothing.

`?namespace=NS` (omit: every namespace). The answer: `{"items": [{"namespace", "name", "cpuMillis",
"memoryBytes", "measuredAt"}]}`, by namespace then name; a replica never measured is not listed.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from modelplane.api.routes import Api
from modelplane.net.errors import MethodNotAllowed
from modelplane.net.http import Deferred, Request, Response
from modelplane.spec.replica import ReplicaUsage

PATH = "/api/v1/usage"

Readings = Callable[[], Mapping[tuple[str, str], ReplicaUsage]]
"""The latest reading of each measured replica, by (namespace, name): `NodeAgent.usage`."""


def usage_items(readings: Mapping[tuple[str, str], ReplicaUsage], *, namespace: str | None) -> list[Any]:
    """The answer's items: the readings of `namespace` (None: all), by namespace then name."""
    return [
        {"namespace": key[0], "name": key[1], **usage.model_dump(mode="json", by_alias=True)}
        for key, usage in sorted(readings.items())
        if namespace is None or key[0] == namespace
    ]


class UsageApi(Api):
    """`Api` with `GET /api/v1/usage` served from `readings`. Kept beside `Api` rather than in its
    routing table only because routes.py was being reshaped by other work when usage left the
    status; fold it into `Api._route` (and this class away) when that settles."""

    def __init__(self, *args: Any, readings: Readings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.readings = readings

    def _route(self, request: Request) -> Response | Deferred:
        if request.path.rstrip("/") != PATH:
            return super()._route(request)
        if request.method not in ("GET", "HEAD"):  # HEAD: the HTTP server drops the body
            raise MethodNotAllowed(f"{request.path} takes GET, not {request.method}.")
        namespace = dict(urllib.parse.parse_qsl(request.query)).get("namespace") or None
        return Response(200, orjson.dumps({"items": usage_items(self.readings(), namespace=namespace)}))

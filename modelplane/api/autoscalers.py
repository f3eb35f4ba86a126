"""`GET /api/v1/autoscalers[?namespace=NS]`: each autoscaled deployment's autoscaler, live.

What `modelplane get autoscalers` (alias `hpa`) prints, as `kubectl get hpa`: the bounds, the count,
and each metric's current value against its target as the autoscaler last read them
(controllers/autoscaling.py, once a second). Only the count and the conditions are stored (in the
deployment's `status.autoscaling`); the readings move every second and live in the autoscaler's memory,
as the HPA's `status.currentMetrics` would be rewritten every sync. `{"items": [...]}`, by namespace
then name; objects shaped like a HorizontalPodAutoscaler (`kind: Autoscaler`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import orjson

from modelplane.api.request_metrics import MetricsApi
from modelplane.net.errors import MethodNotAllowed
from modelplane.net.http import Deferred, Request, Response

PATH = "/api/v1/autoscalers"

Autoscalers = Callable[[str | None], list[dict[str, Any]]]
"""The autoscalers of a namespace (None: all): `controllers.autoscaling.Autoscaler.items`."""


class AutoscalersApi(MetricsApi):
    """`MetricsApi` with the autoscalers' route (beside `Api` for the reason UsageApi is)."""

    def __init__(self, *args: Any, autoscalers: Autoscalers, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.autoscalers = autoscalers

    def _route(self, request: Request) -> Response | Deferred:
        if request.path.rstrip("/") == PATH:
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed(f"{PATH} takes GET, not {request.method}.")
            namespace = dict(urllib.parse.parse_qsl(request.query)).get("namespace") or None
            return Response(200, orjson.dumps({"items": self.autoscalers(namespace)}))
        return super()._route(request)

"""Request metrics in the control plane: the routers' reports in, windows and Prometheus out.

    POST /api/v1/metrics/router                              a router's report (metrics/report.py);
                                                             202, or 400 saying which bound it broke
    GET  /api/v1/metrics[?namespace=NS][&window=60s]         per deployment: totals over the window
                                                             and per replica (what `modelplane top` reads)
    GET  /api/v1/modeldeployments/{ns}/{name}/metrics[?window=60s]
                                                             per version: the window's aggregates and
                                                             its 1 s buckets
    GET  /metrics                                            Prometheus text (below)

The buckets live in a `metrics.MetricsStore` the composition root owns (local.py) and hands in, as
the usage readings are. The per-deployment path follows this API's object paths
(`/modeldeployments/{ns}/{name}/scale` is its sibling), not Kubernetes' `/namespaces/{ns}/...`.
A window is whole seconds, 1 up to the store's retention (`60`, `60s`, `5m`; default 60 s).
Rates and levels are averaged per second of the window as the autoscaler reads them
(`autoscaler.windows.window_average`: a second without a report counts as 0; a series younger than
the window is averaged over its lifetime); p50/p99 come from the summed latency histogram.

Prometheus (the control plane's own registry, a custom collector as router/metrics.py):
    modelplane_deployment_requests_total{namespace,deployment,version}            answers (counter)
    modelplane_deployment_request_errors_total{namespace,deployment,version,code} 5xx or 499 (counter)
    modelplane_deployment_request_duration_seconds{namespace,deployment,version}  histogram
    modelplane_deployment_inflight_requests / _queued_requests / _held_requests   5 s averages
    modelplane_replica_inflight_requests{namespace,deployment,replica}            5 s average
    modelplane_replica_requests_per_second{namespace,deployment,replica}          5 s average
    modelplane_metrics_reports_total, modelplane_metrics_series{kind}, modelplane_metrics_refused_total
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from modelplane.api.errors import BadRequest, NotFound
from modelplane.api.usage import UsageApi
from modelplane.metrics import LATENCY_BOUNDS_S, MetricsStore, ReportRefused, Ring, Summary, parse_report
from modelplane.metrics.buckets import LATENCY, Column, ReplicaColumn, quantile, summarise, summary_of
from modelplane.net.errors import MethodNotAllowed
from modelplane.net.http import Deferred, Request, Response

REPORT_PATH = "/api/v1/metrics/router"
LIST_PATH = "/api/v1/metrics"
DEFAULT_WINDOW_S = 60
GAUGE_WINDOW_S = 5
PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"
_DEPLOYMENT = re.compile(r"/api/v1/modeldeployments/([^/]+)/([^/]+)/metrics")
_WINDOW = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m)?")


def parse_window(text: str | None, *, most: int) -> int:
    """A window in whole seconds (rounded up) from `60`, `60s`, `500ms`, `5m`; 400 outside 1..most."""
    if not text:
        return min(DEFAULT_WINDOW_S, most)
    found = _WINDOW.fullmatch(text.strip())
    if found is None:
        raise BadRequest(f"window={text!r}: give seconds such as 60, 60s or 5m.")
    seconds = float(found.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[found.group(2)]
    window = math.ceil(seconds)
    if not 1 <= window <= most:
        raise BadRequest(f"window={text!r}: it must be 1 s to {most} s (the buckets kept).")
    return window


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "requests": summary.requests,
        "requestsPerSecond": round(summary.requests_per_s, 3),
        "errors": summary.errors,
        "clientClosed": summary.client_closed,
        "errorRate": round(summary.error_rate, 6),
        "retries": summary.retries,
        "inflight": round(summary.inflight, 3),
        "queued": round(summary.queued, 3),
        "held": round(summary.held, 3),
        "p50Ms": _ms(summary.p50_s),
        "p99Ms": _ms(summary.p99_s),
        "meanMs": _ms(summary.mean_s),
    }


def per_second(ring: Ring, *, now: float, window_s: int) -> list[dict[str, Any]]:
    """The window's 1 s buckets from the series' first second on (zeros where no report came)."""
    last = math.floor(now)
    start = last - window_s + 1 if ring.first is None else max(ring.first, last - window_s + 1)
    rows = []
    for second in range(start, last + 1):
        values = ring.bucket(second)
        if values is None:
            values = np.zeros(ring.values.shape[1])
        histogram = values[LATENCY:]
        rows.append(
            {
                "second": second,
                "requests": round(float(values[Column.REQUESTS])),
                "errors": round(float(values[Column.ERRORS])),
                "clientClosed": round(float(values[Column.CLIENT_CLOSED])),
                "inflight": round(float(values[Column.INFLIGHT]), 3),
                "queued": round(float(values[Column.QUEUED]), 3),
                "held": round(float(values[Column.HELD]), 3),
                "p50Ms": _ms(quantile(0.5, histogram)),
                "p99Ms": _ms(quantile(0.99, histogram)),
            }
        )
    return rows


def deployment_metrics(
    store: MetricsStore, namespace: str, name: str, *, now: float, window_s: int, series: bool
) -> dict[str, Any]:
    """One deployment's window: per version (and `series`: its 1 s buckets), all versions together,
    and per replica."""
    versions = store.versions(namespace, name)
    answer_versions = []
    for version, found in sorted(versions.items()):
        item: dict[str, Any] = {
            "version": version,
            **summary_json(summarise(found.ring, now=now, window_s=window_s)),
        }
        if series:
            item["seconds"] = per_second(found.ring, now=now, window_s=window_s)
        answer_versions.append(item)
    rings = [s.ring for s in versions.values()]
    firsts = [r.first for r in rings if r.first is not None]
    sums = sum(
        (r.window_sums(now=now, window_s=window_s) for r in rings),
        np.zeros(len(LATENCY_BOUNDS_S) + LATENCY + 1),
    )
    total = summary_of(
        sums, ring=None, now=now, window_s=window_s, lived_from=min(firsts) if firsts else None
    )
    replicas = []
    for replica, ring in sorted(store.replicas(namespace, name).items()):
        span = min(window_s, ring.seconds)
        replicas.append(
            {
                "name": replica,
                "inflight": round(ring.average(ReplicaColumn.INFLIGHT, now=now, window_s=span), 3),
                "requestsPerSecond": round(ring.average(ReplicaColumn.REQUESTS, now=now, window_s=span), 3),
            }
        )
    return {
        "namespace": namespace,
        "name": name,
        "windowSeconds": window_s,
        "total": summary_json(total),
        "versions": answer_versions,
        "replicas": replicas,
    }


class MetricsApi(UsageApi):
    """`UsageApi` with the request metrics routes, served from `metrics`. Beside `Api` for the reason
    UsageApi is (routes.py is being reshaped by other work); fold both in when that settles."""

    def __init__(self, *args: Any, metrics: MetricsStore, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(metrics, self.clock))

    def _route(self, request: Request) -> Response | Deferred:
        path = request.path.rstrip("/")
        if path == REPORT_PATH:
            _require(request, "POST")
            return self.record(request.body)
        if path == LIST_PATH:
            _require(request, "GET")
            return self.list_metrics(request.query)
        if path == "/metrics":
            _require(request, "GET")
            return Response(200, bytes(generate_latest(self.registry)), content_type=PROMETHEUS)
        found = _DEPLOYMENT.fullmatch(path)
        if found is not None:
            _require(request, "GET")
            return self.deployment(found.group(1), found.group(2), request.query)
        return super()._route(request)

    def record(self, body: bytes) -> Response:
        try:
            report = parse_report(body)
        except ReportRefused as error:
            raise BadRequest(str(error)) from None
        self.metrics.record(report, now=self.clock())
        return Response(202, b'{"accepted":true}')

    def list_metrics(self, query: str) -> Response:
        params = dict(urllib.parse.parse_qsl(query))
        window = parse_window(params.get("window"), most=self.metrics.retention_s)
        now = self.clock()
        items = [
            deployment_metrics(self.metrics, ns, name, now=now, window_s=window, series=False)
            for ns, name in self.metrics.deployments(params.get("namespace") or None)
        ]
        return Response(
            200,
            orjson.dumps({"windowSeconds": window, "reportedAt": self.metrics.last_report, "items": items}),
        )

    def deployment(self, namespace: str, name: str, query: str) -> Response:
        params = dict(urllib.parse.parse_qsl(query))
        window = parse_window(params.get("window"), most=self.metrics.retention_s)
        if self.store.find("ModelDeployment", namespace, name) is None and not self.metrics.versions(
            namespace, name
        ):
            raise NotFound(f"modeldeployment '{name}' not found in namespace '{namespace}'.")
        now = self.clock()
        answer = deployment_metrics(self.metrics, namespace, name, now=now, window_s=window, series=True)
        answer["reportedAt"] = self.metrics.last_report
        return Response(200, orjson.dumps(answer))


def _require(request: Request, method: str) -> None:
    if request.method != method and not (method == "GET" and request.method == "HEAD"):
        raise MethodNotAllowed(f"{request.path} takes {method}, not {request.method}.")


class _Collector:
    """The store as Prometheus metric families, built when /metrics is scraped."""

    def __init__(self, store: MetricsStore, clock: Any) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        labels = ["namespace", "deployment", "version"]
        now = self.clock()
        requests = CounterMetricFamily(
            "modelplane_deployment_requests", "Answers the routers sent.", labels=labels
        )
        errors = CounterMetricFamily(
            "modelplane_deployment_request_errors",
            "Answers with a 5xx status (code 5xx) and requests whose client left first (code 499).",
            labels=[*labels, "code"],
        )
        latency = HistogramMetricFamily(
            "modelplane_deployment_request_duration_seconds",
            "Time in the router, its queue and the replica, as the routers measured it.",
            labels=labels,
        )
        levels = {
            column: GaugeMetricFamily(f"modelplane_deployment_{name}_requests", help_text, labels=labels)
            for column, name, help_text in (
                (Column.INFLIGHT, "inflight", "Requests at a replica, averaged over the last 5 s."),
                (Column.QUEUED, "queued", "Requests waiting for a free replica slot, averaged over 5 s."),
                (Column.HELD, "held", "Requests waiting for a ready replica, averaged over 5 s."),
            )
        }
        for key, series in self.store.all_versions():
            values = list(key)
            totals = series.totals
            requests.add_metric(values, float(totals[Column.REQUESTS]))
            errors.add_metric([*values, "5xx"], float(totals[Column.ERRORS]))
            errors.add_metric([*values, "499"], float(totals[Column.CLIENT_CLOSED]))
            cumulative, buckets = 0.0, []
            for bound, count in zip((*map(repr, LATENCY_BOUNDS_S), "+Inf"), totals[LATENCY:], strict=True):
                cumulative += float(count)
                buckets.append((bound, cumulative))
            latency.add_metric(values, buckets, float(totals[Column.LATENCY_SUM_S]))
            for column, family in levels.items():
                family.add_metric(values, series.ring.average(column, now=now, window_s=GAUGE_WINDOW_S))
        yield from (requests, errors, latency, *levels.values())
        replica_labels = ["namespace", "deployment", "replica"]
        inflight = GaugeMetricFamily(
            "modelplane_replica_inflight_requests",
            "Requests in flight per replica, 5 s average.",
            labels=replica_labels,
        )
        rate = GaugeMetricFamily(
            "modelplane_replica_requests_per_second",
            "Attempts finished per replica per second, 5 s average.",
            labels=replica_labels,
        )
        for key, ring in self.store.all_replicas():
            inflight.add_metric(
                list(key), ring.average(ReplicaColumn.INFLIGHT, now=now, window_s=GAUGE_WINDOW_S)
            )
            rate.add_metric(list(key), ring.average(ReplicaColumn.REQUESTS, now=now, window_s=GAUGE_WINDOW_S))
        yield from (inflight, rate)
        reports = CounterMetricFamily("modelplane_metrics_reports", "Router reports recorded.")
        reports.add_metric([], self.store.reports)
        count = GaugeMetricFamily("modelplane_metrics_series", "Series of 1 s buckets kept.", labels=["kind"])
        versions, replica_count = self.store.series_count
        count.add_metric(["version"], versions)
        count.add_metric(["replica"], replica_count)
        refused = CounterMetricFamily(
            "modelplane_metrics_refused", "New series not kept: the store was full."
        )
        refused.add_metric([], self.store.refused)
        yield from (reports, count, refused)

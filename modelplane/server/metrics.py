"""Prometheus metrics of one model-server process (served at /metrics).

One registry per server (not the global one), so several servers in one process stay apart.

The per-request metrics (request counts by status, the four histograms, in-flight requests) are plain
numbers updated on the event loop and folded into Prometheus metric families when /metrics is
scraped (a custom collector). prometheus_client takes a lock for every update: a histogram
observation is two locked increments plus a Python loop over the buckets, and a request made five
such updates (~10 µs, a fifth of the server's own per-request cost). The scrape renders exactly what
the prometheus_client objects rendered (names, labels, order, values, `_created` series).
Updates must come from one thread (the event loop: the batcher reports on it); the rarely set
gauges (model load time, ready) stay prometheus_client gauges.

A histogram observation is one `list.append` (no Python call: a request makes four); the values are
folded into the buckets and the sum, in the order they came, at the scrape or once `FOLD_AT` wait
(checked where each request is counted), so they never hold more than ~`FOLD_AT` floats each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client import metrics as _prometheus_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_LABELS = ("model", "version")
FOLD_AT = 1024  # observations a histogram keeps unfolded at most (about; see ModelMetrics.count)
# prometheus_client's switch (PROMETHEUS_DISABLE_CREATED_SERIES) for the `_created` series
_USE_CREATED: bool = getattr(_prometheus_metrics, "_use_created", True)


class HistogramValues:
    """One histogram's buckets and sum as plain numbers; `observe(amount)` as prometheus_client's, but
    deferred: it appends to `pending`, and `fold` adds what is pending to the buckets and the sum."""

    __slots__ = ("_bounds", "_le", "counts", "created", "observe", "pending", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = np.array([*(float(b) for b in bounds), float("inf")])
        self._le = [str(floatToGoString(b)) for b in self._bounds]  # type: ignore[no-untyped-call]
        self.counts = [0] * len(self._bounds)  # per bucket, not cumulative; without `pending`
        self.total = 0.0  # without `pending`
        self.created = time.time()
        self.pending: list[float] = []
        self.observe: Callable[[float], None] = self.pending.append  # no Python frame per observation

    def fold(self) -> None:
        """Add the pending observations: the sum in the order they came (the same float as adding them
        one by one), the buckets with numpy (a value lands in the first bucket whose bound is >= it, as
        `bisect_left`; NaN sorts past the last bound and lands in none, as before)."""
        pending = self.pending
        if not pending:
            return
        total = self.total
        for amount in pending:
            total += amount
        self.total = total
        index = np.searchsorted(self._bounds, np.array(pending, dtype=np.float64), side="left")
        found = np.bincount(index, minlength=len(self._bounds) + 1)
        counts = self.counts
        for i in range(len(counts)):
            counts[i] += int(found[i])
        pending.clear()

    def samples(self, metric: Metric, name: str, labels: dict[str, str]) -> None:
        self.fold()
        cumulative = 0.0
        for le, count in zip(self._le, self.counts, strict=True):
            cumulative += count
            metric.add_sample(f"{name}_bucket", {**labels, "le": le}, cumulative)
        metric.add_sample(f"{name}_count", labels, cumulative)
        metric.add_sample(f"{name}_sum", labels, self.total)
        if _USE_CREATED:
            metric.add_sample(f"{name}_created", labels, self.created)


class GaugeValue:
    """An in-process gauge (in-flight requests): `inc`/`dec` without a lock."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


@dataclass(frozen=True)
class _Family:
    name: str
    documentation: str
    kind: str  # "histogram" or "gauge"
    attribute: str  # the ModelMetrics attribute that holds each model's values


_REQUESTS = ("modelplane_server_requests", "Inference requests by model, version and HTTP status.")
_FAMILIES = (
    _Family(
        "modelplane_server_request_duration_seconds",
        "Time from a complete request to its response being written, by model.",
        "histogram",
        "latency",
    ),
    _Family(
        "modelplane_server_queue_duration_seconds",
        "Time a request waited in the batch queue before its batch started.",
        "histogram",
        "queue_time",
    ),
    _Family(
        "modelplane_server_inference_duration_seconds",
        "Time of one model call (one batch).",
        "histogram",
        "inference_time",
    ),
    _Family("modelplane_server_batch_size", "Rows per model call.", "histogram", "batch_size"),
    _Family(
        "modelplane_server_inflight_requests",
        "Inference requests received and not yet answered.",
        "gauge",
        "inflight",
    ),
)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._models: list[ModelMetrics] = []
        # (model's metrics, status) in the order each was first counted, as prometheus_client kept them
        self._statuses: list[tuple[ModelMetrics, int]] = []
        self.registry.register(self)  # a collector: `collect()`
        self.load_time = Gauge(
            "modelplane_server_model_load_seconds",
            "Seconds the model took to load.",
            _LABELS,
            registry=self.registry,
        )
        self.ready = Gauge(
            "modelplane_server_model_ready",
            "1 when the model is loaded and serving.",
            _LABELS,
            registry=self.registry,
        )

    def for_model(self, model: str, version: str | None) -> ModelMetrics:
        v = version or ""
        metrics = ModelMetrics(
            model=model,
            version=v,
            load_time=self.load_time.labels(model, v),
            ready=self.ready.labels(model, v),
            statuses=self._statuses,
        )
        self._models.append(metrics)
        return metrics

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))

    def collect(self) -> Iterator[Metric]:
        """The per-request metric families from the plain numbers (the registry calls this)."""
        name, documentation = _REQUESTS
        requests = Metric(name, documentation, "counter")
        created = []
        for model, status in list(self._statuses):
            labels = {"model": model.model, "version": model.version, "status": str(status)}
            requests.add_sample(f"{name}_total", labels, float(model.counts[status]))
            created.append((labels, model.created[status]))
        if _USE_CREATED:
            for labels, when in created:
                requests.add_sample(f"{name}_created", labels, when)
        yield requests
        for family in _FAMILIES:
            metric = Metric(family.name, family.documentation, family.kind)
            for model in list(self._models):
                labels = {"model": model.model, "version": model.version}
                values = getattr(model, family.attribute)
                if isinstance(values, HistogramValues):
                    values.samples(metric, family.name, labels)
                else:
                    metric.add_sample(family.name, labels, float(values.value))
            yield metric


@dataclass(eq=False)
class ModelMetrics:
    model: str
    version: str
    load_time: Gauge
    ready: Gauge
    statuses: list[tuple[ModelMetrics, int]]
    latency: HistogramValues = field(default_factory=lambda: HistogramValues(_LATENCY_BUCKETS))
    queue_time: HistogramValues = field(default_factory=lambda: HistogramValues(_LATENCY_BUCKETS))
    inference_time: HistogramValues = field(default_factory=lambda: HistogramValues(_LATENCY_BUCKETS))
    batch_size: HistogramValues = field(default_factory=lambda: HistogramValues(_BATCH_BUCKETS))
    inflight: GaugeValue = field(default_factory=GaugeValue)
    counts: dict[int, int] = field(default_factory=dict)  # requests by HTTP status
    created: dict[int, float] = field(default_factory=dict)  # when each status was first counted

    def count(self, status: int) -> None:
        counts = self.counts
        if status in counts:
            counts[status] += 1
        else:
            counts[status] = 1
            self.created[status] = time.time()
            self.statuses.append((self, status))
        # each request is counted once and observed in `latency` once (the other histograms at most
        # once): checking one list bounds all four
        if len(self.latency.pending) >= FOLD_AT:
            self.fold()

    def fold(self) -> None:
        for values in (self.latency, self.queue_time, self.inference_time, self.batch_size):
            values.fold()

    def observe_batch(self, rows: int, seconds: float) -> None:
        self.batch_size.observe(rows)
        self.inference_time.observe(seconds)

"""Prometheus metrics of one model-server process (served at /metrics).

One registry per server (not the global one), so several servers in one process stay apart. Label
children are cached per model so the request path does a dict lookup, not a label resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "version")
        self.requests = Counter(
            "modelplane_server_requests",
            "Inference requests by model, version and HTTP status.",
            (*labels, "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelplane_server_request_duration_seconds",
            "Time from a complete request to its response being written, by model.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_time = Histogram(
            "modelplane_server_queue_duration_seconds",
            "Time a request waited in the batch queue before its batch started.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inference_time = Histogram(
            "modelplane_server_inference_duration_seconds",
            "Time of one model call (one batch).",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "modelplane_server_batch_size",
            "Rows per model call.",
            labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "modelplane_server_inflight_requests",
            "Inference requests received and not yet answered.",
            labels,
            registry=self.registry,
        )
        self.load_time = Gauge(
            "modelplane_server_model_load_seconds",
            "Seconds the model took to load.",
            labels,
            registry=self.registry,
        )
        self.ready = Gauge(
            "modelplane_server_model_ready",
            "1 when the model is loaded and serving.",
            labels,
            registry=self.registry,
        )

    def for_model(self, model: str, version: str | None) -> ModelMetrics:
        v = version or ""
        return ModelMetrics(
            model=model,
            version=v,
            requests=self.requests,
            latency=self.latency.labels(model, v),
            queue_time=self.queue_time.labels(model, v),
            inference_time=self.inference_time.labels(model, v),
            batch_size=self.batch_size.labels(model, v),
            inflight=self.inflight.labels(model, v),
            load_time=self.load_time.labels(model, v),
            ready=self.ready.labels(model, v),
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


@dataclass
class ModelMetrics:
    model: str
    version: str
    requests: Counter
    latency: Histogram
    queue_time: Histogram
    inference_time: Histogram
    batch_size: Histogram
    inflight: Gauge
    load_time: Gauge
    ready: Gauge

    def __post_init__(self) -> None:
        self._by_status: dict[int, Counter] = {}

    def count(self, status: int) -> None:
        child = self._by_status.get(status)
        if child is None:
            child = self._by_status[status] = self.requests.labels(self.model, self.version, str(status))
        child.inc()

    def observe_batch(self, rows: int, seconds: float) -> None:
        self.batch_size.observe(rows)
        self.inference_time.observe(seconds)

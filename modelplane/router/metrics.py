"""Prometheus metrics of the router, per deployment and version (served at /metrics).

They feed the autoscaler, so they are exact and cheap: the request path only bumps plain ints and a
float in a `VersionStats` (no locks, no label lookups); a custom collector turns them into metric
families when /metrics is scraped, from the router's own registry (never the global one).

    modelplane_router_requests_total{namespace,deployment,version,status}    answers sent
    modelplane_router_request_duration_seconds{namespace,deployment,version} time in the router, queue
                                                                             and replica (histogram)
    modelplane_router_inflight_requests{namespace,deployment,version}        sent to a replica, unanswered
    modelplane_router_queue_depth{namespace,deployment,version}              waiting for a free replica
    modelplane_router_held_requests{namespace,deployment,version}            waiting for a ready replica
                                                                             (version: see below)
    modelplane_router_retries_total{namespace,deployment,version}            attempts repeated elsewhere
    modelplane_router_client_closed_total{namespace,deployment,version,stage} clients gone before their
                                                                             answer: stage held, queued or
                                                                             inflight
    modelplane_router_endpoints{namespace,deployment,version,state}          replicas in the table by state
    modelplane_router_replica_inflight{namespace,deployment,replica}         in flight per replica
    modelplane_router_replica_requests_total{namespace,deployment,replica}   attempts answered per replica
    modelplane_router_table_resource_version                                 the table in use

A request refused before a version is known (unknown model, no ready replica) counts with version "",
and so does an unpinned request held on arrival while no version can serve. An unpinned request held
later (a queued request whose version lost its replicas, a retry) keeps the version it had drawn; each
draws its version again when released.
A held request whose wait ran out counts as status 503, like one refused at once.
A request whose client reset the connection first counts as status 499 (nginx's "client closed
request"), and in client_closed_total by where it was: held or queued (never sent) or at a replica
(its upstream connection reset). A client's FIN is a half-close, not a departure (net/http.py).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from modelplane.router.table import EndpointsTable

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
CLIENT_CLOSED = 499  # nginx's status for a request whose client went away before the answer
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LABELS = ["namespace", "deployment", "version"]

# (namespace, deployment), in flight per replica, attempts answered per replica
ReplicaCounts = tuple[tuple[str, str], Mapping[str, int], Mapping[str, int]]


@dataclass(eq=False, slots=True)
class VersionStats:
    labels: tuple[str, str, str]
    by_status: dict[int, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    seconds: float = 0.0
    inflight: int = 0
    queued: int = 0
    held: int = 0  # waiting for a ready replica (holding.py)
    retries: int = 0
    closed_queued: int = 0  # clients gone while their request waited (it was never sent)
    closed_inflight: int = 0  # clients gone while a replica worked on their request (it was reset)
    closed_held: int = 0  # clients gone while their request waited for a ready replica (never sent)
    # the gauges' time integrals as sums of timestamps (phases.transition): up to T, `x_t + x × T`
    inflight_t: float = 0.0
    queued_t: float = 0.0
    held_t: float = 0.0

    def observe(self, status: int, seconds: float) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.buckets[bisect_left(BUCKETS, seconds)] += 1
        self.seconds += seconds

    def levels(self, now: float) -> tuple[float, float, float]:
        """The integrals over time (level-seconds) of in-flight, queued and held up to `now` (the
        proxy's clock), since the stats were made: differences of two give the average level."""
        return (
            self.inflight_t + self.inflight * now,
            self.queued_t + self.queued * now,
            self.held_t + self.held * now,
        )


class RouterMetrics:
    """The router's registry; `stats()` hands out the counters the request path bumps."""

    def __init__(
        self,
        table: Callable[[], EndpointsTable | None],
        replicas: Callable[[], Iterable[ReplicaCounts]],
    ) -> None:
        self._stats: dict[tuple[str, str, str], VersionStats] = {}
        self._table = table
        self._replicas = replicas
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)  # a collector is anything with collect()

    def stats(self, namespace: str, deployment: str, version: str) -> VersionStats:
        key = (namespace, deployment, version)
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = VersionStats(key)
        return stats

    def all_stats(self) -> list[VersionStats]:
        """Every version's counters (the metrics reporter reads them)."""
        return list(self._stats.values())

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "modelplane_router_requests", "Requests answered, by HTTP status.", labels=[*_LABELS, "status"]
        )
        latency = HistogramMetricFamily(
            "modelplane_router_request_duration_seconds",
            "Time from a complete request to its answer: queue, replica and retries included.",
            labels=_LABELS,
        )
        inflight = GaugeMetricFamily(
            "modelplane_router_inflight_requests",
            "Requests sent to a replica and not answered yet.",
            labels=_LABELS,
        )
        queued = GaugeMetricFamily(
            "modelplane_router_queue_depth",
            "Requests waiting for a replica with a free slot.",
            labels=_LABELS,
        )
        held = GaugeMetricFamily(
            "modelplane_router_held_requests",
            "Requests held while no replica (of their version) is ready, waiting up to --ready-wait.",
            labels=_LABELS,
        )
        retries = CounterMetricFamily(
            "modelplane_router_retries",
            "Requests sent again to another replica after a failure.",
            labels=_LABELS,
        )
        closed = CounterMetricFamily(
            "modelplane_router_client_closed",
            "Requests whose client closed the connection before the answer (counted as status 499), "
            "by stage: held or queued (dropped unsent) or inflight (reset at the replica).",
            labels=[*_LABELS, "stage"],
        )
        for stats in list(self._stats.values()):
            labels = list(stats.labels)
            for status, count in sorted(stats.by_status.items()):
                requests.add_metric([*labels, str(status)], count)
            cumulative, buckets = 0, []
            for bound, count in zip((*map(_bound, BUCKETS), "+Inf"), stats.buckets, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric(labels, buckets, stats.seconds)
            inflight.add_metric(labels, stats.inflight)
            queued.add_metric(labels, stats.queued)
            held.add_metric(labels, stats.held)
            retries.add_metric(labels, stats.retries)
            closed.add_metric([*labels, "held"], stats.closed_held)
            closed.add_metric([*labels, "queued"], stats.closed_queued)
            closed.add_metric([*labels, "inflight"], stats.closed_inflight)
        yield from (requests, latency, inflight, queued, held, retries, closed)
        yield from self._replica_metrics()
        yield from self._table_metrics()

    def _replica_metrics(self) -> Iterator[Metric]:
        labels = ["namespace", "deployment", "replica"]
        inflight = GaugeMetricFamily(
            "modelplane_router_replica_inflight", "Requests in flight per replica.", labels=labels
        )
        requests = CounterMetricFamily(
            "modelplane_router_replica_requests", "Attempts answered (or failed) per replica.", labels=labels
        )
        for (namespace, deployment), in_flight, answered in self._replicas():
            for replica, count in sorted(in_flight.items()):
                inflight.add_metric([namespace, deployment, replica], count)
            for replica, count in sorted(answered.items()):
                requests.add_metric([namespace, deployment, replica], count)
        yield inflight
        yield requests

    def _table_metrics(self) -> Iterator[Metric]:
        table = self._table()
        endpoints = GaugeMetricFamily(
            "modelplane_router_endpoints",
            "Replicas in the endpoints table by state (ready, terminating, notready).",
            labels=[*_LABELS, "state"],
        )
        version = GaugeMetricFamily(
            "modelplane_router_table_resource_version", "resourceVersion of the endpoints table in use."
        )
        if table is not None:
            version.add_metric([], table.resource_version)
            for d in table.deployments:
                counts: dict[tuple[str, str], int] = {}
                for e in d.endpoints:
                    state = "notready" if not e.ready else "terminating" if e.terminating else "ready"
                    counts[(e.version, state)] = counts.get((e.version, state), 0) + 1
                for (v, state), count in sorted(counts.items()):
                    endpoints.add_metric([d.namespace, d.name, v, state], count)
        yield endpoints
        yield version


def _bound(value: float) -> str:
    return repr(value)

"""The router's push of its request metrics to the control plane, once a second (issue 9 §1).

Every `interval_s` it builds a report (`metrics.report`, the wire format) from the counters the
request path already keeps — deltas since the last *accepted* report, and the time-averaged
in-flight, queued and held levels from the gauges' exact integrals (phases.py) — and POSTs it to
`{api}/api/v1/metrics/router` with the feed's bearer token. Building costs no work on the request
path: the request path only keeps its counters and integrals; this loop reads them.

A push that fails (control plane down, an error answer) is logged, once when pushes start failing
and then at most every `LOG_EVERY_S`, and the next tick tries again with everything since the last
accepted report (so counts are never lost, only late); after `MAX_INTERVAL_S` without an accepted
report it starts over from now. The push runs on the router's event loop but never waits on a
request: a slow control plane holds one pooled connection (`PUSH_TIMEOUT_S`), never a client.

Reported per tick: every version of the current table (zeros included, so "no traffic" differs from
"no report"), every other version whose counters moved, and each replica that had requests in flight
or finished one in the interval.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from modelplane.metrics.report import LATENCY_BOUNDS_S, MAX_INTERVAL_S
from modelplane.net.client import ConnectionPool, UpstreamError
from modelplane.router.feed import api_address
from modelplane.router.metrics import BUCKETS, CLIENT_CLOSED, VersionStats
from modelplane.router.queueing import Gate
from modelplane.router.table import EndpointsTable

log = logging.getLogger(__name__)

PATH = "/api/v1/metrics/router"
PUSH_TIMEOUT_S = 2.0
LOG_EVERY_S = 60.0

assert BUCKETS == LATENCY_BOUNDS_S, "the router's histogram goes on the wire as it is"


@dataclass(frozen=True)
class _VersionMark:
    answers: int
    errors: int
    closed: int
    retries: int
    buckets: tuple[int, ...]
    seconds: float
    levels: tuple[float, float, float]


@dataclass
class Marks:
    """The counters as they were at the last accepted report (the baseline of the next one)."""

    at: float
    versions: dict[tuple[str, str, str], _VersionMark] = field(default_factory=dict)
    replicas: dict[tuple[str, str, str], tuple[int, float]] = field(default_factory=dict)


def _mark(stats: VersionStats, now: float) -> _VersionMark:
    by_status = stats.by_status
    return _VersionMark(
        answers=sum(by_status.values()),
        errors=sum(count for status, count in by_status.items() if status >= 500),
        closed=by_status.get(CLIENT_CLOSED, 0),
        retries=stats.retries,
        buckets=tuple(stats.buckets),
        seconds=stats.seconds,
        levels=stats.levels(now),
    )


_ZERO = _VersionMark(0, 0, 0, 0, (0,) * (len(BUCKETS) + 1), 0.0, (0.0, 0.0, 0.0))


def build_report(
    stats: Iterable[VersionStats],
    gates: Mapping[tuple[str, str], Gate[Any]],
    table: EndpointsTable | None,
    *,
    since: Marks,
    now: float,
) -> tuple[dict[str, Any], Marks]:
    """The report (as its JSON document) of what happened since `since`, and the marks it ends at."""
    interval = now - since.at
    per_s = 1 / interval if interval > 0 else 0.0  # 0: the first marks, never sent
    marks = Marks(now)
    live = (
        {(d.namespace, d.name, v) for d in table.deployments for v in d.live_versions()} if table else set()
    )
    versions = []
    seen = set()
    for s in stats:
        key = s.labels
        seen.add(key)
        mark = marks.versions[key] = _mark(s, now)
        before = since.versions.get(key, _ZERO)
        if mark == before and key not in live and s.inflight + s.queued + s.held == 0:
            continue  # nothing happened, and the table does not name it
        requests = mark.answers - before.answers
        levels = [(a - b) * per_s for a, b in zip(mark.levels, before.levels, strict=True)]
        versions.append(
            {
                "namespace": key[0],
                "deployment": key[1],
                "version": key[2],
                "requests": requests,
                "errors": mark.errors - before.errors,
                "clientClosed": mark.closed - before.closed,
                "retries": mark.retries - before.retries,
                "latency": [a - b for a, b in zip(mark.buckets, before.buckets, strict=True)],
                "latencySumS": max(0.0, mark.seconds - before.seconds),
                "inflight": max(0.0, levels[0]),
                "queued": max(0.0, levels[1]),
                "held": max(0.0, levels[2]),
            }
        )
    for key in sorted(live - seen):
        versions.append({"namespace": key[0], "deployment": key[1], "version": key[2]})
    replicas = []
    for (namespace, deployment), gate in gates.items():
        for replica, integral in gate.busy_t.items():
            key = (namespace, deployment, replica)
            inflight = gate.inflight.get(replica, 0)
            mark_r = marks.replicas[key] = (gate.answered.get(replica, 0), integral + inflight * now)
            answered, busy = since.replicas.get(key, (0, 0.0))
            if mark_r == (answered, busy) and not inflight:
                continue
            replicas.append(
                {
                    "namespace": namespace,
                    "deployment": deployment,
                    "replica": replica,
                    "inflight": max(0.0, (mark_r[1] - busy) * per_s),
                    "requests": mark_r[0] - answered,
                }
            )
    return {"intervalS": interval, "versions": versions, "replicas": replicas}, marks


class Reporter:
    """Pushes a report every `interval_s` to the control plane at `api`; never ends by itself."""

    def __init__(
        self,
        api: str,
        *,
        stats: Callable[[], Iterable[VersionStats]],
        gates: Callable[[], Mapping[tuple[str, str], Gate[Any]]],
        table: Callable[[], EndpointsTable | None],
        pool: ConnectionPool,
        token: str | None = None,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.address, prefix = api_address(api)
        self.path = prefix + PATH
        self.api = api
        self.headers = [(b"authorization", b"Bearer " + token.encode())] if token else []
        self.stats, self.gates, self.table = stats, gates, table
        self.pool = pool
        self.interval_s = interval_s
        self.clock = clock
        self.marks: Marks | None = None
        self.pushed = 0
        self.failed = 0
        self._failing_since: float | None = None
        self._logged = -math.inf

    async def run(self) -> None:
        self.marks = build_report(
            self.stats(), self.gates(), self.table(), since=Marks(self.clock()), now=self.clock()
        )[1]
        due = time.monotonic()
        while True:
            due += self.interval_s
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            try:
                await self.push_once()
            except Exception:  # a bug here must not end the loop (nor the router): say it loudly
                log.exception("building or pushing the metrics report failed; it goes on")
            if time.monotonic() - due > self.interval_s:  # far behind (a stalled loop): skip ticks
                due = time.monotonic()

    async def push_once(self) -> bool:
        """Build one report and push it; True when the control plane accepted it."""
        assert self.marks is not None
        now = self.clock()
        if now - self.marks.at > MAX_INTERVAL_S:
            log.warning("no metrics report accepted for %.0f s; starting over from now", now - self.marks.at)
            self.marks = build_report(self.stats(), self.gates(), self.table(), since=self.marks, now=now)[1]
            return False
        report, marks = build_report(self.stats(), self.gates(), self.table(), since=self.marks, now=now)
        try:
            answer = await self.pool.request(
                self.address,
                "POST",
                self.path,
                body=orjson.dumps(report),
                content_type=b"application/json",
                headers=self.headers,
                timeout=PUSH_TIMEOUT_S,
            )
            if answer.status // 100 != 2:
                raise _Refused(f"{self.api} answered {answer.status}: {answer.body[:300]!r}")
        except (UpstreamError, _Refused) as error:
            self._failed(error)
            return False
        self.marks = marks
        self.pushed += 1
        if self._failing_since is not None:
            log.info("metrics reports to %s accepted again after %d failed", self.api, self.failed)
            self._failing_since = None
        return True

    def _failed(self, error: Exception) -> None:
        self.failed += 1
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._logged >= LOG_EVERY_S:
            self._logged = now
            log.warning(
                "metrics report to %s failed (%d so far; retried every %.0f s, "
                "logged at most every %.0f s): %s",
                self.api,
                self.failed,
                self.interval_s,
                LOG_EVERY_S,
                error,
            )


class _Refused(Exception):
    pass

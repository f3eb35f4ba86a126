"""The effectful part of a load test: send OIP requests through the router, as planned, and record.

Open loop (`Plan.closed` False): the arrivals (scheduling.py) of every target are merged in time
order; a dispatcher sends every request whose intended time has come, then sleeps until the next. A
request's latency runs from its *intended* send time, so a sender that fell behind, a full connection
pool or a stalled router all show as latency: nothing is omitted (coordinated omission). The sender's
own lag is measured too (`Outcome.send_lag`): when it is large, the generator, not the target, was slow.

Closed loop (`Plan.closed` True): the profile gives the number of concurrent clients per target; each
client sends its next request as soon as the previous one ended, and its latency runs from its send.
Clients are added at each second when the profile asks for more, and retire after their current request
when it asks for fewer.

Per request there is no task: `ConnectionPool.request` returns a future and a done callback records it
(and, closed loop, sends the next). Three supervised tasks run beside it in one TaskGroup: the
dispatcher, the ticker (closes a second of the recorder every second, reads replica counts, reports
progress) and the replica reads. After the last arrival the run drains: it waits for every request in
flight, at most the request timeout, then closes the last second.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from modelplane.loadtest.profiles import Profile
from modelplane.loadtest.recording import Histogram, Recorder, Second
from modelplane.loadtest.scheduling import Arrivals, merged
from modelplane.net.client import ConnectionPool, UpstreamResponse

JSON = b"application/json"
LEAD_S = 0.05
"""Start this long after the plan is ready, so the first second is not late from the outset."""
MAX_OUTSTANDING = 100_000
"""Open loop: a request due while this many are unanswered is not sent and counts as `not-sent`
(a dead target at thousands of req/s must not grow the generator's memory without bound)."""
REPLICA_READ_TIMEOUT_S = 0.9
_clock = time.monotonic
EARLY_S = 0.001
"""A request may go this much before its time: the loop's timers have millisecond resolution, so a
shorter sleep returns at once. Its latency then runs from its actual send, never from later."""
"""Latencies are read from this clock, not the loop's: uvloop's `loop.time()` ticks in whole ms."""


@dataclass(frozen=True, slots=True)
class Target:
    namespace: str
    name: str
    share: float
    body: bytes

    @property
    def path(self) -> str:
        prefix = "" if self.namespace == "default" else f"/ns/{self.namespace}"
        return f"{prefix}/v2/models/{self.name}/infer"

    @property
    def label(self) -> str:
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Plan:
    targets: tuple[Target, ...]
    profile: Profile  # of the total: req/s (open loop) or clients (closed loop), split by share
    address: str  # the router, host:port
    closed: bool = False
    poisson: bool = False
    timeout: float = 30.0
    max_connections: int = 512
    seed: int | None = None

    def share_of(self, index: int) -> Profile:
        total = sum(t.share for t in self.targets)
        return self.profile.scaled(self.targets[index].share / total)


@dataclass(frozen=True, slots=True)
class Progress:
    """What the live display shows after each second."""

    elapsed: float
    duration: float
    last: list[Second]  # per target, the second that just closed
    offered: list[int]
    served: list[int]
    errors: list[int]
    in_flight: list[int]
    draining: bool


@dataclass
class Outcome:
    recorder: Recorder
    send_lag: Histogram
    started_at: float  # wall clock (time.time()) of offset 0
    wall_s: float
    cpu_s: float
    not_sent: int = 0
    replica_errors: list[str] = field(default_factory=list)


ReplicaReader = Callable[[Target], Awaitable[tuple[int | None, int | None]]]
"""(ready, desired) replicas of a target, read from the control plane; raises when it cannot."""


async def run(
    plan: Plan,
    *,
    read_replicas: ReplicaReader | None = None,
    on_second: Callable[[Progress], None] | None = None,
) -> Outcome:
    """Run the plan to its end (and drain); what was recorded."""
    pool = ConnectionPool(
        max_per_address=plan.max_connections,
        connect_timeout=min(plan.timeout, 5.0),
        response_timeout=plan.timeout,
    )
    runner = _Runner(plan, pool, read_replicas, on_second)
    try:
        return await runner.run()
    finally:
        await pool.close()


class _Runner:
    def __init__(
        self,
        plan: Plan,
        pool: ConnectionPool,
        read_replicas: ReplicaReader | None,
        on_second: Callable[[Progress], None] | None,
    ) -> None:
        self.plan = plan
        self.pool = pool
        self.read_replicas = read_replicas
        self.on_second = on_second
        count = len(plan.targets)
        self.recorder = Recorder(count)
        self.send_lag = Histogram()
        self.lags: list[float] = []
        self.in_flight = [0] * count
        self.outstanding = 0
        self.not_sent = 0
        self.clients = [0] * count  # closed loop: running clients
        self.wanted = [0] * count  # closed loop: clients the profile asks for now
        self.profiles = [plan.share_of(i) for i in range(count)]
        self.t0 = 0.0
        self.finished = False  # no more requests will be started
        self.reading: set[int] = set()
        self.replica_errors: list[str] = []
        self.drained = asyncio.Event()

    def elapsed(self) -> float:
        return _clock() - self.t0

    async def run(self) -> Outcome:
        cpu = time.process_time()
        self.t0 = _clock() + LEAD_S
        started_at = time.time() + LEAD_S
        async with asyncio.TaskGroup() as group:
            ticker = group.create_task(self._tick(group))
            if self.plan.closed:
                await self._closed_loop()
            else:
                await self._open_loop()
            self.finished = True
            if self.outstanding == 0:
                self.drained.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), self.plan.timeout + 1)
            ticker.cancel()
        self.recorder.close(int(self.elapsed()))
        return Outcome(
            recorder=self.recorder,
            send_lag=self.send_lag,
            started_at=started_at,
            wall_s=self.elapsed(),
            cpu_s=time.process_time() - cpu,
            not_sent=self.not_sent,
            replica_errors=self.replica_errors,
        )

    # open loop
    async def _open_loop(self) -> None:
        rng = np.random.default_rng(self.plan.seed)
        arrivals = [Arrivals(p, poisson=self.plan.poisson, rng=rng) for p in self.profiles]
        seconds = max(a.seconds for a in arrivals)
        for second in range(seconds):
            chunks = [a.next_second() for a in arrivals]
            for index, chunk in enumerate(chunks):
                self.recorder.offer(index, second, len(chunk))
            offsets_array, owners_array = merged(chunks)
            offsets: list[float] = offsets_array.tolist()
            owners: list[int] = owners_array.tolist()
            i, n = 0, len(offsets)
            while i < n:
                now = self.elapsed()
                if offsets[i] > now + EARLY_S:
                    await asyncio.sleep(offsets[i] - now)
                    continue
                end = bisect.bisect_right(offsets, now + EARLY_S, i)
                self.lags.append(max(0.0, now - offsets[i]))  # the earliest of the batch is the latest sent
                for k in range(i, end):
                    # latency runs from the intended time, or from the send when that was (a little) early
                    self._send(owners[k], min(offsets[k], now))
                i = end
        remaining = self.plan.profile.duration - self.elapsed()
        if remaining > 0:
            await asyncio.sleep(remaining)

    def _send(self, index: int, intended: float) -> None:
        if self.outstanding >= MAX_OUTSTANDING:
            self.not_sent += 1
            self.recorder.record(index, self.elapsed(), 0.0, "not-sent")
            return
        target = self.plan.targets[index]
        future = self.pool.request(
            self.plan.address, "POST", target.path, body=target.body, content_type=JSON
        )
        self.in_flight[index] += 1
        self.outstanding += 1
        future.add_done_callback(partial(self._ended, index, intended))

    def _ended(self, index: int, intended: float, future: asyncio.Future[UpstreamResponse]) -> None:
        now = _clock() - self.t0
        self.in_flight[index] -= 1
        self.outstanding -= 1
        error: str | None
        if future.cancelled():
            error = "cancelled"
        elif (exc := future.exception()) is not None:
            error = type(exc).__name__
        else:
            status = future.result().status
            error = None if status == 200 else str(status)
        self.recorder.record(index, now, now - intended, error)
        if self.plan.closed and not self.finished_client(index, now):
            self.recorder.offer(index, int(now), 1)
            self._send(index, now)
        if self.finished and self.outstanding == 0:
            self.drained.set()

    # closed loop
    async def _closed_loop(self) -> None:
        duration = self.plan.profile.duration
        wait = LEAD_S
        while True:
            await asyncio.sleep(wait)
            now = self.elapsed()
            if now >= duration:
                break
            self._adjust_clients(now)
            wait = min(int(now) + 1, duration) - self.elapsed()

    def _adjust_clients(self, now: float) -> None:
        for index, profile in enumerate(self.profiles):
            level = profile.rate_at(now)
            self.wanted[index] = max(1, round(level)) if level > 0 else 0
            while self.clients[index] < self.wanted[index]:
                self.clients[index] += 1
                self.recorder.offer(index, int(now), 1)
                self._send(index, now)

    def finished_client(self, index: int, now: float) -> bool:
        """Closed loop: does this client stop after the request that just ended?"""
        if now >= self.plan.profile.duration or self.clients[index] > self.wanted[index]:
            self.clients[index] -= 1
            return True
        return False

    # once a second
    async def _tick(self, group: asyncio.TaskGroup) -> None:
        second = 0
        self._start_reads(group, 0)
        while True:
            await asyncio.sleep(max(0.0, self.t0 + second + 1 - _clock()))
            last = self.recorder.close(second)
            if self.lags:
                self.send_lag.add(np.asarray(self.lags))
                self.lags.clear()
            self._start_reads(group, second + 1)
            if self.on_second is not None:
                self.on_second(self._progress(last))
            second += 1

    def _start_reads(self, group: asyncio.TaskGroup, second: int) -> None:
        """Read each target's replicas for `second`, unless its last read is still on its way."""
        if self.read_replicas is None:
            return
        for index in range(len(self.plan.targets)):
            if index not in self.reading:
                self.reading.add(index)
                group.create_task(self._read(index, second))

    async def _read(self, index: int, second: int) -> None:
        assert self.read_replicas is not None
        try:
            ready, desired = await asyncio.wait_for(
                self.read_replicas(self.plan.targets[index]), REPLICA_READ_TIMEOUT_S
            )
        except Exception as error:  # the load test goes on; the report says what could not be read
            if len(self.replica_errors) < 10:
                self.replica_errors.append(str(error) or type(error).__name__)
            ready = desired = None
        finally:
            self.reading.discard(index)
        self.recorder.replicas(index, max(second, self.recorder.closed + 1), ready, desired)

    def _progress(self, last: list[Second]) -> Progress:
        r = self.recorder
        return Progress(
            elapsed=self.elapsed(),
            duration=self.plan.profile.duration,
            last=last,
            offered=list(r.offered),
            served=list(r.served),
            errors=list(r.errors),
            in_flight=list(self.in_flight),
            draining=self.finished,
        )

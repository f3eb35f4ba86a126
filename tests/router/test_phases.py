"""A request's phases in the router: the legal moves, the gauges each move carries, and a proxy whose
gauges (queued, held, in flight, per-replica slots) match where its requests are after every step."""

from __future__ import annotations

import pytest

from modelplane.net.client import UpstreamConnectError
from modelplane.net.http import Deferred, Request
from modelplane.router.metrics import VersionStats
from modelplane.router.phases import IllegalTransition, Phase, transition
from modelplane.router.proxy import Proxy
from modelplane.router.queueing import Gate
from tests.router.test_proxy_in_process import INFER, FakePool, answer, ok, run, settle, table

R, Q, H, F, T, D = (
    Phase.ROUTING,
    Phase.QUEUED,
    Phase.HELD,
    Phase.IN_FLIGHT,
    Phase.RETRYING,
    Phase.DONE,
)
# what the router may do with a request, written out: from -> to
LEGAL = {
    (R, Q), (R, H), (R, F), (R, D),  # placed on arrival, or refused at once
    (Q, F), (Q, R), (Q, D),  # a slot freed; its version lost its replicas; refused or its client left
    (H, R), (H, D),  # released by a table; expired, refused, or its client left
    (F, T), (F, D),  # a retry-safe failure; answered (or its client left and the reset came back)
    (T, Q), (T, H), (T, F), (T, D),  # placed again, or refused
}  # fmt: skip
GAUGE = {Q: "queued", H: "held", F: "inflight"}


@pytest.mark.parametrize("current", list(Phase))
@pytest.mark.parametrize("target", list(Phase))
def test_transition_table(current: Phase, target: Phase) -> None:
    stats = VersionStats(("default", "m", "v1"))
    gate: Gate[object] = Gate(concurrency=4)
    setattr(stats, GAUGE[current], 1) if current in GAUGE else None
    if current is F:
        gate.acquire("a", 0.0)
    if (current, target) not in LEGAL:
        with pytest.raises(IllegalTransition, match=f"request POST /x: cannot go from {current} to {target}"):
            transition(current, target, gauges=stats, slots=gate, replica="a", request="POST /x", now=1.0)
        assert (stats.queued, stats.held, stats.inflight) == tuple(
            int(current is p) for p in (Q, H, F)
        )  # unchanged
        return
    assert (
        transition(current, target, gauges=stats, slots=gate, replica="a", request="POST /x", now=1.0)
        is target
    )
    assert (stats.queued, stats.held, stats.inflight) == tuple(int(target is p) for p in (Q, H, F))
    assert gate.inflight == ({"a": 1} if target is F else {})


def test_in_flight_needs_a_replica() -> None:
    stats, gate = VersionStats(("default", "m", "v1")), Gate[object](concurrency=1)
    with pytest.raises(IllegalTransition, match="names no replica"):
        transition(R, F, gauges=stats, slots=gate, replica=None, request="POST /x", now=1.0)
    assert stats.inflight == 0 and gate.inflight == {}


def test_the_gauges_time_integrals_are_exact() -> None:
    """Each move adds or subtracts its time, so the integral up to T is `_t + gauge × T` (what the
    report's time-averaged levels come from), per version and per replica."""
    stats, gate = VersionStats(("default", "m", "v1")), Gate[object](concurrency=4)
    moves = [(R, Q, 1.0), (Q, F, 2.0), (R, F, 2.5), (F, D, 4.0)]
    for current, target, now in moves:
        transition(current, target, gauges=stats, slots=gate, replica="a", request="POST /x", now=now)
    inflight, queued, held = stats.levels(5.0)
    assert (inflight, queued, held) == pytest.approx((4.5, 1.0, 0.0))  # 1 in [2, 2.5], 2 to 4, 1 to 5; [1, 2]
    assert gate.busy_t["a"] + gate.inflight["a"] * 5.0 == pytest.approx(4.5)
    assert stats.levels(6.0)[0] - stats.levels(5.0)[0] == pytest.approx(1.0)  # one still in flight


def _check_gauges(proxy: Proxy) -> None:
    """Every gauge equals what the structures hold: the queue, the holds, the replicas' slots."""
    stats: dict[str, VersionStats] = {s.labels[2]: s for s in proxy.metrics._stats.values()}
    gate = proxy._gates[("default", "m")]
    for version, s in stats.items():
        assert s.queued == len(gate.waiting.get(version, ())), version
    assert sum(s.inflight for s in stats.values()) == sum(gate.inflight.values())
    held = proxy._held.get(("default", "m"))
    assert sum(s.held for s in stats.values()) == (len(held) if held is not None else 0)


def _send(proxy: Proxy) -> Deferred:
    deferred = proxy.handle(Request("POST", INFER, "", b"{}", b"application/json", {}))
    assert isinstance(deferred, Deferred)
    return deferred


def _leave(deferred: Deferred) -> None:
    """What the HTTP server does when the client resets its connection."""
    deferred.future.cancel()
    assert deferred.abandon is not None
    deferred.abandon()


def test_gauges_follow_requests_through_every_phase() -> None:
    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool, retries=1)
        proxy.update(table({"a": ("v1", False)}, concurrency=1))
        held = [_send(proxy) for _ in range(3)]  # no ready replica: held
        _check_gauges(proxy)
        _leave(held[2])  # a held request's client leaves
        _check_gauges(proxy)
        proxy.update(table({"a": ("v1", True)}, concurrency=1))  # released: one in flight, one queued
        _check_gauges(proxy)
        late = [_send(proxy), _send(proxy)]  # the queue holds 2: the second is refused at once
        _check_gauges(proxy)
        assert answer(late[1].future)[0] == 503
        _leave(late[0])  # a queued request's client leaves
        _check_gauges(proxy)
        _leave(held[0])  # an in-flight one's: its slot frees when the reset comes back
        await settle()
        _check_gauges(proxy)
        (attempt,) = pool.pending("a:1")  # held[1], sent once the slot freed
        proxy.update(table({"a": ("v1", True), "b": ("v1", True)}, concurrency=1))
        attempt.set_exception(UpstreamConnectError("a:1", "refused"))  # retry-safe: it goes to b
        await settle()
        _check_gauges(proxy)
        (retry,) = pool.pending("b:1")
        ok(retry)
        await settle()
        _check_gauges(proxy)
        assert answer(held[1].future)[0] == 200
        stats = proxy.metrics.stats("default", "m", "v1")
        assert (stats.queued, stats.held, stats.inflight) == (0, 0, 0)
        assert proxy._gates[("default", "m")].inflight == {}
        assert (stats.closed_queued, stats.closed_inflight, stats.retries) == (1, 1, 1)
        assert proxy.metrics.stats("default", "m", "").closed_held == 1  # held before it drew v1

    run(main)


def test_a_request_never_changes_version_while_a_gauge_counts_it() -> None:
    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool)
        proxy.update(table({"a": ("v1", False)}, concurrency=1))
        deferred = _send(proxy)
        (forward,) = proxy._held[("default", "m")].waiters()
        assert forward.phase is Phase.HELD
        with pytest.raises(IllegalTransition, match="cannot change version while held"):
            proxy._move(forward, "v1")
        proxy.update(table({"a": ("v1", True)}, concurrency=1))  # released: it draws v1, then is sent
        assert forward.phase is Phase.IN_FLIGHT and forward.version == "v1"
        ok(pool.pending("a:1")[0])
        await settle()
        assert forward.phase is Phase.DONE and answer(deferred.future)[0] == 200

    run(main)

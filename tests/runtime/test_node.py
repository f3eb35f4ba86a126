"""The node agent between a real store and the simulated runtime: replicas start, turn ready, are
measured (in memory, with a usage history in the store), are drained and forgotten; `stop_all`
drains every replica at once; time is the clock passed in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelplane.runtime import NodeAgent, SimulatedRuntime, node
from modelplane.store import Store


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state")


def add_replica(store: Store, name: str, *, pool: str | None = "local") -> None:
    spec = {"deployment": "accel", "revision": "abc", "version": "v1", "port": 0, "pool": pool}
    store.create("Replica", "default", name, labels={}, spec=spec, status={"phase": "Scheduled"}, now=1.0)


async def settle(agent: NodeAgent, clock: FakeClock) -> None:
    """One tick of the agent and every replica task it started."""
    await agent.tick(now=clock())
    await asyncio.gather(*agent.ticking.values(), *agent.stopping.values())


def phases(store: Store) -> dict[str, tuple[str, bool]]:
    return {r.name: (r.status.get("phase", ""), bool(r.status.get("ready"))) for r in store.list("Replica")}


def test_a_scheduled_replica_becomes_ready_after_the_start_delay_of_the_clock(store: Store) -> None:
    clock = FakeClock()
    agent = NodeAgent(store, runtime=SimulatedRuntime(start_delay_s=5.0), clock=clock)
    add_replica(store, "r1")
    add_replica(store, "unscheduled", pool=None)

    async def scenario() -> None:
        await settle(agent, clock)
        assert phases(store) == {"r1": ("Starting", False), "unscheduled": ("Scheduled", False)}
        clock.now += 5.0
        await settle(agent, clock)
        assert phases(store)["r1"] == ("Running", True)
        replica = store.get("Replica", "default", "r1")
        assert replica.status["everReady"] is True
        assert "usage" not in replica.status  # kept in memory, served by the API
        assert agent.usage()[("default", "r1")].memory_bytes == 64 << 20
        assert [e.reason for e in store.events()] == ["Ready"]

    asyncio.run(scenario())


def test_a_deleted_replica_is_stopped_then_removed(store: Store) -> None:
    clock = FakeClock()
    runtime = SimulatedRuntime()
    agent = NodeAgent(store, runtime=runtime, clock=clock)
    add_replica(store, "r1")

    async def scenario() -> None:
        await settle(agent, clock)
        store.mark_deleted("Replica", "default", "r1", now=clock())
        await settle(agent, clock)
        assert store.list("Replica") == []
        assert list(runtime.held()) == []

    asyncio.run(scenario())


def test_stop_all_drains_every_replica_at_once(store: Store) -> None:
    """Ready replicas wait 1 s each for the router to learn they are terminating: ten of them
    drained one after another would take ten seconds, at once about one."""
    clock = FakeClock()
    agent = NodeAgent(store, runtime=SimulatedRuntime(), clock=clock)
    for i in range(10):
        add_replica(store, f"r{i}")

    async def scenario() -> float:
        await settle(agent, clock)
        assert all(ready for _, ready in phases(store).values())
        loop = asyncio.get_running_loop()
        started = loop.time()
        await agent.stop_all(now=clock())
        return loop.time() - started

    assert asyncio.run(scenario()) < 3.0
    assert store.list("Replica") == []


def test_a_tick_over_unchanged_replicas_parses_none(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent ticks ten times a second: replicas whose resourceVersion did not move are not
    validated again (10,000 of them cost seconds per tick)."""
    clock = FakeClock()
    agent = NodeAgent(store, runtime=SimulatedRuntime(), clock=clock)
    for i in range(5):
        add_replica(store, f"r{i}")
    parsed: list[str] = []
    real = node.replica_of
    monkeypatch.setattr(node, "replica_of", lambda s: parsed.append(s.name) or real(s))

    async def scenario() -> None:
        for _ in range(3):
            await settle(agent, clock)
        parsed.clear()
        store.update_status("Replica", "default", "r2", {"phase": "Running", "ready": False}, now=2.0)
        await settle(agent, clock)

    asyncio.run(scenario())
    assert parsed == ["r2"]


def test_the_agent_does_not_parse_again_the_statuses_it_wrote(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 replicas turning ready are 10,000 status writes by the agent: validating each again from
    the store took a second. A replica whose object someone else changed meanwhile is parsed again."""
    clock = FakeClock()
    agent = NodeAgent(store, runtime=SimulatedRuntime(start_delay_s=5.0), clock=clock)
    for i in range(5):
        add_replica(store, f"r{i}")
    parsed: list[str] = []
    real = node.replica_of
    monkeypatch.setattr(node, "replica_of", lambda s: parsed.append(s.name) or real(s))

    async def scenario() -> None:
        await settle(agent, clock)  # Starting, written
        clock.now += 5.0
        for _ in range(3):  # Running and ready, written; probed again
            await settle(agent, clock)
            clock.now += 1.0
        assert all(ready for _, ready in phases(store).values())
        assert sorted(parsed) == [f"r{i}" for i in range(5)]  # once each, when first listed
        parsed.clear()
        store.mark_deleted("Replica", "default", "r1", now=clock())
        await settle(agent, clock)
        assert parsed == ["r1"]

    asyncio.run(scenario())


def test_usage_readings_write_no_status_and_their_history_in_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ready replicas left alone for two minutes: their objects do not move (a reading written into
    the status was a store write that woke every controller and every list: seconds at 10,000
    replicas), while `usage()` has fresh readings and the history gets a sample per replica every
    5 s, written in the agent's batches, not one commit each."""
    clock = FakeClock()
    agent = NodeAgent(store, runtime=SimulatedRuntime(cpu_millis=250), clock=clock)
    for i in range(20):
        add_replica(store, f"r{i}")
    committed: list[int] = []
    real_record = store.record_usage
    batches = 0
    real_batch = store.batch

    @contextlib.contextmanager
    def counting_batch() -> Iterator[None]:
        nonlocal batches
        batches += 1
        with real_batch():
            yield

    monkeypatch.setattr(store, "batch", counting_batch)
    monkeypatch.setattr(store, "record_usage", lambda **kw: committed.append(batches) or real_record(**kw))

    async def scenario() -> None:
        await settle(agent, clock)  # started and ready
        ready_rv = store.current_rv()
        for _ in range(120):
            clock.now += 1.0
            await settle(agent, clock)
        assert store.current_rv() == ready_rv
        usage = agent.usage()
        assert set(usage) == {("default", f"r{i}") for i in range(20)}
        assert all(
            u.cpu_millis == 250 and u.measured_at and u.measured_at > clock.now - 5 for u in usage.values()
        )

    asyncio.run(scenario())
    assert 20 * 24 <= len(store.usage("default", "accel")) <= 20 * 26  # one every 5 s for 120 s
    assert 0 not in committed  # every sample written inside a batch
    assert len(set(committed)) < len(committed) / 5  # many samples per batch


def test_replicas_due_together_are_probed_spread_over_ticks(store: Store) -> None:
    """500 replicas started together are due together every second: a tick starts at most a fifth
    of them (at 10,000, starting every task in one tick held the event loop for a third of a
    second), the others in the next ticks, each still probed every second."""
    clock = FakeClock()
    agent = NodeAgent(store, runtime=SimulatedRuntime(), clock=clock)
    for i in range(500):
        add_replica(store, f"r{i}")

    async def started_per_tick() -> list[int]:
        counts = []
        for _ in range(10):
            await agent.tick(now=clock())
            running = [t for t in agent.ticking.values() if not t.done()]
            counts.append(len(running))
            await asyncio.gather(*running)
            clock.now += 0.1
        return counts

    async def scenario() -> None:
        await settle(agent, clock)  # all started, ready: due again together in a second
        clock.now += 1.0
        first = await started_per_tick()
        assert max(first) <= 100 and sum(first) == 500, first
        second = await started_per_tick()  # spread now: each probed once a second
        assert max(second) <= 100 and sum(second) == 500, second

    asyncio.run(scenario())


def test_ticks_over_idle_replicas_read_no_object(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing written since the last tick: the agent does not list the replicas again (at 10,000,
    reading each one's wake-up ten times a second was most of its time), yet probes each one when
    due and sees a change at the next tick."""
    clock = FakeClock()
    runtime = SimulatedRuntime()
    agent = NodeAgent(store, runtime=runtime, clock=clock)
    for i in range(5):
        add_replica(store, f"r{i}")
    listed: list[int] = []
    real_list = store.list
    monkeypatch.setattr(store, "list", lambda *a, **kw: listed.append(1) or real_list(*a, **kw))
    probed: list[str] = []
    real_probe = runtime.probe

    async def probe(key: tuple[str, str], *, now: float) -> Any:
        probed.append(key[1])
        return await real_probe(key, now=now)

    monkeypatch.setattr(runtime, "probe", probe)

    async def scenario() -> None:
        await settle(agent, clock)  # started and ready
        await settle(agent, clock)  # their statuses written, listed once more
        listed.clear()
        probed.clear()
        for _ in range(20):
            clock.now += 0.1
            await settle(agent, clock)
        assert listed == []
        assert sorted(probed) == sorted([f"r{i}" for i in range(5)] * 2)
        store.mark_deleted("Replica", "default", "r3", now=clock())
        await settle(agent, clock)
        await settle(agent, clock)
        assert "r3" not in {r.name for r in store.list("Replica")}

    asyncio.run(scenario())


def test_a_tick_rebuilds_its_indexes_only_when_replicas_come_or_go(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-tick indexes (ports in use, parsed replicas, wake times) are rebuilt over every
    replica only when one was added or removed: at 10,000 replicas, ten rebuilds a second were most
    of the control plane's time."""
    clock = FakeClock()
    agent = NodeAgent(store, runtime=SimulatedRuntime(), clock=clock)
    for i in range(5):
        add_replica(store, f"r{i}")
    indexed: list[int] = []
    real = node.ports_of
    monkeypatch.setattr(node, "ports_of", lambda stored: indexed.append(len(stored)) or real(stored))

    async def scenario() -> None:
        for _ in range(5):
            await settle(agent, clock)
            clock.now += 1.0
        assert indexed == [5]
        add_replica(store, "r5")
        await settle(agent, clock)
        store.mark_deleted("Replica", "default", "r0", now=clock())
        for _ in range(3):
            await settle(agent, clock)

    asyncio.run(scenario())
    assert indexed == [5, 6, 5]
    assert {r.name for r in store.list("Replica")} == {f"r{i}" for i in range(1, 6)}


def test_the_status_writes_of_one_tick_are_one_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty replicas starting in one tick write their statuses in one `store.batch()` (one
    commit), not twenty commits."""
    clock = FakeClock()
    agent = NodeAgent(store, runtime=SimulatedRuntime(start_delay_s=5.0), clock=clock)
    for i in range(20):
        add_replica(store, f"r{i}")
    batches: list[int] = []
    writes: list[int] = []
    real_batch, real_update_status = store.batch, store.update_status

    @contextlib.contextmanager
    def counting_batch() -> Iterator[None]:
        batches.append(len(batches) + 1)
        with real_batch():
            yield

    def update_status(*args: Any, **kwargs: Any) -> Any:
        writes.append(len(batches))
        return real_update_status(*args, **kwargs)

    monkeypatch.setattr(store, "batch", counting_batch)
    monkeypatch.setattr(store, "update_status", update_status)

    async def scenario() -> None:
        await settle(agent, clock)
        assert phases(store) == {f"r{i}": ("Starting", False) for i in range(20)}
        clock.now += 5.0
        await settle(agent, clock)
        assert all(ready for _, ready in phases(store).values())

    asyncio.run(scenario())
    assert writes == [1] * 20 + [2] * 20  # every write inside a batch, one batch a tick
    assert len(batches) == 2
    assert [e.reason for e in store.events()] == ["Ready"] * 20

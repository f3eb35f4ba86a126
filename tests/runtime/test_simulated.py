"""The simulated runtime: phases follow the transition table on the time passed in; fake usage."""

from __future__ import annotations

import asyncio

from modelplane.runtime import SimulatedRuntime
from modelplane.spec.replica import ReplicaPhase
from tests.runtime.conftest import make_replica


def test_a_replica_starts_turns_ready_after_the_delay_and_stops_at_once() -> None:
    runtime = SimulatedRuntime(start_delay_s=2.0, memory_bytes=1000, cpu_millis=500)
    replica = make_replica("r1")
    key = ("default", "r1")
    assert runtime.start(replica, taken_ports={1}) == replica  # no port: nothing is bound

    async def scenario() -> None:
        starting = await runtime.probe(key, now=10.0)
        assert (starting.phase, starting.ready) == (ReplicaPhase.STARTING, False)
        assert runtime.usage(key).memory_bytes is None
        running = await runtime.probe(key, now=12.0)
        assert (running.phase, running.ready, running.ready_since) == (ReplicaPhase.RUNNING, True, 12.0)
        await runtime.probe(key, now=14.0)
        assert runtime.usage(key).memory_bytes == 1000
        assert runtime.usage(key).cpu_seconds == 2.0  # 0.5 core for the 4 s since it started
        stopped = await runtime.stop(key, now=15.0)
        assert (stopped.phase, stopped.ready) == (ReplicaPhase.TERMINATED, False)
        assert not runtime.running(key)

    asyncio.run(scenario())
    runtime.forget(key)
    assert runtime.status(key) is None and list(runtime.held()) == []


def test_nothing_outlives_a_simulated_control_plane() -> None:
    runtime = SimulatedRuntime()
    assert runtime.adopt(make_replica("r1"), now=1.0) is False
    assert list(runtime.held()) == [("default", "r1")]

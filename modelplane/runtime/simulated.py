"""`SimulatedRuntime`: replicas without processes, for the scale benchmark and a fleet simulator.

A simulated replica starts at its first `probe`, turns Running and ready `start_delay_s` later
(at once by default), reports a fixed memory and a steady CPU use (`cpu_millis`, counted up to the
last probe), and stops at once. It binds no port, spawns nothing and writes no file, so the control
plane's own cost can be measured with thousands of replicas on one machine. Time comes in as
`now`; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass

from modelplane.runtime.cgroups import Usage
from modelplane.runtime.protocol import Key, key_of
from modelplane.spec.replica import Replica, ReplicaPhase, ReplicaStatus, transition

RESYNC_S = 1.0
"""A running simulated replica is looked at this often (as a process, to notice an exit)."""


@dataclass
class _Simulated:
    replica: Replica
    status: ReplicaStatus
    started_at: float | None = None
    seen_at: float | None = None
    """The last `probe`'s time: CPU use grows with it."""


class SimulatedRuntime:
    """Replicas that pretend to run; see `ReplicaRuntime` for the contract."""

    def __init__(
        self, *, start_delay_s: float = 0.0, memory_bytes: int = 64 << 20, cpu_millis: int = 10
    ) -> None:
        self.start_delay_s = start_delay_s
        self.memory_bytes = memory_bytes
        self.cpu_millis = cpu_millis
        self._replicas: dict[Key, _Simulated] = {}

    def start(self, replica: Replica, *, taken_ports: Set[int]) -> Replica:
        self._replicas[key_of(replica)] = _Simulated(replica, replica.status)
        return replica

    def adopt(self, replica: Replica, *, now: float) -> bool:
        """Nothing outlives a simulated control plane: the replica is taken on afresh."""
        self.start(replica, taken_ports=frozenset())
        return False

    async def probe(self, key: Key, *, now: float) -> ReplicaStatus:
        held = self._replicas[key]
        held.seen_at = now
        phase = held.status.phase
        if phase in (ReplicaPhase.PENDING, ReplicaPhase.SCHEDULED):
            held.started_at = now
            self._move(held, ReplicaPhase.STARTING, started_at=now, message="simulated")
        if held.status.phase is ReplicaPhase.STARTING:
            if held.started_at is None:  # held as Starting from the store: it starts over here
                held.started_at = now
            if now - held.started_at >= self.start_delay_s:
                self._move(held, ReplicaPhase.RUNNING, started=True, ready=True, ready_since=now)
        return held.status

    def wake_at(self, key: Key, *, now: float) -> float:
        held = self._replicas[key]
        if held.status.phase is ReplicaPhase.STARTING and held.started_at is not None:
            return max(now, min(held.started_at + self.start_delay_s, now + RESYNC_S))
        return now + RESYNC_S

    async def stop(self, key: Key, *, now: float) -> ReplicaStatus:
        held = self._replicas[key]
        if held.status.phase is not ReplicaPhase.TERMINATED:
            if held.status.phase is not ReplicaPhase.TERMINATING:
                self._move(held, ReplicaPhase.TERMINATING, ready=False, ready_since=None)
            self._move(held, ReplicaPhase.TERMINATED, started=False)
        return held.status

    def usage(self, key: Key) -> Usage:
        held = self._replicas[key]
        if held.started_at is None or held.status.phase is not ReplicaPhase.RUNNING:
            return Usage()
        running_s = (held.seen_at or held.started_at) - held.started_at
        return Usage(memory_bytes=self.memory_bytes, cpu_seconds=running_s * self.cpu_millis / 1000)

    def status(self, key: Key) -> ReplicaStatus | None:
        held = self._replicas.get(key)
        return held.status if held is not None else None

    def running(self, key: Key) -> bool:
        held = self._replicas.get(key)
        return held is not None and held.status.phase in (ReplicaPhase.STARTING, ReplicaPhase.RUNNING)

    def held(self) -> Iterable[Key]:
        return list(self._replicas)

    def forget(self, key: Key) -> None:
        self._replicas.pop(key, None)

    def _move(self, held: _Simulated, target: ReplicaPhase, **changes: object) -> None:
        current = held.status.phase
        if current is ReplicaPhase.PENDING:
            current = transition(current, ReplicaPhase.SCHEDULED, replica=held.replica.name)
        phase = transition(current, target, replica=held.replica.name)
        held.status = held.status.model_copy(update={"phase": phase, **changes})

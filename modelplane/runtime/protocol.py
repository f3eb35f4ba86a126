"""`ReplicaRuntime`: what the node agent needs from whatever runs replicas (the kubelet's CRI).

The node agent (`runtime/node.py`) owns the store side — reading Replica objects, writing their
status, events and usage history, deciding when a replica is drained and forgotten. A runtime owns
the replicas themselves, keyed by (namespace, name), and nothing of the store:

- `ProcessRuntime` (`runtime/process_runtime.py`): one OS process per replica under a
  `ReplicaSupervisor` — today's behaviour;
- `SimulatedRuntime` (`runtime/simulated.py`): replicas that start at once or after a delay, turn
  ready and report fake usage, with no process — for the scale benchmark and a fleet simulator.

Time is always passed in (`now`); a runtime never reads a clock to make a decision. Calls for one
key never overlap (the agent runs one task per replica); calls for different keys may.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Protocol

from modelplane.runtime.cgroups import Usage
from modelplane.spec.replica import Replica, ReplicaStatus

Key = tuple[str, str]
"""(namespace, name) of a replica."""


def key_of(replica: Replica) -> Key:
    return (replica.namespace, replica.name)


class ReplicaRuntime(Protocol):
    """Runs replicas. `start` takes one on, `probe` drives it (start, probes, restarts), `stop`
    drains it, `adopt` takes over one left running by an earlier control plane, `usage` measures."""

    def start(self, replica: Replica, *, taken_ports: Set[int]) -> Replica:
        """Take `replica` on; nothing runs before the first `probe`. The replica as it will run:
        with a port of its own (not in `taken_ports`) when its spec asked for any (port 0)."""
        ...

    def adopt(self, replica: Replica, *, now: float) -> bool:
        """Take over the process recorded in `replica.status` (pid + start time); True when it still
        runs. Either way the replica is held afterwards (a dead one restarts at the next `probe`)."""
        ...

    async def probe(self, key: Key, *, now: float) -> ReplicaStatus:
        """One step towards running and ready: start or restart when due, run the probes that are
        due, escalate a kill. The status to store."""
        ...

    def wake_at(self, key: Key, *, now: float) -> float:
        """When `probe` should run next for the held replica (a probe due, a backoff ending, at the
        latest a second from now to notice an exit): the agent does not probe it before, unless
        its object changed."""
        ...

    async def stop(self, key: Key, *, now: float) -> ReplicaStatus:
        """Drain: not ready at once, SIGTERM, the grace period, SIGKILL. Terminated when it is gone;
        a message ending in "left behind" when it could not be killed."""
        ...

    def usage(self, key: Key) -> Usage:
        """Memory and CPU seconds used so far (None where they cannot be told)."""
        ...

    def status(self, key: Key) -> ReplicaStatus | None:
        """The last status of a held replica; None when this runtime does not hold it."""
        ...

    def running(self, key: Key) -> bool:
        """Whether the held replica has something running (a process) that `stop` must end."""
        ...

    def held(self) -> Iterable[Key]:
        """Every replica this runtime holds."""
        ...

    def forget(self, key: Key) -> None:
        """Drop the replica and what the runtime kept for it (files); unknown keys are ignored."""
        ...

"""Requests held while their deployment has no ready replica, as Knative's activator buffers them.

A request that finds no serving replica for its deployment (or for the version it pins) is not
refused at once: it waits here, oldest first, until a new endpoints table brings a replica that can
take it, or until `--ready-wait` seconds after it arrived, when it gets the 503 it would have had at
once. That covers the seconds in which a deployment has nothing ready: a rollback bringing the old
version back, replicas restarting, a first replica still loading. At most `capacity` requests wait per
deployment (Knative's activator holds up to 10,000 per revision); one more is refused at once with
503 and Retry-After, so memory stays bounded.

`Holding` only keeps the requests and their timers, in arrival order; the proxy arms each timer (one
`call_later` per held request), decides when a request may leave, and answers it. Taking a request
out cancels its timer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

W = TypeVar("W")

READY_WAIT_S = 15.0  # seconds a request may wait for a ready replica by default
HOLD_CAPACITY = 1000  # requests held per deployment by default


class Timer(Protocol):
    """What `loop.call_later` returns, as far as holding needs it."""

    def cancel(self) -> None: ...


@dataclass(eq=False)
class Holding(Generic[W]):
    """The held requests of one deployment, in arrival order, each with the timer that ends its wait."""

    capacity: int
    held: dict[W, Timer] = field(default_factory=dict)  # insertion-ordered: oldest first

    def __len__(self) -> int:
        return len(self.held)

    @property
    def full(self) -> bool:
        return len(self.held) >= self.capacity

    def add(self, waiter: W, timer: Timer) -> None:
        """Hold `waiter` behind the others until `timer` fires or it is taken out; check `full` first."""
        self.held[waiter] = timer

    def waiters(self) -> list[W]:
        """The held requests, oldest first (a copy: the caller may take some out while it walks them)."""
        return list(self.held)

    def remove(self, waiter: W) -> bool:
        """Take `waiter` out and cancel its timer; False when it is not held (any more)."""
        timer = self.held.pop(waiter, None)
        if timer is None:
            return False
        timer.cancel()
        return True

    def take_all(self) -> list[W]:
        """Take every held request out, oldest first, with its timer cancelled (the deployment is gone)."""
        waiters = list(self.held)
        for timer in self.held.values():
            timer.cancel()
        self.held.clear()
        return waiters

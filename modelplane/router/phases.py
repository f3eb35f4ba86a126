"""Where a request is in the router (its phase), the legal moves between phases, and the gauges each
phase holds: one `transition` moves both, so the gauges can never drift from the phases.

    ROUTING    arrived, or leaving a queue or a hold to be placed again; counted in no gauge
    QUEUED     waiting for a free slot on a replica of its version        (queue_depth)
    HELD       waiting for a ready replica (holding.py)                   (held_requests)
    IN_FLIGHT  sent to a replica, its answer not back                     (inflight_requests, and
                                                                           the replica's slot)
    RETRYING   its attempt failed in a way safe to repeat; to be placed again; counted in no gauge
    DONE       answered, or its client left and nothing of it remains at a replica

A request whose client leaves while it is in flight stays IN_FLIGHT until the reset of its upstream
connection comes back: its slot is taken until then. A queued or held one leaves at once (DONE).
A request changes version only in ROUTING or RETRYING, when no gauge counts it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Phase(StrEnum):
    ROUTING = "routing"
    QUEUED = "queued"
    HELD = "held"
    IN_FLIGHT = "in_flight"
    RETRYING = "retrying"
    DONE = "done"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.ROUTING: frozenset({Phase.QUEUED, Phase.HELD, Phase.IN_FLIGHT, Phase.DONE}),
    Phase.QUEUED: frozenset({Phase.IN_FLIGHT, Phase.ROUTING, Phase.DONE}),
    Phase.HELD: frozenset({Phase.ROUTING, Phase.DONE}),
    Phase.IN_FLIGHT: frozenset({Phase.RETRYING, Phase.DONE}),
    Phase.RETRYING: frozenset({Phase.QUEUED, Phase.HELD, Phase.IN_FLIGHT, Phase.DONE}),
    Phase.DONE: frozenset(),
}

PLACING = frozenset({Phase.ROUTING, Phase.RETRYING})
"""Phases in which no gauge counts the request: the only ones in which it may change version."""


class IllegalTransition(RuntimeError):
    """A bug in the router: a request was moved where it cannot go (its gauges would drift)."""


class Gauges(Protocol):
    """The per-version gauges a phase counts in (`metrics.VersionStats`), each with its time integral
    kept as a sum of timestamps (see `transition`)."""

    inflight: int
    queued: int
    held: int
    inflight_t: float
    queued_t: float
    held_t: float


class Slots(Protocol):
    """The per-replica in-flight counts of the deployment (`queueing.Gate`)."""

    def acquire(self, replica: str, now: float) -> None: ...

    def release(self, replica: str, now: float) -> None: ...


def transition(
    current: Phase,
    target: Phase,
    *,
    gauges: Gauges,
    slots: Slots,
    replica: str | None,
    request: object,
    now: float,
) -> Phase:
    """Move a request from `current` to `target`: the gauge of the phase it leaves goes down, the one
    of the phase it enters goes up (IN_FLIGHT also takes or gives back `replica`'s slot). An illegal
    move raises IllegalTransition naming `request` (formatted only then) and both phases, and changes
    nothing.

    Each gauge's integral over time is kept exact at one addition per move: a request entering at
    `now` subtracts `now` from the gauge's `_t` sum, one leaving adds it, so the integral up to any
    time T is `_t + gauge × T` (`metrics.VersionStats.levels`); the reporter takes its differences."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"request {request}: cannot go from {current} to {target}")
    slot = ""
    if Phase.IN_FLIGHT in (current, target):
        if replica is None:
            raise IllegalTransition(f"request {request}: {current} -> {target} names no replica")
        slot = replica
    if current is Phase.QUEUED:
        gauges.queued -= 1
        gauges.queued_t += now
    elif current is Phase.HELD:
        gauges.held -= 1
        gauges.held_t += now
    elif current is Phase.IN_FLIGHT:
        gauges.inflight -= 1
        gauges.inflight_t += now
        slots.release(slot, now)
    if target is Phase.QUEUED:
        gauges.queued += 1
        gauges.queued_t -= now
    elif target is Phase.HELD:
        gauges.held += 1
        gauges.held_t -= now
    elif target is Phase.IN_FLIGHT:
        gauges.inflight += 1
        gauges.inflight_t -= now
        slots.acquire(slot, now)
    return target

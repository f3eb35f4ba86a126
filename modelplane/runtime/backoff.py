"""CrashLoopBackOff: when a replica process that exited may start again. Pure; time is passed in.

A copy of the kubelet's `doBackOff` over client-go's `flowcontrol.Backoff` (initial 10 s, max 300 s,
no jitter), keyed by replica:

- the wait is measured from the process's finish time: while `now − finished < delay` the replica
  waits with `waiting.reason=CrashLoopBackOff`;
- each restart that is let through doubles the delay (10, 20, 40, 80, 160, 300, 300 …) and stamps the
  entry with the restart time;
- an entry is forgotten 2 × 300 = 600 s after the last restart, whether the process still runs, has
  just exited, or is waiting out its delay: the kubelet's housekeeping calls `backOff.GC()`, which
  deletes an entry when `now.Sub(entry.lastUpdate) > p.maxDuration*2` (client-go
  util/flowcontrol/backoff.go), i.e. measured from now, not from the exit. A replica that ran 400 s
  and crashed with a 300 s delay therefore starts at the 600 s mark, not 300 s after its exit. (The
  kubelet's GC runs every 2 s and uses `>`; here the entry goes at exactly 600 s, so the waiting
  replica has one instant to wake at.)

As in the kubelet, a replica with no entry (its first exit, or the first after 600 s) restarts at once
and the entry starts at 10 s: an instantly crashing process restarts after 0, 10, 20, 40, 80, 160,
300, 300 … seconds, so the waits users see under CrashLoopBackOff are 10, 20, 40 … 300.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

INITIAL_DELAY: Final = 10.0
MAX_DELAY: Final = 300.0
RESET_AFTER: Final = 2 * MAX_DELAY


@dataclass(frozen=True, slots=True)
class Backoff:
    """The backoff entry of one replica: the current delay and when a restart was last let through."""

    delay: float
    last_update: float


@dataclass(frozen=True, slots=True)
class RestartDecision:
    """Start now (`start`, with the new entry), or wait until `until` (entry unchanged)."""

    start: bool
    until: float | None
    backoff: Backoff | None


def forgotten_at(backoff: Backoff) -> float:
    """When the kubelet's backoff GC deletes the entry: 600 s after the last restart."""
    return backoff.last_update + RESET_AFTER


def expired(backoff: Backoff, *, now: float) -> bool:
    """600 s have passed since the last restart: the entry is gone (running, exited or waiting)."""
    return now >= forgotten_at(backoff)


def decide_restart(backoff: Backoff | None, *, finished_at: float, now: float) -> RestartDecision:
    """Whether a process that finished at `finished_at` may start again at `now`; when not, `until` is
    the end of its delay or the moment its entry is forgotten, whichever comes first."""
    if backoff is not None and not expired(backoff, now=now):
        until = min(finished_at + backoff.delay, forgotten_at(backoff))
        if now < until:
            return RestartDecision(start=False, until=until, backoff=backoff)
        return RestartDecision(
            start=True, until=None, backoff=Backoff(min(backoff.delay * 2, MAX_DELAY), now)
        )
    return RestartDecision(start=True, until=None, backoff=Backoff(INITIAL_DELAY, now))

"""The controller manager: when each controller's pass runs (Kubernetes' kube-controller-manager loop).

A controller is level-triggered: a pass reads everything fresh and converges, so it only needs to know
*when* to run, never *what* changed. `run_controller` runs a pass:
- on a change: the composition root calls `Changes.fire()` when the store's resourceVersion moves
  (the same watch that wakes the API's long polls, checked every 50 ms), and every loop wakes;
- when the pass asked for it: a pass returns the seconds until something time-based falls due
  (a progress deadline, minReadySeconds) — controller-runtime's `RequeueAfter`;
- on a resync, every `resync` seconds, whatever happened: a safety net for what no change announces
  (as the informers' resync period); with `resync_share`, stretched so that resync passes take at
  most that share of the time (a 0.5 s pass at share 0.01 is resynced every 50 s, not every 5);
- one second after a pass that raised (logged loudly; the loop goes on).

A change during a pass wakes the next one at once (the version seen is taken before the pass), so
nothing written meanwhile is missed; a controller's own writes wake it once more, and that pass,
finding nothing to do, writes nothing. Changes are coalesced: many writes in one 50 ms window make
one wake-up; and a loop rests at least as long as its last pass took, so it never takes more than half
of the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("modelplane.controllers")

ERROR_RETRY_S = 1.0
"""A pass that raised is tried again this much later (or sooner, on a change)."""
SLOW_PASS_S = 1.0
"""A pass longer than this is logged as a warning (it delays every other loop)."""

Pass = Callable[[], Awaitable[float | None]]
"""One pass of a controller; returns the seconds until it must run again without a change (None: no need)."""


class Changes:
    """Something changed in the store: wakes every loop waiting, and tells a loop that was busy when it
    fired that it must run again (by the version it saw before its pass)."""

    def __init__(self) -> None:
        self._version = 0
        self._fired = asyncio.Event()

    @property
    def version(self) -> int:
        return self._version

    def fire(self) -> None:
        self._version += 1
        fired, self._fired = self._fired, asyncio.Event()
        fired.set()

    async def wait(self, seen: int, *, timeout: float, stop: asyncio.Event) -> None:
        """Return at the first change after version `seen` (at once if there was one), on `stop`, or
        after `timeout` seconds."""
        if self._version != seen or stop.is_set():
            return
        waiters = {asyncio.ensure_future(self._fired.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waiters, timeout=max(timeout, 0.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            for waiter in waiters:
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter


def next_wait(
    requeue_after: float | None, *, resync: float, elapsed: float, resync_share: float | None = None
) -> float:
    """Seconds to sleep before the next pass when nothing changes (pure)."""
    if resync_share is not None:
        resync = max(resync, elapsed / resync_share)
    wanted = resync if requeue_after is None else min(requeue_after, resync)
    return max(wanted - elapsed, 0.0)


async def run_controller(
    name: str,
    step: Pass,
    *,
    changes: Changes,
    stop: asyncio.Event,
    resync: float,
    resync_share: float | None = None,
) -> None:
    """Run `step` on every change, when it asks, and every `resync` seconds (see `next_wait`), until
    `stop`."""
    last_start, last_end = -math.inf, -math.inf
    while not stop.is_set():
        # rest at least as long as the last pass took: under a stream of changes a long pass never runs
        # back to back and takes at most half of the one event loop (the API, the node agent) from the
        # others; a short pass, the usual, waits next to nothing
        gap = (last_end - last_start) - (time.perf_counter() - last_end)
        if gap > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), gap)
            if stop.is_set():
                return
        seen = changes.version
        last_start = time.perf_counter()
        try:
            again = await step()
        except Exception:
            log.exception("controller %s: a pass failed; it goes on", name)
            again = ERROR_RETRY_S
        last_end = time.perf_counter()
        elapsed = last_end - last_start
        if elapsed > SLOW_PASS_S:
            log.warning("controller %s: one pass took %.2f s", name, elapsed)
        wait = next_wait(again, resync=resync, elapsed=elapsed, resync_share=resync_share)
        await changes.wait(seen, timeout=wait, stop=stop)

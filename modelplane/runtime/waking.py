"""When the node agent looks at each replica again: its due times in a heap (a timer wheel's job).

Each held replica has one wake-up: the time the runtime asked to probe it next (`wake_at`), with the
resourceVersion its object had then (a change of the object makes it due at once). The agent used to
read every replica's wake-up on every 0.1 s tick; at 10,000 replicas that scan, and starting all the
replicas that fell due in the same tick at once, was most of its time. Here a tick takes only the
due ones off the heap, at most `limit` of them: replicas due together (started together, so probed
together every second) are spread over the next ticks instead of holding the event loop at once.

Invariants: `get(key)` is the latest `set` for the key; the heap holds an entry for every wake-up
set, and entries a later `set` (or `retain`) replaced are skipped when they surface, so the heap
stays a few entries per replica (it is rebuilt when stale entries outnumber live ones).
"""

from __future__ import annotations

import heapq
from collections.abc import Set

from modelplane.runtime.protocol import Key

Wake = tuple[float, int]
"""(when, the resourceVersion of the replica's object then)."""


class Wakes:
    def __init__(self) -> None:
        self._wakes: dict[Key, Wake] = {}
        self._heap: list[tuple[float, Key]] = []

    def get(self, key: Key) -> Wake | None:
        return self._wakes.get(key)

    def set(self, key: Key, at: float, rv: int) -> None:
        self._wakes[key] = (at, rv)
        heapq.heappush(self._heap, (at, key))
        if len(self._heap) > 4 * len(self._wakes) + 1000:
            self._heap = [(at, key) for key, (at, _) in self._wakes.items()]
            heapq.heapify(self._heap)

    def retain(self, keys: Set[Key]) -> None:
        """Forget the wake-ups of every replica not in `keys`."""
        self._wakes = {key: wake for key, wake in self._wakes.items() if key in keys}

    def take_due(self, now: float, *, limit: int) -> list[Key]:
        """Up to `limit` replicas whose wake-up is at or before `now`, earliest first; each is taken
        once (set it again to be woken again). Those past the limit stay due for the next call."""
        taken: list[Key] = []
        heap = self._heap
        while heap and heap[0][0] <= now and len(taken) < limit:
            at, key = heapq.heappop(heap)
            wake = self._wakes.get(key)
            if wake is not None and wake[0] == at:
                del self._wakes[key]
                taken.append(key)
        return taken

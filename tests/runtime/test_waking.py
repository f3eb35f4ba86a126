"""The node agent's wake-ups: due replicas taken earliest first, at most `limit` a call, each once;
a wake-up set again replaces the earlier one; forgotten replicas are never taken."""

from __future__ import annotations

from modelplane.runtime.waking import Wakes


def test_due_replicas_are_taken_earliest_first_up_to_the_limit_and_once() -> None:
    wakes = Wakes()
    for i in range(10):
        wakes.set(("default", f"r{i}"), 100.0 + i, rv=i)
    assert wakes.take_due(99.0, limit=100) == []
    assert [k[1] for k in wakes.take_due(104.0, limit=3)] == ["r0", "r1", "r2"]
    assert [k[1] for k in wakes.take_due(104.0, limit=3)] == ["r3", "r4"]  # the rest stayed due
    assert wakes.take_due(104.0, limit=3) == []  # taken once
    assert wakes.get(("default", "r3")) is None and wakes.get(("default", "r5")) == (105.0, 5)


def test_a_wake_up_set_again_replaces_the_earlier_and_retain_forgets() -> None:
    wakes = Wakes()
    wakes.set(("default", "a"), 10.0, rv=1)
    wakes.set(("default", "a"), 20.0, rv=2)  # later: the entry at 10 is stale
    wakes.set(("default", "b"), 5.0, rv=1)
    wakes.set(("default", "b"), 1.0, rv=3)  # sooner
    wakes.retain({("default", "a")})
    assert wakes.take_due(15.0, limit=10) == []
    assert wakes.take_due(20.0, limit=10) == [("default", "a")]


def test_stale_entries_do_not_pile_up() -> None:
    wakes = Wakes()
    for at in range(100_000):
        wakes.set(("default", "a"), float(at), rv=at)
    assert len(wakes._heap) < 2000  # rebuilt from the live wake-ups
    assert wakes.take_due(1e9, limit=10) == [("default", "a")]

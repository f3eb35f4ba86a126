"""Events as `modelplane events` shows them: repeats counted on one line, newest last, bounded."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.store import Store

MD = "ModelDeployment"


def crash(store: Store, now: float, *, name: str = "iris", message: str = "exit code 1") -> None:
    store.record_event(
        kind=MD, namespace="default", name=name, type="Warning", reason="BackOff", message=message, now=now
    )


def test_a_repeat_within_ten_minutes_counts_up_the_same_event(store: Store) -> None:
    crash(store, 1000)
    crash(store, 1300)
    crash(store, 1899)
    [event] = store.events()
    assert (event.count, event.first_seen, event.last_seen) == (3, 1000, 1899)
    assert event.to_json() == {
        "involvedObject": {"kind": MD, "namespace": "default", "name": "iris"},
        "type": "Warning",
        "reason": "BackOff",
        "message": "exit code 1",
        "count": 3,
        "firstTimestamp": "1970-01-01T00:16:40Z",
        "lastTimestamp": "1970-01-01T00:31:39Z",
    }


def test_after_ten_quiet_minutes_a_new_event_starts(store: Store) -> None:
    crash(store, 1000)
    crash(store, 1000 + 601)
    assert [e.count for e in store.events()] == [1, 1]


def test_different_message_reason_type_or_object_are_separate(store: Store) -> None:
    crash(store, 1)
    crash(store, 2, message="exit code 2")
    crash(store, 3, name="other")
    store.record_event(
        kind=MD,
        namespace="default",
        name="iris",
        type="Normal",
        reason="BackOff",
        message="exit code 1",
        now=4,
    )
    assert len(store.events()) == 4


def test_events_filter_and_newest_last(store: Store) -> None:
    crash(store, 1, name="a")
    crash(store, 2, name="b")
    store.record_event(
        kind="Job",
        namespace="staging",
        name="train",
        type="Normal",
        reason="Started",
        message="started",
        now=3,
    )
    crash(store, 4, name="a")
    assert [(e.name, e.last_seen) for e in store.events()] == [("b", 2), ("train", 3), ("a", 4)]
    assert [e.name for e in store.events(namespace="staging")] == ["train"]
    assert [e.name for e in store.events(kind=MD, name="a")] == ["a"]
    assert [e.name for e in store.events(limit=2)] == ["train", "a"]


def test_events_do_not_move_the_resource_version(store: Store) -> None:
    crash(store, 1)
    assert store.current_rv() == 0


def test_at_most_the_newest_events_are_kept(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("modelplane.store.events.EVENTS_KEPT", 3)
    for index in range(6):
        crash(store, index, name=f"r{index}")
    assert [e.name for e in store.events()] == ["r3", "r4", "r5"]


def test_unknown_event_type_is_refused(store: Store) -> None:
    bad: Any = "Error"
    with pytest.raises(ValueError, match="Normal, Warning"):
        store.record_event(
            kind=MD, namespace="default", name="iris", type=bad, reason="x", message="y", now=1
        )

"""The deployment queue: capacity rule, FIFO per version, refusal when full."""

from __future__ import annotations

import pytest

from modelplane.router.queueing import Gate, queue_capacity


@pytest.mark.parametrize(
    ("serving", "concurrency", "fixed", "expected"),
    [
        (2, 8, None, 32),  # 2 × replicas × concurrency
        (1, 1, None, 2),
        (0, 4, None, 8),  # no replica yet: room for one replica's worth
        (3, None, None, 0),  # no limit: nothing ever waits
        (3, 8, 5, 5),  # --queue wins
        (3, 8, 0, 0),
    ],
)
def test_queue_capacity(serving: int, concurrency: int | None, fixed: int | None, expected: int) -> None:
    assert queue_capacity(serving_replicas=serving, concurrency=concurrency, fixed=fixed) == expected


def test_fifo_per_version_with_one_bound_for_the_deployment() -> None:
    gate: Gate[str] = Gate(concurrency=1)
    assert gate.offer("v1", "first", capacity=3)
    assert gate.offer("v2", "other", capacity=3)
    assert gate.offer("v1", "second", capacity=3)
    assert not gate.offer("v1", "third", capacity=3)  # full over all versions
    assert gate.peek("v1") == "first"
    assert gate.pop("v1") == "first"
    assert gate.pop("v1") == "second"
    assert gate.peek("v1") is None
    assert gate.queued == 1
    assert gate.drop("v2") == ["other"]
    assert gate.queued == 0 and not gate.waiting


def test_in_flight_counts() -> None:
    gate: Gate[str] = Gate(concurrency=2)
    gate.acquire("r1", 0.0)
    gate.acquire("r1", 0.0)
    gate.release("r1", 1.0)
    assert gate.inflight == {"r1": 1}
    gate.release("r1", 1.0)
    assert gate.inflight == {}


def test_a_waiter_whose_client_left_is_removed_from_the_middle() -> None:
    gate: Gate[str] = Gate(concurrency=1)
    for waiter in ("first", "gone", "third"):
        assert gate.offer("v1", waiter, capacity=3)
    assert gate.remove("v1", "gone")
    assert not gate.remove("v1", "gone") and not gate.remove("v2", "gone")
    assert gate.queued == 2
    assert gate.pop("v1") == "first" and gate.pop("v1") == "third"
    assert gate.remove("v1", "x") is False and not gate.waiting
    assert gate.offer("v1", "only", capacity=3) and gate.remove("v1", "only")
    assert gate.queued == 0 and not gate.waiting

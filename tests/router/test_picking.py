"""The router's choices, table-driven: version by weight (Gateway API), replica by least in-flight of two."""

from __future__ import annotations

from collections import Counter
from random import Random

import pytest

from modelplane.router.picking import choose_replica, choose_version, serving_endpoints
from modelplane.router.table import Endpoint


def _draw(weights: list[tuple[str, int]], serving: set[str], n: int = 20_000) -> Counter[str | None]:
    rng = Random(7)
    return Counter(choose_version(weights, serving, rng) for _ in range(n))


@pytest.mark.parametrize(
    ("weights", "serving", "expected"),
    [
        ([("stable", 80), ("canary", 20)], {"stable", "canary"}, {"stable": 0.8, "canary": 0.2}),
        ([("a", 3), ("b", 1)], {"a", "b"}, {"a": 0.75, "b": 0.25}),  # weights need not add to 100
        ([("a", 1), ("b", 0)], {"a", "b"}, {"a": 1.0}),  # weight 0 gets nothing
        ([("a", 1), ("b", 1)], {"a", "b"}, {"a": 0.5, "b": 0.5}),  # default weights: an even split
        ([("a", 90), ("b", 10)], {"a"}, {"a": 1.0}),  # a version with no serving replica is left out
    ],
)
def test_version_shares_follow_the_weights(
    weights: list[tuple[str, int]], serving: set[str], expected: dict[str, float]
) -> None:
    counts = _draw(weights, serving)
    total = sum(counts.values())
    assert set(counts) == set(expected)
    for version, share in expected.items():
        assert counts[version] / total == pytest.approx(share, abs=0.015)


@pytest.mark.parametrize(
    ("weights", "serving"),
    [([], set()), ([("a", 0), ("b", 0)], {"a", "b"}), ([("a", 5)], {"b"})],
)
def test_no_version_when_nothing_with_weight_can_serve(
    weights: list[tuple[str, int]], serving: set[str]
) -> None:
    assert choose_version(weights, serving, Random(1)) is None


def ep(replica: str, *, ready: bool = True, terminating: bool = False, version: str = "v1") -> Endpoint:
    return Endpoint(
        replica=replica, version=version, address="127.0.0.1:1", ready=ready, terminating=terminating
    )


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        ([ep("a"), ep("b", ready=False), ep("c", terminating=True)], ["a"]),
        # no ready one: the ready-but-terminating ones still serve (KEP-1669), never the not-ready
        ([ep("a", ready=False), ep("c", terminating=True)], ["c"]),
        ([ep("a", ready=False), ep("b", ready=False, terminating=True)], []),
        ([], []),
    ],
)
def test_serving_endpoints(endpoints: list[Endpoint], expected: list[str]) -> None:
    assert [e.replica for e in serving_endpoints(endpoints)] == expected


def test_least_in_flight_of_two_random_choices() -> None:
    candidates = [ep("a"), ep("b"), ep("c")]
    load = {"a": 5, "b": 0, "c": 5}
    rng = Random(3)
    picks = Counter(
        choose_replica(candidates, lambda e: load[e.replica], limit=None, rng=rng) for _ in range(3000)
    )
    # b is in 2 of the 3 possible pairs and wins both; a and c win only against each other
    assert picks[candidates[1]] / 3000 == pytest.approx(2 / 3, abs=0.03)
    # with two candidates the less loaded one always wins
    two = [ep("a"), ep("b")]
    assert {choose_replica(two, lambda e: load[e.replica], limit=None, rng=rng) for _ in range(50)} == {
        two[1]
    }


def test_equal_load_spreads_evenly() -> None:
    candidates = [ep("a"), ep("b")]
    rng = Random(5)
    picks = Counter(choose_replica(candidates, lambda e: 0, limit=None, rng=rng).replica for _ in range(4000))  # type: ignore[union-attr]
    assert picks["a"] / 4000 == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(
    ("load", "limit", "expected"),
    [
        ({"a": 2, "b": 2}, 2, None),  # every one at its limit: the request queues
        ({"a": 2, "b": 1}, 2, "b"),  # only b has a free slot
        ({"a": 9, "b": 9}, None, "a"),  # no limit: never full (ties go to the first drawn; seed fixed)
    ],
)
def test_concurrency_limit(load: dict[str, int], limit: int | None, expected: str | None) -> None:
    candidates = [ep("a"), ep("b")]
    chosen = choose_replica(candidates, lambda e: load[e.replica], limit=limit, rng=Random(0))
    if expected is None:
        assert chosen is None
    else:
        assert chosen is not None
        assert chosen.replica in ({expected} if limit is not None else {"a", "b"})


def test_a_retry_avoids_the_replica_that_failed_unless_it_is_the_only_one() -> None:
    candidates = [ep("a"), ep("b")]
    rng = Random(0)
    assert {choose_replica(candidates, lambda e: 0, limit=None, rng=rng, avoid=["a"]) for _ in range(50)} == {
        candidates[1]
    }
    only = [ep("a")]
    assert choose_replica(only, lambda e: 0, limit=None, rng=rng, avoid=["a"]) == only[0]


def test_an_avoided_replica_is_not_taken_because_the_others_are_full() -> None:
    candidates = [ep("dead"), ep("busy")]
    load = {"dead": 0, "busy": 1}
    chosen = choose_replica(candidates, lambda e: load[e.replica], limit=1, rng=Random(0), avoid=["dead"])
    assert chosen is None  # the request queues for "busy" rather than going back to "dead"

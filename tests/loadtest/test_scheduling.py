"""The intended send times: how many fall in each second, and how they are spread."""

from __future__ import annotations

import numpy as np
import pytest

from modelplane.loadtest.profiles import make_profile
from modelplane.loadtest.scheduling import Arrivals, merged


def per_second(shape: str, *, poisson: bool = False, seed: int = 1, **options: float) -> list[int]:
    profile = make_profile(shape, **options)  # type: ignore[arg-type]
    arrivals = Arrivals(profile, poisson=poisson, rng=np.random.default_rng(seed))
    return [len(chunk) for chunk in arrivals]


@pytest.mark.parametrize(
    ("shape", "options", "expected"),
    [
        ("constant", {"rate": 100, "duration": 3}, [100, 100, 100]),
        ("constant", {"rate": 2.5, "duration": 4}, [3, 2, 3, 2]),  # ⌈r·d⌉ = 10 in all, evenly
        ("constant", {"rate": 10, "duration": 2.5}, [10, 10, 5]),  # a partial last second
        ("step", {"rate": 10, "to": 100, "at": 2, "duration": 4}, [10, 10, 100, 100]),
        ("spike", {"rate": 10, "to": 50, "at": 1, "hold": 1, "duration": 3}, [10, 50, 10]),
        ("ramp", {"rate": 0, "to": 100, "at": 0, "hold": 2, "duration": 3}, [25, 75, 100]),
        ("replay", {"rate": None, "rates": (3.0, 0.0, 40.0), "duration": None}, [3, 0, 40]),
    ],
)
def test_constant_arrivals_per_second(shape: str, options: dict[str, float], expected: list[int]) -> None:
    assert per_second(shape, **options) == expected


def test_constant_arrivals_are_evenly_spaced_from_zero() -> None:
    arrivals = Arrivals(
        make_profile("constant", rate=4, duration=2), poisson=False, rng=np.random.default_rng()
    )
    offsets = np.concatenate(list(arrivals))
    assert offsets.tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75])


def test_poisson_arrivals_have_the_rate_and_poisson_spread() -> None:
    counts = per_second("constant", poisson=True, rate=1000, duration=50)
    assert np.mean(counts) == pytest.approx(1000, rel=0.02)
    assert np.var(counts) == pytest.approx(1000, rel=0.5)  # Poisson: variance = mean
    profile = make_profile("constant", rate=1000, duration=5)
    gaps = np.diff(np.concatenate(list(Arrivals(profile, poisson=True, rng=np.random.default_rng(3)))))
    assert gaps.min() >= 0
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(1, rel=0.1)  # exponential gaps: cv 1


def test_poisson_arrivals_follow_the_profile_and_the_seed() -> None:
    counts = per_second("step", poisson=True, rate=100, to=2000, at=5, duration=10)
    assert np.mean(counts[:5]) == pytest.approx(100, rel=0.2)
    assert np.mean(counts[5:]) == pytest.approx(2000, rel=0.05)
    assert per_second("constant", poisson=True, seed=7, rate=300, duration=3) == per_second(
        "constant", poisson=True, seed=7, rate=300, duration=3
    )


def test_each_second_is_sorted_and_within_it() -> None:
    profile = make_profile("ramp", rate=10, to=500, duration=4)
    for poisson in (False, True):
        for second, chunk in enumerate(Arrivals(profile, poisson=poisson, rng=np.random.default_rng(5))):
            assert (np.diff(chunk) >= 0).all()
            assert ((chunk >= second) & (chunk < second + 1)).all()


def test_merged_orders_targets_by_time() -> None:
    offsets, owners = merged([np.array([0.1, 0.5]), np.array([0.0, 0.3, 0.9])])
    assert offsets.tolist() == [0.0, 0.1, 0.3, 0.5, 0.9]
    assert owners.tolist() == [1, 0, 1, 0, 1]
    empty, nobody = merged([])
    assert len(empty) == len(nobody) == 0

"""Profiles: the rate over time of each shape, and the flag named when a value makes no sense."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.loadtest.errors import ProfileError
from modelplane.loadtest.profiles import Shape, make_profile, read_rates


@pytest.mark.parametrize(
    ("shape", "options", "expected"),
    [
        ("constant", {"rate": 50}, {0: 50, 9.99: 50, 10: 0, -1: 0}),
        ("step", {"rate": 10, "to": 100, "at": 4}, {0: 10, 3.99: 10, 4: 100, 9.5: 100}),
        ("step", {"rate": 10, "to": 100}, {3.3: 10, 3.34: 100}),  # at defaults to a third
        ("spike", {"rate": 10, "to": 100, "at": 2, "hold": 3}, {1.9: 10, 2: 100, 4.99: 100, 5: 10}),
        ("ramp", {"rate": 0, "to": 100, "at": 2, "hold": 4}, {1: 0, 2: 0, 4: 50, 6: 100, 9: 100}),
        ("ramp", {"rate": 100, "to": 0}, {0: 100, 5: 50}),  # over the whole run, downwards too
    ],
)
def test_rate_at(shape: str, options: dict[str, float], expected: dict[float, float]) -> None:
    profile = make_profile(shape, duration=10, **options)
    for t, rate in expected.items():
        assert profile.rate_at(t) == pytest.approx(rate, abs=0.2), (shape, t)


def test_replay_runs_as_long_as_its_trace() -> None:
    profile = make_profile("replay", duration=None, rate=None, rates=(5.0, 0.0, 7.5))
    assert profile.duration == 3
    assert [profile.rate_at(t) for t in (0, 0.9, 1.5, 2.2, 3)] == [5, 5, 0, 7.5, 0]


def test_scaled_keeps_the_shape() -> None:
    profile = make_profile("spike", duration=9, rate=100, to=1000, at=3, hold=3).scaled(0.25)
    assert (profile.rate_at(1), profile.rate_at(4), profile.rate_at(7)) == (25, 250, 25)
    assert profile.peak() == 250


@pytest.mark.parametrize(
    ("shape", "options", "flag"),
    [
        ("wave", {"rate": 1}, "--profile"),
        ("constant", {"rate": -5}, "--rate"),
        ("constant", {"rate": float("nan")}, "--rate"),
        ("constant", {"rate": 1e12}, "--rate"),
        ("constant", {"rate": 10, "duration": 0}, "--duration"),
        ("constant", {"rate": 10, "to": 20}, "--to"),
        ("step", {"rate": 10}, "--to"),
        ("step", {"rate": 10, "to": -1}, "--to"),
        ("step", {"rate": 10, "to": 20, "at": 30}, "--at"),
        ("step", {"rate": 10, "to": 20, "hold": 3}, "--for"),
        ("spike", {"rate": 10, "to": 20, "at": 5, "hold": 0}, "--for"),
        ("spike", {"rate": 10, "to": 20, "at": 5, "hold": 9}, "--for"),
        ("replay", {"rate": None}, "--rates-file"),
        ("replay", {"rate": None, "rates": (1.0,), "to": 3}, "--to"),
        ("constant", {"rate": 1, "rates": (1.0,)}, "--rates-file"),
    ],
)
def test_nonsense_names_the_flag(shape: str, options: dict[str, object], flag: str) -> None:
    arguments: dict[str, object] = {"duration": 10.0, **options}
    with pytest.raises(ProfileError) as caught:
        make_profile(shape, **arguments)  # type: ignore[arg-type]
    assert caught.value.flag == flag
    assert str(caught.value).startswith(flag)


def test_read_rates(tmp_path: Path) -> None:
    lines = tmp_path / "rates.txt"
    lines.write_text("# req/s per second\n10\n\n20.5  # peak\n0\n")
    assert read_rates(lines) == (10, 20.5, 0)
    listed = tmp_path / "rates.json"
    listed.write_text("[1, 2, 3]")
    assert read_rates(listed) == (1, 2, 3)


@pytest.mark.parametrize("text", ["10\nlots\n", "[1, -2]", "[1, true]", "", "[1,"])
def test_read_rates_refuses(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rates.txt"
    path.write_text(text)
    with pytest.raises(ProfileError) as caught:
        read_rates(path)
    assert caught.value.flag == "--rates-file"
    assert str(path) in str(caught.value)


def test_shapes_are_the_documented_ones() -> None:
    assert [s.value for s in Shape] == ["constant", "step", "spike", "ramp", "replay"]

"""CLI durations: the spec's grammar (bare seconds or units), finite and non-negative only."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from modelplane.cli.draining import drain
from modelplane.cli.durations import DURATION, parse_duration
from modelplane.cli.recommending import recommend
from modelplane.cli.rollouts import status
from modelplane.cli.routing import router
from modelplane.cli.waiting import wait


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("1.5", 1.5),
        (" 30s ", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("0", 0.0),
    ],
)
def test_bare_seconds_and_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert DURATION.convert(text, None, None) == seconds


@pytest.mark.parametrize(
    "text", ["nan", "inf", "-inf", "1e3", "-5", "5 m", "soon", "", "9" * 400, "9" * 400 + "h"]
)
def test_nan_infinity_exponents_and_nonsense_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
    with pytest.raises(click.BadParameter):
        DURATION.convert(text, None, None)


def test_numeric_defaults_pass_but_not_non_finite_ones() -> None:
    assert DURATION.convert(60.0, None, None) == 60.0
    assert DURATION.convert(15, None, None) == 15.0
    for value in (float("nan"), float("inf"), -1.0, True):
        with pytest.raises(click.BadParameter):
            DURATION.convert(value, None, None)


def test_the_flags_that_take_durations_refuse_nan() -> None:
    runner = CliRunner()
    cases = [
        (wait, ["job/x", "--for", "delete", "--timeout", "nan"]),
        (status, ["x", "--timeout", "inf"]),
        (drain, ["pool", "--timeout", "nan"]),
        (recommend, ["--window", "nan"]),
        (router, ["--endpoints-file", "t.json", "--ready-wait", "nan"]),
        (router, ["--endpoints-file", "t.json", "--timeout", "inf"]),
        (router, ["--endpoints-file", "t.json", "--grace-period", "1e3"]),
    ]
    for command, args in cases:
        result = runner.invoke(command, args)
        assert result.exit_code == 2 and "is not a duration" in result.output, (args, result.output)

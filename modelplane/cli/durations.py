"""Durations on the command line, in the grammar of the spec's (`modelplane.spec.parse_duration`):
`90` (seconds), `1.5`, `30s`, `5m`, `1h30m`, `250ms`. One grammar for flags and YAML, so a value
that works in one works in the other. Only finite, non-negative values pass: `nan`, `inf` and
`1e3` are refused (a `--timeout nan` would otherwise make a wait never end).
"""

from __future__ import annotations

import math
from typing import Any

import click

from modelplane.spec import QuantityError
from modelplane.spec import parse_duration as parse_spec_duration


def parse_duration(value: str | float) -> float:
    """Seconds in `value`, or ValueError saying what a duration looks like."""
    try:
        seconds = parse_spec_duration(value.strip() if isinstance(value, str) else value)
    except (QuantityError, OverflowError):
        raise ValueError(
            f"{value!r} is not a duration; write seconds (90) or with units (30s, 5m, 1h30m, 250ms)."
        ) from None
    if not math.isfinite(seconds):  # digits past a float's range
        raise ValueError(f"{value!r} is too long a duration; write it with units (5m, 1h).")
    return seconds


class Duration(click.ParamType[float]):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(f"{value!r} is not a duration.", param, ctx)
        try:
            return parse_duration(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


DURATION = Duration()

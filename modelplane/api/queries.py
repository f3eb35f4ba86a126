"""Numbers in query strings (`watch?since=`, `logs?offset=`, `?timeout=`), parsed in one place with
bounds, so that a bad one is a 400 with a sentence and never reaches SQLite or a file seek as a 500.

A whole number is ASCII digits with an optional leading '-', at most 19 digits (Python's int() would
also take ' 5', '1_000' and 4,000-digit strings); it must lie within the bounds the handler gives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final

from modelplane.api.errors import BadRequest

INT64_MAX: Final = 2**63 - 1
"""The largest resourceVersion or byte offset: SQLite's and the file system's integers are int64."""

_WHOLE = re.compile(r"-?[0-9]{1,19}")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 30 else text[:27] + "...")


def whole(query: Mapping[str, str], key: str, *, low: int, high: int = INT64_MAX) -> int | None:
    """`query[key]` as a whole number in low..high; None when absent; BadRequest otherwise."""
    text = query.get(key)
    if text is None:
        return None
    value = int(text) if _WHOLE.fullmatch(text) else None
    if value is None or not low <= value <= high:
        raise BadRequest(
            f"query parameter {key} must be a whole number from {low} to {high:,}; got {_shown(text)}."
        )
    return value


def seconds(query: Mapping[str, str], key: str, *, default: float, most: float) -> float:
    """`query[key]` as seconds, clamped to 0..most (a long poll asks for at most `most`); `default`
    when absent; BadRequest for text that is not a finite number."""
    text = query.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise BadRequest(f"query parameter {key} must be a number of seconds; got {_shown(text)}.")
    return min(max(value, 0.0), most)

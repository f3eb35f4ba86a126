"""Custom metrics: a series is read from Prometheus text with prometheus-client's parser, summed over
the samples whose labels match; anything else is no reading, never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelplane.runtime.scraping import series_value

TEXT = """# HELP modelplane_server_inflight_requests In flight.
# TYPE modelplane_server_inflight_requests gauge
modelplane_server_inflight_requests{model="a",version="v1"} 3.0
modelplane_server_inflight_requests{model="b",version="v1"} 2.0
# TYPE queue_depth gauge
queue_depth 7
"""


@pytest.mark.parametrize(
    ("series", "labels", "expected"),
    [
        ("modelplane_server_inflight_requests", {}, 5.0),
        ("modelplane_server_inflight_requests", {"model": "a"}, 3.0),
        ("modelplane_server_inflight_requests", {"model": "c"}, None),
        ("queue_depth", {}, 7.0),
        ("absent", {}, None),
    ],
)
def test_series_values(series: str, labels: dict[str, str], expected: float | None) -> None:
    assert series_value(TEXT, series, labels) == expected


@given(st.text(max_size=300))
def test_any_text_is_a_value_or_none(text: str) -> None:
    value = series_value(text, "queue_depth", {})
    assert value is None or isinstance(value, float)

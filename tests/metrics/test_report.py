"""The router's report at the edge: bounded sizes, finite non-negative numbers, a consistent
histogram; refused whole with a message naming the field."""

from __future__ import annotations

import orjson
import pytest

from modelplane.metrics import ReportRefused, parse_report
from modelplane.metrics.report import MAX_REPLICAS, MAX_VERSIONS

V = {"namespace": "default", "deployment": "m", "version": "v1"}


def _body(**fields: object) -> bytes:
    return orjson.dumps({"intervalS": 1.0, **fields})


def test_a_good_report_parses_with_defaults() -> None:
    latency = [0] * 15
    latency[3] = 2
    report = parse_report(
        _body(versions=[{**V, "requests": 2, "errors": 1, "latency": latency, "inflight": 0.5}])
    )
    assert report.versions[0].requests == 2 and report.versions[0].inflight == 0.5
    assert parse_report(_body(versions=[V])).versions[0].latency == (0,) * 15


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "router report refused: the body"),
        (_body(intervalS=0), "intervalS: Input should be greater than 0"),
        (orjson.dumps({"intervalS": 1e9}), "intervalS: Input should be less than or equal to 60"),
        (
            _body(versions=[{**V, "requests": -1}]),
            "versions.0.requests: Input should be greater than or equal to 0",
        ),
        (
            b'{"intervalS": 1, "versions": [{"namespace": "d", "deployment": "m", "version": "v1", '
            b'"inflight": NaN}]}',
            "router report refused",
        ),
        (_body(versions=[{**V, "inflight": 1e12}]), "versions.0.inflight"),
        (_body(versions=[{**V, "requests": 3}]), "latency counts 0 answers but requests is 3"),
        (_body(versions=[{**V, "latency": [0] * 3}]), "latency has 3 bucket counts; it takes 15"),
        (_body(versions=[{**V, "namespace": "x" * 300}]), "versions.0.namespace"),
        (_body(versions=[V] * (MAX_VERSIONS + 1)), f"versions: Tuple should have at most {MAX_VERSIONS}"),
        (
            _body(replicas=[{"namespace": "a", "deployment": "b", "replica": "c"}] * (MAX_REPLICAS + 1)),
            "replicas:",
        ),
        (_body(versions=[{**V, "extra": 1}]), "versions.0.extra: Extra inputs are not permitted"),
    ],
)
def test_bad_reports_are_refused_naming_the_field(body: bytes, message: str) -> None:
    with pytest.raises(ReportRefused, match="router report refused") as refused:
        parse_report(body)
    assert message in str(refused.value)

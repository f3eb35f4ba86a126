"""Reading API objects leniently and formatting ages and small values as kubectl does."""

from __future__ import annotations

import pytest

from modelplane.cli.fields import (
    format_age,
    format_bytes,
    format_labels,
    format_taints,
    last_exit_text,
    name_of,
    namespace_of,
    show,
    timestamp,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (192, "3m12s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (2 * 3600 + 5 * 60 + 9, "125m"),  # kubectl counts minutes up to 3 h
        (3 * 3600 + 5 * 60 + 9, "3h5m"),
        (5 * 3600, "5h"),
        (30 * 3600, "30h"),
        (4 * 86400, "4d"),
        (3 * 86400 + 2 * 3600, "3d2h"),
        (20 * 86400, "20d"),
        (2 * 365 * 86400 + 5 * 86400, "2y5d"),
        (9 * 365 * 86400, "9y"),
        (-0.5, "0s"),
        (-5, "<invalid>"),
    ],
)
def test_ages_like_kubectl(seconds: float, text: str) -> None:
    assert format_age(seconds) == text


def test_timestamps_are_numbers_or_iso_strings() -> None:
    assert timestamp(12.5) == 12.5
    assert timestamp("1970-01-01T00:01:00Z") == 60.0
    assert timestamp("yesterday") is None
    assert timestamp(None) is None and timestamp(True) is None


def test_identity_from_metadata_or_the_top_level() -> None:
    assert name_of({"metadata": {"name": "a", "namespace": "x"}}) == "a"
    assert namespace_of({"metadata": {"name": "a", "namespace": "x"}}) == "x"
    assert name_of({"name": "b"}) == "b" and namespace_of({"name": "b"}) == "default"
    assert name_of({}) == "-"


def test_small_values() -> None:
    assert show(None) == "-" and show(True) == "true" and show(3.0) == "3" and show(0.5) == "0.5"
    assert format_labels({"a": "1", "b": "2"}) == "a=1,b=2" and format_labels({}) == "<none>"
    assert format_taints([{"key": "k", "value": "v", "effect": "NoSchedule"}]) == "k=v:NoSchedule"
    assert format_bytes(3 * 2**30) == "3Gi" and format_bytes(512) == "512" and format_bytes(None) == "-"
    oom = {"code": 137, "reason": "OOMKilled", "at": 100.0}
    assert last_exit_text(oom, 160.0) == "OOMKilled (code 137), 60s ago"
    assert last_exit_text({"code": None, "reason": "Unknown", "at": None}, 160.0) == "Unknown"
    assert last_exit_text(None, 0) == "-"

"""`modelplane wait`'s pure parts: `--for` and when a condition is reached (case-insensitive, as kubectl)."""

from __future__ import annotations

from typing import Any

import click
import pytest

from modelplane.cli.waiting import condition_reached, parse_for


def with_conditions(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"status": {"conditions": list(conditions)}}


def test_for_parses_condition_and_delete() -> None:
    assert parse_for("delete") == ("delete", None, "")
    assert parse_for("condition=Ready") == ("condition", "Ready", "True")
    assert parse_for("condition=ready=FALSE") == ("condition", "ready", "False")
    with pytest.raises(click.BadParameter):
        parse_for("ready")


@pytest.mark.parametrize("wanted", ["condition=Available", "condition=available", "condition=AVAILABLE=true"])
def test_condition_type_and_status_compare_case_insensitively(wanted: str) -> None:
    _, name, value = parse_for(wanted)
    assert name is not None
    assert condition_reached(with_conditions({"type": "Available", "status": "True"}), name, value) == (
        True,
        None,
    )
    assert condition_reached(with_conditions({"type": "Available", "status": "true"}), name, value) == (
        True,
        None,
    )
    assert condition_reached(with_conditions({"type": "Available", "status": "False"}), name, value) == (
        False,
        None,
    )


def test_waiting_for_complete_ends_when_the_job_failed_whatever_the_case() -> None:
    failed = with_conditions(
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "x"}
    )
    assert condition_reached(failed, "complete", "True") == (False, "Failed: BackoffLimitExceeded: x")
    assert condition_reached(failed, "complete", "False") == (False, None)  # not a contradiction

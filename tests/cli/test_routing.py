"""`modelplane router` flags refused before anything starts (the router itself: tests/router)."""

from __future__ import annotations

from click.testing import CliRunner

from modelplane.cli.routing import router


def test_ready_wait_queue_must_hold_at_least_one_request() -> None:
    result = CliRunner().invoke(router, ["--endpoints-file", "t.json", "--ready-wait-queue", "0"])
    assert result.exit_code == 2 and "--ready-wait-queue" in result.output
    assert "0 is not in the range x>=1" in result.output


def test_ready_wait_takes_a_duration_and_refuses_nonsense() -> None:
    result = CliRunner().invoke(router, ["--endpoints-file", "t.json", "--ready-wait", "soon"])
    assert result.exit_code == 2 and "'soon' is not a duration" in result.output
    assert "--ready-wait DURATION" in CliRunner().invoke(router, ["--help"]).output

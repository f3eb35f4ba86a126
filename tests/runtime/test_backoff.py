"""CrashLoopBackOff on virtual time: the kubelet's delays, measured from the finish, reset after 600 s."""

from __future__ import annotations

import pytest

from modelplane.runtime import INITIAL_DELAY, Backoff, decide_restart


def restart_delays(run_seconds: list[float]) -> list[float]:
    """Delay between each exit and the next start, for processes that ran `run_seconds` each."""
    backoff: Backoff | None = None
    now, delays = 0.0, []
    for run in run_seconds:
        finished = now + run
        now = finished
        while not (decision := decide_restart(backoff, finished_at=finished, now=now)).start:
            assert decision.until is not None
            now = decision.until  # the supervisor wakes exactly then
        backoff = decision.backoff
        delays.append(now - finished)
    return delays


def test_an_instantly_crashing_process_waits_10_20_40_80_160_300_300() -> None:
    # Must reproduce: the waits under CrashLoopBackOff are 10, 20, 40, 80, 160, 300, 300 s. As in
    # the kubelet (no backoff entry yet), the very first restart is immediate.
    assert restart_delays([0.0] * 9) == [0, 10, 20, 40, 80, 160, 300, 300, 300]


def test_the_wait_is_measured_from_the_finish_time() -> None:
    backoff = Backoff(delay=40, last_update=1000)
    decision = decide_restart(backoff, finished_at=1030, now=1031)
    assert not decision.start and decision.until == 1070 and decision.backoff == backoff
    late = decide_restart(backoff, finished_at=1030, now=1070)
    assert late.start and late.backoff == Backoff(delay=80, last_update=1070)


def test_a_crash_after_more_than_600_s_of_clean_running_starts_over() -> None:
    # Must reproduce: after running cleanly for more than 600 s the next crash waits 10 s again
    # (restart at once, then 10 s: the entry is forgotten and starts over).
    crashes = [0.0] * 6 + [601.0, 0.0, 0.0]
    assert restart_delays(crashes)[6:] == [0, 10, 20]


@pytest.mark.parametrize(("ran", "reset"), [(599.0, False), (600.0, False), (600.5, True)])
def test_reset_needs_strictly_more_than_600_s_since_the_last_restart(ran: float, reset: bool) -> None:
    backoff = Backoff(delay=160, last_update=0)
    decision = decide_restart(backoff, finished_at=ran, now=ran)
    assert decision.start is reset
    if reset:
        assert decision.backoff == Backoff(delay=INITIAL_DELAY, last_update=ran)
    else:
        assert decision.until == ran + 160


def test_delays_are_capped_at_300() -> None:
    decision = decide_restart(Backoff(delay=300, last_update=0), finished_at=1, now=301)
    assert decision.start and decision.backoff == Backoff(delay=300, last_update=301)

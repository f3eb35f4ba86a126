"""CrashLoopBackOff on virtual time: the kubelet's delays, measured from the finish, reset after 600 s."""

from __future__ import annotations

import pytest

from modelplane.runtime import INITIAL_DELAY, RESET_AFTER, Backoff, decide_restart


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


# The kubelet's housekeeping calls backOff.GC() (HandlePodCleanups), and client-go's flowcontrol.Backoff
# GC deletes "when entry has not been updated for 2*maxDuration": `now.Sub(entry.lastUpdate) >
# p.maxDuration*2` — measured from now, not from the exit, so it also frees a replica that is waiting.
# An entry last updated (restart let through) at 0 with a 160 s delay:
@pytest.mark.parametrize(
    ("finished", "now", "start", "until"),
    [
        (30.0, 31.0, False, 190.0),  # crashed 30 s after its restart: waits 160 s from the exit
        (30.0, 190.0, True, None),  # the wait is over
        (500.0, 501.0, False, 600.0),  # ran 500 s, would wait until 660: the entry goes at 600
        (500.0, 599.9, False, 600.0),
        (500.0, 600.0, True, None),  # forgotten 600 s after the last restart, while waiting: start now
        (599.0, 599.0, False, 600.0),
        (600.0, 600.0, True, None),  # exited 600 s after it: nothing to wait for
        (600.5, 600.5, True, None),  # ran cleanly more than 600 s (the exit-time expiry)
        (5000.0, 5000.0, True, None),
    ],
)
def test_an_entry_is_forgotten_600_s_after_the_last_restart_even_while_waiting(
    finished: float, now: float, start: bool, until: float | None
) -> None:
    backoff = Backoff(delay=160, last_update=0)
    decision = decide_restart(backoff, finished_at=finished, now=now)
    assert (decision.start, decision.until) == (start, until)
    if start and now >= RESET_AFTER:  # forgotten: a fresh entry, the next crash waits 10 s
        assert decision.backoff == Backoff(delay=INITIAL_DELAY, last_update=now)


def test_a_long_run_then_crash_restarts_at_the_600_s_mark_then_waits_10_s() -> None:
    # six instant crashes (entry at 300 s), then a run of 400 s: the kubelet would make it wait until
    # the GC at 600 s after the last restart (not 300 s after the exit), then start with a fresh entry
    delays = restart_delays([0.0] * 6 + [400.0, 0.0, 0.0])
    assert delays[6:] == [200, 10, 20]


def test_delays_are_capped_at_300() -> None:
    decision = decide_restart(Backoff(delay=300, last_update=0), finished_at=1, now=301)
    assert decision.start and decision.backoff == Backoff(delay=300, last_update=301)

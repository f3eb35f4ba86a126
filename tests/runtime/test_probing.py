"""The probe state machine on virtual time: each §3 "Must reproduce" line about probes, and the rules."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from modelplane.runtime import ProbeKind, ProbeResult, ProbeSet
from modelplane.runtime.probing import LOADING_PERIOD_SECONDS, ProbeWorker
from modelplane.spec import Probe, Probes

Health = Callable[[ProbeKind, float], bool]
P10 = Probe(period_seconds=10, failure_threshold=3)


@dataclass
class Trace:
    """What a simulated kubelet saw, second by second."""

    runs: list[tuple[float, ProbeKind, bool]] = field(default_factory=list)
    ready: dict[float, bool] = field(default_factory=dict)
    restart_at: float | None = None
    restart_reason: ProbeKind | None = None
    final: ProbeSet | None = None

    def times(self, kind: ProbeKind) -> list[float]:
        return [t for t, k, _ in self.runs if k is kind]


def simulate(probes: Probes, health: Health, *, until: float, step: float = 1.0) -> Trace:
    """Drive a ProbeSet as the supervisor does: every `step` s, run what is due; stop at a restart."""
    state = ProbeSet.initial(probes, started_at=0.0)
    trace = Trace()
    for i in range(round(until / step) + 1):
        now = round(i * step, 6)
        for _ in range(2):  # startup passing makes readiness due in the same step
            for kind in state.due(now):
                success = health(kind, now)
                trace.runs.append((now, kind, success))
                state = state.record(kind, success=success, now=now)
        trace.ready[now] = state.ready
        if (reason := state.restart_reason()) is not None:
            trace.restart_at, trace.restart_reason = now, reason
            break
    trace.final = state
    return trace


def healthy_until(t0: float) -> Health:
    return lambda kind, now: now < t0


def test_initial_results_are_kubernetes_ones() -> None:
    state = ProbeSet.initial(Probes(startup=Probe(), readiness=Probe(), liveness=Probe()), started_at=0)
    assert state.result(ProbeKind.READINESS) is ProbeResult.FAILURE
    assert state.result(ProbeKind.LIVENESS) is ProbeResult.SUCCESS
    assert state.result(ProbeKind.STARTUP) is ProbeResult.UNKNOWN
    assert not state.started and not state.ready and state.restart_reason() is None


def test_readiness_failing_app_leaves_endpoints_on_the_third_failure_without_restart() -> None:
    # Must reproduce: period 10, failureThreshold 3, app breaks at t0: Ready through 2 failures,
    # not ready on the 3rd (~t0+20…30 s); the restart count does not change.
    t0 = 35.0
    trace = simulate(Probes(readiness=P10, liveness=None), healthy_until(t0), until=120)
    assert trace.times(ProbeKind.READINESS)[:7] == [0, 10, 20, 30, 40, 50, 60]
    assert trace.ready[0] and trace.ready[59]
    assert not trace.ready[60]
    assert t0 + 20 <= 60 <= t0 + 30
    assert trace.restart_at is None
    assert trace.times(ProbeKind.READINESS)[-1] == 120  # readiness keeps probing


def test_liveness_failing_app_is_restarted_after_three_consecutive_failures() -> None:
    # Must reproduce: the same settings on liveness: restart after 3 failures in a row.
    trace = simulate(Probes(readiness=None, liveness=P10), healthy_until(35), until=120)
    assert trace.restart_reason is ProbeKind.LIVENESS
    assert trace.restart_at == 60
    assert trace.final is not None and trace.final.due(1000) == ()  # held until a new process


def test_liveness_failures_not_in_a_row_do_not_restart() -> None:
    def flaky(kind: ProbeKind, now: float) -> bool:
        return int(now) % 30 != 0  # fails at 0, 30, 60 …: never 3 in a row

    trace = simulate(Probes(readiness=None, liveness=P10), flaky, until=200)
    assert trace.restart_at is None


def test_startup_probe_holds_liveness_back_and_kills_at_its_budget() -> None:
    # Must reproduce: startup failureThreshold 30, period 10: no liveness for up to 300 s;
    # the 30th failure (at 290 s, within the 300 s budget) kills the container.
    probes = Probes(startup=Probe(period_seconds=10, failure_threshold=30), readiness=P10, liveness=P10)
    trace = simulate(probes, lambda kind, now: False, until=400)
    assert trace.times(ProbeKind.LIVENESS) == [] and trace.times(ProbeKind.READINESS) == []
    assert len(trace.times(ProbeKind.STARTUP)) == 30
    assert trace.restart_reason is ProbeKind.STARTUP and trace.restart_at == 290


def test_startup_success_starts_liveness_and_readiness_and_stops_itself() -> None:
    probes = Probes(startup=Probe(period_seconds=10, failure_threshold=30), readiness=P10, liveness=P10)
    trace = simulate(probes, lambda kind, now: now >= 45, until=100)
    assert trace.times(ProbeKind.STARTUP) == [0, 10, 20, 30, 40, 50]
    assert trace.times(ProbeKind.READINESS)[:2] == [50, 60]  # at once after startup passed, then every 10 s
    assert trace.times(ProbeKind.LIVENESS)[:2] == [50, 60]
    assert not trace.ready[49] and trace.ready[50]
    assert trace.final is not None and trace.final.started


@pytest.mark.parametrize(
    ("probe", "first_run"),
    [
        (Probe(initial_delay_seconds=0, period_seconds=10), 0),
        (Probe(initial_delay_seconds=15, period_seconds=10), 15),
        (Probe(initial_delay_seconds=5, period_seconds=3), 5),
    ],
)
def test_no_probe_runs_before_the_initial_delay(probe: Probe, first_run: float) -> None:
    trace = simulate(Probes(readiness=probe, liveness=probe), lambda kind, now: True, until=40)
    assert trace.times(ProbeKind.READINESS)[0] == first_run
    assert trace.times(ProbeKind.LIVENESS)[0] == first_run
    assert not any(trace.ready[t] for t in trace.ready if t < first_run)


@pytest.mark.parametrize(
    ("success_threshold", "ready_at"),
    [(1, 0), (2, 0.05), (3, 0.10)],  # in a row at the loading period: it has never passed yet
)
def test_readiness_needs_success_threshold_successes_in_a_row(
    success_threshold: int, ready_at: float
) -> None:
    probe = Probe(period_seconds=10, success_threshold=success_threshold)
    trace = simulate(Probes(readiness=probe, liveness=None), lambda kind, now: True, until=1, step=0.01)
    assert next(t for t, ready in trace.ready.items() if ready) == pytest.approx(ready_at, abs=0.011)


def test_after_it_passed_readiness_needs_success_threshold_successes_at_its_period() -> None:
    def broken(kind: ProbeKind, now: float) -> bool:
        return not 5 <= now < 15

    probe = Probe(period_seconds=10, success_threshold=2, failure_threshold=1)
    trace = simulate(Probes(readiness=probe, liveness=None), broken, until=60)
    assert trace.times(ProbeKind.READINESS)[:6] == [0, 1, 11, 21, 31, 41]  # passed at 1: then every 10 s
    assert trace.ready[10] and not trace.ready[11] and not trace.ready[30] and trace.ready[31]


def test_readiness_recovers_after_failure() -> None:
    def broken(kind: ProbeKind, now: float) -> bool:
        return not 25 <= now < 55

    trace = simulate(Probes(readiness=P10, liveness=None), broken, until=80)
    assert not trace.ready[50] and trace.ready[60]


def test_without_readiness_probe_a_started_process_is_ready_at_once() -> None:
    assert ProbeSet.initial(Probes(readiness=None, liveness=P10), started_at=0).ready
    state = ProbeSet.initial(Probes(startup=Probe(), readiness=None, liveness=None), started_at=0)
    assert not state.ready
    assert state.record(ProbeKind.STARTUP, success=True, now=0).ready


def test_terminating_stops_liveness_and_startup_with_success_but_readiness_goes_on() -> None:
    state = ProbeSet.initial(Probes(readiness=P10, liveness=P10), started_at=0)
    for now in (0.0, 10.0):
        state = state.record(ProbeKind.LIVENESS, success=False, now=now)
    state = state.terminate()
    assert state.result(ProbeKind.LIVENESS) is ProbeResult.SUCCESS
    assert state.restart_reason() is None
    assert state.next_run(ProbeKind.LIVENESS) is None
    assert state.due(20) == (ProbeKind.READINESS,)


def test_due_and_next_due_follow_the_period() -> None:
    state = ProbeSet.initial(Probes(readiness=Probe(period_seconds=5), liveness=P10), started_at=100)
    assert state.due(100) == (ProbeKind.LIVENESS, ProbeKind.READINESS)
    state = state.record(ProbeKind.LIVENESS, success=True, now=100)
    state = state.record(ProbeKind.READINESS, success=True, now=100)
    assert state.due(104.9) == ()
    assert state.next_due() == 105
    assert state.due(105) == (ProbeKind.READINESS,)
    assert state.next_run(ProbeKind.LIVENESS) == 110


def _runs_between(trace: Trace, kind: ProbeKind, start: float, end: float) -> list[float]:
    return [t for t in trace.times(kind) if start <= t < end]


def test_readiness_is_probed_every_50_ms_until_it_first_passes_then_every_period() -> None:
    # a model that loads in 1.5 s, with Kubernetes' default period of 10 s: ready at 1.5 s, not 10 s
    def loads_in_1_5_s(kind: ProbeKind, now: float) -> bool:
        return kind is ProbeKind.LIVENESS or now >= 1.5

    trace = simulate(Probes(readiness=P10, liveness=P10), loads_in_1_5_s, until=25, step=0.01)
    ready_at = next(t for t, ready in trace.ready.items() if ready)
    assert 1.5 <= ready_at < 1.5 + LOADING_PERIOD_SECONDS + 0.011
    loading_runs = _runs_between(trace, ProbeKind.READINESS, 0, ready_at)
    assert loading_runs[0] == 0 and len(loading_runs) == pytest.approx(1.5 / LOADING_PERIOD_SECONDS, abs=1)
    gaps = [b - a for a, b in itertools.pairwise(loading_runs)]
    assert max(gaps) <= LOADING_PERIOD_SECONDS + 0.011
    after = _runs_between(trace, ProbeKind.READINESS, ready_at, 26)
    assert after == pytest.approx([ready_at, ready_at + 10, ready_at + 20])  # then periodSeconds
    assert trace.times(ProbeKind.LIVENESS) == [0, 10, 20]  # liveness keeps its own schedule


@pytest.mark.parametrize(
    ("kind", "passed", "terminating", "period"),
    [
        (ProbeKind.READINESS, False, False, LOADING_PERIOD_SECONDS),  # loading
        (ProbeKind.READINESS, True, False, 10),  # passed once: Kubernetes' period from then on
        (ProbeKind.READINESS, False, True, 10),  # being stopped: nothing to wait for
        (ProbeKind.LIVENESS, False, False, 10),  # failures restart: never faster
        (ProbeKind.STARTUP, False, False, 10),  # its budget is failureThreshold x periodSeconds
    ],
)
def test_the_period_of_a_probe(kind: ProbeKind, passed: bool, terminating: bool, period: float) -> None:
    worker = ProbeWorker(kind=kind, probe=P10, result=ProbeResult.FAILURE, passed=passed)
    assert worker.period(terminating=terminating) == period


def test_loading_probing_waits_for_the_initial_delay_and_for_the_startup_probe() -> None:
    delayed = Probe(initial_delay_seconds=5, period_seconds=10)
    trace = simulate(Probes(readiness=delayed, liveness=None), lambda k, now: now >= 7, until=8, step=0.01)
    runs = trace.times(ProbeKind.READINESS)
    assert runs[0] == 5 and runs[1] == pytest.approx(5.05, abs=0.011)
    assert next(t for t, ready in trace.ready.items() if ready) == pytest.approx(7, abs=0.06)

    startup = Probe(period_seconds=10, failure_threshold=30)
    probes = Probes(startup=startup, readiness=P10, liveness=None)
    trace = simulate(
        probes, lambda kind, now: now >= (8 if kind is ProbeKind.STARTUP else 12), until=13, step=0.01
    )
    assert trace.times(ProbeKind.STARTUP) == [0, 10]  # startup keeps its period
    assert trace.times(ProbeKind.READINESS)[0] == 10  # at once when startup passed, then fast
    assert next(t for t, ready in trace.ready.items() if ready) == pytest.approx(12, abs=0.06)


def test_loading_ends_at_the_first_pass_and_starts_again_with_a_new_process() -> None:
    probes = Probes(readiness=Probe(period_seconds=10, failure_threshold=1), liveness=P10)
    state = ProbeSet.initial(probes, started_at=0)
    assert state.loading and state.next_run(ProbeKind.READINESS) == 0
    state = state.record(ProbeKind.READINESS, success=False, now=0)
    assert state.loading and state.next_run(ProbeKind.READINESS) == LOADING_PERIOD_SECONDS
    state = state.record(ProbeKind.READINESS, success=True, now=0.05)
    assert state.ready and not state.loading and state.next_run(ProbeKind.READINESS) == 10.05
    state = state.record(ProbeKind.READINESS, success=False, now=10.05)
    assert not state.ready and not state.loading  # not ready again, yet probed at its period
    assert state.next_run(ProbeKind.READINESS) == 20.05
    assert ProbeSet.initial(probes, started_at=30).loading  # a restarted process loads again
    assert not ProbeSet.initial(probes, started_at=30).terminate().loading
    assert not ProbeSet.initial(Probes(readiness=None, liveness=P10), started_at=0).loading
    assert not ProbeSet.initial(Probes(startup=Probe(), readiness=P10), started_at=0).loading

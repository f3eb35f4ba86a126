"""One autoscaler tick per deployment: request metrics through the fast path, resource metrics through
HPA's calculator, HPA's rules over both, and the sentence each decision is logged and shown with."""

from __future__ import annotations

from typing import Any

from modelplane.autoscaler.calculating import Phase, ReplicaState, Sample
from modelplane.autoscaler.planning import Memory, Observed, Windows, plan
from modelplane.spec.autoscaling import Autoscaling, MetricType

T = 1_000.0


def autoscaling(*metrics: dict[str, Any], low: int = 1, high: int = 20, **extra: Any) -> Autoscaling:
    return Autoscaling.model_validate(
        {"minReplicas": low, "maxReplicas": high, "metrics": list(metrics), **extra}
    )


CONCURRENCY = {"type": "concurrency", "target": 4}


def test_a_burst_of_requests_scales_up_at_once_in_panic() -> None:
    observed = Observed(current=2, ready=2, windows={MetricType.CONCURRENCY: Windows(stable=8, panic=63)})
    result, memory = plan(autoscaling(CONCURRENCY), observed, Memory(), T)
    assert (result.decision.replicas, result.decision.rescale) == (16, True)  # ceil(63 / 4)
    assert result.summary("sentiment") == (
        "scaled sentiment 2→16: concurrency 31.5 in flight/replica vs target 4 (panic)"
    )
    assert memory.panics[MetricType.CONCURRENCY].since == T


def test_steady_load_at_the_target_keeps_the_count() -> None:
    observed = Observed(current=4, ready=4, windows={MetricType.CONCURRENCY: Windows(stable=16, panic=16)})
    result, _ = plan(autoscaling(CONCURRENCY), observed, Memory(), T)
    assert (result.decision.replicas, result.decision.rescale) == (4, False)
    assert result.summary("sentiment").startswith("kept sentiment at 4: concurrency 4.0 in flight/replica")


def test_no_router_readings_yet_holds_with_scaling_inactive() -> None:
    result, _ = plan(autoscaling(CONCURRENCY), Observed(current=3, ready=3), Memory(), T)
    assert (result.decision.replicas, result.decision.rescale) == (3, False)
    active = next(c for c in result.decision.conditions if c.type.value == "ScalingActive")
    assert not active.status and "no concurrency readings from the router yet" in active.message


def test_cpu_goes_through_the_replica_calculator_and_the_legacy_limits() -> None:
    replicas = [
        ReplicaState(name=f"r{i}", phase=Phase.RUNNING, ready=True, started_at=0.0, ready_changed_at=1.0)
        for i in range(2)
    ]
    observed = Observed(
        current=2,
        ready=2,
        replicas=replicas,
        usage={MetricType.CPU: {"r0": Sample(900, at=T), "r1": Sample(900, at=T)}},
        requests={MetricType.CPU: {"r0": 100, "r1": 100}},
    )
    result, _ = plan(autoscaling({"type": "cpu", "targetUtilization": 50}), observed, Memory(), T)
    # 900% of the request vs 50%: 36 wanted, at most max(2 x 2, 4) = 4 in one sync
    assert result.decision.replicas == 4
    assert "cpu 900% of request vs target 50%" in result.summary("iris")
    assert "limited: ScaleUpLimit" in result.summary("iris")


def test_a_missing_cpu_request_with_a_busy_concurrency_metric_still_scales_up() -> None:
    replicas = [
        ReplicaState(name="r0", phase=Phase.RUNNING, ready=True, started_at=0.0, ready_changed_at=1.0)
    ]
    observed = Observed(
        current=1,
        ready=1,
        replicas=replicas,
        usage={MetricType.CPU: {"r0": Sample(500, at=T)}},
        requests={MetricType.CPU: {"r0": None}},
        windows={MetricType.CONCURRENCY: Windows(stable=12, panic=12)},
    )
    result, _ = plan(autoscaling({"type": "cpu"}, CONCURRENCY), observed, Memory(), T)
    assert result.decision.replicas == 3
    cpu = next(r for r in result.readings if r.metric is MetricType.CPU)
    assert cpu.error is not None and "missing request for cpu" in cpu.error


def test_scale_to_zero_waits_the_grace_period_after_the_window_went_quiet() -> None:
    spec = autoscaling(CONCURRENCY, low=0, scaleToZeroGracePeriodSeconds=30)
    quiet = Observed(current=3, ready=3, windows={MetricType.CONCURRENCY: Windows(stable=0, panic=0)})
    first, memory = plan(spec, quiet, Memory(), T)
    assert first.decision.replicas == 1  # the last one stays
    again, memory = plan(spec, Observed(current=1, ready=1, windows=quiet.windows), memory, T + 29)
    assert again.decision.replicas == 1
    gone, memory = plan(spec, Observed(current=1, ready=1, windows=quiet.windows), memory, T + 30)
    assert gone.decision.replicas == 0
    # any request wakes it: held requests count as demand
    busy = Observed(current=0, ready=0, windows={MetricType.CONCURRENCY: Windows(stable=0.02, panic=0.2)})
    woken, memory = plan(spec, busy, memory, T + 40)
    assert woken.decision.replicas == 1 and memory.idle_since is None


def test_a_request_in_the_grace_period_restarts_it() -> None:
    spec = autoscaling(CONCURRENCY, low=0)
    quiet = {MetricType.CONCURRENCY: Windows(stable=0, panic=0)}
    _, memory = plan(spec, Observed(current=1, ready=1, windows=quiet), Memory(), T)
    some = {MetricType.CONCURRENCY: Windows(stable=0.1, panic=0)}
    _, memory = plan(spec, Observed(current=1, ready=1, windows=some), memory, T + 20)
    later, _ = plan(spec, Observed(current=1, ready=1, windows=quiet), memory, T + 35)
    assert later.decision.replicas == 1  # 15 s of quiet since, not 35

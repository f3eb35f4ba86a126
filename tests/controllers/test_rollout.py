"""The rollout planner: Kubernetes' Deployment arithmetic (k8s-semantics §2), table-tested on pure functions.

The "world" here is a few lines: revisions get exactly the replicas their spec asks for at once (new ones
not ready), scale-down removes unavailable replicas first (as rank_victims orders them), and a test says
when new replicas become ready. No processes, no clock: `now` is a number the test advances.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from modelplane.controllers.replicas import (
    ReplicaFacts,
    available_at,
    choose_victims,
    count_replicas,
    is_available,
    rank_victims,
)
from modelplane.controllers.rollout import (
    Condition,
    ConditionStatus,
    ConditionType,
    Reason,
    RevisionNotFound,
    RevisionState,
    RolloutSpec,
    RolloutStatus,
    RolloutStep,
    UndoPaused,
    cleanup_history,
    max_surge,
    max_unavailable,
    plan_recreate,
    plan_rolling,
    plan_rollout,
    resolve_fenceposts,
    set_condition,
    undo_target,
)
from modelplane.spec.deployment import ModelDeploymentSpec
from modelplane.spec.quantities import IntOrPercent
from modelplane.spec.replica import ReplicaPhase
from modelplane.spec.strategy import RollingUpdate, StrategyType

PCT25 = IntOrPercent(25, percent=True)
Check = Callable[[list[RevisionState]], None]


def steady(template: str = "v1", replicas: int = 10, *, number: int = 1, surge: int = 3) -> RevisionState:
    """A fully rolled-out revision: every replica ready and available."""
    return RevisionState(
        name=f"web-{template}",
        number=number,
        template_hash=template,
        spec_replicas=replicas,
        replicas=replicas,
        ready=replicas,
        available=replicas,
        created=float(number),
        desired_replicas=replicas,
        max_replicas=replicas + surge,
    )


def spec_for(template: str, replicas: int = 10, **kw: object) -> RolloutSpec:
    return RolloutSpec(name="web", replicas=replicas, template_hash=template, **kw)  # type: ignore[arg-type]


def settle(revisions: Sequence[RevisionState]) -> list[RevisionState]:
    """Replicas appear and disappear at once; removed ones are the unavailable ones first."""
    result = []
    for r in revisions:
        available = min(r.available, r.spec_replicas)
        result.append(replace(r, replicas=r.spec_replicas, ready=available, available=available))
    return result


def make_ready(revisions: Sequence[RevisionState]) -> list[RevisionState]:
    return [replace(r, ready=r.spec_replicas, available=r.spec_replicas) for r in revisions]


def changed(step: RolloutStep) -> bool:
    return bool(step.scale or step.create or step.delete or step.renumber)


def drive(
    spec: RolloutSpec,
    revisions: Sequence[RevisionState],
    *,
    previous: RolloutStatus,
    now: float,
    check: Check | None = None,
    ready: bool = True,
) -> tuple[list[RevisionState], RolloutStatus, float, list[RolloutStep]]:
    """Sync until nothing changes, marking new replicas ready whenever the planner has to wait."""
    current, steps = list(revisions), []
    for _ in range(200):
        step = plan_rollout(spec, current, now=now, previous=previous)
        steps.append(step)
        current = settle(step.apply(current))
        if check is not None:
            check(current)
        now += 1.0
        stable = step.status == previous
        previous = step.status
        if changed(step) or not stable:
            continue
        if ready and any(r.available < r.spec_replicas for r in current):
            current = make_ready(current)
            continue
        return current, previous, now, steps
    raise AssertionError("the rollout did not settle in 200 syncs")


def complete_status(revision: RevisionState, *, generation: int = 1) -> RolloutStatus:
    n = revision.spec_replicas
    progressing = Condition(
        ConditionType.PROGRESSING, ConditionStatus.TRUE, Reason.NEW_REPLICA_SET_AVAILABLE, "", 0.0, 0.0
    )
    return RolloutStatus(generation, n, n, n, n, 0, (progressing,))


def sizes(revisions: Sequence[RevisionState]) -> dict[str, int]:
    return {r.template_hash: r.spec_replicas for r in revisions}


# --- Fenceposts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (1, PCT25, PCT25, (1, 0)),
        (3, PCT25, PCT25, (1, 0)),
        (4, PCT25, PCT25, (1, 1)),
        (10, PCT25, PCT25, (3, 2)),
        (3, IntOrPercent(0), IntOrPercent(10, percent=True), (0, 1)),
        (5, IntOrPercent(2), IntOrPercent(0), (2, 0)),
        (0, PCT25, PCT25, (0, 1)),
    ],
)
def test_fenceposts_surge_rounds_up_unavailable_down_both_zero_gives_one(
    replicas: int, surge: IntOrPercent, unavailable: IntOrPercent, expected: tuple[int, int]
) -> None:
    assert resolve_fenceposts(surge, unavailable, replicas) == expected


def test_max_unavailable_is_zero_for_recreate_and_zero_replicas_and_capped_at_replicas() -> None:
    assert max_unavailable(spec_for("v1", 10, strategy=StrategyType.RECREATE)) == 0
    assert max_surge(spec_for("v1", 10, strategy=StrategyType.RECREATE)) == 0
    assert max_unavailable(spec_for("v1", 0)) == 0
    assert max_unavailable(spec_for("v1", 2, max_unavailable=IntOrPercent(5))) == 2


def test_rollout_spec_from_a_deployment_spec() -> None:
    spec = ModelDeploymentSpec.model_validate(
        {
            "model": {"format": "simulated"},
            "replicas": 4,
            "strategy": {
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
                "progressDeadlineSeconds": 90,
            },
            "revisionHistoryLimit": 3,
        }
    )
    rollout = RolloutSpec.from_spec("web", spec, template_hash="abc", generation=7)
    assert (rollout.replicas, rollout.max_surge, rollout.max_unavailable) == (
        4,
        IntOrPercent(0),
        IntOrPercent(1),
    )
    assert (rollout.progress_deadline_seconds, rollout.revision_history_limit, rollout.generation) == (
        90,
        3,
        7,
    )


# --- §2 Must reproduce ----------------------------------------------------------------------------


def test_10_replicas_default_25_25_first_sync_new_3_next_old_10_to_8_never_above_13_or_below_8() -> None:
    spec = spec_for("v2", 10, generation=2)
    old = steady("v1")
    first = plan_rollout(spec, [old], now=100.0, previous=complete_status(old))
    assert first.create is not None and first.create.spec_replicas == 3 and first.create.number == 2
    revisions = settle(first.apply([old]))
    assert sum(r.spec_replicas for r in revisions) == 13

    second = plan_rollout(spec, revisions, now=101.0, previous=first.status)
    assert [(c.revision, c.from_replicas, c.to_replicas) for c in second.scale] == [("web-v1", 10, 8)]

    def never_above_13_or_below_8(current: list[RevisionState]) -> None:
        assert sum(r.spec_replicas for r in current) <= 13
        assert sum(r.available for r in current) >= 8

    final, status, _, steps = drive(
        spec, [old], previous=complete_status(old), now=100.0, check=never_above_13_or_below_8
    )
    assert sizes(final) == {"v1": 0, "v2": 10}
    progressing = status.condition(ConditionType.PROGRESSING)
    assert progressing is not None and progressing.reason == Reason.NEW_REPLICA_SET_AVAILABLE
    events = [e for s in steps for e in s.events]
    assert events[:3] == [
        "Created revision web-v2",
        "Scaled down revision web-v1 from 10 to 8",
        "Scaled up revision web-v2 from 3 to 5",
    ]


def test_1_replica_defaults_new_replica_first_old_removed_only_after_min_ready_seconds() -> None:
    spec = spec_for("v2", 1, generation=2)
    old = steady("v1", 1, surge=1)
    created = plan_rollout(spec, [old], now=0.0, previous=complete_status(old)).create
    assert created is not None and created.spec_replicas == 1  # surge 1: the new one comes first

    new_replica = ReplicaFacts("web-v2-a", revision="web-v2", ready=True, ready_since=10.0, pool="cpu")

    def new_revision(now: float) -> RevisionState:
        counts = count_replicas([new_replica], min_ready_seconds=30, now=now)
        return replace(created, replicas=counts.replicas, ready=counts.ready, available=counts.available)

    for now, old_kept in [(20.0, True), (40.0, True), (40.5, False)]:
        step = plan_rolling(spec, new_revision(now), [old], now=now)
        assert (step.scale == ()) is old_kept, now
    step = plan_rolling(spec, new_revision(41.0), [old], now=41.0)
    assert [(c.revision, c.to_replicas) for c in step.scale] == [("web-v1", 0)]


def test_3_replicas_max_surge_0_max_unavailable_10pct_deletes_one_old_then_creates_one_new() -> None:
    spec = spec_for("v2", 3, max_surge=IntOrPercent(0), max_unavailable=IntOrPercent(10, percent=True))
    old = steady("v1", 3, surge=0)
    created = plan_rollout(spec, [old], now=0.0).create
    assert created is not None and created.spec_replicas == 0  # no room to surge
    revisions = settle([old, created])
    down = plan_rollout(spec, revisions, now=1.0)
    assert [(c.revision, c.to_replicas) for c in down.scale] == [("web-v1", 2)]
    revisions = settle(down.apply(revisions))
    up = plan_rollout(spec, revisions, now=2.0)
    assert [(c.revision, c.to_replicas) for c in up.scale] == [("web-v2", 1)]


def test_gpu_pool_max_surge_0_max_unavailable_1_is_possible_default_surge_would_need_a_spare_gpu() -> None:
    assert RollingUpdate(max_surge=IntOrPercent(0), max_unavailable=IntOrPercent(1))
    old = steady("v1", 2, surge=0)
    gpu = spec_for("v2", 2, max_surge=IntOrPercent(0), max_unavailable=IntOrPercent(1))

    def fits_two_gpus(current: list[RevisionState]) -> None:
        assert sum(r.spec_replicas for r in current) <= 2

    final, *_ = drive(gpu, [old], previous=complete_status(old), now=0.0, check=fits_two_gpus)
    assert sizes(final) == {"v1": 0, "v2": 2}
    default = plan_rollout(spec_for("v2", 2), [old], now=0.0).create
    assert default is not None and default.spec_replicas == 1  # a third replica: Pending on a full pool


def _stuck_rollout() -> tuple[RolloutSpec, list[RevisionState], RolloutStatus, float]:
    """A rollout of 10 whose new replicas never become ready, synced until nothing moves."""
    spec = spec_for("v2", 10, generation=2, progress_deadline_seconds=600)
    old = steady("v1")
    revisions, status, now, _ = drive(spec, [old], previous=complete_status(old), now=1000.0, ready=False)
    return spec, revisions, status, now


def test_progress_deadline_600_new_replicas_never_ready_exceeded_600s_plus_minus_1_after_last_progress() -> (
    None
):
    spec, revisions, status, now = _stuck_rollout()
    assert sizes(revisions) == {"v1": 8, "v2": 5}  # as rolling.go's comment: 3, old to 8, then 5
    progressing = status.condition(ConditionType.PROGRESSING)
    assert progressing is not None and progressing.reason == Reason.REPLICA_SET_UPDATED
    last = progressing.last_update_time
    assert now < last + 599

    before = plan_rollout(spec, revisions, now=last + 599, previous=status)
    cond = before.status.condition(ConditionType.PROGRESSING)
    assert cond is not None and cond.status == ConditionStatus.TRUE
    assert before.requeue_after == pytest.approx(2.0)  # look again at last + 600 + 1 s
    at = plan_rollout(spec, revisions, now=last + 600, previous=status)
    assert at.status.condition(ConditionType.PROGRESSING) == cond

    after = plan_rollout(spec, revisions, now=last + 601, previous=status)
    cond = after.status.condition(ConditionType.PROGRESSING)
    assert cond is not None
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, Reason.PROGRESS_DEADLINE_EXCEEDED)
    assert cond.last_transition_time == last + 601
    assert after.scale == () and after.create is None  # no automatic rollback; replicas unchanged
    assert after.requeue_after is None


def test_progress_deadline_requeue_lands_one_second_after_the_deadline() -> None:
    spec, revisions, status, _ = _stuck_rollout()
    progressing = status.condition(ConditionType.PROGRESSING)
    assert progressing is not None
    last = progressing.last_update_time
    step = plan_rollout(spec, revisions, now=last + 100, previous=status)
    assert step.requeue_after == pytest.approx(501.0)
    woken = plan_rollout(spec, revisions, now=last + 100 + 501.0, previous=step.status)
    cond = woken.status.condition(ConditionType.PROGRESSING)
    assert cond is not None and cond.reason == Reason.PROGRESS_DEADLINE_EXCEEDED


def _five_rollouts(limit: int = 2) -> tuple[list[RevisionState], RolloutStatus, float]:
    old = steady("t1", 3, surge=1)
    revisions, status, now = [old], complete_status(old), 10.0
    for generation, template in enumerate(["t2", "t3", "t4", "t5"], start=2):
        spec = spec_for(template, 3, generation=generation, revision_history_limit=limit)
        revisions, status, now, _ = drive(spec, revisions, previous=status, now=now)
    return revisions, status, now


def test_revision_history_limit_2_after_5_rollouts_keeps_1_active_and_2_old_at_0_and_undo_to_1_fails() -> (
    None
):
    revisions, _, _ = _five_rollouts(limit=2)
    assert sorted((r.number, r.spec_replicas) for r in revisions) == [(3, 0), (4, 0), (5, 3)]
    with pytest.raises(RevisionNotFound, match="unable to find specified revision 1") as failure:
        undo_target(revisions, 1, deployment="web")
    assert failure.value.kept == (3, 4, 5)


def test_undo_reuses_the_old_revision_and_renumbers_it_max_plus_1() -> None:
    revisions, status, now = _five_rollouts(limit=10)
    target = undo_target(revisions, 0, deployment="web")
    assert (target.number, target.template_hash) == (4, "t4")
    spec = spec_for(target.template_hash, 3, generation=6, revision_history_limit=10)
    first = plan_rollout(spec, revisions, now=now, previous=status)
    assert first.create is None
    assert first.renumber is not None and (first.renumber.number, first.renumber.history) == (6, (4,))
    final, status, _, _ = drive(spec, revisions, previous=status, now=now)
    assert {r.template_hash: r.number for r in final} == {"t1": 1, "t2": 2, "t3": 3, "t4": 6, "t5": 5}
    assert sizes(final)["t4"] == 3 and sum(r.spec_replicas for r in final) == 3
    assert undo_target(final, 0, deployment="web").template_hash == "t5"


def test_recreate_old_and_new_replicas_never_run_together() -> None:
    spec = spec_for("v2", 3, strategy=StrategyType.RECREATE)
    revisions = [steady("v1", 3, surge=0)]
    summaries = []
    for now in range(10):
        new = next((r for r in revisions if r.template_hash == "v2"), None)
        olds = [r for r in revisions if r.template_hash == "v1"]
        step = plan_recreate(spec, new, olds, now=float(now))
        summaries.append(step.summary)
        # The world: replicas scaled away terminate for one sync before they are gone.
        revisions = [
            replace(
                r,
                replicas=r.spec_replicas,
                terminating=max(r.status_replicas - r.spec_replicas, 0),
                ready=min(r.ready, r.spec_replicas),
                available=min(r.available, r.spec_replicas),
            )
            for r in step.apply(revisions)
        ]
        old_running = sum(r.status_replicas + r.terminating for r in revisions if r.template_hash == "v1")
        new_running = sum(r.status_replicas for r in revisions if r.template_hash == "v2")
        assert not (old_running and new_running), f"sync {now}: old {old_running} and new {new_running}"
    assert sizes(revisions) == {"v1": 0, "v2": 3}
    assert summaries[:3] == [
        "Scaled down revision web-v1 from 3 to 0",
        "waiting for 3 old replica(s) to stop before starting the new revision",
        "created revision web-v2 (#2) with 3 replicas",
    ]


def test_recreate_waits_while_an_old_replica_still_terminates() -> None:
    spec = spec_for("v2", 3, strategy=StrategyType.RECREATE)
    old = replace(steady("v1", 3), spec_replicas=0, replicas=0, ready=0, available=0, terminating=1)
    step = plan_recreate(spec, None, [old], now=0.0)
    assert step.create is None and step.scale == ()
    assert "waiting for 1 old replica" in step.summary
    step = plan_recreate(spec, None, [replace(old, terminating=0)], now=1.0)
    assert step.create is not None and step.create.spec_replicas == 3


# --- Proportional scaling -------------------------------------------------------------------------


def test_proportional_scaling_mid_rollout_10_to_15_adds_3_to_old_and_2_to_new() -> None:
    """The Kubernetes docs' example: maxSurge 3, maxUnavailable 2, new 5 (stuck) + old 8, scaled to 15."""
    kw = {"max_surge": IntOrPercent(3), "max_unavailable": IntOrPercent(2)}
    old = replace(steady("v1", 8), created=1.0, desired_replicas=10, max_replicas=13)
    new = RevisionState("web-v2", 2, "v2", 5, replicas=5, created=2.0, desired_replicas=10, max_replicas=13)
    step = plan_rollout(spec_for("v2", 15, **kw), [old, new], now=0.0)
    assert {c.revision: c.to_replicas for c in step.scale} == {"web-v1": 11, "web-v2": 7}
    assert all((c.desired_replicas, c.max_replicas) == (15, 18) for c in step.scale)
    back = plan_rollout(spec_for("v2", 10, **kw), settle(step.apply([old, new])), now=1.0)
    assert sum(c.to_replicas for c in back.scale) == 13


def test_scaling_a_single_active_revision_goes_straight_to_replicas() -> None:
    old = steady("v1", 10)
    step = plan_rollout(spec_for("v1", 4), [old], now=0.0)
    assert [(c.revision, c.to_replicas, c.desired_replicas) for c in step.scale] == [("web-v1", 4, 4)]


# --- Conditions and status ------------------------------------------------------------------------


def test_status_counts_and_available_condition() -> None:
    old = replace(steady("v1"), spec_replicas=8, replicas=8, ready=8, available=7)
    new = RevisionState("web-v2", 2, "v2", 3, replicas=3, ready=1, available=1, created=2.0)
    status = plan_rolling(spec_for("v2", 10), new, [old], now=5.0).status
    assert (status.replicas, status.updated_replicas, status.ready_replicas) == (11, 3, 9)
    assert (status.available_replicas, status.unavailable_replicas) == (8, 3)
    available = status.condition(ConditionType.AVAILABLE)
    assert available is not None and available.reason == Reason.MINIMUM_REPLICAS_AVAILABLE
    worse = plan_rolling(spec_for("v2", 10), replace(new, available=0), [replace(old, available=7)], now=6.0)
    available = worse.status.condition(ConditionType.AVAILABLE)
    assert available is not None
    assert (available.status, available.reason) == (
        ConditionStatus.FALSE,
        Reason.MINIMUM_REPLICAS_UNAVAILABLE,
    )


def test_set_condition_keeps_times_for_the_same_reason_and_transition_time_for_the_same_status() -> None:
    first = Condition(
        ConditionType.PROGRESSING, ConditionStatus.TRUE, Reason.NEW_REPLICA_SET_CREATED, "", 1, 1
    )
    same = replace(first, last_update_time=5, last_transition_time=5)
    assert set_condition((first,), same) == (first,)
    other = replace(same, reason=Reason.REPLICA_SET_UPDATED)
    assert set_condition((first,), other)[0].last_transition_time == 1
    failed = replace(same, status=ConditionStatus.FALSE, reason=Reason.PROGRESS_DEADLINE_EXCEEDED)
    assert set_condition((first,), failed)[0].last_transition_time == 5


def test_a_new_revision_is_reported_created_then_progressing_then_available() -> None:
    spec = spec_for("v2", 1, generation=2)
    old = steady("v1", 1, surge=1)
    reasons: list[str] = []
    _, _, _, steps = drive(spec, [old], previous=complete_status(old), now=0.0)
    for step in steps:
        cond = step.status.condition(ConditionType.PROGRESSING)
        if cond is not None and (not reasons or reasons[-1] != cond.reason):
            reasons.append(cond.reason)
    assert reasons == [
        Reason.NEW_REPLICA_SET_CREATED,
        Reason.REPLICA_SET_UPDATED,
        Reason.NEW_REPLICA_SET_AVAILABLE,
    ]


def test_paused_deployment_does_not_roll_forward_and_resume_restarts_the_deadline() -> None:
    spec = spec_for("v2", 10, paused=True)
    old = steady("v1")
    step = plan_rollout(spec, [old], now=0.0, previous=complete_status(old))
    assert step.create is None and step.scale == ()
    cond = step.status.condition(ConditionType.PROGRESSING)
    assert cond is not None and (cond.status, cond.reason) == (
        ConditionStatus.UNKNOWN,
        Reason.DEPLOYMENT_PAUSED,
    )
    resumed = plan_rollout(replace(spec, paused=False), [old], now=900.0, previous=step.status)
    assert resumed.create is not None
    cond = resumed.status.condition(ConditionType.PROGRESSING)
    assert (
        cond is not None and cond.reason == Reason.NEW_REPLICA_SET_CREATED and cond.last_update_time == 900.0
    )


def test_replica_failure_of_the_new_revision_is_copied_to_the_deployment() -> None:
    from modelplane.controllers.rollout import ReplicaFailure

    failure = ReplicaFailure("FailedCreate", "exceeded quota: production, requested: gpu=1", since=3.0)
    new = RevisionState("web-v2", 2, "v2", 3, replicas=0, created=2.0, failure=failure)
    status = plan_rolling(spec_for("v2", 3), new, [steady("v1", 0)], now=5.0).status
    cond = status.condition(ConditionType.REPLICA_FAILURE)
    assert cond is not None and (cond.reason, cond.message) == ("FailedCreate", failure.message)


# --- Revisions: numbering, history, undo ----------------------------------------------------------


def test_a_new_template_gets_max_plus_1() -> None:
    step = plan_rollout(spec_for("v9", 3), [steady("v1", 3, number=4), steady("v2", 0, number=7)], now=0.0)
    assert step.create is not None and step.create.number == 8 and step.create.name == "web-v9"


def test_cleanup_history_lowest_first_skips_revisions_with_replicas_without_replacing_them() -> None:
    olds = [replace(steady(f"t{n}", 0, number=n), created=float(n)) for n in range(1, 6)]
    assert cleanup_history(olds, 2) == ("web-t1", "web-t2", "web-t3")
    busy = [replace(olds[0], spec_replicas=1), *olds[1:]]
    assert cleanup_history(busy, 2) == ("web-t2", "web-t3")
    still_live = [replace(olds[0], replicas=1), *olds[1:]]
    assert cleanup_history(still_live, 2) == ("web-t2", "web-t3")
    assert cleanup_history(olds, None) == ()
    assert cleanup_history([replace(o, deleting=(o.number == 1)) for o in olds], 2) == ("web-t2", "web-t3")


def test_undo_errors_are_sentences() -> None:
    with pytest.raises(UndoPaused, match="resume it first"):
        undo_target([steady("v1"), steady("v2", number=2)], deployment="web", paused=True)
    with pytest.raises(LookupError, match="no rollout history found for deployment 'web'"):
        undo_target([steady("v1")], deployment="web")


# --- Availability and victims ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ready", "since", "min_ready", "now", "expected"),
    [
        (False, None, 0, 10.0, False),
        (True, None, 0, 10.0, True),
        (True, 5.0, 3, 8.0, False),  # ready + minReadySeconds must be strictly before now
        (True, 5.0, 3, 8.001, True),
        (True, None, 3, 100.0, False),
    ],
)
def test_available_means_ready_for_min_ready_seconds(
    ready: bool, since: float | None, min_ready: int, now: float, expected: bool
) -> None:
    replica = ReplicaFacts("r", ready=ready, ready_since=since)
    assert is_available(replica, min_ready_seconds=min_ready, now=now) is expected


def test_available_at_tells_when_to_look_again() -> None:
    assert available_at(ReplicaFacts("r", ready=True, ready_since=5.0), min_ready_seconds=30) == 35.0
    assert available_at(ReplicaFacts("r", ready=False), min_ready_seconds=30) is None


def test_rank_victims_deletes_unscheduled_pending_unknown_not_ready_then_by_ready_time_restarts_age() -> None:
    replicas = [
        ReplicaFacts("old-ready", pool="a", ready=True, ready_since=1.0, created=0.0),
        ReplicaFacts("recently-ready", pool="a", ready=True, ready_since=50.0, created=0.0),
        ReplicaFacts("running-not-ready", pool="a", created=1.0),
        ReplicaFacts("restarting", pool="a", restarts=3, created=1.0),
        ReplicaFacts("newer-not-ready", pool="a", created=9.0),
        ReplicaFacts("unknown", phase="Unknown", pool="a", created=0.0),
        ReplicaFacts("scheduled-pending", phase=ReplicaPhase.SCHEDULED, pool="a"),
        ReplicaFacts("unscheduled", phase=ReplicaPhase.PENDING, pool=None),
    ]
    assert [r.name for r in rank_victims(replicas)] == [
        "unscheduled",
        "scheduled-pending",
        "unknown",
        "restarting",
        "newer-not-ready",
        "running-not-ready",
        "recently-ready",
        "old-ready",
    ]


def test_rank_victims_prefers_the_pool_holding_more_of_the_deployment() -> None:
    replicas = [ReplicaFacts("lonely", pool="b", ready=True, ready_since=1.0, created=5.0)] + [
        ReplicaFacts(f"crowded-{i}", pool="a", ready=True, ready_since=1.0, created=0.0) for i in range(2)
    ]
    assert choose_victims(replicas, 1) == ("crowded-0",)
    gone = replace(replicas[1], deleting=True)
    assert choose_victims([replicas[0], gone, replicas[2]], 5) == ("lonely", "crowded-1")  # tie: newer first

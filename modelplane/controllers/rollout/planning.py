"""The rollout planner: given a deployment's revisions and previous status, the next step and the status.

Pure: everything comes in as arguments (`now` included), a `RolloutStep` comes out; the deployment
controller applies it (scale revisions, create or delete revision records, write the status) and calls
again — level-triggered, so the same inputs always give the same step. Copies of Kubernetes'
pkg/controller/deployment, function by function:

- `plan_rollout` — `syncDeployment`: paused or a scaling event (some active revision was last scaled
  for a different replica count, `isScalingEvent`) → `plan_scaling`; else by strategy.
- `plan_rolling` — rolling.go `rolloutRolling`: the first of these that changes something, then status:
  1. `reconcileNewReplicaSet`: above `replicas` → down to it; else up by `NewRSNewReplicas`
     (min(replicas + surge − Σ spec, replicas − new)).
  2. `reconcileOldReplicaSets`: maxScaledDown = Σ spec − minAvailable − (new spec − new available);
     if > 0, `cleanupUnhealthyReplicas` (old revisions oldest first lose unavailable replicas, up to
     maxScaledDown), then `scaleDownOldReplicaSetsForRollingUpdate` (old revisions oldest first lose
     up to Σ available − minAvailable).
  3. `cleanupDeployment` (revision history) when the previous status was complete.
- `plan_recreate` — recreate.go `rolloutRecreate`: all old revisions to 0; wait while any old replica
  still runs or terminates; only then create (or scale) the new revision to `replicas`.
- `plan_scaling` — sync.go `sync`/`scale`: one active revision → it gets `replicas`; a saturated new
  revision → old ones to 0; else proportional scaling (`GetReplicaSetProportion`): the spare capacity
  replicas + surge − Σ spec is split in proportion to each revision's size over the max-replicas it was
  sized for, rounded half away from zero, largest revision first, the leftover to the largest.

Deviation: when the current template has no revision yet, Kubernetes creates it and goes on scaling in
the same sync; we return the creation as its own step (the next call does the rest, with the same
result). Strategy Canary is planned with the rolling arithmetic (its traffic weights are not ours here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from modelplane.controllers.rollout.revisions import (
    RevisionState,
    by_creation,
    cleanup_history,
    find_new_revision,
    max_number,
    sync_revision_number,
)
from modelplane.controllers.rollout.scaling import plan_scaling, status_of
from modelplane.controllers.rollout.spec import (
    RolloutSpec,
    RolloutStep,
    ScaleChange,
    active_revisions,
    max_surge,
    max_unavailable,
    new_rs_new_replicas,
    scale_change,
)
from modelplane.controllers.rollout.status import (
    ConditionStatus,
    ConditionType,
    Reason,
    RolloutStatus,
    check_paused_conditions,
    is_complete,
    new_condition,
    requeue_after,
    set_condition,
    sync_progress,
)


def plan_rollout(
    spec: RolloutSpec,
    revisions: Sequence[RevisionState],
    *,
    now: float,
    previous: RolloutStatus | None = None,
) -> RolloutStep:
    """The next step for a deployment with these revisions (syncDeployment)."""
    previous = check_paused_conditions(
        previous or RolloutStatus(), paused=spec.paused, deadline=spec.progress_deadline_seconds, now=now
    )
    found = find_new_revision(spec.template_hash, revisions)
    olds = [r for r in revisions if found is None or r.name != found.name]
    new, renumbered = found, None
    if found is not None:
        new = sync_revision_number(found, olds)
        renumbered = new if new != found else None
        if (
            spec.progress_deadline_seconds is not None
            and previous.condition(ConditionType.PROGRESSING) is None
        ):
            condition = new_condition(
                ConditionType.PROGRESSING,
                ConditionStatus.TRUE,
                Reason.FOUND_NEW_REPLICA_SET,
                f'Found new revision "{new.name}"',
                now=now,
            )
            previous = replace(previous, conditions=set_condition(previous.conditions, condition))
    if spec.paused or _is_scaling_event(spec, new, olds):
        step = plan_scaling(spec, new, olds, now=now, previous=previous)
    elif spec.rolling:
        step = plan_rolling(spec, new, olds, now=now, previous=previous)
    else:
        step = plan_recreate(spec, new, olds, now=now, previous=previous)
    return replace(step, renumber=renumbered)


def _is_scaling_event(spec: RolloutSpec, new: RevisionState | None, olds: Sequence[RevisionState]) -> bool:
    return any(
        r.desired_replicas is not None and r.desired_replicas != spec.replicas
        for r in active_revisions([*olds, *([new] if new is not None else [])])
    )


def _finish(
    spec: RolloutSpec,
    new: RevisionState | None,
    olds: Sequence[RevisionState],
    *,
    now: float,
    previous: RolloutStatus,
    scale: tuple[ScaleChange, ...] = (),
    create: RevisionState | None = None,
    cleanup: bool = False,
    summary: str,
) -> RolloutStep:
    """Status (syncRolloutStatus) and history cleanup around a step; counts are the pre-step ones."""
    revisions = [*olds, *([new] if new is not None else [])]
    status = status_of(spec, new, olds, previous=previous, now=now)
    deadline, replicas, generation = spec.progress_deadline_seconds, spec.replicas, spec.generation
    status = sync_progress(
        status,
        previous=previous,
        revisions=revisions,
        new=new,
        deployment=spec.name,
        replicas=replicas,
        generation=generation,
        deadline=deadline,
        now=now,
    )
    complete = is_complete(previous, replicas=spec.replicas, generation=spec.generation)
    delete = cleanup_history(olds, spec.revision_history_limit) if cleanup and complete else ()
    return RolloutStep(
        status=status,
        scale=scale,
        create=create,
        delete=delete,
        requeue_after=requeue_after(
            status, replicas=replicas, generation=generation, deadline=deadline, now=now
        ),
        summary=summary if not delete else f"{summary}; removing old revisions {', '.join(delete)}",
    )


def _create(spec: RolloutSpec, olds: Sequence[RevisionState], *, now: float) -> RevisionState:
    """The revision for a template seen for the first time (getNewReplicaSet, create branch)."""
    empty = RevisionState(
        name=f"{spec.name}-{spec.template_hash}",
        number=max_number(olds) + 1,
        template_hash=spec.template_hash,
        spec_replicas=0,
        replicas=0,
        created=now,
        desired_replicas=spec.replicas,
        max_replicas=spec.replicas + max_surge(spec),
    )
    return replace(empty, spec_replicas=new_rs_new_replicas(spec, [*olds, empty], 0))


def _created_step(
    spec: RolloutSpec, olds: Sequence[RevisionState], *, now: float, previous: RolloutStatus, cleanup: bool
) -> RolloutStep:
    created = _create(spec, olds, now=now)
    if spec.progress_deadline_seconds is not None:
        condition = new_condition(
            ConditionType.PROGRESSING,
            ConditionStatus.TRUE,
            Reason.NEW_REPLICA_SET_CREATED,
            f'Created new revision "{created.name}"',
            now=now,
        )
        previous = replace(previous, conditions=set_condition(previous.conditions, condition))
    summary = f"created revision {created.name} (#{created.number}) with {created.spec_replicas} replicas"
    return _finish(
        spec, created, olds, now=now, previous=previous, create=created, cleanup=cleanup, summary=summary
    )


def plan_rolling(
    spec: RolloutSpec,
    new: RevisionState | None,
    olds: Sequence[RevisionState],
    *,
    now: float,
    previous: RolloutStatus | None = None,
) -> RolloutStep:
    """One sync of a RollingUpdate (rolloutRolling); `new` None = the template has no revision yet."""
    previous = previous or RolloutStatus()
    if new is None:
        return _created_step(spec, olds, now=now, previous=previous, cleanup=False)
    scale_up = _reconcile_new(spec, new, olds)
    if scale_up is not None:
        return _finish(
            spec, new, olds, now=now, previous=previous, scale=(scale_up,), summary=scale_up.event or ""
        )
    scale_down = _reconcile_olds(spec, new, olds)
    if scale_down:
        summary = "; ".join(c.event or "" for c in scale_down)
        return _finish(spec, new, olds, now=now, previous=previous, scale=scale_down, summary=summary)
    return _finish(spec, new, olds, now=now, previous=previous, cleanup=True, summary="no change")


def _reconcile_new(
    spec: RolloutSpec, new: RevisionState, olds: Sequence[RevisionState]
) -> ScaleChange | None:
    """reconcileNewReplicaSet: the new revision's target, or None when it stays."""
    if new.spec_replicas == spec.replicas:
        return None
    if new.spec_replicas > spec.replicas:
        return scale_change(spec, new, spec.replicas)
    target = new_rs_new_replicas(spec, [*olds, new], new.spec_replicas)
    return scale_change(spec, new, target) if target != new.spec_replicas else None


def _reconcile_olds(
    spec: RolloutSpec, new: RevisionState, olds: Sequence[RevisionState]
) -> tuple[ScaleChange, ...]:
    """reconcileOldReplicaSets: cleanupUnhealthyReplicas, then scaleDownOldReplicaSetsForRollingUpdate."""
    active = sorted(active_revisions(olds), key=by_creation)
    if sum(r.spec_replicas for r in active) == 0:
        return ()
    all_count = sum(r.spec_replicas for r in [*olds, new])
    min_available = spec.replicas - max_unavailable(spec)
    max_scaled_down = all_count - min_available - (new.spec_replicas - new.available)
    if max_scaled_down <= 0:
        return ()
    sizes = {r.name: r.spec_replicas for r in active}
    cleaned = 0
    for revision in active:
        if cleaned >= max_scaled_down:
            break
        if sizes[revision.name] == 0 or sizes[revision.name] == revision.available:
            continue
        count = min(max_scaled_down - cleaned, sizes[revision.name] - revision.available)
        if count < 0:  # more available than wanted: Kubernetes gives up on this sync
            return _changes(spec, active, sizes)
        sizes[revision.name] -= count
        cleaned += count
    available = sum(r.available for r in active) + new.available
    if available > min_available:
        to_remove, removed = available - min_available, 0
        for revision in active:
            if removed >= to_remove:
                break
            if sizes[revision.name] == 0:
                continue
            count = min(sizes[revision.name], to_remove - removed)
            sizes[revision.name] -= count
            removed += count
    return _changes(spec, active, sizes)


def _changes(
    spec: RolloutSpec, revisions: Sequence[RevisionState], sizes: dict[str, int]
) -> tuple[ScaleChange, ...]:
    return tuple(scale_change(spec, r, sizes[r.name]) for r in revisions if sizes[r.name] != r.spec_replicas)


def plan_recreate(
    spec: RolloutSpec,
    new: RevisionState | None,
    olds: Sequence[RevisionState],
    *,
    now: float,
    previous: RolloutStatus | None = None,
) -> RolloutStep:
    """One sync of a Recreate rollout (rolloutRecreate): old to 0, wait for them to stop, then new."""
    previous = previous or RolloutStatus()
    down = tuple(scale_change(spec, r, 0) for r in active_revisions(olds))
    if down:
        summary = "; ".join(c.event or "" for c in down)
        return _finish(spec, new, olds, now=now, previous=previous, scale=down, summary=summary)
    running = sum(r.status_replicas + r.terminating for r in olds)
    if running > 0:
        summary = f"waiting for {running} old replica(s) to stop before starting the new revision"
        return _finish(spec, new, olds, now=now, previous=previous, summary=summary)
    if new is None:
        return _created_step(spec, olds, now=now, previous=previous, cleanup=True)
    up = (scale_change(spec, new, spec.replicas),) if new.spec_replicas != spec.replicas else ()
    summary = up[0].event or "" if up else "no change"
    return _finish(spec, new, olds, now=now, previous=previous, scale=up, cleanup=True, summary=summary)

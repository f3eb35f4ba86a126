"""Resizing a deployment without rolling it forward: a scaling event mid-rollout, or a paused deployment.

Copies sync.go `sync` and `scale` and deploymentutil `GetReplicaSetProportion` /
`getReplicaSetFraction`:
- one active revision (or none: the newest) → it gets `replicas`;
- a saturated new revision (spec = desired = available = replicas) → old revisions to 0;
- otherwise, under RollingUpdate, the spare capacity (replicas + surge) − Σ spec is shared out: each
  active revision, largest first (ties: newer first when growing, older first when shrinking), gets
  round(spec × (replicas + surge) / max-replicas it was sized for) − spec, rounded half away from zero
  and capped by what is left; the leftover goes to the largest; no revision goes below 0. A revision
  without the annotation is sized against the previous status.replicas.
A paused deployment also has its revision history cleaned up here, as in Kubernetes.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelplane.controllers.rollout.revisions import RevisionState, by_creation, cleanup_history
from modelplane.controllers.rollout.spec import (
    RolloutSpec,
    RolloutStep,
    ScaleChange,
    active_revisions,
    max_surge,
    max_unavailable,
    scale_change,
)
from modelplane.controllers.rollout.status import RolloutStatus, calculate_status


def plan_scaling(
    spec: RolloutSpec,
    new: RevisionState | None,
    olds: Sequence[RevisionState],
    *,
    now: float,
    previous: RolloutStatus | None = None,
) -> RolloutStep:
    """A scaling event or a paused deployment (sync + scale): resize without rolling forward."""
    previous = previous or RolloutStatus()
    changes = _proportional(spec, new, olds, previous_replicas=previous.replicas)
    moved = [c for c in changes if c.event is not None]
    summary = "; ".join(c.event or "" for c in moved) if moved else "no change"
    status = status_of(spec, new, olds, previous=previous, now=now)
    delete = cleanup_history(olds, spec.revision_history_limit) if spec.paused else ()
    return RolloutStep(status=status, scale=changes, delete=delete, summary=summary)


def _proportional(
    spec: RolloutSpec, new: RevisionState | None, olds: Sequence[RevisionState], *, previous_replicas: int
) -> tuple[ScaleChange, ...]:
    """DeploymentController.scale."""
    newest_first = sorted(olds, key=by_creation, reverse=True)
    active = active_revisions([*newest_first, *([new] if new is not None else [])])
    if len(active) <= 1:
        target = active[0] if active else (new if new is not None else next(iter(newest_first), None))
        if target is None or target.spec_replicas == spec.replicas:
            return ()
        return (scale_change(spec, target, spec.replicas),)
    if (
        new is not None
        and new.spec_replicas == spec.replicas
        and new.desired_replicas == spec.replicas
        and new.available == spec.replicas
    ):
        return tuple(scale_change(spec, r, 0) for r in active_revisions(olds))
    if not spec.rolling:
        return ()
    allowed = spec.replicas + max_surge(spec) if spec.replicas > 0 else 0
    to_add = allowed - sum(r.spec_replicas for r in active)
    if to_add > 0:  # ReplicaSetsBySizeNewer: larger first, then newer first
        active.sort(key=by_creation, reverse=True)
        active.sort(key=lambda r: -r.spec_replicas)
    elif to_add < 0:  # ReplicaSetsBySizeOlder: larger first, then older first
        active.sort(key=by_creation)
        active.sort(key=lambda r: -r.spec_replicas)
    sizes: dict[str, int] = {}
    added = 0
    for revision in active:
        proportion = _proportion(spec, revision, to_add, added, previous_replicas) if to_add else 0
        sizes[revision.name] = revision.spec_replicas + proportion
        added += proportion
    if to_add and active:
        first = active[0].name
        sizes[first] = max(sizes[first] + to_add - added, 0)
    # scaleReplicaSet writes every active revision whose size or annotations differ.
    return tuple(
        scale_change(spec, r, sizes[r.name])
        for r in active
        if sizes[r.name] != r.spec_replicas or _annotations_stale(spec, r)
    )


def _annotations_stale(spec: RolloutSpec, revision: RevisionState) -> bool:
    wanted = (spec.replicas, spec.replicas + max_surge(spec))
    return (revision.desired_replicas, revision.max_replicas) != wanted


def _proportion(
    spec: RolloutSpec, revision: RevisionState, to_add: int, added: int, previous_replicas: int
) -> int:
    """`GetReplicaSetProportion` with `getReplicaSetFraction`."""
    if revision.spec_replicas == 0 or to_add == 0 or to_add == added:
        return 0
    if spec.replicas == 0:
        fraction = -revision.spec_replicas
    else:
        before = revision.max_replicas or previous_replicas
        if before == 0:
            fraction = 0
        else:
            size = revision.spec_replicas * (spec.replicas + max_surge(spec)) / before
            fraction = int(size + 0.5) - revision.spec_replicas  # RoundToInt32, size ≥ 0
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def status_of(
    spec: RolloutSpec,
    new: RevisionState | None,
    olds: Sequence[RevisionState],
    *,
    previous: RolloutStatus,
    now: float,
) -> RolloutStatus:
    """The deployment's counts and conditions over all its revisions (calculateStatus)."""
    return calculate_status(
        [*olds, *([new] if new is not None else [])],
        new,
        replicas=spec.replicas,
        max_unavailable=max_unavailable(spec),
        generation=spec.generation,
        previous=previous,
        now=now,
    )

"""What the rollout planner reads and returns: the deployment's rollout settings, and one step.

- `resolve_fenceposts` — `deploymentutil.ResolveFenceposts`: surge = maxSurge rounded up, unavailable =
  maxUnavailable rounded down (both of `replicas`); if both come to 0, unavailable = 1.
- `max_surge` / `max_unavailable` — `deploymentutil.MaxSurge` / `MaxUnavailable` (0 for Recreate;
  unavailable is 0 at 0 replicas and never above `replicas`).
- `new_rs_new_replicas` — `deploymentutil.NewRSNewReplicas`: the new revision grows by
  min(replicas + surge − Σ spec, replicas − new spec), or straight to `replicas` under Recreate.
- `ScaleChange` — `scaleReplicaSet`: every resize also stamps the revision with the replica count and
  replicas + surge it was sized for (the desired-replicas / max-replicas annotations), which
  proportional scaling reads later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from modelplane.controllers.rollout.revisions import RevisionState
from modelplane.controllers.rollout.status import RolloutStatus
from modelplane.spec.deployment import ModelDeploymentSpec
from modelplane.spec.quantities import IntOrPercent
from modelplane.spec.strategy import StrategyType

_DEFAULT_PERCENT = IntOrPercent(25, percent=True)


@dataclass(frozen=True)
class RolloutSpec:
    """What the planner reads from a deployment's spec and metadata."""

    name: str
    replicas: int
    template_hash: str
    strategy: StrategyType = StrategyType.ROLLING_UPDATE
    max_surge: IntOrPercent = _DEFAULT_PERCENT
    max_unavailable: IntOrPercent = _DEFAULT_PERCENT
    progress_deadline_seconds: int | None = 600
    """None = no deadline (Kubernetes' MaxInt32): no Progressing condition is kept."""
    revision_history_limit: int | None = 10
    """None = keep every old revision."""
    generation: int = 1
    paused: bool = False

    @classmethod
    def from_spec(
        cls,
        name: str,
        spec: ModelDeploymentSpec,
        *,
        template_hash: str,
        generation: int,
        replicas: int | None = None,
        paused: bool = False,
    ) -> RolloutSpec:
        """From a validated spec; `replicas` overrides spec.replicas (the autoscaler's choice)."""
        rolling = spec.strategy.rolling_update
        return cls(
            name=name,
            replicas=spec.replicas if replicas is None else replicas,
            template_hash=template_hash,
            strategy=spec.strategy.type,
            max_surge=rolling.max_surge,
            max_unavailable=rolling.max_unavailable,
            progress_deadline_seconds=spec.strategy.progress_deadline_seconds,
            revision_history_limit=spec.revision_history_limit,
            generation=generation,
            paused=paused,
        )

    @property
    def rolling(self) -> bool:
        return self.strategy is not StrategyType.RECREATE


def resolve_fenceposts(
    max_surge: IntOrPercent, max_unavailable: IntOrPercent, replicas: int
) -> tuple[int, int]:
    """(surge, unavailable) for `replicas`: surge rounds up, unavailable down; both 0 → unavailable 1."""
    surge = max_surge.scaled(replicas, round_up=True)
    unavailable = max_unavailable.scaled(replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(spec: RolloutSpec) -> int:
    """`deploymentutil.MaxSurge`: 0 for Recreate."""
    return resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)[0] if spec.rolling else 0


def max_unavailable(spec: RolloutSpec) -> int:
    """`deploymentutil.MaxUnavailable`: 0 for Recreate or 0 replicas, at most `replicas`."""
    if not spec.rolling or spec.replicas == 0:
        return 0
    return min(resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)[1], spec.replicas)


@dataclass(frozen=True)
class ScaleChange:
    """Set a revision's spec replicas and its desired/max-replicas annotations (`scaleReplicaSet`)."""

    revision: str
    from_replicas: int
    to_replicas: int
    desired_replicas: int
    max_replicas: int

    @property
    def event(self) -> str | None:
        """The ScalingReplicaSet event message, or None when only the annotations change."""
        if self.to_replicas == self.from_replicas:
            return None
        way = "up" if self.to_replicas > self.from_replicas else "down"
        return f"Scaled {way} revision {self.revision} from {self.from_replicas} to {self.to_replicas}"


@dataclass(frozen=True)
class RolloutStep:
    """What to do now, and the status to write; `requeue_after` = seconds until a deadline check."""

    status: RolloutStatus
    scale: tuple[ScaleChange, ...] = ()
    create: RevisionState | None = None
    """A new revision to record (its replicas are then created by scaling, as a ReplicaSet's are)."""
    renumber: RevisionState | None = None
    """The current revision with its new number and history, when an old template was re-applied."""
    delete: tuple[str, ...] = ()
    """Old revisions to remove (revisionHistoryLimit)."""
    requeue_after: float | None = None
    summary: str = "no change"

    @property
    def events(self) -> tuple[str, ...]:
        scaled = (c.event for c in self.scale)
        created = () if self.create is None else (f"Created revision {self.create.name}",)
        return (*created, *(e for e in scaled if e is not None))

    def apply(self, revisions: Sequence[RevisionState]) -> list[RevisionState]:
        """`revisions` as they are once this step is applied (spec side only; status is observed)."""
        changes = {c.revision: c for c in self.scale}
        result: list[RevisionState] = []
        for revision in revisions:
            if revision.name in self.delete:
                continue
            if self.renumber is not None and revision.name == self.renumber.name:
                revision = replace(revision, number=self.renumber.number, history=self.renumber.history)
            change = changes.get(revision.name)
            if change is not None:
                revision = replace(
                    revision,
                    spec_replicas=change.to_replicas,
                    desired_replicas=change.desired_replicas,
                    max_replicas=change.max_replicas,
                )
            result.append(revision)
        if self.create is not None:
            result.append(self.create)
        return result


def active_revisions(revisions: Sequence[RevisionState]) -> list[RevisionState]:
    """`controller.FilterActiveReplicaSets`: revisions with spec replicas > 0."""
    return [r for r in revisions if r.spec_replicas > 0]


def scale_change(spec: RolloutSpec, revision: RevisionState, to: int) -> ScaleChange:
    return ScaleChange(
        revision.name, revision.spec_replicas, to, spec.replicas, spec.replicas + max_surge(spec)
    )


def new_rs_new_replicas(spec: RolloutSpec, all_revisions: Sequence[RevisionState], new_spec: int) -> int:
    """`deploymentutil.NewRSNewReplicas`."""
    if not spec.rolling:
        return spec.replicas
    max_total = spec.replicas + spec.max_surge.scaled(spec.replicas, round_up=True)
    current = sum(r.spec_replicas for r in all_revisions)
    if current >= max_total:
        return new_spec
    return new_spec + min(max_total - current, spec.replicas - new_spec)

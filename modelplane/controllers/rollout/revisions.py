"""Revisions of a deployment: what each one holds, how they are numbered, kept, and picked for undo.

A revision is the ReplicaSet of modelplane: one per distinct replica template, keyed by the template's
hash, carrying a revision number. Pure functions, each a copy of a Kubernetes one:

- `find_new_revision` — `deploymentutil.FindNewReplicaSet` (the oldest revision whose template matches).
- `sync_revision_number` — `deploymentutil.SetNewReplicaSetAnnotations`: re-applying an old template
  reuses its revision and renumbers it to max(old numbers)+1, appending the old number to `history`
  (the `deployment.kubernetes.io/revision-history` annotation, capped at 2000 characters).
- `cleanup_history` — `DeploymentController.cleanupDeployment`: of the old revisions not being deleted,
  the lowest numbers beyond `revisionHistoryLimit` go, except any still holding replicas.
- `undo_target` — kubectl's `deploymentRevision` (polymorphichelpers/rollback.go): revision N, or with
  N = 0 the second-highest number.

Invariant: numbers are positive and unique among a deployment's revisions once synced (0 means "never
numbered", as a missing annotation does in Kubernetes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

MAX_HISTORY_CHARS = 2000
"""Kubernetes' cap on the revision-history annotation (`maxRevHistoryLengthInChars`)."""


@dataclass(frozen=True)
class ReplicaFailure:
    """A revision's ReplicaFailure condition (e.g. FailedCreate over quota), copied to the deployment."""

    reason: str
    message: str
    since: float


@dataclass(frozen=True)
class RevisionState:
    """One revision as the rollout planner sees it: the ReplicaSet's spec, annotations and status."""

    name: str
    number: int
    template_hash: str
    spec_replicas: int
    """How many replicas this revision should have (`spec.replicas`); the planner changes this."""
    ready: int = 0
    available: int = 0
    created: float = 0.0
    replicas: int | None = None
    """Live, non-terminating replicas (`status.replicas`); None = same as spec_replicas."""
    terminating: int = 0
    """Replicas still stopping; Recreate waits for them before it starts the new revision."""
    desired_replicas: int | None = None
    """The deployment's replicas when this revision was last scaled (`desired-replicas` annotation)."""
    max_replicas: int | None = None
    """replicas + maxSurge when this revision was last scaled (`max-replicas` annotation)."""
    history: tuple[int, ...] = ()
    """Numbers this revision had before it was reused (`revision-history` annotation)."""
    deleting: bool = False
    failure: ReplicaFailure | None = None

    @property
    def status_replicas(self) -> int:
        return self.spec_replicas if self.replicas is None else self.replicas


class RevisionNotFound(LookupError):
    """`rollout undo --to-revision N` names a revision that is not (or no longer) kept."""

    def __init__(self, deployment: str, revision: int, kept: Sequence[int]) -> None:
        self.deployment, self.revision, self.kept = deployment, revision, tuple(kept)
        listed = ", ".join(str(n) for n in self.kept) or "none"
        super().__init__(
            f"unable to find specified revision {revision} in history of deployment {deployment!r}: "
            f"the revisions kept are {listed}. Older ones were removed by revisionHistoryLimit; "
            f"see 'modelplane rollout history {deployment}' and pick one of those."
        )


class NoRolloutHistory(LookupError):
    """`rollout undo` on a deployment with a single revision: there is nothing to go back to."""

    def __init__(self, deployment: str) -> None:
        self.deployment = deployment
        super().__init__(
            f"no rollout history found for deployment {deployment!r}: it has only one revision, so "
            "there is nothing to undo. Apply the spec you want instead."
        )


class UndoPaused(ValueError):
    """kubectl refuses to roll back a paused deployment."""

    def __init__(self, deployment: str) -> None:
        self.deployment = deployment
        super().__init__(
            f"you cannot roll back the paused deployment {deployment!r}; resume it first with "
            f"'modelplane rollout resume {deployment}' and try again."
        )


def by_creation(revision: RevisionState) -> tuple[float, str]:
    """`controller.ReplicaSetsByCreationTimestamp`: older first, then by name."""
    return (revision.created, revision.name)


def by_number(revision: RevisionState) -> tuple[int, float, str]:
    """`deploymentutil.ReplicaSetsByRevision`: lower numbers first, ties by creation."""
    return (revision.number, revision.created, revision.name)


def max_number(revisions: Sequence[RevisionState]) -> int:
    """`deploymentutil.MaxRevision`: the highest number, 0 when there is none."""
    return max((r.number for r in revisions), default=0)


def find_new_revision(template_hash: str, revisions: Sequence[RevisionState]) -> RevisionState | None:
    """The revision for `template_hash` (the oldest if several match), or None."""
    matching = [r for r in revisions if r.template_hash == template_hash]
    return min(matching, key=by_creation) if matching else None


def sync_revision_number(
    new: RevisionState, olds: Sequence[RevisionState], *, history_chars: int = MAX_HISTORY_CHARS
) -> RevisionState:
    """`new` numbered max(olds)+1 if it is lower, keeping its previous number in `history`."""
    number = max_number(olds) + 1
    if new.number >= number:
        return new
    if new.number <= 0:
        return replace(new, number=number)
    return replace(new, number=number, history=_append_history(new.history, new.number, history_chars))


def _append_history(history: tuple[int, ...], number: int, limit_chars: int) -> tuple[int, ...]:
    """Append `number`, dropping the oldest entries while the comma-joined text exceeds `limit_chars`."""
    if not history:
        return (number,)
    texts = [str(n) for n in history]
    total = len(",".join(texts)) + len(str(number)) + 1
    start = 0
    while total > limit_chars and start < len(texts):
        total -= len(texts[start]) + 1
        start += 1
    if total > limit_chars:
        return history
    return (*history[start:], number)


def cleanup_history(olds: Sequence[RevisionState], limit: int | None) -> tuple[str, ...]:
    """Names of old revisions to delete so that at most `limit` remain (None keeps all).

    Exactly as cleanupDeployment: take the `len - limit` lowest-numbered old revisions that are not
    already being deleted, and delete those among them with no replicas in spec or status. One that
    still has replicas is skipped, not replaced by the next-lowest; a later pass gets it. Unlike
    Kubernetes (whose status.replicas leaves terminating pods out) we also keep a revision while any of
    its replicas is still terminating, so those replicas can still be traced to their revision.
    Kubernetes' "generation not yet observed" check has no counterpart: a revision has no generation.
    """
    if limit is None:
        return ()
    alive = sorted((r for r in olds if not r.deleting), key=by_number)
    excess = len(alive) - limit
    if excess <= 0:
        return ()
    return tuple(
        r.name
        for r in alive[:excess]
        if r.spec_replicas == 0 and r.status_replicas == 0 and r.terminating == 0
    )


def undo_target(
    revisions: Sequence[RevisionState], to_revision: int = 0, *, deployment: str, paused: bool = False
) -> RevisionState:
    """The revision `rollout undo --to-revision N` goes back to; N = 0 is the second-highest number.

    Errors: UndoPaused, RevisionNotFound (N not kept), NoRolloutHistory (N = 0 with one revision).
    The caller copies the target's template into the deployment (a normal rollout follows, reusing
    and renumbering the revision); when that template is already current, there is nothing to do.
    """
    if paused:
        raise UndoPaused(deployment)
    numbered = sorted((r for r in revisions if r.number > 0), key=by_number)
    if to_revision > 0:
        for revision in numbered:
            if revision.number == to_revision:
                return revision
        raise RevisionNotFound(deployment, to_revision, [r.number for r in numbered])
    if len(numbered) < 2:
        raise NoRolloutHistory(deployment)
    return numbered[-2]

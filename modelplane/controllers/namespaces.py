"""Namespace lifecycle: Kubernetes' NamespaceLifecycle admission and its namespace controller.

- `admit` (pure, called by the API's apply): an object may go into a namespace that is stored and
  not terminating, that the same request declares, or `default` (which always exists). Anything
  else is refused before the request stores anything.
- `plan_namespace` (pure) and `run_once` (the loop, every 0.5 s, level-triggered): a live namespace
  gets `status.phase: Active`; a deleted one gets `Terminating`, every object in it is deleted as a
  DELETE would (`delete_object`: deployments, jobs and replicas are marked and drained by their
  controllers; other kinds go at once), and the Namespace record is removed only once nothing is
  left in it. `run_once` also creates `default` when it is missing (the apiserver's bootstrap).
- `undeletable`: `default` may not be deleted.

Deviations: events of a removed namespace are kept (they expire like any event); an object stored
in a namespace without a record (before namespaces were required) is left alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from modelplane.spec.meta import DEFAULT_NAMESPACE
from modelplane.store import AlreadyExists, NotFound, Store, StoredObject

log = logging.getLogger("modelplane.namespaces")

GRACEFUL_KINDS: Final = frozenset({"Namespace", "ModelDeployment", "Job", "Replica"})
"""Kinds that a DELETE marks (deletionTimestamp) for their controller to finish; others go at once."""
_OWNERS_FIRST: Final = {"ModelDeployment": 0, "Job": 0}


class NamespacePhase(StrEnum):
    ACTIVE = "Active"
    TERMINATING = "Terminating"


# admission ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """An object may not be applied into `namespace`: it does not exist, or it is being terminated."""

    namespace: str
    terminating: bool

    @property
    def message(self) -> str:
        ns = self.namespace
        if self.terminating:
            return (
                f"unable to create new content in namespace {ns} because it is being terminated; "
                f"apply again once `modelplane get namespace {ns}` no longer finds it."
            )
        return (
            f'namespace "{ns}" does not exist; apply a Namespace named {ns} first '
            f"(kind: Namespace, metadata.name: {ns}), or leave out metadata.namespace to use "
            f"{DEFAULT_NAMESPACE}."
        )


def admit(namespace: str, *, stored: Mapping[str, bool], declared: Collection[str]) -> Refusal | None:
    """None when an object may be applied into `namespace`.

    `stored`: each stored Namespace's name → whether it is terminating; `declared`: the Namespaces of
    the same apply request (applied before the other objects). A terminating namespace refuses even
    when the request declares it again: apply does not undo a delete.
    """
    if stored.get(namespace):
        return Refusal(namespace, terminating=True)
    if namespace == DEFAULT_NAMESPACE or namespace in stored or namespace in declared:
        return None
    return Refusal(namespace, terminating=False)


def summarize(refusals: Sequence[Refusal]) -> str:
    """`1 object(s) refused: namespaces "staging" not found; nothing was stored.` (Kubernetes' words)."""
    missing = sorted({r.namespace for r in refusals if not r.terminating})
    terminating = sorted({r.namespace for r in refusals if r.terminating})
    causes = []
    if missing:
        causes.append("namespaces " + ", ".join(f'"{name}"' for name in missing) + " not found")
    if terminating:
        causes.append(f"namespace {', '.join(terminating)} is being terminated")
    return f"{len(refusals)} object(s) refused: {'; '.join(causes)}; nothing was stored."


def undeletable(name: str) -> str | None:
    """Why the Namespace `name` may not be deleted (Kubernetes' words), or None."""
    if name == DEFAULT_NAMESPACE:
        return f'namespace "{name}" is forbidden: this namespace may not be deleted'
    return None


# the controller -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One object stored in a namespace."""

    kind: str
    name: str
    deleting: bool = False


@dataclass(frozen=True)
class NamespacePlan:
    """What to do to one namespace now; the empty plan means nothing."""

    phase: NamespacePhase | None = None
    """Write this `status.phase` (None: it is already right)."""
    delete: tuple[tuple[str, str], ...] = ()
    """(kind, name) of the objects to delete, owners first."""
    remove: bool = False
    """Nothing is left in it: remove the Namespace record."""


def plan_namespace(*, phase: str | None, deleting: bool, members: Sequence[Member]) -> NamespacePlan:
    """The next step for a namespace whose stored `status.phase` is `phase`."""
    wanted = NamespacePhase.TERMINATING if deleting else NamespacePhase.ACTIVE
    write = None if phase == wanted else wanted
    if not deleting:
        return NamespacePlan(phase=write)
    if not members:
        return NamespacePlan(remove=True)
    alive = sorted((m for m in members if not m.deleting), key=lambda m: _OWNERS_FIRST.get(m.kind, 1))
    return NamespacePlan(phase=write, delete=tuple((m.kind, m.name) for m in alive))


def delete_object(store: Store, kind: str, namespace: str, name: str, *, now: float) -> StoredObject:
    """What DELETE does: mark a GRACEFUL_KINDS object for its controller to drain, remove any other."""
    if kind in GRACEFUL_KINDS:
        return store.mark_deleted(kind, namespace, name, now=now)
    stored = store.get(kind, namespace, name)
    store.remove(kind, namespace, name)
    return stored


def run_once(store: Store, *, now: float) -> None:
    """One pass over every namespace (idempotent: a restart converges to the same state)."""
    namespaces = store.list("Namespace")
    if all(ns.name != DEFAULT_NAMESPACE for ns in namespaces):
        with contextlib.suppress(AlreadyExists):
            store.create(
                "Namespace", "", DEFAULT_NAMESPACE, labels={}, spec={},
                status={"phase": NamespacePhase.ACTIVE.value}, now=now,
            )  # fmt: skip
    for namespace in namespaces:
        try:  # one namespace that fails never stops the others
            _reconcile(store, namespace, now=now)
        except Exception:
            log.exception("namespace %s: reconcile failed", namespace.name)


def _reconcile(store: Store, namespace: StoredObject, *, now: float) -> None:
    deleting = namespace.deletion_timestamp is not None
    members = [
        Member(obj.kind, obj.name, obj.deletion_timestamp is not None)
        for obj in (store.contents(namespace.name) if deleting else ())
    ]
    plan = plan_namespace(phase=namespace.status.get("phase"), deleting=deleting, members=members)
    name = namespace.name
    if plan.phase is not None:
        status = {**namespace.status, "phase": plan.phase.value}
        store.update_status("Namespace", "", name, status, now=now)
    if plan.delete:
        counts = Counter(kind for kind, _ in plan.delete)
        what = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
        log.info("namespace %s is terminating: deleting %s", name, what)
        store.record_event(
            kind="Namespace", namespace="", name=name, type="Normal", reason="Terminating",
            message=f"Deleting everything in namespace {name}: {what}", now=now,
        )  # fmt: skip
    for kind, member in plan.delete:
        with contextlib.suppress(NotFound):
            delete_object(store, kind, name, member, now=now)
    if plan.remove:
        with contextlib.suppress(NotFound):
            store.remove("Namespace", "", name)
        log.info("namespace %s: nothing left in it; removed", name)

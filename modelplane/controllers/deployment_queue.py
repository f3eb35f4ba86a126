"""The deployment controller's work queue: a pass reconciles only the deployments whose objects changed.

At 1,000 deployments a pass over every one is 0.3-0.5 s of the one event loop, and `reconcile_all`
ran one on every store change: a single replica turning ready cost a whole pass. As controller-runtime's
work queue, a pass here reads the change log after the last pass and reconciles the deployments that
own what changed (the deployment itself, its replicas, its revisions: `spec.deployment`), plus those
whose `requeue_after` fell due. Each is still reconciled level-triggered, from fresh reads
(`deployments.reconcile_some`); the queue only chooses which.

A whole pass over every deployment, the safety net for what the log does not say: the first pass
(after a restart: converges as before), when the log forgot what the queue needs (Expired) or holds
more than `MANY_CHANGES` changes, and a resync every `FULL_RESYNC_S`, stretched so that whole passes
take at most `FULL_RESYNC_SHARE` of the time. Under a quota the namespace's replicas coming or going
change what each of its deployments may create, and a Namespace's change (its quota, its defaults)
concerns all of them: then every deployment of that namespace is reconciled.

Trigger: `controllers/manager.run_controller` calls `run_once` on every change, on the returned
`requeue_after` and on its resync.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable
from pathlib import Path

from modelplane.controllers.deployments import REVISION, DeploymentKey, reconcile_some
from modelplane.store import Change, ChangeType, Expired, Store

__all__ = ["FULL_RESYNC_S", "FULL_RESYNC_SHARE", "MANY_CHANGES", "DeploymentQueue", "dirty"]

FULL_RESYNC_S = 5.0
FULL_RESYNC_SHARE = 0.01
"""A whole pass runs at least every 5 s or, when one takes longer than 50 ms, rarely enough that whole
passes take 1% of the time (~50 s for a 0.5 s pass at 1,000 deployments)."""
MANY_CHANGES = 2000
"""More changes than this since the last pass: a whole pass (as cheap as sorting them out)."""
WATCHED = ("ModelDeployment", "Replica", REVISION, "Namespace")


def dirty(changes: Iterable[Change]) -> tuple[set[DeploymentKey], set[str], set[str]]:
    """The deployments whose own objects changed; the namespaces where replicas came or went (they
    matter under a quota); the namespaces that changed themselves (pure)."""
    keys: set[DeploymentKey] = set()
    members: set[str] = set()
    changed: set[str] = set()
    for change in changes:
        obj = change.object
        if obj.kind == "Namespace":
            changed.add(obj.name)
            continue
        if obj.kind == "ModelDeployment":
            keys.add((obj.namespace, obj.name))
            continue
        owner = obj.spec.get("deployment")
        if owner:
            keys.add((obj.namespace, str(owner)))
        if obj.kind == "Replica" and change.type != ChangeType.MODIFIED:
            members.add(obj.namespace)
    return keys, members, changed


class DeploymentQueue:
    """Runs the deployment controller's passes (see the module's docstring); one per control plane."""

    def __init__(self, store: Store, *, rng: random.Random, logs_dir: Path | None = None) -> None:
        self._store = store
        self._rng = rng
        self._logs_dir = logs_dir
        self._seen: int | None = None
        """The resourceVersion the last pass started at (None: no pass yet)."""
        self._due: dict[DeploymentKey, float] = {}
        """When each deployment asked to be looked at again."""
        self._next_whole = -math.inf

    def run_once(self, *, now: float) -> float | None:
        """One pass; the seconds until the queue must run again without a change (None: only on one)."""
        rv = self._store.current_rv()
        keys = self._choose(now)
        started = time.perf_counter()
        again = reconcile_some(self._store, keys, now=now, rng=self._rng, logs_dir=self._logs_dir)
        self._seen = rv
        if keys is None:
            self._due.clear()
            elapsed = time.perf_counter() - started
            self._next_whole = now + max(FULL_RESYNC_S, elapsed / FULL_RESYNC_SHARE)
        for key, seconds in again.items():
            if seconds is None:
                self._due.pop(key, None)
            else:
                self._due[key] = now + seconds
        for key in keys or ():
            if key not in again:  # gone
                self._due.pop(key, None)
        soonest = min(self._due.values(), default=None)
        wanted = self._next_whole if soonest is None else min(soonest, self._next_whole)
        return max(wanted - now, 0.0)

    def _choose(self, now: float) -> set[DeploymentKey] | None:
        """The deployments this pass reconciles (None: every one)."""
        if self._seen is None or now >= self._next_whole:
            return None
        try:
            changes = self._store.changes_since(self._seen, kinds=WATCHED, limit=MANY_CHANGES)
        except Expired:
            return None
        if len(changes) >= MANY_CHANGES:
            return None
        keys, members, changed = dirty(changes)
        keys.update(key for key, at in self._due.items() if at <= now)
        for namespace in members - changed:
            stored = self._store.find("Namespace", "", namespace)
            if stored is not None and stored.spec.get("quota") is not None:
                changed.add(namespace)
        for namespace in changed:
            keys.update(
                (d.namespace, d.name) for d in self._store.list("ModelDeployment", namespace=namespace)
            )
        return keys

"""`Store`: the control plane's state — objects, their change log, events and usage samples — in one
SQLite file.

Like etcd under a kube-apiserver: every write is one transaction that moves the one global
resourceVersion up by one and appends one change, so `changes_since(rv)` is "everything after rv"
(`batch()` commits many such writes together, each still with its own resourceVersion and change).
Kubernetes rules: `generation` starts at 1 and rises only when `spec` changes; `apply` never touches
status; an update that names a stale resourceVersion is refused with Conflict (409). Time is passed in
(`now`, seconds since the epoch) so callers and tests decide what time it is.

Synchronous on purpose: each call is a few hundred microseconds of SQLite work under one lock, safe to
call from the asyncio thread and from worker threads alike. Durability is explained in `db.py`.
"""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from modelplane.store import events, listings, objects, usage
from modelplane.store.db import Database, next_resource_version, read_counter
from modelplane.store.errors import AlreadyExists, Conflict, NotFound
from modelplane.store.events import Event, EventType
from modelplane.store.objects import Change, ChangeType, StoredObject, canonical, check_scope
from modelplane.store.selectors import Selector, parse_selector
from modelplane.store.usage import UsageSample

ApplyResult = Literal["created", "configured", "unchanged"]


class Store:
    """The state in `<state_dir>/state.db`; open it once per process and share it."""

    def __init__(self, state_dir: Path | str) -> None:
        self._db = Database(state_dir)
        self._decoded: objects.Decoded = {}
        self._listings: listings.Listings = {}  # lists catch up from the change log (listings.py)
        with self._db.write() as conn:
            usage.create_table(conn)

    @property
    def path(self) -> Path:
        return self._db.path

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes of this thread inside the block one transaction: each keeps its own
        resourceVersion, change and events, as if written one by one, and all are committed together
        when the block ends (a pass writing thousands of objects paid a commit for each). An error
        leaving the block rolls every one of them back and says so in a note on the error; an error a
        write raises and the caller catches inside the block undoes only that write. Other threads
        wait until the commit; a batch inside a batch is part of it."""
        outermost = False
        try:
            with self._db.batch() as outermost:
                yield
        except BaseException as error:
            if outermost:
                # a list read inside the batch saw writes that are gone now, at resourceVersions
                # the next writes will take again: forget what was listed and decoded
                self._decoded.clear()
                self._listings.clear()
                error.add_note("modelplane store: every write of this batch was rolled back; none is stored.")
            raise

    # Reads

    def current_rv(self) -> int:
        """The resourceVersion of the latest write (0 for a new store)."""
        with self._db.read() as conn:
            return read_counter(conn, "resource_version")

    def find(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        check_scope(kind, namespace)
        with self._db.read() as conn:
            return objects.select(conn, kind, namespace, name)

    def get(self, kind: str, namespace: str, name: str) -> StoredObject:
        """The object, or NotFound."""
        obj = self.find(kind, namespace, name)
        if obj is None:
            raise NotFound(kind, namespace, name)
        return obj

    def list(
        self, kind: str, *, namespace: str | None = None, selector: Selector | str | None = None
    ) -> builtins.list[StoredObject]:
        """Objects of `kind` in `namespace` (None: all namespaces) whose labels match, by namespace, name."""
        if namespace is not None:
            check_scope(kind, namespace)
        chosen = parse_selector(selector) if isinstance(selector, str) else selector
        with self._db.read() as conn:
            every = listings.list_kind(conn, kind, self._decoded, self._listings)
        if namespace is None and chosen is None:
            return every.copy()  # a flat copy: no test per object
        return [
            obj
            for obj in every
            if (namespace is None or obj.namespace == namespace)
            and (chosen is None or chosen.matches(obj.labels))
        ]

    def contents(self, namespace: str) -> builtins.list[StoredObject]:
        """Every object in `namespace`, whatever its kind (what deleting the namespace must delete)."""
        if not namespace:
            raise ValueError("cluster-wide objects are in no namespace: pass a namespace's name.")
        with self._db.read() as conn:
            return objects.select_namespace(conn, namespace)

    def changes_since(
        self, rv: int, *, kinds: Collection[str] | None = None, limit: int = 1000
    ) -> builtins.list[Change]:
        """Up to `limit` changes after `rv`, oldest first; Expired (410) if some were already forgotten."""
        with self._db.read() as conn:
            return objects.select_changes(conn, rv, kinds=kinds, limit=limit)

    # Writes

    def apply(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        spec: Mapping[str, Any],
        last_applied: Mapping[str, Any] | None = None,
        now: float,
    ) -> tuple[StoredObject, ApplyResult]:
        """Create the object or bring its labels, spec and last-applied spec to these; status is kept.

        `last_applied` is what the user's file declared (the API merges it into `spec`; the store only
        keeps it). `unchanged` (and no write) when all three already are these. A terminating object
        stays terminating: apply does not undo a delete, as in Kubernetes.
        """
        check_scope(kind, namespace)
        new_labels, new_spec = canonical(labels), canonical(spec)
        new_applied = None if last_applied is None else canonical(last_applied)
        with self._db.write() as conn:
            old = objects.select(conn, kind, namespace, name)
            if old is None:
                obj = _new_object(
                    kind, namespace, name, new_labels, new_spec, {}, next_resource_version(conn), now
                )
                obj = replace(obj, last_applied=new_applied)
                objects.save(conn, obj, ChangeType.ADDED)
                return obj, "created"
            if old.labels == new_labels and old.spec == new_spec and old.last_applied == new_applied:
                return old, "unchanged"
            obj = _changed(old, labels=new_labels, spec=new_spec, rv=next_resource_version(conn), now=now)
            obj = replace(obj, last_applied=new_applied)
            objects.save(conn, obj, ChangeType.MODIFIED)
            return obj, "configured"

    def create(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        spec: Mapping[str, Any],
        status: Mapping[str, Any] | None = None,
        now: float,
    ) -> StoredObject:
        """Store a new object; AlreadyExists (409) if one has that kind, namespace and name."""
        check_scope(kind, namespace)
        fields = canonical(labels), canonical(spec), canonical(status or {})
        with self._db.write() as conn:
            if objects.select(conn, kind, namespace, name) is not None:
                raise AlreadyExists(kind, namespace, name)
            obj = _new_object(kind, namespace, name, *fields, next_resource_version(conn), now)
            objects.save(conn, obj, ChangeType.ADDED)
            return obj

    def update(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        spec: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        status: Mapping[str, Any] | None = None,
        expected_rv: int | None,
        now: float,
    ) -> StoredObject:
        """Replace the parts given (None keeps a part as it is).

        With `expected_rv`, refuse with Conflict (409) unless the object is still at that
        resourceVersion — read, decide, write without losing someone else's write in between.
        An update that changes nothing writes nothing.
        """
        check_scope(kind, namespace)
        new_spec = None if spec is None else canonical(spec)
        new_labels = None if labels is None else canonical(labels)
        new_status = None if status is None else canonical(status)
        with self._db.write() as conn:
            old = _current(conn, kind, namespace, name, expected_rv)
            if (
                (new_spec is None or new_spec == old.spec)
                and (new_labels is None or new_labels == old.labels)
                and (new_status is None or new_status == old.status)
            ):
                return old
            obj = _changed(
                old,
                spec=new_spec,
                labels=new_labels,
                status=new_status,
                rv=next_resource_version(conn),
                now=now,
            )
            objects.save(conn, obj, ChangeType.MODIFIED)
            return obj

    def update_status(
        self,
        kind: str,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        *,
        expected_rv: int | None = None,
        now: float,
    ) -> StoredObject:
        """Replace the status (generation stays); Conflict (409) on a stale `expected_rv`."""
        return self.update(kind, namespace, name, status=status, expected_rv=expected_rv, now=now)

    def mark_deleted(self, kind: str, namespace: str, name: str, *, now: float) -> StoredObject:
        """Set `deletion_timestamp` (the object is terminating); a second call changes nothing."""
        check_scope(kind, namespace)
        with self._db.write() as conn:
            old = _current(conn, kind, namespace, name, None)
            if old.deletion_timestamp is not None:
                return old
            obj = replace(
                old, deletion_timestamp=now, updated=now, resource_version=next_resource_version(conn)
            )
            objects.save(conn, obj, ChangeType.MODIFIED)
            return obj

    def remove(self, kind: str, namespace: str, name: str) -> StoredObject:
        """Drop the object for good (a DELETED change); NotFound if it is not there."""
        check_scope(kind, namespace)
        with self._db.write() as conn:
            old = _current(conn, kind, namespace, name, None)
            obj = replace(old, resource_version=next_resource_version(conn))
            objects.delete(conn, obj)
            return obj

    # Events

    def record_event(
        self, *, kind: str, namespace: str, name: str, type: EventType, reason: str, message: str, now: float
    ) -> Event:
        """Record what happened to an object; a repeat within 10 minutes counts up the same event."""
        with self._db.write() as conn:
            return events.record(
                conn,
                kind=kind,
                namespace=namespace,
                name=name,
                type=type,
                reason=reason,
                message=message,
                now=now,
            )

    def events(
        self,
        *,
        namespace: str | None = None,
        kind: str | None = None,
        name: str | None = None,
        limit: int = 200,
    ) -> builtins.list[Event]:
        """The most recently seen `limit` events that match, newest last."""
        with self._db.read() as conn:
            return events.select(conn, namespace=namespace, kind=kind, name=name, limit=limit)

    # Usage samples (for right-sizing; see usage.py for retention)

    def record_usage(
        self,
        *,
        namespace: str,
        deployment: str,
        replica: str,
        cpu_millis: int | None,
        memory_bytes: int | None,
        now: float,
    ) -> None:
        """Record what one replica of a deployment used at `now`; samples past retention are dropped."""
        sample = UsageSample(namespace, deployment, replica, now, cpu_millis, memory_bytes)
        with self._db.write() as conn:
            usage.record(conn, sample)

    def usage(
        self, namespace: str, deployment: str, *, since: float | None = None
    ) -> builtins.list[UsageSample]:
        """The deployment's samples (every replica's) taken at or after `since`, oldest first."""
        with self._db.read() as conn:
            return usage.select(conn, namespace=namespace, deployment=deployment, since=since)


def _new_object(
    kind: str,
    namespace: str,
    name: str,
    labels: dict[str, Any],
    spec: dict[str, Any],
    status: dict[str, Any],
    rv: int,
    now: float,
) -> StoredObject:
    return StoredObject(
        kind=kind,
        namespace=namespace,
        name=name,
        uid=str(uuid.uuid4()),
        generation=1,
        resource_version=rv,
        labels=labels,
        spec=spec,
        status=status,
        created=now,
        updated=now,
        deletion_timestamp=None,
    )


def _changed(
    old: StoredObject,
    *,
    rv: int,
    now: float,
    labels: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
) -> StoredObject:
    """`old` with the given parts replaced; generation rises only when the spec differs."""
    spec_changed = spec is not None and spec != old.spec
    return replace(
        old,
        labels=old.labels if labels is None else labels,
        spec=old.spec if spec is None else spec,
        status=old.status if status is None else status,
        generation=old.generation + 1 if spec_changed else old.generation,
        resource_version=rv,
        updated=now,
    )


def _current(
    conn: sqlite3.Connection, kind: str, namespace: str, name: str, expected_rv: int | None
) -> StoredObject:
    """The stored object, or NotFound; Conflict when `expected_rv` is given and stale."""
    obj = objects.select(conn, kind, namespace, name)
    if obj is None:
        raise NotFound(kind, namespace, name)
    if expected_rv is not None and expected_rv != obj.resource_version:
        raise Conflict(kind, namespace, name, current_rv=obj.resource_version, expected_rv=expected_rv)
    return obj

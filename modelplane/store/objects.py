"""Stored objects and their change log: the data types and the SQL that reads and writes them.

A `StoredObject` is one row of `objects`: the user's labels and spec, the controllers' status, the spec
as the user's file last declared it (`last_applied`, for apply's three-way merge), and the bookkeeping
the store owns (uid, generation, resourceVersion, timestamps). Invariants:
- (kind, namespace, name) is unique; namespace is '' exactly for the cluster-wide kinds.
- `resource_version` is the global counter's value at the object's last write, so it only rises.
- Every write of an object appends one row to `changes` at that same resourceVersion, holding the
  object as written (for DELETED, as it was when removed); the log keeps the last `CHANGES_KEPT`.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import orjson

from modelplane.spec import API_VERSION, KINDS
from modelplane.store.db import read_counter, set_counter
from modelplane.store.errors import Expired

JsonObject = dict[str, Any]

CLUSTER_SCOPED_KINDS: Final = frozenset(kind for kind, model in KINDS.items() if model.cluster_scoped)
CHANGES_KEPT: Final = 10_000
LAST_APPLIED_ANNOTATION: Final = "modelplane.dev/last-applied"

_COLUMNS = (
    "kind, namespace, name, uid, generation, resource_version, labels, spec, status, "
    "created, updated, deletion_timestamp, last_applied"
)


def rfc3339(timestamp: float) -> str:
    """`2026-11-29T12:53:27Z` — UTC, whole seconds, as Kubernetes writes times."""
    return _rfc3339_seconds(int(timestamp))


@functools.lru_cache(maxsize=4096)
def _rfc3339_seconds(seconds: int) -> str:
    # cached: a list of 10,000 objects created in a few seconds formats a few distinct times, and
    # formatting each (datetime with a time zone) was most of the list's cost
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_scope(kind: str, namespace: str) -> None:
    """Refuse a namespace on a cluster-wide kind, or none on a namespaced kind (a caller's bug)."""
    if kind in CLUSTER_SCOPED_KINDS and namespace:
        raise ValueError(f"a {kind} is cluster-wide: pass namespace '' (got {namespace!r}).")
    if kind not in CLUSTER_SCOPED_KINDS and not namespace:
        raise ValueError(f"a {kind} lives in a namespace: pass one, e.g. 'default'.")


def canonical(value: Mapping[str, Any]) -> JsonObject:
    """`value` as JSON gives it back (tuples become lists…), so equal content compares equal."""
    result: JsonObject = json.loads(dumps(value))
    return result


def dumps(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class StoredObject:
    """One object as stored; treat `labels`, `spec` and `status` as read-only."""

    kind: str
    namespace: str
    name: str
    uid: str
    generation: int
    resource_version: int
    labels: dict[str, str]
    spec: JsonObject
    status: JsonObject
    created: float
    updated: float
    deletion_timestamp: float | None
    last_applied: JsonObject | None = None
    """The spec fields the last `apply` declared, without defaults (None: never applied, or applied
    before modelplane kept it); a default so change-log rows written before it existed still load."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    def to_json(self) -> JsonObject:
        """The API shape; `metadata.namespace` is left out for cluster-wide kinds, as Kubernetes does."""
        metadata: JsonObject = {"name": self.name}
        if self.namespace:
            metadata["namespace"] = self.namespace
        metadata |= {
            "uid": self.uid,
            "generation": self.generation,
            "resourceVersion": self.resource_version,
            "labels": dict(self.labels),
            "creationTimestamp": rfc3339(self.created),
            "deletionTimestamp": None
            if self.deletion_timestamp is None
            else rfc3339(self.deletion_timestamp),
        }
        if self.last_applied is not None:  # as kubectl's last-applied-configuration: JSON text
            metadata["annotations"] = {LAST_APPLIED_ANNOTATION: dumps(self.last_applied)}
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "metadata": metadata,
            "spec": self.spec,
            "status": self.status,
        }


class ChangeType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class Change:
    """One write, as a watch reports it: the object after the write (before, for DELETED)."""

    type: ChangeType
    object: StoredObject
    rv: int

    def to_json(self) -> JsonObject:
        return {"type": str(self.type), "object": self.object.to_json()}


def select(conn: sqlite3.Connection, kind: str, namespace: str, name: str) -> StoredObject | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
        (kind, namespace, name),
    ).fetchone()
    return None if row is None else _from_row(row)


Decoded = dict[str, dict[tuple[str, str], StoredObject]]
"""Objects already decoded, by kind, then (namespace, name): see `select_many`."""


def select_many(
    conn: sqlite3.Connection, kind: str, namespace: str | None, decoded: Decoded | None = None
) -> list[StoredObject]:
    """Objects of `kind` (in `namespace`; None: all), by namespace and name.

    With `decoded`, only the rows whose resourceVersion moved since they were decoded are read whole
    and decoded (every write moves the resourceVersion): the loops list every replica several times a
    second, and reading and decoding the JSON columns was most of a list's cost. The objects returned
    are then shared between callers, which must treat them as read-only (they always had to). A
    listing of the whole kind also forgets the objects that are gone. Call it inside one read
    transaction, so that both queries see the same state."""
    where, args = (
        ("kind = ?", (kind,)) if namespace is None else ("kind = ? AND namespace = ?", (kind, namespace))
    )
    if decoded is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM objects WHERE {where} ORDER BY namespace, name", args)
        return [_from_row(row) for row in rows]
    known = decoded.get(kind, {})
    versions = conn.execute(
        f"SELECT namespace, name, resource_version FROM objects WHERE {where} ORDER BY namespace, name", args
    ).fetchall()
    stale = [
        (ns, name)
        for ns, name, rv in versions
        if (obj := known.get((ns, name))) is None or obj.resource_version != rv
    ]
    fresh: dict[tuple[str, str], StoredObject] = {}
    if len(stale) > max(_ONE_BY_ONE, len(versions) // 4):
        for row in conn.execute(f"SELECT {_COLUMNS} FROM objects WHERE {where}", args):
            if (row[1], row[2]) in known and known[(row[1], row[2])].resource_version == row[5]:
                continue
            fresh[(row[1], row[2])] = _from_row(row)
    else:
        for ns, name in stale:
            obj = select(conn, kind, ns, name)
            if obj is not None:
                fresh[(ns, name)] = obj
    seen = {} if namespace is None else known
    found = []
    for ns, name, _ in versions:
        obj = fresh.get((ns, name)) or known[(ns, name)]
        seen[(ns, name)] = obj
        found.append(obj)
    decoded[kind] = seen
    return found


_ONE_BY_ONE: Final = 64
"""Up to this many changed rows (or a quarter of those listed, if more) are read one by one, by
primary key; more, in one scan. Scanning 10,000 replicas' JSON to decode the 200 that moved took
most of a list's time."""


def select_namespace(conn: sqlite3.Connection, namespace: str) -> list[StoredObject]:
    """Every object in `namespace`, of any kind, by kind and name."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM objects WHERE namespace = ? ORDER BY kind, name", (namespace,)
    )
    return [_from_row(row) for row in rows]


def save(conn: sqlite3.Connection, obj: StoredObject, change: ChangeType) -> None:
    """Insert or replace the row of `obj` and log the change at `obj.resource_version`."""
    conn.execute(
        f"INSERT OR REPLACE INTO objects ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            obj.kind,
            obj.namespace,
            obj.name,
            obj.uid,
            obj.generation,
            obj.resource_version,
            dumps(obj.labels),
            dumps(obj.spec),
            dumps(obj.status),
            obj.created,
            obj.updated,
            obj.deletion_timestamp,
            None if obj.last_applied is None else dumps(obj.last_applied),
        ),
    )
    log_change(conn, change, obj)


def delete(conn: sqlite3.Connection, obj: StoredObject) -> None:
    """Drop the row of `obj` and log a DELETED change at `obj.resource_version`."""
    conn.execute("DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?", obj.key)
    log_change(conn, ChangeType.DELETED, obj)


def log_change(conn: sqlite3.Connection, change: ChangeType, obj: StoredObject) -> None:
    """Append the change and forget those older than the last `CHANGES_KEPT`."""
    conn.execute(
        "INSERT INTO changes (rv, type, kind, object) VALUES (?, ?, ?, ?)",
        (obj.resource_version, str(change), obj.kind, dumps(_to_fields(obj))),
    )
    horizon = obj.resource_version - CHANGES_KEPT
    if horizon > read_counter(conn, "compacted_rv"):
        conn.execute("DELETE FROM changes WHERE rv <= ?", (horizon,))
        set_counter(conn, "compacted_rv", horizon)


def select_changes(
    conn: sqlite3.Connection, since: int, *, kinds: Collection[str] | None, limit: int
) -> list[Change]:
    """The changes after resourceVersion `since`, oldest first; Expired when some are forgotten."""
    compacted = read_counter(conn, "compacted_rv")
    if since < compacted:
        raise Expired(requested_rv=since, oldest_rv=compacted + 1)
    if kinds is None:
        rows = conn.execute(
            "SELECT rv, type, object FROM changes WHERE rv > ? ORDER BY rv LIMIT ?", (since, limit)
        )
    else:
        marks = ",".join("?" * len(kinds))
        rows = conn.execute(
            f"SELECT rv, type, object FROM changes WHERE rv > ? AND kind IN ({marks}) ORDER BY rv LIMIT ?",
            (since, *kinds, limit),
        )
    return [Change(ChangeType(kind), decode_change(obj), rv) for rv, kind, obj in rows]


def decode_change(text: str) -> StoredObject:
    """The object a `changes` row holds."""
    return StoredObject(**_loads(text))


def _to_fields(obj: StoredObject) -> JsonObject:
    return {field: getattr(obj, field) for field in StoredObject.__dataclass_fields__}


def _from_row(row: tuple[Any, ...]) -> StoredObject:
    kind, namespace, name, uid, generation, rv, labels, spec, status, created, updated, deleted, applied = row
    return StoredObject(
        kind=kind,
        namespace=namespace,
        name=name,
        uid=uid,
        generation=generation,
        resource_version=rv,
        labels=_loads(labels),
        spec=_loads(spec),
        status=_loads(status),
        created=created,
        updated=updated,
        deletion_timestamp=deleted,
        last_applied=None if applied is None else _loads(applied),
    )


def _loads(text: str) -> Any:
    """Decode a stored JSON column. orjson is several times faster than json, which matters when a
    list decodes thousands of rows. What orjson refuses (NaN) still loads through json; an integer
    over 64 bits (stored before validation bounded them) comes back as a float."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)

"""Events: what happened to an object, for people (`modelplane events`), with Kubernetes semantics.

Invariants:
- The same (object, type, reason, message) seen again within `AGGREGATION_WINDOW` seconds of its last
  sighting raises `count` and `last_seen` of the existing row instead of adding one (as the Kubernetes
  event correlator does), so a crash loop is one line with a count, not thousands.
- At most `EVENTS_KEPT` rows are kept; the least recently seen are dropped first.
- Events are not objects: recording one does not move the resourceVersion.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from modelplane.store.objects import JsonObject, rfc3339

EventType = Literal["Normal", "Warning"]

AGGREGATION_WINDOW: Final = 600.0
EVENTS_KEPT: Final = 5_000

_COLUMNS = "id, kind, namespace, name, type, reason, message, count, first_seen, last_seen"


@dataclass(frozen=True)
class Event:
    """One event row; `count` sightings between `first_seen` and `last_seen`."""

    id: int
    kind: str
    namespace: str
    name: str
    type: EventType
    reason: str
    message: str
    count: int
    first_seen: float
    last_seen: float

    def to_json(self) -> JsonObject:
        return {
            "involvedObject": {"kind": self.kind, "namespace": self.namespace, "name": self.name},
            "type": self.type,
            "reason": self.reason,
            "message": self.message,
            "count": self.count,
            "firstTimestamp": rfc3339(self.first_seen),
            "lastTimestamp": rfc3339(self.last_seen),
        }


def record(
    conn: sqlite3.Connection,
    *,
    kind: str,
    namespace: str,
    name: str,
    type: EventType,
    reason: str,
    message: str,
    now: float,
) -> Event:
    """Add the event, or count it again on its recent twin (call inside a write transaction)."""
    if type not in get_args(EventType):
        raise ValueError(f"event type {type!r} is not one of Normal, Warning.")
    key = (kind, namespace, name, type, reason, message)
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE kind = ? AND namespace = ? AND name = ? AND type = ? "
        "AND reason = ? AND message = ? AND last_seen >= ? ORDER BY last_seen DESC LIMIT 1",
        (*key, now - AGGREGATION_WINDOW),
    ).fetchone()
    if row is not None:
        event_id = int(row[0])
        conn.execute("UPDATE events SET count = count + 1, last_seen = ? WHERE id = ?", (now, event_id))
    else:
        cursor = conn.execute(
            "INSERT INTO events (kind, namespace, name, type, reason, message, count, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
            (*key, now, now),
        )
        event_id = int(cursor.lastrowid or 0)
        _trim(conn)
    return _from_row(conn.execute(f"SELECT {_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone())


def select(
    conn: sqlite3.Connection, *, namespace: str | None, kind: str | None, name: str | None, limit: int
) -> list[Event]:
    """The `limit` most recently seen events that match, oldest first (newest last)."""
    clauses: list[str] = []
    params: list[str] = []
    for column, value in (("namespace", namespace), ("kind", kind), ("name", name)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM events {where} ORDER BY last_seen DESC, id DESC LIMIT ?", (*params, limit)
    ).fetchall()
    return [_from_row(row) for row in reversed(rows)]


def _trim(conn: sqlite3.Connection) -> None:
    excess = int(conn.execute("SELECT count(*) FROM events").fetchone()[0]) - EVENTS_KEPT
    if excess > 0:
        conn.execute(
            "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY last_seen, id LIMIT ?)", (excess,)
        )


def _from_row(row: tuple[Any, ...]) -> Event:
    event_id, kind, namespace, name, type, reason, message, count, first_seen, last_seen = row
    return Event(
        id=event_id,
        kind=kind,
        namespace=namespace,
        name=name,
        type="Warning" if type == "Warning" else "Normal",
        reason=reason,
        message=message,
        count=count,
        first_seen=first_seen,
        last_seen=last_seen,
    )

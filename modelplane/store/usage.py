"""Usage samples: what each replica of a deployment used, for right-sizing (`modelplane recommend`).

The node agent records one sample per replica every few seconds (CPU in millicores averaged since the
previous reading, memory in bytes); `select` returns a deployment's samples, oldest first.

Invariants:
- Samples are measurements, not objects: recording one does not move the resourceVersion and nothing
  watches them.
- Retention is bounded twice, both enforced on every insert by deletes on an index, so an insert stays
  a few microseconds however full the table is: samples older than `USAGE_RETENTION_S` (24 h) before the
  one being recorded are dropped, and only the newest `USAGE_SAMPLES_KEPT` rows are kept (a dozen
  replicas measured every 5 s for a day, some 30 MB; more replicas means a shorter history, never a
  larger file).
- The table is created with CREATE TABLE IF NOT EXISTS when the store opens, outside db.py's migration
  list on purpose: it holds no state the control plane needs, so a state.db written before it existed
  opens as it is, and an older modelplane can still open a file that has it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Final

USAGE_RETENTION_S: Final = 24 * 3600.0
USAGE_SAMPLES_KEPT: Final = 200_000

SCHEMA: Final = (
    """
    CREATE TABLE IF NOT EXISTS usage_samples (
        id INTEGER PRIMARY KEY,
        namespace TEXT NOT NULL,
        deployment TEXT NOT NULL,
        replica TEXT NOT NULL,
        at REAL NOT NULL,
        cpu_millis INTEGER,
        memory_bytes INTEGER
    )
    """,
    "CREATE INDEX IF NOT EXISTS usage_samples_by_deployment ON usage_samples (namespace, deployment, at)",
    "CREATE INDEX IF NOT EXISTS usage_samples_by_time ON usage_samples (at)",
)

_COLUMNS = "namespace, deployment, replica, at, cpu_millis, memory_bytes"


@dataclass(frozen=True)
class UsageSample:
    """One reading of one replica; a resource nobody could measure is None."""

    namespace: str
    deployment: str
    replica: str
    at: float
    cpu_millis: int | None
    memory_bytes: int | None


def create_table(conn: sqlite3.Connection) -> None:
    """Create the samples table and its indexes if missing (call inside a write transaction)."""
    for statement in SCHEMA:
        conn.execute(statement)


def record(conn: sqlite3.Connection, sample: UsageSample) -> None:
    """Add the sample and drop what retention no longer keeps (call inside a write transaction)."""
    cursor = conn.execute(
        f"INSERT INTO usage_samples ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
        (
            sample.namespace,
            sample.deployment,
            sample.replica,
            sample.at,
            sample.cpu_millis,
            sample.memory_bytes,
        ),
    )
    conn.execute("DELETE FROM usage_samples WHERE at < ?", (sample.at - USAGE_RETENTION_S,))
    newest = int(cursor.lastrowid or 0)
    conn.execute("DELETE FROM usage_samples WHERE id <= ?", (newest - USAGE_SAMPLES_KEPT,))


def select(
    conn: sqlite3.Connection, *, namespace: str, deployment: str, since: float | None
) -> list[UsageSample]:
    """The deployment's samples taken at or after `since` (None: all kept), oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM usage_samples WHERE namespace = ? AND deployment = ? AND at >= ? "
        "ORDER BY at, id",
        (namespace, deployment, float("-inf") if since is None else since),
    ).fetchall()
    return [_from_row(row) for row in rows]


def _from_row(row: tuple[Any, ...]) -> UsageSample:
    namespace, deployment, replica, at, cpu_millis, memory_bytes = row
    return UsageSample(
        namespace=namespace,
        deployment=deployment,
        replica=replica,
        at=at,
        cpu_millis=cpu_millis,
        memory_bytes=memory_bytes,
    )

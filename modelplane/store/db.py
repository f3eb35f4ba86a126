"""The SQLite file under the state dir: one connection, its schema, and the transactions around it.

Durability: the database runs in WAL mode with `synchronous=NORMAL`. A commit appends the transaction
to `state.db-wal` with write(2) before `COMMIT` returns, so once a write returns its data is in the
operating system's page cache, which outlives the process: a `kill -9` (or a crash) of the control
plane loses nothing that was reported as stored. What NORMAL gives up is the fsync on every commit:
a power cut or kernel panic may lose the last few transactions, but never corrupts the file (WAL
replays only whole, checksummed transactions). `synchronous=FULL` would close that gap at the cost of
an fsync per write; a local control plane re-converges from its YAML, so NORMAL is the trade.

Concurrency: one connection, shared by the asyncio thread and worker threads, guarded by one lock;
every write is one `BEGIN IMMEDIATE … COMMIT` transaction, so readers never see half of a write.
A `batch()` holds the lock and one transaction around many writes (a pass creating or placing
thousands of replicas paid a commit for each: ~4 ms a replica); each write in it is a savepoint, and
nothing of it is visible to other threads, nor acted on, before its one COMMIT.

Privacy: the directory is 0700 and the file 0600 (`private.py`), so the WAL and SHM files are too.

Schema: `schema_version` holds one row; `MIGRATIONS[i]` moves the schema from version i to i + 1.
A file written by a newer schema is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelplane.store.errors import IncompatibleState
from modelplane.store.private import create_private, private_dir, tighten

FILE_NAME = "state.db"
WAL_SUFFIX, SHM_SUFFIX = "-wal", "-shm"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO counters (name, value) VALUES ('resource_version', 0), ('compacted_rv', 0);
    CREATE TABLE objects (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL UNIQUE,
        generation INTEGER NOT NULL,
        resource_version INTEGER NOT NULL,
        labels TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        deletion_timestamp REAL,
        PRIMARY KEY (kind, namespace, name)
    ) WITHOUT ROWID;
    CREATE TABLE changes (
        rv INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        kind TEXT NOT NULL,
        object TEXT NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL
    );
    CREATE INDEX events_by_object ON events (kind, namespace, name, type, reason, last_seen);
    CREATE INDEX events_by_time ON events (last_seen, id);
    """,
    # the spec as the user's file last declared it (kubectl's last-applied-configuration), for apply's
    # three-way merge; NULL for objects applied before this column existed and for internal kinds
    "ALTER TABLE objects ADD COLUMN last_applied TEXT",
    # which rows moved, read without touching the rows themselves (their JSON is most of the file): a
    # list of 10,000 replicas read the whole table just to learn their resourceVersions
    "CREATE INDEX objects_versions ON objects (kind, namespace, name, resource_version)",
)
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """The connection to `<state_dir>/state.db`, migrated to `SCHEMA_VERSION` on open."""

    def __init__(self, state_dir: Path | str) -> None:
        directory = private_dir(Path(state_dir))
        self.path = directory / FILE_NAME
        # created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the same mode
        create_private(self.path)
        for side in (WAL_SUFFIX, SHM_SUFFIX):
            tighten(self.path.with_name(FILE_NAME + side))  # left by an older modelplane
        self._lock = threading.RLock()  # re-entered by the writes inside a batch
        self._in_batch = False
        # isolation_level=None: sqlite3 opens no implicit transactions; `write()` issues BEGIN itself.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self.write() as conn:
            _migrate(conn, str(self.path))

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, held by this thread alone; for one or more consistent reads (inside a
        batch of this thread's, they see its writes so far)."""
        with self._lock:
            if self._in_batch:
                yield self._conn
                return
            self._conn.execute("BEGIN DEFERRED")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one transaction: committed when the block ends, rolled back on error.

        Inside a `batch()`, a savepoint instead: a write that fails undoes only itself (a caller may
        catch, say, AlreadyExists and go on), and what it wrote is committed with the batch."""
        with self._lock:
            if self._in_batch:
                self._conn.execute("SAVEPOINT one_write")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK TO one_write")
                    self._conn.execute("RELEASE one_write")
                    raise
                self._conn.execute("RELEASE one_write")
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[bool]:
        """Every write of this thread inside the block in one transaction, committed when the block
        ends and rolled back whole if an error leaves it; other threads wait for the commit. Yields
        True for the outermost batch (a batch inside one is part of it)."""
        with self._lock:
            if self._in_batch:
                yield False
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._in_batch = True
            try:
                yield True
            except BaseException:
                self._in_batch = False
                self._conn.execute("ROLLBACK")
                raise
            self._in_batch = False
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    version = 0 if row is None else int(row[0])
    if version > SCHEMA_VERSION:
        raise IncompatibleState(path, found=version, known=SCHEMA_VERSION)
    for script in MIGRATIONS[version:]:
        # executescript() would COMMIT the open transaction; run the statements one by one instead.
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
    if row is None:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    else:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


def read_counter(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])


def set_counter(conn: sqlite3.Connection, name: str, value: int) -> None:
    conn.execute("UPDATE counters SET value = ? WHERE name = ?", (value, name))


def next_resource_version(conn: sqlite3.Connection) -> int:
    """The global resourceVersion after one more write (call inside `write()`)."""
    rv = read_counter(conn, "resource_version") + 1
    set_counter(conn, "resource_version", rv)
    return rv

"""A kill -9 of the process at any moment loses no object that `apply` reported as stored."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from modelplane.store import FILE_NAME, IncompatibleState, Store

WRITER = """
import sys, time
from modelplane.store import FILE_NAME, IncompatibleState, Store
store = Store(sys.argv[1])
for index in range(1_000_000):
    name = f"m{index}"
    spec = {"index": index}
    store.apply("ModelDeployment", "default", name, labels={"i": str(index)}, spec=spec, now=time.time())
    print(name, flush=True)
"""


def test_kill_9_loses_no_applied_object(tmp_path: Path) -> None:
    kill_after = random.randint(50, 400)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    printed: list[str] = []
    enough = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line.strip())
            if len(printed) >= kill_after:
                enough.set()
        enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert enough.wait(timeout=120), f"the writer printed only {len(printed)} names in 120 s"
        assert proc.poll() is None, "the writer exited before it was killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=30)
    assert proc.stdout is not None
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(printed) >= 50

    with Store(tmp_path) as store:
        stored = {obj.name: obj for obj in store.list("ModelDeployment", namespace="default")}
        lost = [name for name in printed if name not in stored]
        assert lost == [], f"{len(lost)} of {len(printed)} applied objects were lost, e.g. {lost[:5]}"
        assert all(stored[name].spec == {"index": int(name[1:])} for name in printed)
        assert store.current_rv() >= len(printed)
        before = store.current_rv()
        store.apply("ModelDeployment", "default", "after", labels={}, spec={}, now=time.time())
        assert store.current_rv() == before + 1


def test_a_state_dir_from_a_newer_modelplane_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    with closing(sqlite3.connect(tmp_path / FILE_NAME, isolation_level=None)) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(IncompatibleState, match=r"schema version 99.*another --state-dir"):
        Store(tmp_path)


def test_the_database_runs_in_wal_mode(tmp_path: Path) -> None:
    Store(tmp_path).close()
    with closing(sqlite3.connect(tmp_path / FILE_NAME, isolation_level=None)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

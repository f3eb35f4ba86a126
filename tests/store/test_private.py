"""The state dir is private: after a real store and real replica logs are written, every directory is
0700 and every file 0600 (SQLite's WAL and SHM files too), whatever the umask; an old, open state dir
is tightened when opened."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelplane.runtime.logs import LogRotator
from modelplane.runtime.processes import Launch, spawn
from modelplane.store import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """A umask that would make files world-readable (022 is the usual default)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_store_is_private_with_its_wal_and_shm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store(state) as store:
        store.apply("Namespace", "", "team", labels={}, spec={}, now=1.0)
        store.record_event(
            kind="Namespace", namespace="", name="team", type="Normal", reason="X", message="m", now=1.0
        )
        files = sorted(state.iterdir())
        assert {f.name for f in files} >= {"state.db", "state.db-wal", "state.db-shm"}
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert _mode(state) == 0o700


def test_an_old_open_state_dir_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store(state):
        pass
    os.chmod(state, 0o755)
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        if (state / name).exists():
            os.chmod(state / name, 0o644)
    with Store(state):
        assert _mode(state) == 0o700
        assert all(_mode(f) == 0o600 for f in state.iterdir())


def test_replica_logs_and_their_rotated_copies_are_private(tmp_path: Path) -> None:
    log = tmp_path / "state" / "logs" / "default" / "r1.log"
    child = spawn(Launch(argv=[sys.executable, "-c", "print('x' * 100)"], log_path=log, env=dict(os.environ)))
    child.popen.wait(timeout=30)
    assert log.read_text().startswith("x")
    assert _mode(log) == 0o600 and _mode(log.parent) == 0o700
    LogRotator(max_bytes=10, keep=2).rotate(log)
    assert _mode(log.with_name("r1.log.1")) == 0o600

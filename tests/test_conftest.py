"""The process helpers of tests/conftest.py: find a process tree by the path its command names, kill
it by process group, and never touch a process that only reuses a recorded pid."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import Proc, alive, kill_processes, processes_of, wait_for


def test_a_tree_found_by_its_marker_is_killed_whole(tmp_path: Path) -> None:
    marker = str(tmp_path / "state")
    # the shell names the marker; its two sleeps do not, and one of them is in a group of its own
    script = "sleep 300 & setsid sleep 300 & wait"
    shell = subprocess.Popen(["sh", "-c", script, marker], start_new_session=True)
    try:
        wait_for(lambda: len(processes_of(marker)) == 3, timeout=10, what="the shell and its two sleeps")
        found = processes_of(marker)
        assert {p.pid for p in found} >= {shell.pid}
        assert processes_of(marker + "2") == set()  # /x/state2 is another state dir
        kill_processes(found)
        wait_for(lambda: not any(alive(p) for p in found), timeout=10, what="the tree to be gone")
    finally:
        if shell.poll() is None:
            shell.kill()
        shell.wait()


def test_a_recycled_pid_is_not_killed(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        (real,) = processes_of(str(tmp_path / "nothing"), [sleeper.pid])  # by pid alone
        other = Proc(real.pid, real.pgid, real.start + 1)  # same pid, another process
        assert not alive(other)
        kill_processes([other])
        assert sleeper.poll() is None and alive(real)
    finally:
        sleeper.kill()
        sleeper.wait()

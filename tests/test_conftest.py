"""The process helpers of tests/conftest.py: find a process tree by the path its command names, kill
it by process group, and never touch a process that only reuses a recorded pid."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Proc, alive, kill_processes, processes_of, require_slow, wait_for


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


def test_starting_a_control_plane_in_a_test_not_marked_slow_fails_it() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"starts a control plane: mark it @pytest.mark.slow"):
        require_slow("starts a control plane")


@pytest.mark.slow
def test_a_test_marked_slow_may_start_one() -> None:
    require_slow("starts a control plane")  # no failure


@pytest.mark.slow  # collects tests/api in a subprocess
def test_no_test_left_by_not_slow_starts_a_control_plane() -> None:
    # what `pytest -m "not slow"` runs of tests/api: none takes the fixture or calls running_control_plane
    root = Path(__file__).parents[1]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not slow", "tests/api"],
        capture_output=True, text=True, cwd=root, timeout=120,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert ids  # the pure API tests remain
    for node in ids:
        path, name = node.split("::")[0], node.split("::")[1].split("[")[0]
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        test = getattr(module, name)
        assert "control_plane" not in inspect.signature(test).parameters, node
        assert "running_control_plane(" not in inspect.getsource(test), node

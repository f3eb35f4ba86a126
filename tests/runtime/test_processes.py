"""Replica processes: new session, environment, log file, identity by start time, group signals, exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from modelplane.runtime import AdoptedProcess, Launch, alive, exit_reason, pid_start_time, replica_env, spawn
from modelplane.runtime.processes import launch_argv
from modelplane.spec.replica import ExitReason
from tests.conftest import wait_for

SHOW_ENV = (
    "import os; print(os.getsid(0) == os.getpid(), repr(os.environ['CUDA_VISIBLE_DEVICES']), os.getcwd())"
)


@pytest.mark.parametrize(
    ("code", "oom", "reason"),
    [
        (0, False, ExitReason.COMPLETED),
        (1, False, ExitReason.ERROR),
        (143, False, ExitReason.ERROR),  # SIGTERM not handled
        (137, False, ExitReason.KILLED),
        (137, True, ExitReason.OOM_KILLED),
        (1, True, ExitReason.ERROR),  # an OOM kill of a helper, the replica itself exited 1
        (None, False, ExitReason.UNKNOWN),
    ],
)
def test_exit_reasons(code: int | None, oom: bool, reason: ExitReason) -> None:
    assert exit_reason(code, oom_killed=oom) is reason


@pytest.mark.parametrize(("gpus", "visible"), [([], ""), ([0], "0"), ([1, 3], "1,3")])
def test_replica_env_sets_cuda_visible_devices_always(gpus: list[int], visible: str) -> None:
    env = replica_env({"PATH": "/bin"}, replica="r1", namespace="prod", port=41234, gpus=gpus)
    assert env["CUDA_VISIBLE_DEVICES"] == visible
    assert (env["PATH"], env["MODELPLANE_PORT"], env["MODELPLANE_REPLICA"]) == ("/bin", "41234", "r1")


def test_spawn_runs_in_its_own_session_with_env_cwd_and_an_appended_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "r1.log"
    log.parent.mkdir()
    log.write_text("earlier run\n")
    env = replica_env(dict(os.environ), replica="r1", namespace="default", port=1, gpus=[2])
    child = spawn(Launch(argv=[sys.executable, "-c", SHOW_ENV], log_path=log, cwd=tmp_path, env=env))
    wait_for(lambda: child.exited() is not None, timeout=30, what="the child to exit")
    assert child.exited() is not None and child.exited().code == 0  # type: ignore[union-attr]
    assert log.read_text() == f"earlier run\nTrue '2' {tmp_path}\n"


def test_spawn_of_a_missing_working_directory_says_so(tmp_path: Path) -> None:
    from modelplane.runtime import SpawnError

    with pytest.raises(SpawnError, match="working directory"):
        spawn(Launch(argv=["true"], log_path=tmp_path / "r1.log", cwd=tmp_path / "missing"))


def test_killed_child_reports_137_and_its_group_is_killed_too(tmp_path: Path) -> None:
    # The replica starts a helper in its process group; a SIGKILL to the replica's group ends both.
    script = (
        "import subprocess, time; p = subprocess.Popen(['sleep', '300']); print(p.pid, flush=True); "
        "time.sleep(300)"
    )
    child = spawn(Launch(argv=[sys.executable, "-c", script], log_path=tmp_path / "r1.log"))
    wait_for(lambda: (tmp_path / "r1.log").read_text().strip() != "", timeout=30, what="the helper's pid")
    helper = int((tmp_path / "r1.log").read_text())
    helper_start = pid_start_time(helper)
    assert child.exited() is None and alive(helper, helper_start)
    child.signal(signal.SIGKILL)
    wait_for(lambda: child.exited() is not None, timeout=10, what="the child to die")
    assert child.exited() is not None and child.exited().code == 137  # type: ignore[union-attr]
    wait_for(lambda: not alive(helper, helper_start), timeout=10, what="the helper to die with its group")


def test_identity_is_pid_plus_start_time() -> None:
    start = pid_start_time(os.getpid())
    assert start is not None and start > 0
    assert alive(os.getpid(), start)
    assert not alive(os.getpid(), start + 1)  # the pid was reused by another process
    assert pid_start_time(2**22 + 1) is None and not alive(2**22 + 1, None)


def test_an_adopted_process_end_is_seen_in_proc_with_an_unknown_code() -> None:
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    adopted = AdoptedProcess(proc.pid, pid_start_time(proc.pid))
    assert adopted.exited() is None
    adopted.signal(signal.SIGTERM)
    wait_for(lambda: adopted.exited() is not None, timeout=10, what="the adopted process to end")
    assert adopted.exited() is not None and adopted.exited().code is None  # type: ignore[union-attr]
    proc.wait()


def test_launch_joins_cgroups_or_sets_rlimit_through_sh_keeping_the_pid(tmp_path: Path) -> None:
    procs = tmp_path / "cgroup.procs"
    launch = Launch(
        argv=[
            sys.executable,
            "-c",
            "import os, resource; print(os.getpid(), resource.getrlimit(resource.RLIMIT_AS)[0])",
        ],
        log_path=tmp_path / "r1.log",
        cgroup_procs=[procs],
        memory_rlimit=512 << 20,
    )
    assert launch_argv(launch)[:2] == ["/bin/sh", "-c"]
    child = spawn(launch)
    wait_for(lambda: child.exited() is not None, timeout=30, what="the child to exit")
    assert procs.read_text().strip() == str(child.pid)  # written by the child itself, before exec
    assert (tmp_path / "r1.log").read_text().split() == [str(child.pid), str(512 << 20)]
    assert launch_argv(Launch(argv=["x"], log_path=procs)) == ["x"]

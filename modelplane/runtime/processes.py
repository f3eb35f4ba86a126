"""Replica processes: spawn, identify, signal, and read how they ended.

A replica is started in its own session (`start_new_session=True`, so its pid is its process group
and the control plane's death or terminal does not reach it), with stdout and stderr appended
(O_APPEND) to its log file, so it keeps logging when the control plane is gone.

Joining the cgroup before any model code runs: `preexec_fn` is not safe in a process with threads (the
forked child may deadlock on a lock another thread held), so the child is `/bin/sh`, which writes its
own pid into the group's `cgroup.procs` (or sets RLIMIT_AS, the fallback without cgroups) and then
`exec`s the command — same pid, same start time, nothing of ours runs in the forked child.

A process is identified by its pid plus its start time (field 22 of /proc/<pid>/stat), so a pid reused
by the system is never mistaken for a replica. Our own children are reaped with `Popen.poll`, which
gives the exit status; a process adopted after a control-plane restart is not our child, its end is
seen in /proc and its exit status is unknown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from modelplane.runtime.errors import SpawnError
from modelplane.spec.replica import ExitReason, LastExit

SIGKILL_CODE: Final = 128 + signal.SIGKILL
_JOIN_SCRIPT: Final = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; '
_RLIMIT_SCRIPT: Final = 'ulimit -v "$1" || exit 125; shift; '
_EXEC_SCRIPT: Final = 'exec "$@"'
_RECORD_SCRIPT: Final = 'f=$1; shift; trap : TERM INT; "$@"; c=$?; echo $c > "$f"; exit $c'
"""Run the command as a child and write its exit status to a file (as containerd's shim keeps it), so
that a control plane that adopted the process after a restart still learns how it ended. The shell
waits out a SIGTERM to the group (its child gets it too) so the status it records is the child's."""


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to start one replica process."""

    argv: Sequence[str]
    log_path: Path
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cgroup_procs: Sequence[Path] = ()
    """`cgroup.procs` files the process joins before it runs `argv`."""
    memory_rlimit: int | None = None
    """RLIMIT_AS in bytes: the memory limit's fallback where no cgroup is writable."""
    exit_file: Path | None = None
    """Where the exit status is written when the process ends (see `_RECORD_SCRIPT`); None: not kept."""


@dataclass(frozen=True, slots=True)
class Exit:
    """How a process ended: `code` as Kubernetes reports it (128 + signal when killed), None if unknown."""

    code: int | None


class ReplicaProcess(Protocol):
    """A running (or ended) replica process: our child, or one adopted after a restart."""

    @property
    def pid(self) -> int: ...

    @property
    def start_time(self) -> int | None: ...

    def exited(self) -> Exit | None:
        """None while it runs; how it ended once it has (reaps our own children)."""
        ...

    def signal(self, sig: int) -> None:
        """Send `sig` to its whole process group (nothing if it is gone)."""
        ...


def replica_env(
    base: Mapping[str, str], *, replica: str, namespace: str, port: int, gpus: Sequence[int]
) -> dict[str, str]:
    """The environment of a replica: `base` plus its identity, its port and its GPUs.

    `CUDA_VISIBLE_DEVICES` is always set: to the assigned device indices, or "" (no GPU) so a replica
    without GPUs never grabs one by accident.
    """
    return {
        **base,
        "MODELPLANE_REPLICA": replica,
        "MODELPLANE_NAMESPACE": namespace,
        "MODELPLANE_PORT": str(port),
        "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in gpus),
        "PYTHONUNBUFFERED": "1",
    }


def launch_argv(launch: Launch) -> list[str]:
    """The argv actually executed: `argv`, behind a /bin/sh that joins cgroups, sets the rlimit or
    records the exit status."""
    if not launch.cgroup_procs and launch.memory_rlimit is None and launch.exit_file is None:
        return list(launch.argv)
    if launch.exit_file is None:
        script, record = _JOIN_SCRIPT + _EXEC_SCRIPT, []
    else:
        script, record = _JOIN_SCRIPT + _RECORD_SCRIPT, [str(launch.exit_file)]
    args = [*map(str, launch.cgroup_procs), "--", *record, *launch.argv]
    if launch.memory_rlimit is not None:
        script, args = _RLIMIT_SCRIPT + script, [str(max(1, launch.memory_rlimit // 1024)), *args]
    return ["/bin/sh", "-c", script, "modelplane-replica", *args]


def spawn(launch: Launch) -> ChildProcess:
    """Start the process in a new session; SpawnError when it cannot start at all."""
    launch.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: store/private.py
    log_fd = os.open(launch.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        popen = subprocess.Popen(
            launch_argv(launch),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            cwd=launch.cwd,
            env=dict(launch.env),
            start_new_session=True,
        )
    except OSError as error:
        raise SpawnError(
            f"cannot start {launch.argv[0]!r}: {error.strerror}. Check the command and the working "
            f"directory ({launch.cwd or os.getcwd()}).",
            subject=str(launch.argv[0]),
        ) from error
    finally:
        os.close(log_fd)
    return ChildProcess(popen)


class ChildProcess:
    """A replica we started: exit status from `Popen.poll`."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self._start_time = pid_start_time(popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def start_time(self) -> int | None:
        return self._start_time

    def exited(self) -> Exit | None:
        if self.popen.returncode is None:
            try:  # has it ended? (WNOWAIT: the zombie keeps holding the pid, so the group id is ours)
                ended = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
            except ChildProcessError:
                ended = True
            if not ended:
                return None
            _kill_group(self.pid)  # stragglers of its group die with it, as with a container
        code = self.popen.wait()
        return Exit(128 - code if code < 0 else code)

    def signal(self, sig: int) -> None:
        if self.popen.returncode is None:
            _signal_group(self.popen.pid, sig)


class AdoptedProcess:
    """A replica found alive after a control-plane restart: not our child, so its exit status is only
    known from its exit file, when it was started with one."""

    def __init__(self, pid: int, start_time: int | None, exit_file: Path | None = None) -> None:
        self._pid = pid
        self._start_time = start_time
        self._exit_file = exit_file

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def start_time(self) -> int | None:
        return self._start_time

    def exited(self) -> Exit | None:
        return None if alive(self._pid, self._start_time) else Exit(recorded_exit(self._exit_file))

    def signal(self, sig: int) -> None:
        if alive(self._pid, self._start_time):
            _signal_group(self._pid, sig)


def recorded_exit(exit_file: Path | None) -> int | None:
    """The exit status the launch shell wrote to `exit_file`; None when there is none to read."""
    if exit_file is None:
        return None
    try:
        return int(exit_file.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22); None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[0]


def alive(pid: int, start_time: int | None) -> bool:
    """`pid` runs and is the same process (same start time) as recorded; zombies count as dead."""
    if Path("/proc").is_dir():
        state = _state(pid)
        if state is None or state in ("Z", "X"):
            return False
        return start_time is None or pid_start_time(pid) == start_time
    try:  # no /proc (macOS): the pid alone
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exit_reason(code: int | None, *, oom_killed: bool) -> ExitReason:
    """Completed (0), OOMKilled (137 and the group's OOM count rose), Killed (other 137), Error."""
    if code is None:
        return ExitReason.UNKNOWN
    if code == 0:
        return ExitReason.COMPLETED
    if code == SIGKILL_CODE:
        return ExitReason.OOM_KILLED if oom_killed else ExitReason.KILLED
    return ExitReason.ERROR


def last_exit(exit: Exit, *, oom_killed: bool, at: float) -> LastExit:
    return LastExit(code=exit.code, reason=exit_reason(exit.code, oom_killed=oom_killed), at=at)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill_group(pgid: int) -> None:
    _signal_group(pgid, signal.SIGKILL)

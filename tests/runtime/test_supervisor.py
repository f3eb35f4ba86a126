"""ReplicaSupervisor with real processes: `modelplane serve`, crashes, crash loops, probes, adoption."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from modelplane.runtime import NoCgroups, ReplicaSupervisor
from modelplane.spec.replica import ExitReason, ReplicaPhase
from tests.runtime.conftest import OffsetClock, free_port, make_replica, tick_until

SPEC = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel}
spec: {model: {format: simulated, params: {latencyMs: 5}}}
"""
FAST_PROBES = {"readiness": {"periodSeconds": 1}, "liveness": {"periodSeconds": 1}}
NO_PROBES = {"readiness": None, "liveness": None}


def serve_supervisor(tmp_path: Path, **kwargs: object) -> ReplicaSupervisor:
    spec = tmp_path / "accel.yaml"
    spec.write_text(SPEC)
    port = free_port()
    replica = make_replica("accel-1", port=port, probes=FAST_PROBES, graceSeconds=10)
    command = [sys.executable, "-m", "modelplane.cli.main", "serve", "-f", str(spec), "--port", str(port)]
    return ReplicaSupervisor(
        replica,
        command=command,
        log_path=tmp_path / "accel-1.log",
        cgroups=NoCgroups(),
        **kwargs,  # type: ignore[arg-type]
    )


def is_ready(status: object) -> bool:
    return getattr(status, "ready", False) is True


@pytest.mark.slow
def test_a_served_model_becomes_ready_restarts_after_kill_9_and_drains_on_stop(tmp_path: Path) -> None:
    supervisor = serve_supervisor(tmp_path)

    async def scenario() -> None:
        status = await tick_until(supervisor, is_ready, timeout=90, what="the replica to be ready")
        assert status.phase is ReplicaPhase.RUNNING and status.started and status.ready_since is not None
        assert status.restarts == 0 and status.pid is not None and status.pid_start_time is not None
        first_pid = status.pid

        os.kill(first_pid, signal.SIGKILL)
        status = await tick_until(supervisor, lambda s: s.restarts == 1, timeout=30, what="the restart")
        assert status.last_exit is not None
        assert (status.last_exit.reason, status.last_exit.code) == (ExitReason.KILLED, 137)
        assert status.pid not in (None, first_pid) and not status.ready
        status = await tick_until(supervisor, is_ready, timeout=90, what="the restarted replica to be ready")
        assert status.restarts == 1

        status = await supervisor.stop(supervisor.clock())
        assert status.phase is ReplicaPhase.TERMINATED and status.pid is None and not status.ready
        assert status.last_exit is not None
        assert (status.last_exit.reason, status.last_exit.code) == (ExitReason.COMPLETED, 0)

    asyncio.run(scenario())
    assert "listening" in (tmp_path / "accel-1.log").read_text()


@pytest.mark.slow
def test_adoption_keeps_a_live_process_and_its_pid(tmp_path: Path) -> None:
    first = serve_supervisor(tmp_path)

    async def scenario() -> None:
        status = await tick_until(first, is_ready, timeout=90, what="the replica to be ready")
        assert status.pid is not None and status.started_at is not None
        # The control plane restarts: a new supervisor finds the process from the stored status.
        second = ReplicaSupervisor(
            first.replica, command=first.command, log_path=first.log_path, cgroups=NoCgroups()
        )
        assert second.adopt(status.pid, status.pid_start_time, status.started_at, restarts=4)
        adopted = await tick_until(second, is_ready, timeout=10, what="the adopted replica to be ready")
        assert (adopted.pid, adopted.pid_start_time, adopted.restarts) == (
            status.pid,
            status.pid_start_time,
            4,
        )
        assert adopted.phase is ReplicaPhase.RUNNING and adopted.last_exit is None
        stopped = await second.stop(second.clock(), grace=10)
        assert stopped.phase is ReplicaPhase.TERMINATED
        assert (
            stopped.last_exit is not None and stopped.last_exit.reason is ExitReason.UNKNOWN
        )  # not our child

    asyncio.run(scenario())


def test_adopting_a_dead_process_restarts_it(tmp_path: Path) -> None:
    replica = make_replica(probes=NO_PROBES)
    supervisor = ReplicaSupervisor(
        replica, command=["sleep", "300"], log_path=tmp_path / "r1.log", cgroups=NoCgroups()
    )

    async def scenario() -> None:
        assert not supervisor.adopt(2**22 + 1, 12345, started_at=0.0, restarts=2)
        status = await supervisor.tick(supervisor.clock())
        assert status.restarts == 3 and status.pid is not None
        assert status.last_exit is not None and status.last_exit.reason is ExitReason.UNKNOWN
        await supervisor.stop(supervisor.clock(), grace=0)

    asyncio.run(scenario())


def test_a_crashing_command_loops_with_backoff_10_then_20_s(tmp_path: Path) -> None:
    clock = OffsetClock()
    supervisor = ReplicaSupervisor(
        make_replica(probes=NO_PROBES),
        command=[sys.executable, "-c", "raise SystemExit(1)"],
        log_path=tmp_path / "r1.log",
        cgroups=NoCgroups(),
        clock=clock,
    )

    def waiting(status: object) -> bool:
        return getattr(status, "waiting", None) is not None

    async def scenario() -> None:
        # First exit: restarted at once, as the kubelet does (no backoff entry yet).
        status = await tick_until(supervisor, lambda s: s.restarts == 1, timeout=30, what="the first restart")
        assert status.last_exit is not None and status.last_exit.reason is ExitReason.ERROR
        assert status.last_exit.code == 1 and status.waiting is None
        for restarts, delay in ((1, 10), (2, 20)):
            status = await tick_until(supervisor, waiting, timeout=30, what="CrashLoopBackOff")
            assert status.waiting is not None and status.last_exit is not None
            assert status.waiting.reason == "CrashLoopBackOff"
            assert status.waiting.until == pytest.approx(status.last_exit.at + delay)
            assert status.restarts == restarts and status.pid is None
            assert (await supervisor.tick(clock())).waiting is not None  # still waiting just before
            clock.offset += delay
            status = await supervisor.tick(clock())
            assert status.restarts == restarts + 1 and status.waiting is None
        await supervisor.stop(clock(), grace=0)

    asyncio.run(scenario())


def test_liveness_failure_kills_and_restarts_the_process(tmp_path: Path) -> None:
    failing_liveness: list[str] = []

    async def prober(port: int, path: str, *, timeout: float) -> bool:
        if path == "/v2/health/live":
            failing_liveness.append(path)
            return False
        return True

    clock = OffsetClock()
    replica = make_replica(probes={"liveness": {"periodSeconds": 1, "failureThreshold": 2}}, graceSeconds=5)
    supervisor = ReplicaSupervisor(
        replica,
        command=["sleep", "300"],
        log_path=tmp_path / "r1.log",
        cgroups=NoCgroups(),
        clock=clock,
        prober=prober,
    )

    async def scenario() -> None:
        status = await supervisor.tick(clock())  # starts the process and returns its pid at once
        assert status.pid is not None and not status.ready
        status = await supervisor.tick(clock())  # the first probes
        assert status.ready and status.phase is ReplicaPhase.RUNNING
        first_pid = status.pid
        clock.offset += 1
        status = await supervisor.tick(clock())  # second failure in a row: SIGTERM
        assert "liveness probe failed 2 time(s) in a row" in status.message and not status.ready
        status = await tick_until(supervisor, lambda s: s.restarts == 1, timeout=10, what="the restart")
        assert status.pid != first_pid and status.last_exit is not None
        assert (status.last_exit.reason, status.last_exit.code) == (ExitReason.ERROR, 143)  # sleep: SIGTERM
        await supervisor.stop(clock(), grace=0)

    asyncio.run(scenario())
    assert len(failing_liveness) >= 2


def test_stop_kills_after_the_grace_period_with_a_2_s_floor(tmp_path: Path) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
        "time.sleep(300)"
    )
    supervisor = ReplicaSupervisor(
        make_replica(probes=NO_PROBES),
        command=[sys.executable, "-c", script],
        log_path=tmp_path / "r1.log",
        cgroups=NoCgroups(),
    )

    async def scenario() -> None:
        await supervisor.tick(supervisor.clock())
        await tick_until(
            supervisor, lambda s: "up" in (tmp_path / "r1.log").read_text(), timeout=30, what="up"
        )
        began = supervisor.clock()
        status = await supervisor.stop(began, grace=0)
        assert supervisor.clock() - began >= 2.0  # minimumGracePeriod
        assert status.last_exit is not None
        assert (status.last_exit.reason, status.last_exit.code) == (ExitReason.KILLED, 137)
        assert status.phase is ReplicaPhase.TERMINATED

    asyncio.run(scenario())


def test_a_command_that_cannot_start_is_recorded_and_backs_off(tmp_path: Path) -> None:
    supervisor = ReplicaSupervisor(
        make_replica(probes=NO_PROBES),
        command=["true"],
        log_path=tmp_path / "r1.log",
        cgroups=NoCgroups(),
        cwd=tmp_path / "missing",
    )

    async def scenario() -> None:
        status = await supervisor.tick(supervisor.clock())
        assert status.last_exit is not None and status.last_exit.code == 128
        assert "working directory" in status.message and status.pid is None

    asyncio.run(scenario())


def job_supervisor(tmp_path: Path, script: str, policy: str) -> ReplicaSupervisor:
    replica = make_replica("job-1", probes=NO_PROBES, restartPolicy=policy)
    return ReplicaSupervisor(
        replica,
        command=["sh", "-c", script],
        log_path=tmp_path / "job-1.log",
        cgroups=NoCgroups(),
        cwd=tmp_path,
    )


def finished(status: object) -> bool:
    return getattr(status, "phase", None) in (ReplicaPhase.SUCCEEDED, ReplicaPhase.FAILED)


@pytest.mark.parametrize(
    ("policy", "code", "phase", "restarts"),
    [
        ("Never", 0, ReplicaPhase.SUCCEEDED, 0),
        ("Never", 3, ReplicaPhase.FAILED, 0),  # not restarted: the Job controller decides what next
        ("OnFailure", 0, ReplicaPhase.SUCCEEDED, 0),
    ],
)
def test_a_job_replica_ends_succeeded_or_failed_by_its_restart_policy(
    tmp_path: Path, policy: str, code: int, phase: ReplicaPhase, restarts: int
) -> None:
    async def scenario() -> None:
        supervisor = job_supervisor(tmp_path, f"exit {code}", policy)
        status = await tick_until(supervisor, finished, timeout=15, what="the process to end")
        assert status.phase is phase and status.restarts == restarts and status.pid is None
        assert status.last_exit is not None and status.last_exit.code == code
        assert (await supervisor.tick(supervisor.clock())).phase is phase  # for good: never restarted
        stopped = await supervisor.stop(supervisor.clock())
        assert stopped.phase is ReplicaPhase.TERMINATED

    asyncio.run(scenario())


def test_on_failure_restarts_in_place_until_the_command_succeeds(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = "if [ -f tried ]; then exit 0; else touch tried; exit 1; fi"
        supervisor = job_supervisor(tmp_path, script, "OnFailure")
        status = await tick_until(supervisor, finished, timeout=15, what="the second try to succeed")
        assert status.phase is ReplicaPhase.SUCCEEDED and status.restarts == 1  # the first restart is at once

    asyncio.run(scenario())


@pytest.mark.parametrize(("code", "phase"), [(0, ReplicaPhase.SUCCEEDED), (3, ReplicaPhase.FAILED)])
def test_an_adopted_job_replica_ends_by_its_real_exit_status(
    tmp_path: Path, code: int, phase: ReplicaPhase
) -> None:
    """After a control-plane restart the process is not our child: its status comes from its exit file,
    so a training run that succeeded is not counted as a failure (nor run again)."""

    async def scenario() -> None:
        first = job_supervisor(tmp_path, f"sleep 1; exit {code}", "Never")
        running = await tick_until(first, lambda s: s.pid is not None, timeout=15, what="the start")
        assert running.pid is not None
        adopting = job_supervisor(tmp_path, f"sleep 1; exit {code}", "Never")  # the next control plane
        assert adopting.adopt(running.pid, running.pid_start_time, running.started_at or 0.0, 0)
        status = await tick_until(adopting, finished, timeout=15, what="the adopted process to end")
        assert status.phase is phase and status.last_exit is not None and status.last_exit.code == code

    asyncio.run(scenario())


def test_a_job_replica_that_ended_while_the_control_plane_was_down_keeps_its_status(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = job_supervisor(tmp_path, "exit 0", "Never")
        running = await tick_until(first, lambda s: s.pid is not None, timeout=15, what="the start")
        assert running.pid is not None
        exit_file = tmp_path / "job-1.exit"
        deadline = time.monotonic() + 15
        while not exit_file.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        adopting = job_supervisor(tmp_path, "exit 0", "Never")
        assert not adopting.adopt(running.pid, running.pid_start_time, running.started_at or 0.0, 0)
        status = await adopting.tick(adopting.clock())
        assert status.phase is ReplicaPhase.SUCCEEDED and status.restarts == 0

    asyncio.run(scenario())


def test_sigterm_reaches_the_job_command_and_its_own_status_is_recorded(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = "trap 'echo stopping; exit 7' TERM; while :; do sleep 0.1; done"
        supervisor = job_supervisor(tmp_path, script, "Never")
        await tick_until(supervisor, lambda s: s.pid is not None, timeout=15, what="the start")
        await asyncio.sleep(0.3)  # the trap is set up by the command itself; give it a moment
        stopped = await supervisor.stop(supervisor.clock(), grace=5)
        assert stopped.last_exit is not None and stopped.last_exit.code == 7  # not the shell's 143
        assert "stopping" in (tmp_path / "job-1.log").read_text()

    asyncio.run(scenario())


def test_a_loading_replica_is_probed_every_50_ms_one_probe_at_a_time_within_a_bounded_tick(
    tmp_path: Path,
) -> None:
    readiness_at: list[float] = []
    in_flight = [0, 0]  # now, most ever
    loaded_after = 10  # the 10th readiness probe passes

    async def prober(port: int, path: str, *, timeout: float) -> bool:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0.005)
        in_flight[0] -= 1
        if path == "/v2/health/ready":
            readiness_at.append(time.monotonic())
            return len(readiness_at) >= loaded_after
        return True

    replica = make_replica(probes={"readiness": {"periodSeconds": 10}, "liveness": None})
    supervisor = ReplicaSupervisor(
        replica, command=["sleep", "300"], log_path=tmp_path / "r1.log", cgroups=NoCgroups(), prober=prober
    )

    async def scenario() -> None:
        started = await supervisor.tick(supervisor.clock())
        assert started.pid is not None and not started.ready
        began = time.monotonic()
        status = await supervisor.tick(supervisor.clock())  # one tick: probes until ready
        took = time.monotonic() - began
        assert status.ready and len(readiness_at) == loaded_after
        assert status.ready_after_seconds is not None and status.ready_after_seconds < 2
        gaps = [b - a for a, b in itertools.pairwise(readiness_at)]
        assert min(gaps) >= 0.045 and took < 2  # every 50 ms, not in a busy loop
        assert in_flight[1] == 1
        assert supervisor.wake_at(supervisor.clock()) >= supervisor.clock() + 0.9  # ready: back to 1 s
        await supervisor.stop(supervisor.clock(), grace=0)

    asyncio.run(scenario())


def test_a_tick_of_a_replica_that_never_gets_ready_returns_within_about_a_second(tmp_path: Path) -> None:
    async def never_ready(port: int, path: str, *, timeout: float) -> bool:
        return path != "/v2/health/ready"

    replica = make_replica(probes={"readiness": {"periodSeconds": 10}})
    supervisor = ReplicaSupervisor(
        replica,
        command=["sleep", "300"],
        log_path=tmp_path / "r1.log",
        cgroups=NoCgroups(),
        prober=never_ready,
    )

    async def scenario() -> None:
        await supervisor.tick(supervisor.clock())
        began = time.monotonic()
        status = await supervisor.tick(supervisor.clock())
        assert not status.ready and status.pid is not None and status.ready_after_seconds is None
        assert 0.9 <= time.monotonic() - began < 1.5  # the owner still hears from it every second
        await supervisor.stop(supervisor.clock(), grace=0)

    asyncio.run(scenario())

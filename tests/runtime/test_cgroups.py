"""cgroup limits: the values written (v2 and v1 on fake trees), detection, and real limits on this machine."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from modelplane.runtime import (
    CgroupV1,
    CgroupV2,
    CgroupVersion,
    Limits,
    NoCgroups,
    ReplicaSupervisor,
    cpu_quota_us,
    cpu_shares,
    cpu_weight,
    detect_cgroups,
)
from modelplane.runtime.cgroups import v1_mounts
from modelplane.spec.replica import ExitReason
from tests.runtime.conftest import make_replica, tick_until

ALLOCATE_300MI = "import time\nchunks = [b'x' * (1 << 20) for _ in range(300)]\ntime.sleep(60)\n"
BUSY = "while True: pass\n"


@pytest.mark.parametrize(
    ("millis", "shares", "weight", "quota"),
    [
        (None, 2, 1, None),
        (1, 2, 1, 1000),
        (100, 102, 4, 10_000),
        (500, 512, 20, 50_000),
        (1000, 1024, 39, 100_000),
        (2500, 2560, 98, 250_000),
    ],
)
def test_cpu_values_are_kubernetes_conversions(
    millis: int | None, shares: int, weight: int, quota: int | None
) -> None:
    assert cpu_shares(millis) == shares
    assert cpu_weight(millis) == weight
    assert cpu_quota_us(millis) == quota


def _fake_v2(tmp_path: Path) -> CgroupV2:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    (tmp_path / "modelplane").mkdir()
    (tmp_path / "modelplane" / "cgroup.subtree_control").write_text("")  # a real kernel makes these
    manager = CgroupV2(tmp_path, parent="modelplane")
    manager.setup()
    return manager


def test_v2_writes_memory_max_cpu_max_and_weight(tmp_path: Path) -> None:
    manager = _fake_v2(tmp_path)
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +cpu"
    group = tmp_path / "modelplane" / "default.r1"
    group.mkdir()
    (group / "memory.swap.max").write_text("max")
    procs = manager.create(
        "default.r1", Limits(memory_bytes=100 << 20, cpu_millis=500, cpu_request_millis=250)
    )
    assert procs == [group / "cgroup.procs"]
    assert (group / "memory.max").read_text() == str(100 << 20)
    assert (group / "memory.swap.max").read_text() == "0"
    assert (group / "cpu.max").read_text() == "50000 100000"
    assert (group / "cpu.weight").read_text() == str(cpu_weight(250))


def test_v2_unlimited_and_reading_oom_and_usage(tmp_path: Path) -> None:
    manager = _fake_v2(tmp_path)
    manager.create("default.r1", Limits())
    group = tmp_path / "modelplane" / "default.r1"
    assert (group / "memory.max").read_text() == "max"
    assert (group / "cpu.max").read_text() == "max 100000"
    (group / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\n")
    (group / "memory.current").write_text("1048576\n")
    (group / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nnr_periods 50\nnr_throttled 7\n")
    usage = manager.usage("default.r1")
    assert (usage.oom_kills, usage.memory_bytes, usage.cpu_seconds, usage.throttled_periods) == (
        2,
        1 << 20,
        2.5,
        7,
    )


def test_v1_writes_limit_in_bytes_cfs_quota_and_shares(tmp_path: Path) -> None:
    mounts = {c: tmp_path / c for c in ("memory", "cpu", "cpuacct")}
    for path in mounts.values():
        path.mkdir()
    manager = CgroupV1(mounts, parent="modelplane")
    manager.setup()
    procs = manager.create(
        "default.r1", Limits(memory_bytes=1 << 30, cpu_millis=1500, cpu_request_millis=500)
    )
    assert procs == [
        mounts[c] / "modelplane" / "default.r1" / "cgroup.procs" for c in ("memory", "cpu", "cpuacct")
    ]
    memory, cpu = mounts["memory"] / "modelplane" / "default.r1", mounts["cpu"] / "modelplane" / "default.r1"
    assert (memory / "memory.limit_in_bytes").read_text() == str(1 << 30)
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000"
    assert (cpu / "cpu.cfs_quota_us").read_text() == "150000"
    assert (cpu / "cpu.shares").read_text() == "512"
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    assert manager.oom_kills("default.r1") == 3
    manager.create("default.r1", Limits())
    assert (memory / "memory.limit_in_bytes").read_text() == "-1"
    assert (cpu / "cpu.cfs_quota_us").read_text() == "-1"
    assert (cpu / "cpu.shares").read_text() == "2"


def test_v1_mounts_are_read_from_mountinfo(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
        "31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/unified rw,nosuid shared:12 - cgroup2 cgroup2 rw\n"
        "33 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
    )
    assert v1_mounts(mountinfo) == {
        "cpu": Path("/sys/fs/cgroup/cpu,cpuacct"),
        "cpuacct": Path("/sys/fs/cgroup/cpu,cpuacct"),
        "memory": Path("/sys/fs/cgroup/memory"),
    }


def test_without_cgroups_detection_warns_and_enforces_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "mountinfo").write_text("33 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n")
    with caplog.at_level(logging.WARNING):
        manager = detect_cgroups(root=tmp_path, mountinfo=tmp_path / "mountinfo")
    assert isinstance(manager, NoCgroups) and not manager.enforced
    assert manager.version is CgroupVersion.NONE
    assert [r.message for r in caplog.records if "NOT enforced" in r.message]


def test_read_only_v2_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu io pids\n")  # no memory controller delegated
    with caplog.at_level(logging.WARNING):
        manager = detect_cgroups(root=tmp_path)
    assert isinstance(manager, NoCgroups) and "memory" in manager.reason


def test_without_cgroups_memory_falls_back_to_rlimit_as(tmp_path: Path) -> None:
    replica = make_replica(
        resources={"limits": {"memory": "100Mi"}}, probes={"readiness": None, "liveness": None}
    )
    supervisor = ReplicaSupervisor(
        replica,
        command=[sys.executable, "-c", ALLOCATE_300MI],
        log_path=tmp_path / "r1.log",
        cgroups=NoCgroups(),
    )

    async def scenario() -> None:
        status = await tick_until(supervisor, lambda s: s.last_exit is not None, timeout=60, what="the exit")
        assert status.last_exit is not None
        assert (status.last_exit.reason, status.last_exit.code) == (ExitReason.ERROR, 1)
        assert status.limits_enforced is False
        await supervisor.stop(supervisor.clock(), grace=0)

    asyncio.run(scenario())
    assert "MemoryError" in (tmp_path / "r1.log").read_text()


# On this machine's real cgroups


@pytest.mark.slow
def test_a_replica_over_its_memory_limit_is_oom_killed_with_137(
    tmp_path: Path, real_cgroups: CgroupV1 | CgroupV2
) -> None:
    replica = make_replica(
        resources={"limits": {"memory": "100Mi"}}, probes={"readiness": None, "liveness": None}
    )
    supervisor = ReplicaSupervisor(
        replica,
        command=[sys.executable, "-c", ALLOCATE_300MI],
        log_path=tmp_path / "r1.log",
        cgroups=real_cgroups,
    )

    async def scenario() -> None:
        status = await tick_until(
            supervisor, lambda s: s.last_exit is not None, timeout=60, what="the OOM kill"
        )
        assert status.last_exit is not None
        assert (status.last_exit.reason, status.last_exit.code) == (ExitReason.OOM_KILLED, 137)
        assert status.limits_enforced is True
        assert status.restarts == 1  # restarted (at once, the first time), like any crash
        await supervisor.stop(supervisor.clock(), grace=0)

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_busy_replica_over_its_cpu_limit_is_throttled_not_killed(
    tmp_path: Path, real_cgroups: CgroupV1 | CgroupV2
) -> None:
    replica = make_replica(
        resources={"limits": {"cpu": "100m"}}, probes={"readiness": None, "liveness": None}
    )
    log_path = tmp_path / "r1.log"
    command = [sys.executable, "-c", f"print(open('/proc/self/cgroup').read(), flush=True)\n{BUSY}"]
    supervisor = ReplicaSupervisor(replica, command=command, log_path=log_path, cgroups=real_cgroups)

    async def scenario() -> None:
        status = await supervisor.tick(supervisor.clock())
        pid = status.pid
        deadline = supervisor.clock() + 30
        # Throttling starts during the interpreter's start-up (100m is slow), so first wait for its
        # first line, then for throttling of the busy loop that follows it.
        while "default.r1" not in log_path.read_text():
            assert supervisor.clock() < deadline, "the replica never printed its cgroup"
            await asyncio.sleep(0.05)
        throttled = supervisor.usage().throttled_periods or 0
        while (supervisor.usage().throttled_periods or 0) < throttled + 3:
            assert supervisor.clock() < deadline, "the busy replica was never throttled"
            await asyncio.sleep(0.05)
        status = await supervisor.tick(supervisor.clock())
        assert status.pid == pid and status.last_exit is None  # still the same, running process
        assert status.limits_enforced is True
        await supervisor.stop(supervisor.clock(), grace=0)

    asyncio.run(scenario())
    # The process was in its group from its first line of Python on.
    assert "modelplane-test-" in log_path.read_text()

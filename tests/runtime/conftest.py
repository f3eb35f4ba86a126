"""Helpers for the runtime tests: replicas, real cgroups under a throwaway parent, async polling."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from modelplane.runtime import CgroupV1, CgroupV2, NoCgroups, ReplicaSupervisor, detect_cgroups
from modelplane.spec.replica import Replica, ReplicaStatus


def make_replica(name: str = "r1", *, port: int = 0, **spec: Any) -> Replica:
    """A replica as the controller and scheduler would hand it to the runtime (camelCase spec keys)."""
    return Replica.model_validate(
        {
            "name": name,
            "spec": {"deployment": "accel", "revision": "abc123", "version": "v1", "port": port, **spec},
            "status": {"phase": "Scheduled"},
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OffsetClock:
    """Wall time plus an offset the test moves forward, so backoffs pass without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def tick_until(
    supervisor: ReplicaSupervisor,
    condition: Callable[[ReplicaStatus], bool],
    *,
    timeout: float,
    what: str,
) -> ReplicaStatus:
    """Tick (at the supervisor's clock) until `condition` holds; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        status = await supervisor.tick(supervisor.clock())
        if condition(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last status {status!r}")
        await asyncio.sleep(0.05)


@pytest.fixture
def real_cgroups() -> Iterator[CgroupV1 | CgroupV2]:
    """The machine's cgroups under a parent of this test run; skipped where none is writable."""
    parent = f"modelplane-test-{os.getpid()}"
    manager = detect_cgroups(parent=parent)
    if isinstance(manager, NoCgroups):
        pytest.skip(f"no writable cgroup here ({manager.reason}); limits cannot be tested")
    yield manager
    parents = (
        [manager.base] if isinstance(manager, CgroupV2) else [m / parent for m in manager.mounts.values()]
    )
    for path in parents:
        for child in path.iterdir() if path.is_dir() else []:
            if child.is_dir():
                child.rmdir()
        if path.is_dir():
            path.rmdir()

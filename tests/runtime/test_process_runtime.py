"""The process runtime's bookkeeping: ports, serve files, adoption of what an earlier control plane
left (the process lifecycle itself is tested in test_supervisor.py)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from modelplane.runtime import NoCgroups, ProcessRuntime
from modelplane.runtime.process_runtime import PORT_RANGE
from modelplane.spec.replica import ReplicaPhase
from tests.runtime.conftest import make_replica


def test_start_gives_a_free_port_and_writes_the_serve_file_forget_removes_it(tmp_path: Path) -> None:
    runtime = ProcessRuntime(state_dir=tmp_path, cgroups=NoCgroups())
    started = runtime.start(make_replica("r1"), taken_ports=set(range(PORT_RANGE[0], PORT_RANGE[1] - 5)))
    assert PORT_RANGE[1] - 5 <= started.spec.port < PORT_RANGE[1]
    serve_file = tmp_path / "replicas" / "default.r1.yaml"
    assert serve_file.exists()
    assert runtime.status(("default", "r1")) is not None and not runtime.running(("default", "r1"))
    runtime.forget(("default", "r1"))
    assert not serve_file.exists() and runtime.status(("default", "r1")) is None


def test_a_replica_left_terminating_is_adopted_and_drained(tmp_path: Path) -> None:
    """A control plane that died mid-drain: the next one takes the process over and stops it."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        replica = make_replica("r1", port=25000)
        status = replica.status.model_copy(update={"phase": ReplicaPhase.TERMINATING, "pid": process.pid})
        replica = replica.model_copy(update={"status": status})
        runtime = ProcessRuntime(state_dir=tmp_path, cgroups=NoCgroups())
        assert runtime.adopt(replica, now=1.0) is True
        assert runtime.running(("default", "r1"))
        stopped = asyncio.run(runtime.stop(("default", "r1"), now=2.0))
        assert stopped.phase is ReplicaPhase.TERMINATED
        assert process.wait(timeout=10) is not None
    finally:
        process.kill()
        process.wait()


def test_a_replica_whose_process_is_gone_is_not_adopted(tmp_path: Path) -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    replica = make_replica("r1", port=25000)
    replica = replica.model_copy(update={"status": replica.status.model_copy(update={"pid": process.pid})})
    runtime = ProcessRuntime(state_dir=tmp_path, cgroups=NoCgroups())
    assert runtime.adopt(replica, now=1.0) is False
    assert not runtime.running(("default", "r1"))

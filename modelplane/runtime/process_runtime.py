"""`ProcessRuntime`: replicas as OS processes, one `ReplicaSupervisor` each (the `ReplicaRuntime`
of a real control plane).

A model-serving replica runs `modelplane serve -f <serve file> --port <port>`; its serve file (the
deployment's template as a ModelDeployment document) lives in `<state>/replicas/`, its log in
`<state>/logs/`. A Job's replica runs the Job's command. Ports come from below Linux's ephemeral
range, so the router's own outgoing connections never take a port a replica is about to bind.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import time
from collections.abc import Iterable, Set
from pathlib import Path

import yaml

from modelplane.runtime.cgroups import Cgroups, Usage, detect_cgroups
from modelplane.runtime.protocol import Key, key_of
from modelplane.runtime.supervisor import Clock, ReplicaSupervisor
from modelplane.spec import API_VERSION
from modelplane.spec.replica import Replica, ReplicaPhase, ReplicaStatus
from modelplane.store import private_dir, write_private

PORT_RANGE = (20000, 32000)


def free_port(taken: Set[int], rng: random.Random) -> int:
    """A port no replica was given and nobody listens on (tried by binding it): from a random place
    in the range onwards, so that it is found however full the range is."""
    low, high = PORT_RANGE
    first = rng.randrange(low, high)
    for offset in range(high - low):
        port = low + (first - low + offset) % (high - low)
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(
        f"no free port in {low}-{high} for a replica: every port is taken by a replica or another "
        "program; delete some replicas"
    )


def log_path(state_dir: Path, namespace: str, name: str) -> Path:
    """Where a replica's stdout and stderr go (read by `modelplane logs`)."""
    return state_dir / "logs" / f"{namespace}.{name}.log"


def serve_file(state_dir: Path, namespace: str, name: str) -> Path:
    """The ModelDeployment document a model-serving replica's `modelplane serve` reads."""
    return state_dir / "replicas" / f"{namespace}.{name}.yaml"


def job_command(replica: Replica) -> tuple[list[str], Path | None, dict[str, str]]:
    """A Job replica's argv, directory and environment. `python`/`python3` as the program means the
    Python that runs modelplane (with its packages), as the image's python would in a container.
    The environment is PATH, HOME and LANG of the control plane (an image's defaults) plus `env`."""
    template = replica.spec.template
    command = [str(part) for part in template.get("command") or []]
    if command and command[0] in ("python", "python3"):
        command[0] = sys.executable
    inherited = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env = {**inherited, **{str(k): str(v) for k, v in (template.get("env") or {}).items()}}
    cwd = Path(replica.spec.working_dir) if replica.spec.working_dir else None
    return command, cwd, env


class ProcessRuntime:
    """Replicas as processes on this machine; see `ReplicaRuntime` for the contract."""

    def __init__(
        self,
        *,
        state_dir: Path,
        cgroups: Cgroups | None = None,
        clock: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.cgroups = cgroups if cgroups is not None else detect_cgroups()
        self.clock = clock
        self._rng = rng or random.Random()
        self._supervisors: dict[Key, ReplicaSupervisor] = {}
        private_dir(state_dir / "logs")
        private_dir(state_dir / "replicas")

    def start(self, replica: Replica, *, taken_ports: Set[int]) -> Replica:
        if replica.spec.port == 0 and not replica.spec.job:
            spec = replica.spec.model_copy(update={"port": free_port(taken_ports, self._rng)})
            replica = replica.model_copy(update={"spec": spec})
        self._supervise(replica)
        return replica

    def adopt(self, replica: Replica, *, now: float) -> bool:
        status = replica.status
        if status.phase is ReplicaPhase.TERMINATING:
            # found while being drained: taken over as running, so that `stop` drains it again
            replica = replica.model_copy(
                update={"status": status.model_copy(update={"phase": ReplicaPhase.RUNNING})}
            )
        supervisor = self._supervise(replica)
        if status.pid is None:
            return False
        return supervisor.adopt(status.pid, status.pid_start_time, status.started_at or now, status.restarts)

    async def probe(self, key: Key, *, now: float) -> ReplicaStatus:
        return await self._supervisors[key].tick(now)

    def wake_at(self, key: Key, *, now: float) -> float:
        return self._supervisors[key].wake_at(now)

    async def stop(self, key: Key, *, now: float) -> ReplicaStatus:
        return await self._supervisors[key].stop(now)

    def usage(self, key: Key) -> Usage:
        return self._supervisors[key].usage()

    def status(self, key: Key) -> ReplicaStatus | None:
        supervisor = self._supervisors.get(key)
        return supervisor.status if supervisor is not None else None

    def running(self, key: Key) -> bool:
        supervisor = self._supervisors.get(key)
        return supervisor is not None and supervisor.pid is not None

    def held(self) -> Iterable[Key]:
        return list(self._supervisors)

    def forget(self, key: Key) -> None:
        self._supervisors.pop(key, None)
        serve_file(self.state_dir, *key).unlink(missing_ok=True)

    def _supervise(self, replica: Replica) -> ReplicaSupervisor:
        if replica.spec.job:
            command, cwd, env = job_command(replica)
        else:
            spec_file = self._write_serve_file(replica)
            command = [
                sys.executable,
                "-m",
                "modelplane.cli.main",
                "serve",
                "-f",
                str(spec_file),
                "--port",
                str(replica.spec.port),
                "--grace-period",
                str(replica.spec.grace_seconds),
            ]
            cwd, env = self.state_dir, {}
        supervisor = ReplicaSupervisor(
            replica,
            command=command,
            log_path=log_path(self.state_dir, replica.namespace, replica.name),
            cgroups=self.cgroups,
            clock=self.clock,
            cwd=cwd,
            env=env,
        )
        self._supervisors[key_of(replica)] = supervisor
        return supervisor

    def _write_serve_file(self, replica: Replica) -> Path:
        path = serve_file(self.state_dir, replica.namespace, replica.name)
        document = {
            "apiVersion": API_VERSION,
            "kind": "ModelDeployment",
            "metadata": {"name": replica.spec.deployment, "namespace": replica.namespace},
            "spec": replica.spec.template,
        }
        write_private(path, yaml.safe_dump(document, sort_keys=False))
        return path

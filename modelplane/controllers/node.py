"""The node agent (the kubelet's loop): runs the scheduled replicas of this machine.

Every 0.1 s it reads the Replica objects fresh from the store and, for each one placed on a pool:
gives it a port and a serve file, ticks its `ReplicaSupervisor` (start, probes, restarts with
CrashLoopBackOff), and writes the status back when it changed. A replica marked for deletion is
drained: its endpoint is already `terminating` (the router stops sending), then SIGTERM, the grace
period, SIGKILL, and the object is removed. On start, `adopt` finds the replicas whose process is
still alive (pid + start time from the store) and keeps them without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from pathlib import Path

import yaml

from modelplane.controllers.objects import dump, replica_of
from modelplane.runtime import Cgroups, ReplicaSupervisor, detect_cgroups
from modelplane.spec import API_VERSION
from modelplane.spec.replica import Replica, ReplicaPhase
from modelplane.store import EventType, NotFound, Store, StoredObject

log = logging.getLogger("modelplane.node")

Key = tuple[str, str]
USAGE_PERIOD_S = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeAgent:
    def __init__(self, store: Store, *, state_dir: Path, cgroups: Cgroups | None = None) -> None:
        self.store = store
        self.state_dir = state_dir
        self.cgroups = cgroups if cgroups is not None else detect_cgroups()
        self.supervisors: dict[Key, ReplicaSupervisor] = {}
        self._usage_seen: dict[Key, tuple[float, float | None, dict[str, object] | None]] = {}
        self.stopping: dict[Key, asyncio.Task[None]] = {}
        (state_dir / "logs").mkdir(parents=True, exist_ok=True)
        (state_dir / "replicas").mkdir(parents=True, exist_ok=True)

    async def adopt(self, *, now: float) -> None:
        """After a control-plane restart: keep every replica whose process still runs."""
        for stored in self.store.list("Replica"):
            replica = replica_of(stored)
            status = replica.status
            if replica.spec.pool is None or status.pid is None:
                continue
            supervisor = self._supervisor(replica)
            kept = supervisor.adopt(
                status.pid, status.pid_start_time, status.started_at or now, status.restarts
            )
            log.info("replica %s: %s", replica.name, "adopted, still running" if kept else "gone; restarting")

    async def tick(self, *, now: float) -> None:
        stored = self.store.list("Replica")
        present = {(s.namespace, s.name) for s in stored}
        ticking = []
        for obj in stored:
            replica = replica_of(obj)
            key = (replica.namespace, replica.name)
            if key in self.stopping:
                continue
            if replica.deletion_timestamp is not None:
                self._begin_stop(obj, replica, now=now)
            elif replica.spec.pool is not None:
                ticking.append(self._tick_one(obj, replica, now=now))
        if ticking:
            await asyncio.gather(*ticking)
        for key in [k for k in self.supervisors if k not in present and k not in self.stopping]:
            supervisor = self.supervisors.pop(key)
            self.stopping[key] = asyncio.create_task(self._stop(key, supervisor, remove=False))

    async def stop_all(self, *, now: float) -> None:
        """`modelplane down`: drain every replica and forget them."""
        for obj in self.store.list("Replica"):
            try:
                self.store.mark_deleted("Replica", obj.namespace, obj.name, now=now)
            except NotFound:
                continue
        await self.tick(now=now)
        if self.stopping:
            await asyncio.gather(*self.stopping.values(), return_exceptions=True)

    async def _tick_one(self, obj: StoredObject, replica: Replica, *, now: float) -> None:
        supervisor = self.supervisors.get((replica.namespace, replica.name))
        if supervisor is None:
            if replica.spec.port == 0:
                spec = replica.spec.model_copy(update={"port": free_port()})
                obj = self.store.update(
                    "Replica", replica.namespace, replica.name, spec=dump(spec), expected_rv=None, now=now
                )
                replica = replica_of(obj)
            supervisor = self._supervisor(replica)
        status = await supervisor.tick(now)
        data = dump(status)
        data["usage"] = self._usage((replica.namespace, replica.name), supervisor, now=now)
        if data != obj.status:
            self.store.update_status("Replica", replica.namespace, replica.name, data, now=now)
            self._events(replica, before=obj.status, after=data, now=now)

    def _usage(self, key: Key, supervisor: ReplicaSupervisor, *, now: float) -> dict[str, object] | None:
        """CPU (millicores, averaged since the last reading) and memory, re-measured every 2 s so
        that usage alone does not rewrite the status on every tick."""
        seen = self._usage_seen.get(key)
        if seen is not None and now - seen[0] < USAGE_PERIOD_S:
            return seen[2]
        usage = supervisor.usage()
        if usage.memory_bytes is None and usage.cpu_seconds is None:
            return None
        cpu_millis = None
        if seen is not None and seen[1] is not None and usage.cpu_seconds is not None:
            cpu_millis = max(int((usage.cpu_seconds - seen[1]) * 1000 / (now - seen[0])), 0)
        measured: dict[str, object] = {
            "cpuMillis": cpu_millis,
            "memoryBytes": usage.memory_bytes,
            "measuredAt": now,
        }
        self._usage_seen[key] = (now, usage.cpu_seconds, measured)
        return measured

    def _supervisor(self, replica: Replica) -> ReplicaSupervisor:
        key = (replica.namespace, replica.name)
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
        supervisor = ReplicaSupervisor(
            replica,
            command=command,
            log_path=self.state_dir / "logs" / f"{replica.name}.log",
            cgroups=self.cgroups,
            cwd=self.state_dir,
        )
        self.supervisors[key] = supervisor
        return supervisor

    def _write_serve_file(self, replica: Replica) -> Path:
        path = self.state_dir / "replicas" / f"{replica.namespace}.{replica.name}.yaml"
        document = {
            "apiVersion": API_VERSION,
            "kind": "ModelDeployment",
            "metadata": {"name": replica.spec.deployment, "namespace": replica.namespace},
            "spec": replica.spec.template,
        }
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def _begin_stop(self, obj: StoredObject, replica: Replica, *, now: float) -> None:
        key = (replica.namespace, replica.name)
        supervisor = self.supervisors.pop(key, None)
        if supervisor is None:  # never started here: nothing to drain
            self._forget(key)
            return
        if obj.status.get("phase") != ReplicaPhase.TERMINATING:
            status = supervisor.status.model_copy(update={"phase": ReplicaPhase.TERMINATING, "ready": False})
            self.store.update_status("Replica", replica.namespace, replica.name, dump(status), now=now)
        self.stopping[key] = asyncio.create_task(self._stop(key, supervisor, remove=True))

    async def _stop(self, key: Key, supervisor: ReplicaSupervisor, *, remove: bool) -> None:
        try:
            await supervisor.stop(time.time())
        except Exception:
            log.exception("replica %s/%s: stopping failed", *key)
        finally:
            self.stopping.pop(key, None)
            if remove:
                self._forget(key)

    def _forget(self, key: Key) -> None:
        namespace, name = key
        with contextlib.suppress(NotFound):
            self.store.remove("Replica", namespace, name)
        (self.state_dir / "replicas" / f"{namespace}.{name}.yaml").unlink(missing_ok=True)

    def _events(
        self, replica: Replica, *, before: dict[str, object], after: dict[str, object], now: float
    ) -> None:
        ref = {"kind": "Replica", "namespace": replica.namespace, "name": replica.name}
        if after.get("pid") and after.get("pid") != before.get("pid"):
            self.store.record_event(
                **ref, type="Normal", reason="Started", message=f"Started process {after['pid']}", now=now
            )
        if after.get("ready") != before.get("ready") and before:
            message = (
                "Readiness probe succeeded"
                if after.get("ready")
                else "Readiness probe failed or process exited"
            )
            kind: EventType = "Normal" if after.get("ready") else "Warning"
            self.store.record_event(
                **ref,
                type=kind,
                reason="Ready" if after.get("ready") else "Unhealthy",
                message=message,
                now=now,
            )
        last = after.get("lastExit")
        if last and last != before.get("lastExit") and isinstance(last, dict):
            self.store.record_event(
                **ref,
                type="Warning",
                reason="BackOff" if last.get("reason") != "Completed" else "Completed",
                message=f"Process exited: {last.get('reason')} (exit code {last.get('code')})",
                now=now,
            )
        waiting = after.get("waiting")
        if (
            isinstance(waiting, dict)
            and waiting.get("reason") == "CrashLoopBackOff"
            and waiting != before.get("waiting")
        ):
            self.store.record_event(
                **ref,
                type="Warning",
                reason="BackOff",
                message=f"Back-off restarting failed replica {replica.name}",
                now=now,
            )

"""The node agent (the kubelet's loop): runs the scheduled replicas of this machine.

Every 0.1 s it reads the Replica objects fresh from the store. Each scheduled replica gets a port,
a serve file and a `ReplicaSupervisor`, and a tick of its own (a task per replica, never two at
once for one replica, so a slow probe of one replica never delays another); the status it returns
is written back when it changed. A replica marked for deletion is drained — its endpoint is already
`terminating`, so the router stops sending — then SIGTERM, the grace period, SIGKILL, and only once
its process is gone is the object removed. On start, `adopt` keeps every replica whose process is
still alive (pid + start time from the store); one that was being deleted is drained. Every task
this agent starts is owned here and ended by `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import sys
import time
from pathlib import Path

import yaml

from modelplane.controllers.objects import dump, replica_of
from modelplane.runtime import Cgroups, ReplicaSupervisor, detect_cgroups
from modelplane.runtime.processes import alive
from modelplane.spec import API_VERSION
from modelplane.spec.replica import FINISHED_PHASES, Replica, ReplicaPhase
from modelplane.store import EventType, NotFound, Store, StoredObject

log = logging.getLogger("modelplane.node")

Key = tuple[str, str]
USAGE_PERIOD_S = 5.0
ENDPOINT_PROPAGATION_S = 1.0
# Replica ports come from below Linux's ephemeral range (32768-60999), so the router's own outgoing
# connections never take a port a replica is about to bind.
PORT_RANGE = (20000, 32000)


def free_port(taken: set[int], rng: random.Random) -> int:
    for _ in range(200):
        port = rng.randrange(*PORT_RANGE)
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {PORT_RANGE[0]}-{PORT_RANGE[1]} for a replica")


def log_path(state_dir: Path, namespace: str, name: str) -> Path:
    """Where a replica's stdout and stderr go (read by `modelplane logs`)."""
    return state_dir / "logs" / f"{namespace}.{name}.log"


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


class NodeAgent:
    def __init__(self, store: Store, *, state_dir: Path, cgroups: Cgroups | None = None) -> None:
        self.store = store
        self.state_dir = state_dir
        self.cgroups = cgroups if cgroups is not None else detect_cgroups()
        self.supervisors: dict[Key, ReplicaSupervisor] = {}
        self.ticking: dict[Key, asyncio.Task[None]] = {}
        self.stopping: dict[Key, asyncio.Task[None]] = {}
        self._usage_seen: dict[Key, tuple[float, float | None, dict[str, object] | None]] = {}
        self._rng = random.Random()
        (state_dir / "logs").mkdir(parents=True, exist_ok=True)
        (state_dir / "replicas").mkdir(parents=True, exist_ok=True)

    async def adopt(self, *, now: float) -> None:
        """After a control-plane restart: keep every replica whose process still runs."""
        for stored in self.store.list("Replica"):
            try:
                replica = replica_of(stored)
                status = replica.status
                if replica.spec.pool is None or status.pid is None:
                    continue
                key = (replica.namespace, replica.name)
                if replica.deletion_timestamp is not None or status.phase is ReplicaPhase.TERMINATING:
                    self.stopping[key] = asyncio.create_task(
                        self._drain_orphan(key, status.pid, status.pid_start_time, replica.spec.grace_seconds)
                    )
                    continue
                supervisor = self._supervisor(replica)
                kept = supervisor.adopt(
                    status.pid, status.pid_start_time, status.started_at or now, status.restarts
                )
                log.info(
                    "replica %s: %s", replica.name, "adopted, still running" if kept else "ended while down"
                )
            except Exception:
                log.exception("replica %s/%s: could not be adopted; it is reconciled afresh", *stored.key[1:])

    async def tick(self, *, now: float) -> None:
        stored = self.store.list("Replica")
        present = {(s.namespace, s.name) for s in stored}
        for obj in stored:
            replica = replica_of(obj)
            key = (replica.namespace, replica.name)
            if key in self.stopping:
                continue
            if replica.deletion_timestamp is not None:
                self._begin_stop(obj, replica, now=now)
            elif replica.status.phase in FINISHED_PHASES:
                continue  # a Job's replica that ended for good: no process, nothing to supervise
            elif replica.spec.pool is not None and (key not in self.ticking or self.ticking[key].done()):
                self.ticking[key] = asyncio.create_task(self._tick_one(obj, replica))
        for key in [k for k in self.supervisors if k not in present and k not in self.stopping]:
            self.stopping[key] = asyncio.create_task(self._stop(key, remove=False))

    async def stop_all(self, *, now: float) -> None:
        """`modelplane down`: drain every replica and forget them."""
        for obj in self.store.list("Replica"):
            with contextlib.suppress(NotFound):
                self.store.mark_deleted("Replica", obj.namespace, obj.name, now=now)
        await self.tick(now=now)
        while self.stopping:
            await asyncio.gather(*self.stopping.values(), return_exceptions=True)
            await self.tick(now=time.time())

    async def close(self) -> None:
        """End every task this agent started. Replicas keep running; drains in progress are resumed
        by the next control plane (their records are kept)."""
        tasks = [*self.ticking.values(), *self.stopping.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _tick_one(self, obj: StoredObject, replica: Replica) -> None:
        key = (replica.namespace, replica.name)
        try:
            supervisor = self.supervisors.get(key)
            if supervisor is None:
                if replica.spec.port == 0 and not replica.spec.job:
                    taken = {r.spec.get("port", 0) for r in self.store.list("Replica")}
                    spec = replica.spec.model_copy(update={"port": free_port(taken, self._rng)})
                    obj = self.store.update(
                        "Replica",
                        replica.namespace,
                        replica.name,
                        spec=dump(spec),
                        expected_rv=None,
                        now=time.time(),
                    )
                    replica = replica_of(obj)
                supervisor = self._supervisor(replica)
            status = await supervisor.tick(time.time())
            data = dump(status)
            data["usage"] = self._usage(key, supervisor, now=time.time())
            same_process = obj.status.get("pid") == data.get("pid")
            data["everReady"] = bool(data.get("ready")) or (
                same_process and bool(obj.status.get("everReady"))
            )
            if data != obj.status and key not in self.stopping:
                self.store.update_status("Replica", replica.namespace, replica.name, data, now=time.time())
                self._events(replica, before=obj.status, after=data, now=time.time())
        except NotFound:
            pass  # deleted meanwhile; the next tick drains it
        except Exception:
            log.exception("replica %s/%s: tick failed; retried at the next tick", *key)

    def _usage(self, key: Key, supervisor: ReplicaSupervisor, *, now: float) -> dict[str, object] | None:
        """CPU (millicores, averaged since the last reading) and memory, re-measured every few
        seconds so that usage alone does not rewrite the status on every tick. Each reading of a
        deployment's replica is also kept in the store's usage history, for right-sizing."""
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
        deployment = supervisor.replica.spec.deployment
        if deployment:  # history for `modelplane recommend`; a Job's replica has no deployment to size
            self.store.record_usage(
                namespace=key[0],
                deployment=deployment,
                replica=key[1],
                cpu_millis=cpu_millis,
                memory_bytes=usage.memory_bytes,
                now=now,
            )
        return measured

    def _supervisor(self, replica: Replica) -> ReplicaSupervisor:
        key = (replica.namespace, replica.name)
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
            cwd=cwd,
            env=env,
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
        supervisor = self.supervisors.get(key)
        status = replica.status
        if status.phase in FINISHED_PHASES and (supervisor is None or supervisor.pid is None):
            # nothing runs: forget it as it is (a Succeeded replica must not turn Terminating, or its
            # Job would see a replica removed before it succeeded)
            self.supervisors.pop(key, None)
            self._forget(key)
            return
        if supervisor is None:
            if status.pid is not None and alive(status.pid, status.pid_start_time):
                self.stopping[key] = asyncio.create_task(
                    self._drain_orphan(key, status.pid, status.pid_start_time, replica.spec.grace_seconds)
                )
            else:  # never started here, or already gone: nothing to drain
                self._forget(key)
            return
        if obj.status.get("phase") != ReplicaPhase.TERMINATING:
            terminating = supervisor.status.model_copy(
                update={"phase": ReplicaPhase.TERMINATING, "ready": False}
            )
            self.store.update_status("Replica", replica.namespace, replica.name, dump(terminating), now=now)
        self.stopping[key] = asyncio.create_task(self._stop(key, remove=True))

    async def _stop(self, key: Key, *, remove: bool) -> None:
        """Drain one replica; forget its record only once its process is gone."""
        try:
            ticking = self.ticking.pop(key, None)
            if ticking is not None:  # never tick and stop one replica at once
                with contextlib.suppress(Exception):
                    await ticking
            supervisor = self.supervisors[key]
            if remove and supervisor.status.ready:
                # Kubernetes' preStop sleep: the endpoint is already `terminating`; give the router
                # time to learn it (it does within 1 s) before SIGTERM closes the replica's socket, so
                # no new request is sent to a replica that no longer accepts connections.
                await asyncio.sleep(ENDPOINT_PROPAGATION_S)
            status = await supervisor.stop(time.time())
            if status.phase is not ReplicaPhase.TERMINATED or status.message.endswith("left behind"):
                log.error("replica %s/%s: could not be stopped (%s); retrying", *key, status.message)
                return
            self.supervisors.pop(key, None)
            if remove:
                self._forget(key)
        except asyncio.CancelledError:
            raise  # the control plane is stopping: the record stays, the next start resumes the drain
        except Exception:
            log.exception("replica %s/%s: stopping failed; retrying", *key)
        finally:
            self.stopping.pop(key, None)

    async def _drain_orphan(self, key: Key, pid: int, start_time: int | None, grace: int) -> None:
        """Drain a process this control plane did not start (found alive while being deleted)."""
        try:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + max(grace, 2)
            while alive(pid, start_time) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if alive(pid, start_time):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            while alive(pid, start_time) and time.monotonic() < deadline + 5:
                await asyncio.sleep(0.1)
            if not alive(pid, start_time):
                self._forget(key)
        finally:
            self.stopping.pop(key, None)

    def _forget(self, key: Key) -> None:
        namespace, name = key
        with contextlib.suppress(NotFound):
            self.store.remove("Replica", namespace, name)
        (self.state_dir / "replicas" / f"{namespace}.{name}.yaml").unlink(missing_ok=True)
        self._usage_seen.pop(key, None)

    def _events(
        self, replica: Replica, *, before: dict[str, object], after: dict[str, object], now: float
    ) -> None:
        ref = {"kind": "Replica", "namespace": replica.namespace, "name": replica.name}
        if after.get("pid") and after.get("pid") != before.get("pid"):
            self.store.record_event(
                **ref, type="Normal", reason="Started", message=f"Started process {after['pid']}", now=now
            )
        if after.get("ready") != before.get("ready") and before:
            ready = bool(after.get("ready"))
            kind: EventType = "Normal" if ready else "Warning"
            message = "Readiness probe succeeded" if ready else "Readiness probe failed or process exited"
            self.store.record_event(
                **ref, type=kind, reason="Ready" if ready else "Unhealthy", message=message, now=now
            )
        last = after.get("lastExit")
        if last and last != before.get("lastExit") and isinstance(last, dict):
            self.store.record_event(
                **ref,
                type="Warning" if last.get("reason") != "Completed" else "Normal",
                reason="Exited",
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

"""The node agent (the kubelet's sync loop): runs the scheduled replicas of this machine.

Every 0.1 s it hands each scheduled Replica that is due to a `ReplicaRuntime` (processes, or
simulated ones), with a task of its own per replica (never two at once for one replica, so a slow
probe of one replica never delays another); the status the
runtime returns is written back when it changed, with events (the writes of the tasks that
finished together in one `store.batch()`: one commit, not one per replica). Usage (CPU, memory) is
not part of the status: each replica is measured every `usage_period` and the reading kept in memory
(`readings.py`; `usage()` serves it to the API), its history samples written in the same batches. A
replica is due when the runtime asked (`wake_at`: a probe, a backoff's end, at least every second;
kept in a heap, `waking.py`, at most `1/WAKE_SPREAD_TICKS` of the replicas taken per tick, so that
replicas due together are spread) or when its object changed (the replicas are listed again only
when the store's resourceVersion moved): a tick over 10,000 idle replicas reads none of them, and
a probe that returns the very status it returned last time is not encoded again.
A replica marked for deletion is drained — its endpoint is already `terminating`, so the router
stops sending — then stopped by the runtime (SIGTERM, the grace period, SIGKILL), and only once
nothing of it runs is the object removed. On start, `adopt` keeps every replica whose process is
still alive (pid + start time from the store); one that was being deleted is drained. Every task
this agent starts is owned here and ended by `close()`. Time comes from the `clock` argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from modelplane.runtime.protocol import Key, ReplicaRuntime, key_of
from modelplane.runtime.readings import Readings
from modelplane.runtime.supervisor import Clock
from modelplane.runtime.waking import Wakes
from modelplane.spec.replica import FINISHED_PHASES, Replica, ReplicaPhase, ReplicaStatus, ReplicaUsage
from modelplane.store import EventType, NotFound, Store, StoredObject

log = logging.getLogger("modelplane.node")


def ports_of(stored: list[StoredObject]) -> set[int]:
    """The ports the listed replicas hold."""
    return {port for s in stored if isinstance(port := s.spec.get("port"), int) and port}


ENDPOINT_PROPAGATION_S = 1.0
WAKE_SPREAD_TICKS = 5
MIN_WAKES_PER_TICK = 100
"""A tick starts at most max(MIN_WAKES_PER_TICK, replicas / WAKE_SPREAD_TICKS) of the replicas whose
time came (twice what probing each once a second needs); the rest wait for the next ticks. Replicas
started together are due together every second: at 10,000, starting every task in one tick held the
event loop for a third of a second."""


def replica_of(stored: StoredObject) -> Replica:
    """The typed view of a stored Replica (the scheduler uses it too)."""
    return Replica.model_validate(
        {
            "kind": "Replica",
            "name": stored.name,
            "namespace": stored.namespace,
            "labels": stored.labels,
            "spec": stored.spec,
            "status": stored.status,
            "deletionTimestamp": stored.deletion_timestamp,
        }
    )


def dump(model: Any) -> dict[str, Any]:
    """A spec model as the store keeps it (camelCase JSON)."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return data


class NodeAgent:
    def __init__(self, store: Store, *, runtime: ReplicaRuntime, clock: Clock = time.time) -> None:
        self.store = store
        self.runtime = runtime
        self.clock = clock
        self.ticking: dict[Key, asyncio.Task[None]] = {}
        self.stopping: dict[Key, asyncio.Task[None]] = {}
        self.readings = Readings()
        self._present: set[Key] = set()
        """The replicas of the last tick; the indexes below are rebuilt only when it changes."""
        self._ports: set[int] = set()
        self._parsed: dict[Key, tuple[int, Replica]] = {}
        self._objects: dict[Key, StoredObject] = {}
        """Every replica as last listed (at `_listed_rv`)."""
        self._listed_rv = -1
        self._pending: dict[Key, tuple[Replica, StoredObject, dict[str, Any], ReplicaStatus]] = {}
        """Statuses the replica tasks computed, written together by `_flush`."""
        self._flush_scheduled = False
        self._wakes = Wakes()
        """Per held replica: when the runtime wants it probed next, and the resourceVersion its
        object had then (a change of the object wakes it at once)."""
        self._probed: dict[Key, tuple[ReplicaStatus, int]] = {}
        """Per replica: the status its last probe returned, and the resourceVersion of the object
        that already shows it."""
        self._unlisted_held = False
        """Set when the runtime may hold replicas no longer listed (they are stopped)."""

    async def adopt(self, *, now: float) -> None:
        """After a control-plane restart: keep every replica whose process still runs."""
        for stored in self.store.list("Replica"):
            try:
                replica = replica_of(stored)
                status = replica.status
                if replica.spec.pool is None or status.pid is None:
                    continue
                key = key_of(replica)
                kept = self.runtime.adopt(replica, now=now)
                if replica.deletion_timestamp is not None or status.phase is ReplicaPhase.TERMINATING:
                    if kept:
                        self.stopping[key] = asyncio.create_task(self._stop(key, remove=True))
                    else:
                        self._forget(key)
                    continue
                log.info(
                    "replica %s: %s", replica.name, "adopted, still running" if kept else "ended while down"
                )
            except Exception:
                log.exception("replica %s/%s: could not be adopted; it is reconciled afresh", *stored.key[1:])

    async def tick(self, *, now: float) -> None:
        self._flush()  # statuses still queued are written before the replicas are listed
        rv = self.store.current_rv()
        if rv != self._listed_rv:  # something was written: look at the replicas whose object moved
            self._listed_rv = rv
            self._look_at_changed(now=now)
        limit = max(MIN_WAKES_PER_TICK, -(-len(self._present) // WAKE_SPREAD_TICKS))
        for key in self._wakes.take_due(now, limit=limit):
            obj = self._objects.get(key)
            if obj is not None and key not in self.stopping:
                self._look(obj, now=now)
        if self._unlisted_held:
            self._unlisted_held = False
            for key in [k for k in self.runtime.held() if k not in self._present and k not in self.stopping]:
                self.stopping[key] = asyncio.create_task(self._stop(key, remove=False))

    def _look_at_changed(self, *, now: float) -> None:
        stored = self.store.list("Replica")
        present = {(s.namespace, s.name) for s in stored}
        if present != self._present:  # replicas came or went: re-index (not on every change: 10,000 keys)
            self._present = present
            self._ports = ports_of(stored)
            self._parsed = {key: parsed for key, parsed in self._parsed.items() if key in present}
            self._probed = {key: probed for key, probed in self._probed.items() if key in present}
            self._wakes.retain(present)
            self._unlisted_held = True
        objects = {}
        for obj in stored:
            key = (obj.namespace, obj.name)
            objects[key] = obj
            if key in self.stopping:
                continue
            wake = self._wakes.get(key)
            if wake is not None and wake[1] == obj.resource_version:
                continue  # unchanged: it is looked at when its wake-up comes
            self._look(obj, now=now)
        self._objects = objects

    def _look(self, obj: StoredObject, *, now: float) -> None:
        key = (obj.namespace, obj.name)
        replica = self._replica(obj)
        if replica.deletion_timestamp is not None:
            self._begin_stop(obj, replica, now=now)
        elif replica.status.phase in FINISHED_PHASES:
            return  # a Job's replica that ended for good: nothing runs, nothing to supervise
        elif replica.spec.pool is not None and (key not in self.ticking or self.ticking[key].done()):
            self.ticking[key] = asyncio.create_task(self._tick_one(obj, replica))

    def _replica(self, obj: StoredObject) -> Replica:
        """The typed replica, parsed again only when its resourceVersion moved: a tick over 10,000
        unchanged replicas validates none."""
        key = (obj.namespace, obj.name)
        parsed = self._parsed.get(key)
        if parsed is None or parsed[0] != obj.resource_version:
            parsed = (obj.resource_version, replica_of(obj))
            self._parsed[key] = parsed
        return parsed[1]

    async def stop_all(self, *, now: float) -> None:
        """`modelplane down`: drain every replica (all at once) and forget them."""
        for obj in self.store.list("Replica"):
            with contextlib.suppress(NotFound):
                self.store.mark_deleted("Replica", obj.namespace, obj.name, now=now)
        await self.tick(now=now)
        while self.stopping:
            await asyncio.gather(*self.stopping.values(), return_exceptions=True)
            await self.tick(now=self.clock())

    async def close(self) -> None:
        """End every task this agent started. Replicas keep running; drains in progress are resumed
        by the next control plane (their records are kept)."""
        self._flush()
        tasks = [*self.ticking.values(), *self.stopping.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _tick_one(self, obj: StoredObject, replica: Replica) -> None:
        key = key_of(replica)
        try:
            if self.runtime.status(key) is None:
                started = self.runtime.start(replica, taken_ports=self._ports)
                if started.spec != replica.spec:
                    self._ports.add(started.spec.port)
                    try:
                        obj = self.store.update(
                            "Replica",
                            replica.namespace,
                            replica.name,
                            spec=dump(started.spec),
                            expected_rv=None,
                            now=self.clock(),
                        )
                    except NotFound:
                        self.runtime.forget(key)
                        raise
                    replica = started
            status = await self.runtime.probe(key, now=self.clock())
            self._measure(key, replica, now=self.clock())
            probed = self._probed.get(key)
            if probed is None or probed[0] is not status or probed[1] != obj.resource_version:
                data = dump(status)
                same_process = obj.status.get("pid") == data.get("pid")
                data["everReady"] = bool(data.get("ready")) or (
                    same_process and bool(obj.status.get("everReady"))
                )
                if data != obj.status and key not in self.stopping:
                    self._write_later(key, replica, obj, data, status)  # wakes it once written
                    return
                self._probed[key] = (status, obj.resource_version)
            self._wake(key, self.runtime.wake_at(key, now=self.clock()), obj.resource_version)
        except NotFound:
            pass  # deleted meanwhile; the next tick drains it
        except Exception:
            log.exception("replica %s/%s: tick failed; retried at the next tick", *key)
            self._wakes.set(key, self.clock(), -1)

    def _wake(self, key: Key, at: float, rv: int) -> None:
        """Look at the replica again at `at`, or at the next tick when its object moved past `rv`
        while it was being probed (the listing that saw the change found it busy)."""
        latest = self._objects.get(key)
        if latest is not None and latest.resource_version > rv:
            at = min(at, self.clock())
        self._wakes.set(key, at, rv)

    def _write_later(
        self, key: Key, replica: Replica, obj: StoredObject, data: dict[str, Any], status: ReplicaStatus
    ) -> None:
        """Queue a replica's new status for `_flush`, which the loop runs once the replica tasks
        that are ready have run: their writes are one transaction, not one commit each."""
        self._pending[key] = (replica, obj, data, status)
        self._flush_soon()

    def _flush_soon(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write the queued statuses (and their events) and usage-history samples in one
        `store.batch()`, then set each replica's next wake-up at the resourceVersion written. A
        replica being stopped meanwhile is skipped (its status is the drain's); one whose write fails
        is not woken at a later time, so the next tick probes and writes it again. Samples that fail
        to be written are dropped (history, not state)."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        samples = self.readings.take_samples()
        if not pending and not samples:
            return
        now = self.clock()
        try:
            with self.store.batch():
                for sample in samples:
                    try:
                        self.store.record_usage(
                            namespace=sample.namespace,
                            deployment=sample.deployment,
                            replica=sample.replica,
                            cpu_millis=sample.cpu_millis,
                            memory_bytes=sample.memory_bytes,
                            now=sample.at,
                        )
                    except Exception:
                        log.exception("replica %s/%s: usage sample dropped", sample.namespace, sample.replica)
                for key, (replica, obj, data, status) in pending.items():
                    if key in self.stopping:
                        continue
                    try:
                        written = self.store.update_status("Replica", *key, data, now=now)
                        self._events(replica, before=obj.status, after=data, now=now)
                        self._probed[key] = (status, written.resource_version)
                        self._parsed_as_written(key, replica, obj, written, status, data)
                        self._wake(key, self.runtime.wake_at(key, now=now), written.resource_version)
                    except NotFound:
                        pass  # deleted meanwhile; the next tick drains it
                    except Exception:
                        log.exception("replica %s/%s: status write failed; retried at the next tick", *key)
                        self._wakes.set(key, now, -1)
        except Exception:
            log.exception("writing %d replica statuses failed; retried at the next tick", len(pending))
            for key in pending:
                self._wakes.set(key, now, -1)

    def _parsed_as_written(
        self,
        key: Key,
        replica: Replica,
        obj: StoredObject,
        written: StoredObject,
        status: ReplicaStatus,
        data: dict[str, Any],
    ) -> None:
        """Keep the typed replica as just written, so that it is not validated again from the store
        (10,000 replicas turning ready took a second of validation) — unless another write changed
        more than its status meanwhile."""
        if (written.spec, written.labels, written.deletion_timestamp) != (
            obj.spec,
            obj.labels,
            obj.deletion_timestamp,
        ):
            return
        if status.ever_ready != data["everReady"]:
            status = status.model_copy(update={"ever_ready": data["everReady"]})
        self._parsed[key] = (written.resource_version, replica.model_copy(update={"status": status}))

    def usage(self) -> dict[Key, ReplicaUsage]:
        """The latest usage reading of each measured replica (what `GET /api/v1/usage` serves)."""
        return self.readings.latest()

    def _measure(self, key: Key, replica: Replica, *, now: float) -> None:
        """Measure the replica when its reading is due; its history sample joins the next batch."""
        if not self.readings.due(key, now=now):
            return
        usage = self.runtime.usage(key)
        deployment = replica.spec.deployment
        self.readings.record(key, usage, deployment=deployment, replicas=len(self._present), now=now)
        if deployment and (usage.memory_bytes is not None or usage.cpu_seconds is not None):
            self._flush_soon()

    def _begin_stop(self, obj: StoredObject, replica: Replica, *, now: float) -> None:
        key = key_of(replica)
        held = self.runtime.status(key)
        status = replica.status
        if status.phase in FINISHED_PHASES and not self.runtime.running(key):
            # nothing runs: forget it as it is (a Succeeded replica must not turn Terminating, or its
            # Job would see a replica removed before it succeeded)
            self._forget(key)
            return
        if held is None:
            if status.pid is not None and self.runtime.adopt(replica, now=now):
                # a process this control plane did not start, found alive while being deleted
                self.stopping[key] = asyncio.create_task(self._stop(key, remove=True))
            else:  # never started here, or already gone: nothing to drain
                self._forget(key)
            return
        if obj.status.get("phase") != ReplicaPhase.TERMINATING:
            terminating = held.model_copy(update={"phase": ReplicaPhase.TERMINATING, "ready": False})
            self.store.update_status("Replica", replica.namespace, replica.name, dump(terminating), now=now)
        self.stopping[key] = asyncio.create_task(self._stop(key, remove=True))

    async def _stop(self, key: Key, *, remove: bool) -> None:
        """Drain one replica; forget its record only once nothing of it runs."""
        try:
            ticking = self.ticking.pop(key, None)
            if ticking is not None:  # never tick and stop one replica at once
                with contextlib.suppress(Exception):
                    await ticking
            held = self.runtime.status(key)
            if remove and held is not None and held.ready:
                # Kubernetes' preStop sleep: the endpoint is already `terminating`; give the router
                # time to learn it (it does within 1 s) before SIGTERM closes the replica's socket, so
                # no new request is sent to a replica that no longer accepts connections.
                await asyncio.sleep(ENDPOINT_PROPAGATION_S)
            status = await self.runtime.stop(key, now=self.clock())
            if status.phase is not ReplicaPhase.TERMINATED or status.message.endswith("left behind"):
                log.error("replica %s/%s: could not be stopped (%s); retrying", *key, status.message)
                self._retry_stop(key)
                return
            if remove:
                self._forget(key)
            else:
                self.runtime.forget(key)
                self.readings.forget(key)
        except asyncio.CancelledError:
            raise  # the control plane is stopping: the record stays, the next start resumes the drain
        except Exception:
            log.exception("replica %s/%s: stopping failed; retrying", *key)
            self._retry_stop(key)
        finally:
            self.stopping.pop(key, None)

    def _retry_stop(self, key: Key) -> None:
        """Look at the replica again at the next tick (a listed one is drained again, an unlisted
        one stopped again)."""
        self._wakes.set(key, self.clock(), -1)
        self._unlisted_held = True

    def _forget(self, key: Key) -> None:
        namespace, name = key
        with contextlib.suppress(NotFound):
            self.store.remove("Replica", namespace, name)
        self.runtime.forget(key)
        self.readings.forget(key)

    def _events(
        self, replica: Replica, *, before: dict[str, object], after: dict[str, object], now: float
    ) -> None:
        ref = {"kind": "Replica", "namespace": replica.namespace, "name": replica.name}
        if after.get("pid") and after.get("pid") != before.get("pid"):
            self.store.record_event(
                **ref, type="Normal", reason="Started", message=f"Started process {after['pid']}", now=now
            )
        if bool(after.get("ready")) != bool(before.get("ready")) and before:
            ready = bool(after.get("ready"))
            kind: EventType = "Normal" if ready else "Warning"
            message = "Readiness probe succeeded" if ready else "Readiness probe failed or process exited"
            seconds = after.get("readyAfterSeconds")
            if ready and isinstance(seconds, int | float) and not isinstance(seconds, bool):
                message = f"Readiness probe succeeded: ready {seconds:.2f} s after its process started"
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

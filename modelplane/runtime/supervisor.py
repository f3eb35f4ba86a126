"""`ReplicaSupervisor`: the kubelet for one replica — start, probe, restart with backoff, stop, adopt.

It owns one replica's process and nothing else: no store, no other replicas. Its owner (the runtime
loop of the control plane) calls `tick(now)` whenever `wake_at(now)` says (at least every second, to
notice exits) and writes the returned `ReplicaStatus` to the store; `stop()` when the replica is
deleted; `adopt()` after a control-plane restart found the process still alive.

Each tick, in order (level-triggered, idempotent):
1. rotate the log if it is too big;
2. notice an exit (reaping our child): record `last_exit` (OOMKilled when the cgroup's OOM count rose);
3. without a process: the restart policy decides — Always (a deployment's replica) restarts,
   OnFailure restarts unless the exit was 0, Never does not; a replica not restarted ends Succeeded
   (exit 0) or Failed for good (a Job's). A restart waits while CrashLoopBackOff says so
   (`waiting.until`);
4. with one: run the probes that are due (HTTP GETs, concurrently), publish started/ready, and on a
   liveness or startup failure SIGTERM the group, SIGKILL it after the grace period (floor 2 s) —
   the restart then follows the same backoff as a crash. While its readiness has not passed yet
   (the model loads), the tick goes on probing readiness every 50 ms, for up to `POLL_SECONDS`,
   as Knative's queue-proxy does: the owner looks only every 0.1 s, and a replica should take
   traffic within ~100 ms of its model being loaded. One probe in flight; it sleeps in between.

`tick`, `stop` and `adopt` of one supervisor must not run concurrently (one replica is never
reconciled twice at once); different supervisors are independent. Phases follow `ReplicaPhase`'s
transition table: Scheduled → Starting → Running, back to Starting on
a restart in place, Succeeded or Failed for good when not restarted (a Job's), Terminating →
Terminated on stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from modelplane.runtime.backoff import Backoff, decide_restart
from modelplane.runtime.cgroups import Cgroups, Limits, Usage
from modelplane.runtime.errors import CgroupError, SpawnError
from modelplane.runtime.health import Prober, http_probe
from modelplane.runtime.logs import LogRotator
from modelplane.runtime.probing import HEALTH_PATHS, ProbeKind, ProbeSet
from modelplane.runtime.processes import (
    AdoptedProcess,
    Exit,
    Launch,
    ReplicaProcess,
    alive,
    last_exit,
    recorded_exit,
    replica_env,
    spawn,
)
from modelplane.spec.replica import (
    HOLDS_NOTHING,
    ExitReason,
    LastExit,
    Replica,
    ReplicaPhase,
    ReplicaRestartPolicy,
    ReplicaStatus,
    Waiting,
    transition,
)

log = logging.getLogger(__name__)

Clock = Callable[[], float]

MIN_GRACE_SECONDS: Final = 2.0
"""The kubelet's minimumGracePeriodInSeconds: SIGKILL never follows SIGTERM sooner than this."""
POLL_SECONDS: Final = 1.0
"""The longest a tick waits to notice an exit."""
KILL_WAIT_SECONDS: Final = 10.0
"""How long `stop` waits for a SIGKILLed process to be gone before giving up on it."""
START_ERROR_CODE: Final = 128
"""Exit code recorded when the process could not start at all (as containerd's StartError)."""


_DONE_PHASES: Final = frozenset({ReplicaPhase.TERMINATING, *HOLDS_NOTHING})
"""Phases in which `tick` does nothing: being stopped, or a Job's replica that ended for good."""


def group_name(replica: Replica) -> str:
    """The replica's cgroup under `modelplane/`: unique across namespaces."""
    return f"{replica.namespace}.{replica.name}"


class ReplicaSupervisor:
    """Drives one replica's process through its lifecycle; `tick` returns the status to store."""

    def __init__(
        self,
        replica: Replica,
        *,
        command: Sequence[str],
        log_path: Path,
        cgroups: Cgroups,
        clock: Clock = time.time,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        prober: Prober = http_probe,
        rotator: LogRotator | None = None,
    ) -> None:
        self.replica = replica
        self.command = list(command)
        self.log_path = log_path
        self.cgroups = cgroups
        self.clock = clock
        self.cwd = cwd
        self.env = dict(env) if env is not None else {}
        self.prober = prober
        self.rotator = rotator or LogRotator()
        self.group = group_name(replica)
        # a Job's replica records its exit status, so that an adopting control plane can tell a
        # success from a failure; a deployment's is restarted whatever the status
        keeps_exit = replica.spec.restart_policy is not ReplicaRestartPolicy.ALWAYS
        self._exit_file = log_path.with_suffix(".exit") if keeps_exit else None
        self._status = replica.status.model_copy(update={"limits_enforced": cgroups.enforced})
        self._process: ReplicaProcess | None = None
        self._probes: ProbeSet | None = None
        self._backoff: Backoff | None = None
        self._finished_at: float | None = None
        self._oom_baseline = 0
        self._kill_at: float | None = None
        self._kill_reason = ""
        self._adopted = False

    # reading
    @property
    def status(self) -> ReplicaStatus:
        return self._status

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def usage(self) -> Usage:
        """Memory and CPU used by the replica's cgroup (empty without cgroups)."""
        return self.cgroups.usage(self.group)

    def wake_at(self, now: float) -> float:
        """When `tick` should run next: the next probe, the end of a backoff, a SIGKILL deadline."""
        times = [now + POLL_SECONDS]
        if self._probes is not None and (due := self._probes.next_due()) is not None:
            times.append(due)
        if self._status.waiting is not None and self._status.waiting.until is not None:
            times.append(self._status.waiting.until)
        if self._kill_at is not None:
            times.append(self._kill_at)
        return max(now, min(times))

    # the loop's entry points
    async def tick(self, now: float) -> ReplicaStatus:
        """Bring the process one step closer to running and ready; the status to store."""
        if self._status.phase in _DONE_PHASES:
            return self._status
        self.rotator.rotate_if_needed(self.log_path)
        self._observe_exit(now)
        if self._process is None and self._finish_if_not_restarted():
            return self._status
        if self._process is None:
            self._start_unless_backing_off(now)
            if self._process is not None:
                # Return the new pid before the first probe awaits: the owner stores it at once, so
                # a control plane killed right now still finds (and adopts) this process.
                return self._status
        if self._process is not None:
            await self._run_due_probes(now)
            await self._probe_while_loading(until=now + POLL_SECONDS)
            self._escalate_kill(now)
        return self._status

    async def stop(self, now: float, grace: float | None = None) -> ReplicaStatus:
        """Terminate: not ready at once, SIGTERM to the group, SIGKILL after `grace` (floor 2 s)."""
        if self._status.phase is ReplicaPhase.TERMINATED:
            return self._status
        grace = float(self.replica.spec.grace_seconds if grace is None else grace)
        self._to_phase(ReplicaPhase.TERMINATING)
        self._update(ready=False, ready_since=None, waiting=None)
        if self._probes is not None:
            self._probes = self._probes.terminate()
        process = self._process
        if process is not None:
            log.info("replica %s: SIGTERM to pid %d, grace %.0f s", self.replica.name, process.pid, grace)
            process.signal(signal.SIGTERM)
            ended = await self._wait_exit(process, deadline=now + max(grace, MIN_GRACE_SECONDS))
            if ended is None:
                log.warning("replica %s: still running after %.0f s grace, SIGKILL", self.replica.name, grace)
                process.signal(signal.SIGKILL)
                ended = await self._wait_exit(process, deadline=self.clock() + KILL_WAIT_SECONDS)
            if ended is not None:
                self._record_exit(ended, self.clock())
            else:
                self._update(message=f"pid {process.pid} did not die after SIGKILL; left behind")
        self.cgroups.remove(self.group)
        self._to_phase(ReplicaPhase.TERMINATED)
        self._update(pid=None, pid_start_time=None, started=False)
        return self._status

    def adopt(self, pid: int, pid_start_time: int | None, started_at: float, restarts: int) -> bool:
        """Take over a process left running by a previous control plane; False if it is gone.

        A live process is kept as is (never restarted); probes start afresh, readiness first thing at
        the next tick. A dead one counts as exited with an unknown reason and is restarted.
        """
        now = self.clock()
        self._update(restarts=restarts)
        if not alive(pid, pid_start_time):
            log.info("replica %s: pid %d ended while the control plane was down", self.replica.name, pid)
            self._finished_at = now
            code = recorded_exit(self._exit_file)
            self._update(
                last_exit=last_exit(Exit(code), oom_killed=False, at=now),
                message=f"pid {pid} ended while the control plane was down",
            )
            return False
        self._process = AdoptedProcess(pid, pid_start_time, self._exit_file)
        self._adopted = True  # its start-to-ready time is known only if it was stored
        self._probes = ProbeSet.initial(self.replica.spec.probes, started_at=started_at)
        self._to_phase(ReplicaPhase.STARTING)
        self._update(
            pid=pid,
            pid_start_time=pid_start_time,
            started_at=started_at,
            started=self._probes.started,
            ready=False,
            waiting=None,
            message=f"adopted pid {pid}",
        )
        if self._probes.started:
            self._to_phase(ReplicaPhase.RUNNING)
        log.info("replica %s: adopted pid %d (started %.0f)", self.replica.name, pid, started_at)
        return True

    # steps of a tick
    def _observe_exit(self, now: float) -> None:
        if self._process is None:
            return
        ended = self._process.exited()
        if ended is not None:
            self._record_exit(ended, now)

    def _record_exit(self, ended: Exit, now: float) -> None:
        assert self._process is not None
        oom = ended.code is not None and self.cgroups.oom_kills(self.group) > self._oom_baseline
        record = last_exit(ended, oom_killed=oom, at=now)
        why = f" after {self._kill_reason}" if self._kill_reason else ""
        message = f"pid {self._process.pid} exited{why}: {record.reason} (code {record.code})"
        log.info("replica %s: %s", self.replica.name, message)
        self._process, self._probes, self._kill_at, self._kill_reason = None, None, None, ""
        self._finished_at = now
        self._update(
            pid=None, pid_start_time=None, started=False, ready=False, ready_since=None,
            ready_after_seconds=None, last_exit=record, message=message,
        )  # fmt: skip

    def _finish_if_not_restarted(self) -> bool:
        """After an exit, the restart policy decides (the kubelet's computePodActions): Always restarts;
        OnFailure restarts unless the exit code was 0; Never does not. A replica not restarted ends
        Succeeded (exit 0) or Failed, for good. True when it ended."""
        last = self._status.last_exit
        if self._finished_at is None or last is None:
            return False
        policy = self.replica.spec.restart_policy
        succeeded = last.code == 0
        if policy is ReplicaRestartPolicy.ALWAYS:
            return False
        if policy is ReplicaRestartPolicy.ON_FAILURE and not succeeded:
            return False
        if self._status.phase in (ReplicaPhase.PENDING, ReplicaPhase.SCHEDULED):
            self._to_phase(ReplicaPhase.STARTING)  # adopted as it was stored: it did start
        self._to_phase(ReplicaPhase.SUCCEEDED if succeeded else ReplicaPhase.FAILED)
        self._update(waiting=None, ready=False, ready_since=None, started=False)
        self.cgroups.remove(self.group)
        return True

    def _start_unless_backing_off(self, now: float) -> None:
        if self._finished_at is not None:
            decision = decide_restart(self._backoff, finished_at=self._finished_at, now=now)
            if not decision.start:
                assert decision.until is not None and decision.backoff is not None
                delay = decision.backoff.delay
                message = f"back-off {delay:g}s restarting failed replica {self.replica.name}"
                if self._status.waiting is None:
                    log.info("replica %s: %s (until %.0f)", self.replica.name, message, decision.until)
                self._update(
                    waiting=Waiting(reason="CrashLoopBackOff", until=decision.until, message=message)
                )
                return
            self._backoff = decision.backoff
            self._update(restarts=self._status.restarts + 1)
        self._start(now)

    def _start(self, now: float) -> None:
        spec = self.replica.spec
        limits = Limits.of(spec.resources.defaulted())
        enforced = self.cgroups.enforced
        try:
            procs = self.cgroups.create(self.group, limits)
            self._oom_baseline = self.cgroups.oom_kills(self.group)
        except CgroupError as error:
            log.error("replica %s: limits not enforced for this start: %s", self.replica.name, error)
            procs, enforced = [], False
        launch = Launch(
            argv=self.command,
            log_path=self.log_path,
            cwd=self.cwd,
            env=replica_env(
                self.env,
                replica=self.replica.name,
                namespace=self.replica.namespace,
                port=spec.port,
                gpus=spec.gpus,
            ),
            cgroup_procs=procs,
            memory_rlimit=None if enforced else limits.memory_bytes,
            exit_file=self._exit_file,
        )
        if self._exit_file is not None:
            self._exit_file.unlink(missing_ok=True)  # a status left by an earlier start is not this one's
        self._to_phase(ReplicaPhase.STARTING)
        try:
            process = spawn(launch)
        except SpawnError as error:
            log.error("replica %s: %s", self.replica.name, error)
            self._finished_at = now
            failed = LastExit(code=START_ERROR_CODE, reason=ExitReason.ERROR, at=now)
            self._update(last_exit=failed, message=str(error), waiting=None, limits_enforced=enforced)
            return
        self._process, self._adopted = process, False
        self._probes = ProbeSet.initial(spec.probes, started_at=now)
        log.info("replica %s: started pid %d on port %d", self.replica.name, process.pid, spec.port)
        self._update(
            pid=process.pid, pid_start_time=process.start_time, started_at=now, started=self._probes.started,
            ready=False, ready_since=None, ready_after_seconds=None, waiting=None,
            limits_enforced=enforced, message="",
        )  # fmt: skip
        if self._probes.started:
            self._to_phase(ReplicaPhase.RUNNING)

    async def _run_due_probes(self, now: float) -> None:
        assert self._probes is not None
        ran: set[ProbeKind] = set()
        # Twice at most: a startup probe that passes makes readiness due at once (as the kubelet).
        for _ in range(2):
            due = [kind for kind in self._probes.due(now) if kind not in ran]
            if not due:
                break
            results = await asyncio.gather(*(self._probe(kind) for kind in due))
            for kind, success in zip(due, results, strict=True):
                self._probes = self._probes.record(kind, success=success, now=now)
            ran.update(due)
        self._publish_probes(now)

    async def _probe_while_loading(self, *, until: float) -> None:
        """Probe readiness at its loading period until it passes, the process exits or is being
        killed, or `until`; whatever else falls due meanwhile (liveness) runs at its own time."""
        while (probes := self._probes) is not None and probes.loading and self._kill_at is None:
            at = probes.next_due()
            if at is None or at > until:
                return
            await asyncio.sleep(max(0.0, at - self.clock()))
            now = self.clock()
            self._observe_exit(now)
            if self._process is None:
                return
            await self._run_due_probes(now)

    async def _probe(self, kind: ProbeKind) -> bool:
        assert self._probes is not None
        timeout = self._probes.workers[kind].probe.timeout_seconds
        try:
            return await self.prober(self.replica.spec.port, HEALTH_PATHS[kind], timeout=float(timeout))
        except Exception:  # a probe that cannot run is a failed probe, never a dead loop
            log.exception("replica %s: %s probe raised", self.replica.name, kind)
            return False

    def _publish_probes(self, now: float) -> None:
        probes = self._probes
        assert probes is not None
        failed = probes.restart_reason()
        if failed is not None and self._kill_at is None:
            self._kill_for(failed, now)
        if probes.started and self._status.phase is ReplicaPhase.STARTING:
            self._to_phase(ReplicaPhase.RUNNING)
        ready = probes.ready and self._kill_at is None
        since = (self._status.ready_since or now) if ready else None
        after = self._status.ready_after_seconds
        if ready and after is None and not self._adopted and self._status.started_at is not None:
            after = now - self._status.started_at
            log.info("replica %s: ready %.2f s after its process started", self._name, after)
        elif ready != self._status.ready:
            log.info("replica %s: %s", self._name, "ready" if ready else "not ready")
        self._update(started=probes.started, ready=ready, ready_since=since, ready_after_seconds=after)

    def _kill_for(self, failed: ProbeKind, now: float) -> None:
        assert self._process is not None and self._probes is not None
        threshold = self._probes.workers[failed].probe.failure_threshold
        self._kill_reason = f"{failed} probe failed {threshold} time(s) in a row"
        grace = max(float(self.replica.spec.grace_seconds), MIN_GRACE_SECONDS)
        self._kill_at = now + grace
        log.warning(
            "replica %s: %s; restarting (SIGTERM, SIGKILL after %.0f s)",
            self.replica.name,
            self._kill_reason,
            grace,
        )
        self._update(message=f"{self._kill_reason}; restarting")
        self._process.signal(signal.SIGTERM)

    def _escalate_kill(self, now: float) -> None:
        if self._process is not None and self._kill_at is not None and now >= self._kill_at:
            self._process.signal(signal.SIGKILL)

    async def _wait_exit(self, process: ReplicaProcess, *, deadline: float) -> Exit | None:
        while True:
            ended = process.exited()
            if ended is not None or self.clock() >= deadline:
                return ended
            await asyncio.sleep(0.05)

    # state
    @property
    def _name(self) -> str:
        return f"{self.replica.namespace}.{self.replica.name}"

    def _to_phase(self, target: ReplicaPhase) -> None:
        current = self._status.phase
        if current is ReplicaPhase.PENDING and target is not ReplicaPhase.TERMINATING:
            current = transition(current, ReplicaPhase.SCHEDULED, replica=self.replica.name)
        self._update(phase=transition(current, target, replica=self.replica.name))

    def _update(self, **changes: Any) -> None:
        self._status = self._status.model_copy(update=changes)

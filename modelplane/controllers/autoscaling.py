"""The autoscaler loop (Kubernetes' HPA controller, with Knative's fast path for request metrics).

Every second (`SYNC_S`; the HPA's is 15 s) for each ModelDeployment with `spec.autoscaling`: read what
the autoscaler needs fresh — the deployment's replicas from the store, each replica's latest CPU and
memory reading (the node agent's memory, `runtime/readings.py`), the request metrics of the routers
(`metrics/store.py`: in flight + queued + held, and requests per second, over the stable and panic
windows) — ask the pure `autoscaler.planning.plan` for the count, and write it as the deployment's
scale status (`status.autoscaling.desiredReplicas`, read by `spec/desired.py`, the one owner of the
count), with HPA's conditions. The deployment controller then adds or removes replicas (scale-down
victims as Kubernetes picks them: not ready first, then newest; drained, so no request fails).

Writes happen only when the count or a condition changes (a write moves the resourceVersion and wakes
every controller: never once a second for nothing). Every rescale is an event with its inputs
(`scaled sentiment 2→16: concurrency 31.5 in flight/replica vs target 4 (panic)`) and a log line.

The memory HPA and Knative keep per deployment (recent recommendations, scale events, panic) lives in
this object, as it lives in kube-controller-manager's: a restart of the control plane starts it
afresh, and the first tick of a deployment seeds it with its current count.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Final

from modelplane.autoscaler import planning
from modelplane.autoscaler.calculating import Phase, ReplicaState, Sample
from modelplane.autoscaler.hpa import Condition, ConditionType
from modelplane.autoscaler.kpa import STABLE_WINDOW_S
from modelplane.autoscaler.windows import panic_window_s, window_average
from modelplane.metrics.buckets import Column
from modelplane.metrics.store import MetricsStore
from modelplane.runtime import scraping
from modelplane.runtime.scraping import ReadingKey, Wanted
from modelplane.spec.autoscaling import MetricType
from modelplane.spec.desired import SCALE_STATUS, ScaleStatus, desired_replicas, sizing_of
from modelplane.spec.quantities import parse_cpu, parse_memory
from modelplane.spec.replica import ReplicaPhase, ReplicaUsage
from modelplane.store import Store, StoredObject

log = logging.getLogger("modelplane.autoscaler")

SYNC_S: Final = 1.0
"""How often each autoscaled deployment is decided (Knative: 2 s; the HPA: 15 s)."""
PANIC_WINDOW_PERCENTAGE: Final = 10.0
USAGE_WINDOW_S: Final = 5.0
"""What a CPU reading averages over (the node agent's usage period): the HPA's metric window."""

Key = tuple[str, str]
Usage = Callable[[], Mapping[Key, ReplicaUsage]]
Custom = Callable[[], Mapping[ReadingKey, scraping.Reading]]
"""The custom metrics' latest readings (`runtime.scraping.Scraper.readings`)."""


class Autoscaler:
    """Decides every autoscaled deployment's count, one `run_once` per tick (on the event loop)."""

    def __init__(self, store: Store, *, metrics: MetricsStore, usage: Usage, custom: Custom = dict) -> None:
        self.store = store
        self.metrics = metrics
        self.usage = usage
        self.custom = custom
        self._memory: dict[Key, planning.Memory] = {}
        self.latest: dict[Key, tuple[planning.Plan, StoredObject]] = {}
        """The last plan of each deployment, with the deployment it was made for."""

    def run_once(self, *, now: float) -> None:
        deployments = [
            d
            for d in self.store.list("ModelDeployment")
            if d.deletion_timestamp is None and d.spec.get("autoscaling") is not None
        ]
        wanted = {(d.namespace, d.name) for d in deployments}
        for gone in set(self._memory) - wanted:  # deleted, or no longer autoscaled
            self._memory.pop(gone, None)
            self.latest.pop(gone, None)
        if not deployments:
            return
        owned: dict[Key, list[StoredObject]] = defaultdict(list)
        for replica in self.store.list("Replica"):
            deployment = replica.spec.get("deployment")
            if deployment:
                owned[(replica.namespace, deployment)].append(replica)
        usage = self.usage()
        for deployment in deployments:
            key = (deployment.namespace, deployment.name)
            try:  # one broken deployment never stops the others
                self._decide(deployment, owned.get(key, []), usage, now=now)
            except Exception:
                log.exception("autoscaler: deployment %s/%s failed", *key)

    def _decide(
        self,
        deployment: StoredObject,
        replicas: list[StoredObject],
        usage: Mapping[Key, ReplicaUsage],
        *,
        now: float,
    ) -> None:
        key = (deployment.namespace, deployment.name)
        sizing = sizing_of(deployment.spec)
        assert sizing.autoscaling is not None
        current = desired_replicas(sizing, ScaleStatus.read(deployment.status))
        observed = self._observe(deployment, replicas, usage, current=current, now=now)
        plan, memory = planning.plan(
            sizing.autoscaling, observed, self._memory.get(key, planning.Memory()), now
        )
        self._memory[key] = memory
        self.latest[key] = (plan, deployment)
        decision = plan.decision
        message = plan.summary(deployment.name)
        if decision.rescale:
            log.info("%s/%s: %s", deployment.namespace, deployment.name, message)
            self.store.record_event(
                kind="ModelDeployment",
                namespace=deployment.namespace,
                name=deployment.name,
                type="Normal",
                reason="SuccessfulRescale",
                message=message,
                now=now,
            )
        status = _scale_status(deployment.status.get(SCALE_STATUS), plan, message, now=now)
        status["conditions"].append(_capacity(status, deployment.status.get(SCALE_STATUS), replicas, now=now))
        if status != deployment.status.get(SCALE_STATUS):
            # a failure is an event when it begins or changes, not once a second while it lasts
            for event in decision.events:
                if event.warning:
                    self.store.record_event(
                        kind="ModelDeployment",
                        namespace=deployment.namespace,
                        name=deployment.name,
                        type="Warning",
                        reason=event.reason,
                        message=event.message,
                        now=now,
                    )
            self.store.update_status(
                "ModelDeployment",
                deployment.namespace,
                deployment.name,
                {**deployment.status, SCALE_STATUS: status},
                expected_rv=deployment.resource_version,
                now=now,
            )

    def scrape_targets(self) -> list[Wanted]:
        """The series to scrape now: each custom metric of each autoscaled deployment, from each of
        its ready replicas (their own /metrics, on 127.0.0.1 at the replica's port)."""
        wanted: list[Wanted] = []
        for deployment in self.store.list("ModelDeployment"):
            autoscaling = deployment.spec.get("autoscaling")
            if deployment.deletion_timestamp is not None or not isinstance(autoscaling, Mapping):
                continue
            customs = [
                m
                for m in autoscaling.get("metrics") or []
                if isinstance(m, Mapping) and m.get("type") == "custom"
            ]
            if not customs:
                continue
            for replica in self.store.list("Replica", namespace=deployment.namespace):
                port = replica.spec.get("port")
                if (
                    replica.spec.get("deployment") != deployment.name
                    or not replica.status.get("ready")
                    or not port
                ):
                    continue
                for metric in customs:
                    labels = tuple(sorted((metric.get("labels") or {}).items()))
                    wanted.append(
                        Wanted(
                            replica.namespace,
                            replica.name,
                            f"127.0.0.1:{port}",
                            str(metric["series"]),
                            labels,
                        )
                    )
        return wanted

    def items(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Each autoscaled deployment's autoscaler as the API serves it (`GET /api/v1/autoscalers`,
        shaped like a HorizontalPodAutoscaler): bounds, the count, each metric's current value and
        target as last read, and the conditions. Read live: none of it is stored but the count."""
        result = []
        for (ns, name), (plan, deployment) in sorted(self.latest.items()):
            if namespace is not None and ns != namespace:
                continue
            autoscaling = deployment.spec.get("autoscaling") or {}
            scale = _scale_status(deployment.status.get(SCALE_STATUS), plan, "", now=deployment.updated)
            result.append(
                {
                    "kind": "Autoscaler",
                    "metadata": {"name": name, "namespace": ns, "creationTimestamp": deployment.created},
                    "spec": {
                        "scaleTargetRef": {"kind": "ModelDeployment", "name": name},
                        "minReplicas": autoscaling.get("minReplicas", 1),
                        "maxReplicas": autoscaling.get("maxReplicas"),
                    },
                    "status": {
                        "currentReplicas": plan.current,
                        "desiredReplicas": plan.decision.replicas,
                        "currentMetrics": [_reading_json(r) for r in plan.readings],
                        "conditions": scale["conditions"],
                        "lastRescale": (deployment.status.get(SCALE_STATUS) or {}).get("lastRescale"),
                    },
                }
            )
        return result

    def _observe(
        self,
        deployment: StoredObject,
        replicas: list[StoredObject],
        usage: Mapping[Key, ReplicaUsage],
        *,
        current: int,
        now: float,
    ) -> planning.Observed:
        states: list[ReplicaState] = []
        cpu: dict[str, Sample] = {}
        memory: dict[str, Sample] = {}
        cpu_requests: dict[str, int | None] = {}
        memory_requests: dict[str, int | None] = {}
        ready = 0
        for replica in replicas:
            state = _state(replica)
            states.append(state)
            ready += bool(state.ready) and state.phase is Phase.RUNNING and not state.deleting
            requests = (replica.spec.get("resources") or {}).get("requests") or {}
            limits = (replica.spec.get("resources") or {}).get("limits") or {}
            cpu_requests[replica.name] = _millis(requests.get("cpu", limits.get("cpu")))
            memory_requests[replica.name] = _bytes(requests.get("memory", limits.get("memory")))
            reading = usage.get((replica.namespace, replica.name))
            if reading is not None and reading.measured_at is not None:
                if reading.cpu_millis is not None:
                    cpu[replica.name] = Sample(
                        reading.cpu_millis, at=reading.measured_at, window=USAGE_WINDOW_S
                    )
                if reading.memory_bytes is not None:
                    memory[replica.name] = Sample(
                        reading.memory_bytes * 1000, at=reading.measured_at, window=USAGE_WINDOW_S
                    )
                    memory_requests[replica.name] = _scaled(memory_requests[replica.name], 1000)
        custom: dict[planning.SeriesKey, dict[str, Sample]] = {}
        names = {r.name for r in replicas}
        for (ns, replica_name, series, labels), scraped in self.custom().items():
            if ns == deployment.namespace and replica_name in names:
                custom.setdefault((series, labels), {})[replica_name] = Sample(
                    round(scraped.value * 1000), at=scraped.at, window=scraping.SCRAPE_S
                )
        concurrency = deployment.spec.get("concurrency")
        return planning.Observed(
            current=current,
            ready=ready,
            replicas=states,
            usage={MetricType.CPU: cpu, MetricType.MEMORY: memory},
            requests={MetricType.CPU: cpu_requests, MetricType.MEMORY: memory_requests},
            windows=self._windows(deployment.namespace, deployment.name, now=now),
            concurrency_limit=concurrency if isinstance(concurrency, int) else 0,
            custom=custom,
        )

    def _windows(self, namespace: str, name: str, *, now: float) -> dict[MetricType, planning.Windows]:
        """The routers' numbers for the deployment: demand in flight (at a replica, queued for one, or
        held for a ready one — Knative's activator counts what it buffers the same way, which is what
        wakes a deployment at zero) and requests answered per second."""
        stable_s = STABLE_WINDOW_S
        panic_s = panic_window_s(stable_s, PANIC_WINDOW_PERCENTAGE)
        result: dict[MetricType, planning.Windows] = {}
        demand: dict[int, float] = {}
        first: int | None = None
        for column in (Column.INFLIGHT, Column.QUEUED, Column.HELD):
            buckets, started = self.metrics.buckets(namespace, name, column, now=now, window_s=int(stable_s))
            for second, value in buckets.items():
                demand[second] = demand.get(second, 0.0) + value
            if started is not None:
                first = started if first is None else min(first, started)
        result[MetricType.CONCURRENCY] = _averages(demand, first, now, stable_s, panic_s)
        rps, started = self.metrics.buckets(namespace, name, Column.REQUESTS, now=now, window_s=int(stable_s))
        result[MetricType.RPS] = _averages(rps, started, now, stable_s, panic_s)
        return result


def _averages(
    buckets: dict[int, float], first: int | None, now: float, stable: float, panic: float
) -> planning.Windows:
    if first is None:
        return planning.Windows(None, None)
    return planning.Windows(
        window_average(buckets, first=first, now=now, window_s=stable),
        window_average(buckets, first=first, now=now, window_s=panic),
    )


def _state(replica: StoredObject) -> ReplicaState:
    status = replica.status
    phase = status.get("phase", ReplicaPhase.PENDING)
    if phase in (ReplicaPhase.FAILED, ReplicaPhase.SUCCEEDED, ReplicaPhase.TERMINATED):
        kind = Phase.FAILED
    elif phase in (ReplicaPhase.PENDING, ReplicaPhase.SCHEDULED):
        kind = Phase.PENDING
    else:
        kind = Phase.RUNNING
    ready = bool(status.get("ready"))
    started_at = status.get("startedAt")
    ready_since = status.get("readySince")
    return ReplicaState(
        name=replica.name,
        phase=kind,
        deleting=replica.deletion_timestamp is not None or phase == ReplicaPhase.TERMINATING,
        ready=ready if started_at is not None else None,
        started_at=started_at,
        # when readiness last changed: since it became ready, or (never ready) its start
        ready_changed_at=ready_since if ready and ready_since is not None else started_at,
    )


def _millis(value: Any) -> int | None:
    return parse_cpu(value) if value is not None else None


def _bytes(value: Any) -> int | None:
    return parse_memory(value) if value is not None else None


def _scaled(value: int | None, factor: int) -> int | None:
    return value * factor if value is not None else None


def _scale_status(old: Any, plan: planning.Plan, summary: str, *, now: float) -> dict[str, Any]:
    """`status.autoscaling` after this tick: the count, HPA's conditions (a condition's
    lastTransitionTime moves only when its status does), and when it last rescaled."""
    decision = plan.decision
    previous = old if isinstance(old, Mapping) else {}
    before = {c.get("type"): c for c in previous.get("conditions", []) if isinstance(c, Mapping)}
    conditions = [_condition(c, before.get(c.type.value), now) for c in decision.conditions]
    status: dict[str, Any] = {
        "desiredReplicas": decision.replicas,
        "conditions": conditions,
    }
    last = now if decision.rescale else previous.get("lastScaleTime")
    if last is not None:
        status["lastScaleTime"] = last
    if decision.rescale:
        status["lastRescale"] = summary
    elif "lastRescale" in previous:
        status["lastRescale"] = previous["lastRescale"]
    return status


def _condition(condition: Condition, before: Mapping[str, Any] | None, now: float) -> dict[str, Any]:
    status = "True" if condition.status else "False"
    changed = before is None or before.get("status") != status
    return {
        "type": condition.type.value,
        "status": status,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": now if changed or before is None else before.get("lastTransitionTime", now),
    }


def _reading_json(reading: planning.Reading) -> dict[str, Any]:
    return {
        "type": reading.metric.value,
        "name": reading.name,
        "current": None if reading.current is None else round(reading.current, 3),
        "target": reading.target,
        "unit": reading.unit,
        "proposal": reading.proposal,
        "panicking": reading.panicking,
        "error": reading.error,
    }


def _capacity(
    status: Mapping[str, Any], before: Any, replicas: list[StoredObject], *, now: float
) -> dict[str, Any]:
    """`CapacityLimited`: replicas the autoscaler asked for wait Pending because no node pool has room
    for them (the scheduler's reason, as Kubernetes' FailedScheduling says it); a count the machine
    cannot run is not a count the autoscaler can fix."""
    waiting = [
        r
        for r in replicas
        if r.deletion_timestamp is None
        and isinstance(r.status.get("waiting"), Mapping)
        and r.status["waiting"].get("reason") == "Unschedulable"
    ]
    if waiting:
        reason = "Unschedulable"
        message = (
            f"{len(waiting)} replica(s) wait for room: {waiting[0].status['waiting'].get('message', '')}"
        )
    else:
        reason, message = "Schedulable", "every replica asked for has a node pool"
    previous = before if isinstance(before, Mapping) else {}
    old = next(
        (
            c
            for c in previous.get("conditions", [])
            if isinstance(c, Mapping) and c.get("type") == "CapacityLimited"
        ),
        None,
    )
    return _condition(Condition(ConditionType.CAPACITY_LIMITED, bool(waiting), reason, message), old, now)

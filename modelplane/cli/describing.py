"""The text of `describe`: a deployment with its replicas and events, a replica, any other object.

Pure: API-shaped dicts and `now` in, text out (see fields.py for how fields are read leniently).
Layout follows `kubectl describe`: `Key:  value` lines aligned per block, sub-blocks indented two
spaces, tables for conditions, replicas and events, `<none>` for what is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from modelplane.cli.fields import (
    MISSING,
    NONE,
    REVISION_CHARS,
    Obj,
    age,
    created_of,
    desired_of,
    field,
    format_age,
    format_labels,
    last_exit_text,
    meta,
    name_of,
    namespace_of,
    show,
    timestamp,
)
from modelplane.cli.kinds import KindInfo
from modelplane.cli.printing import (
    event_object,
    event_time,
    format_table,
    job_state,
    replica_phase,
    restarts_text,
)

Pair = tuple[str, str]


def _block(pairs: Sequence[Pair], indent: int = 0) -> list[str]:
    """`Key:  value` lines with the values aligned, kubectl style."""
    width = max((len(key) for key, _ in pairs), default=0) + 3
    pad = " " * indent
    return [f"{pad}{(key + ':').ljust(width)}{value}".rstrip() for key, value in pairs]


def _indent(text: str, indent: int = 2) -> list[str]:
    return [" " * indent + line if line else line for line in text.splitlines()]


def when(value: Any, now: float) -> str:
    """`2026-11-29T12:53:51Z (5m ago)`, `… (in 25s)` for the future, or `<none>`."""
    at = timestamp(value)
    if at is None:
        return NONE
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    relative = f"in {format_age(at - now)}" if at > now + 1 else f"{format_age(now - at)} ago"
    return f"{stamp} ({relative})"


def resources_text(resources: Any) -> list[Pair]:
    def one(values: Any) -> str:
        if not isinstance(values, Mapping):
            return NONE
        text = ", ".join(f"{key}={value}" for key, value in values.items() if value is not None)
        return text or NONE

    if not isinstance(resources, Mapping):
        return [("Requests", NONE), ("Limits", NONE)]
    return [("Requests", one(resources.get("requests"))), ("Limits", one(resources.get("limits")))]


def probe_text(probe: Any) -> str:
    if not isinstance(probe, Mapping):
        return NONE
    return (
        f"delay={show(probe.get('initialDelaySeconds'), empty='0')}s "
        f"period={show(probe.get('periodSeconds'), empty='10')}s "
        f"timeout={show(probe.get('timeoutSeconds'), empty='1')}s "
        f"success={show(probe.get('successThreshold'), empty='1')} "
        f"failure={show(probe.get('failureThreshold'), empty='3')}"
    )


def _probes(probes: Any) -> list[str]:
    probes = probes if isinstance(probes, Mapping) else {}
    pairs = [
        (kind.capitalize(), probe_text(probes.get(kind))) for kind in ("startup", "readiness", "liveness")
    ]
    return ["Probes:", *_block(pairs, 2)]


def autoscaling_text(autoscaling: Any) -> str:
    if not isinstance(autoscaling, Mapping):
        return "off"
    metrics = []
    for metric in autoscaling.get("metrics") or []:
        if not isinstance(metric, Mapping):
            continue
        if metric.get("targetUtilization") is not None:
            metrics.append(f"{metric.get('type')} {show(metric['targetUtilization'])}% of request")
        else:
            metrics.append(f"{metric.get('type')} {show(metric.get('target'))} per replica")
    low, high = show(autoscaling.get("minReplicas"), empty="1"), show(autoscaling.get("maxReplicas"))
    return f"{low} to {high} replicas" + (f" on {', '.join(metrics)}" if metrics else "")


def batching_text(batching: Any) -> str:
    if not isinstance(batching, Mapping):
        return "off"
    return (
        f"up to {show(batching.get('maxBatchSize'))} rows, "
        f"waiting at most {show(batching.get('maxLatencyMs'))} ms"
    )


def strategy_text(strategy: Any) -> list[Pair]:
    if not isinstance(strategy, Mapping):
        return [("Type", "RollingUpdate")]
    kind = str(strategy.get("type") or "RollingUpdate")
    pairs = [("Type", kind)]
    if kind == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), Mapping):
        rolling = strategy["rollingUpdate"]
        surge, unavailable = show(rolling.get("maxSurge")), show(rolling.get("maxUnavailable"))
        pairs.append(("Rolling", f"max surge {surge}, max unavailable {unavailable}"))
    canary = strategy.get("canary")
    if kind == "Canary" and isinstance(canary, Mapping):
        steps = [
            f"{show(step.get('weight'))}% for {show(step.get('pause'))}s"
            for step in canary.get("steps") or []
            if isinstance(step, Mapping)
        ]
        pairs.append(("Steps", ", then ".join(steps) or NONE))
        analysis = canary.get("analysis")
        if isinstance(analysis, Mapping):
            checks = ", ".join(f"{key}={show(value)}" for key, value in analysis.items() if value is not None)
            pairs.append(("Analysis", checks or NONE))
    pairs.append(("Progress deadline", f"{show(strategy.get('progressDeadlineSeconds'), empty='600')}s"))
    pairs.append(("Auto rollback", show(strategy.get("autoRollback"), empty="true")))
    return pairs


def _budget_of(spec: Mapping[str, Any], status: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """`status.disruptionBudget` (the controller's PodDisruptionBudget status); before the first
    reconcile, the rule from the spec, the default being maxUnavailable 1 for more than one replica."""
    budget = status.get("disruptionBudget")
    if isinstance(budget, Mapping):
        return budget
    if isinstance(spec.get("disruptionBudget"), Mapping):
        return {**spec["disruptionBudget"], "source": "spec"}
    replicas = desired_of({"spec": spec, "status": status})
    return {"maxUnavailable": 1, "source": "default"} if replicas is not None and replicas > 1 else None


def budget_text(spec: Mapping[str, Any], status: Mapping[str, Any]) -> list[Pair]:
    """`Disruption budget: maxUnavailable 1 (default for more than one replica)` and how many evictions
    it allows now: `Allowed disruptions: 1 (2 healthy, 1 desired healthy, 2 expected)`."""
    budget = _budget_of(spec, status)
    if budget is None:
        return [
            ("Disruption budget", "none (default for a single replica: a drain evicts it at once)"),
            ("Allowed disruptions", "any (no budget)"),
        ]
    rules = [
        f"{key} {budget[key]}" for key in ("minAvailable", "maxUnavailable") if budget.get(key) is not None
    ]
    rule = rules[0] if rules else MISSING
    source = "spec" if budget.get("source") == "spec" else "default for more than one replica"
    allowed = MISSING
    if budget.get("disruptionsAllowed") is not None:
        healthy, desired = show(budget.get("currentHealthy")), show(budget.get("desiredHealthy"))
        counts = f"{healthy} healthy, {desired} desired healthy, {show(budget.get('expectedPods'))} expected"
        allowed = f"{budget['disruptionsAllowed']} ({counts})"
    return [("Disruption budget", f"{rule} ({source})"), ("Allowed disruptions", allowed)]


def _conditions(conditions: Any, now: float) -> list[str]:
    if not isinstance(conditions, list) or not conditions:
        return ["Conditions:  <none>"]
    rows = [
        [
            show(condition.get("type")),
            show(condition.get("status")),
            show(condition.get("reason")),
            age(condition["lastTransitionTime"], now) if condition.get("lastTransitionTime") else MISSING,
            " ".join(str(condition.get("message") or "").split()) or MISSING,
        ]
        for condition in conditions
        if isinstance(condition, Mapping)
    ]
    table = format_table(["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], rows)
    return ["Conditions:", *_indent(table)]


def _replicas(replicas: Sequence[Obj], now: float) -> list[str]:
    if not replicas:
        return ["Replicas:  <none>"]
    rows = [
        [
            name_of(replica),
            show(field(replica, "spec", "version")),
            show(str(field(replica, "spec", "revision") or "")[:REVISION_CHARS]),
            replica_phase(replica),
            "true" if field(replica, "status", "ready") else "false",
            restarts_text(replica, now),
            last_exit_text(field(replica, "status", "lastExit"), now),
            age(created_of(replica), now),
        ]
        for replica in sorted(replicas, key=name_of)
    ]
    table = format_table(
        ["NAME", "VERSION", "REVISION", "PHASE", "READY", "RESTARTS", "LAST EXIT", "AGE"], rows
    )
    return ["Replicas:", *_indent(table)]


def events_section(events: Sequence[Obj], now: float, *, limit: int = 20) -> list[str]:
    """The most recent `limit` events, oldest first, as the end of every describe."""
    if not events:
        return ["Events:  <none>"]
    recent = sorted(events, key=lambda event: event_time(event) or 0.0)[-limit:]
    rows = []
    for event in recent:
        at = event_time(event)
        rows.append(
            [
                format_age(now - at) if at is not None else "<unknown>",
                show(event.get("type"), empty="Normal"),
                show(event.get("reason")),
                event_object(event),
                " ".join(str(event.get("message") or "").split()) or MISSING,
                show(event.get("count"), empty="1"),
            ]
        )
    table = format_table(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", "COUNT"], rows)
    return ["Events:", *_indent(table)]


def _identity(obj: Obj, now: float, *, namespaced: bool = True) -> list[Pair]:
    pairs = [("Name", name_of(obj))]
    if namespaced:
        pairs.append(("Namespace", namespace_of(obj)))
    pairs.append(("Labels", format_labels(meta(obj, "labels"))))
    pairs.append(("Created", when(created_of(obj), now)))
    if meta(obj, "generation") is not None:
        pairs.append(("Generation", show(meta(obj, "generation"))))
    deleting = meta(obj, "deletionTimestamp")
    if deleting:
        pairs.append(("Deleting since", when(deleting, now)))
    return pairs


def describe_deployment(
    deployment: Obj, replicas: Sequence[Obj], events: Sequence[Obj], *, now: float
) -> str:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    model = spec.get("model") or {}
    lines = _block(_identity(deployment, now))
    lines += ["Model:", *_block([
        ("Format", show(model.get("format"))),
        ("Version", show(model.get("version"))),
        ("URI", show(model.get("uri"), empty=NONE)),
    ], 2)]  # fmt: skip
    lines += ["Resources:", *_block(resources_text(spec.get("resources")), 2)]
    desired = desired_of(deployment)
    counts = (
        f"{show(desired, empty='0')} desired | {show(status.get('updatedReplicas'), empty='0')} updated | "
        f"{show(status.get('readyReplicas'), empty='0')} ready | "
        f"{show(status.get('availableReplicas'), empty='0')} available"
    )
    traffic = spec.get("traffic") or []
    split = ", ".join(f"{t.get('version')} {t.get('weight')}%" for t in traffic if isinstance(t, Mapping))
    lines += _block([
        ("Replicas", counts),
        ("Autoscaling", autoscaling_text(spec.get("autoscaling"))),
        ("Batching", batching_text(spec.get("batching"))),
        ("Concurrency", f"{spec['concurrency']} per replica" if spec.get("concurrency") else "unlimited"),
        ("Node selector", format_labels(spec.get("nodeSelector"))),
        ("Traffic", split or f"all to {show(model.get('version'))}"),
    ])  # fmt: skip
    lines += _probes(spec.get("probes"))
    lines += ["Strategy:", *_block(strategy_text(spec.get("strategy")), 2)]
    lines += _block(budget_text(spec, status))
    status_pairs = [(key, show(value)) for key, value in status.items() if not isinstance(value, list | dict)]
    lines += ["Status:", *(_block(status_pairs, 2) if status_pairs else ["  <none>"])]
    lines += _conditions(status.get("conditions"), now)
    lines += _autoscaler(status.get("autoscaling"), now)
    lines += _replicas(replicas, now)
    lines += events_section(events, now)
    return "\n".join(lines)


def _autoscaler(scale: Any, now: float) -> list[str]:
    """The autoscaler's part of the status: its count, its last change and its conditions (HPA's:
    ScalingLimited's reason is the rule that holds the count back: ScaleUpLimit, TooManyReplicas, …)."""
    if not isinstance(scale, Mapping):
        return []
    pairs = [("Desired replicas", show(scale.get("desiredReplicas")))]
    if scale.get("lastScaleTime") is not None:
        pairs.append(
            ("Last rescale", f"{when(scale['lastScaleTime'], now)}: {show(scale.get('lastRescale'))}")
        )
    conditions = _conditions(scale.get("conditions"), now)
    return ["Autoscaler:", *_block(pairs, 2), *_indent("\n".join(conditions))]


def limits_text(enforced: Any) -> str:
    if enforced is True:
        return "enforced (cgroup)"
    if enforced is False:
        return "not enforced (no writable cgroup)"
    return "unknown (not started yet)"


def waiting_text(waiting: Any, now: float) -> str:
    """`CrashLoopBackOff until 2026-… (in 25s): back-off 40s restarting failed replica`."""
    if not isinstance(waiting, Mapping):
        return NONE
    text = show(waiting.get("reason"))
    if waiting.get("until") is not None:
        text += f" until {when(waiting.get('until'), now)}"
    if waiting.get("message"):
        text += f": {waiting['message']}"
    return text


def describe_replica(replica: Obj, events: Sequence[Obj], *, now: float) -> str:
    spec = replica.get("spec") or {}
    status = replica.get("status") or {}
    gpus = spec.get("gpus")
    lines = _block([
        *_identity(replica, now),
        ("Deployment", show(spec.get("deployment"))),
        ("Version", show(spec.get("version"))),
        ("Revision", show(spec.get("revision"))),
        ("Pool", show(spec.get("pool"), empty=NONE)),
        ("GPUs", ",".join(map(str, gpus)) if isinstance(gpus, list) and gpus else NONE),
        ("Port", show(spec.get("port"))),
        ("Grace period", f"{show(spec.get('graceSeconds'), empty='30')}s"),
    ])  # fmt: skip
    lines += ["Resources:", *_block(resources_text(spec.get("resources")), 2)]
    lines += _block([("Limits", limits_text(status.get("limitsEnforced")))])
    lines += _probes(spec.get("probes"))
    ready = show(status.get("ready"), empty="false")
    if status.get("ready") and status.get("readySince") is not None:
        ready += f" (since {when(status['readySince'], now)})"
    lines += ["Status:", *_block([
        ("Phase", replica_phase(replica)),
        ("Ready", ready),
        ("Started", show(status.get("started"), empty="false")),
        ("Restarts", show(status.get("restarts"), empty="0")),
        ("PID", show(status.get("pid"))),
        ("Started at", when(status.get("startedAt"), now)),
        ("Waiting", waiting_text(status.get("waiting"), now)),
        ("Last exit", last_exit_text(status.get("lastExit"), now)),
        ("Message", show(status.get("message"), empty=NONE)),
    ], 2)]  # fmt: skip
    lines += events_section(events, now)
    return "\n".join(lines)


def describe_job(job: Obj, replicas: Sequence[Obj], events: Sequence[Obj], *, now: float) -> str:
    """A Job as `kubectl describe job`: what it runs, its limits, its replicas' states, its events."""
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    command = spec.get("command")
    started, finished = timestamp(status.get("startTime")), timestamp(status.get("completionTime"))
    deadline = spec.get("activeDeadlineSeconds")
    ttl = spec.get("ttlSecondsAfterFinished")

    def count(key: str) -> str:
        return show(status.get(key), empty="0")

    lines = _block([
        *_identity(job, now),
        ("Status", job_state(job)),
        ("Command", " ".join(map(str, command)) if isinstance(command, list) else MISSING),
        ("Working dir", show(spec.get("workingDir"), empty=NONE)),
        ("Restart policy", show(spec.get("restartPolicy"), empty="Never")),
        ("Parallelism", show(spec.get("parallelism"), empty="1")),
        ("Completions", show(spec.get("completions"), empty="1")),
        ("Backoff limit", show(spec.get("backoffLimit"), empty="6")),
        ("Active deadline", f"{deadline}s" if deadline is not None else NONE),
        ("TTL after finished", f"{ttl}s" if ttl is not None else NONE),
        ("Start time", when(started, now)),
        ("Completed at", when(finished, now)),
        ("Duration", format_age((finished or now) - started) if started is not None else MISSING),
        ("Next retry", when(status.get("retryAt"), now) if status.get("retryAt") else NONE),
        ("Replicas statuses", (
            f"{count('active')} Active ({count('ready')} Ready) / "
            f"{count('succeeded')} Succeeded / {count('failed')} Failed"
        )),
    ])  # fmt: skip
    env = spec.get("env")
    if isinstance(env, Mapping) and env:
        lines += ["Environment:", *_block([(str(k), str(v)) for k, v in env.items()], 2)]
    lines += ["Resources:", *_block(resources_text(spec.get("resources")), 2)]
    lines += _conditions(status.get("conditions"), now)
    rows = [
        [
            name_of(replica),
            show(field(replica, "spec", "pool"), empty=NONE),
            replica_phase(replica),
            restarts_text(replica, now),
            last_exit_text(field(replica, "status", "lastExit"), now),
            age(created_of(replica), now),
        ]
        for replica in sorted(replicas, key=lambda r: timestamp(created_of(r)) or 0.0)
    ]
    table = format_table(["NAME", "POOL", "PHASE", "RESTARTS", "LAST EXIT", "AGE"], rows)
    lines += ["Replicas:", *_indent(table)] if rows else ["Replicas:  <none>"]
    lines += events_section(events, now)
    return "\n".join(lines)


def describe_object(info: KindInfo, obj: Obj, events: Sequence[Obj], *, now: float) -> str:
    """Namespaces and node pools: identity, then spec and status as YAML."""
    lines = _block(_identity(obj, now, namespaced=not info.cluster_scoped))
    for section in ("spec", "status"):
        value = obj.get(section)
        if value:
            text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False).rstrip("\n")
            lines += [f"{section.capitalize()}:", *_indent(text)]
        else:
            lines.append(f"{section.capitalize()}:  <none>")
    lines += events_section(events, now)
    return "\n".join(lines)

"""kubectl-like output of API objects: tables for `get`, `events` and `top`, ages, `-o json|yaml|name`.

Pure: functions of API-shaped dicts (as docs/control-plane.md describes them) and `now` (epoch
seconds), returning text; fields.py reads the objects and formats single values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import yaml

from modelplane.cli.fields import (
    MISSING,
    NONE,
    REVISION_CHARS,
    Obj,
    Row,
    age,
    created_of,
    desired_of,
    field,
    format_age,
    format_bytes,
    format_labels,
    format_taints,
    last_exit_text,
    meta,
    name_of,
    namespace_of,
    show,
    timestamp,
)
from modelplane.cli.kinds import KindInfo

# --- tables ------------------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns three spaces apart, as kubectl prints them; no trailing spaces."""
    table = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[column]) for row in table) for column in range(len(headers))]
    lines = []
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def _deployment_row(obj: Obj, now: float) -> tuple[Row, Row]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    desired = desired_of(obj)
    ready = status.get("readyReplicas", 0)
    row = [
        name_of(obj),
        f"{ready or 0}/{show(desired, empty='0')}",
        show(status.get("updatedReplicas"), empty="0"),
        show(status.get("availableReplicas"), empty="0"),
        show(field(spec, "model", "version")),
        age(created_of(obj), now),
    ]
    pools = status.get("pools")
    pool = ",".join(map(str, pools)) if isinstance(pools, list) and pools else None
    extra = [
        show(field(spec, "model", "format")),
        pool or format_labels(spec.get("nodeSelector")),
        show(field(spec, "model", "uri")),
    ]
    return row, extra


def replica_phase(obj: Obj) -> str:
    """The phase, or `Terminating` once a delete was asked for, as kubectl shows pods."""
    phase = show(field(obj, "status", "phase"), empty="Pending")
    deleting = meta(obj, "deletionTimestamp") or field(obj, "status", "deletionTimestamp")
    if deleting and phase not in ("Terminating", "Terminated"):
        return "Terminating"
    return phase


def restarts_text(obj: Obj, now: float) -> str:
    """`3 (2m ago)` like kubectl's RESTARTS, or the bare count when the last exit time is unknown."""
    status = obj.get("status") or {}
    count = int(status.get("restarts") or 0)
    at = timestamp(field(status, "lastExit", "at"))
    if count and at is not None:
        return f"{count} ({format_age(now - at)} ago)"
    return str(count)


def _replica_row(obj: Obj, now: float) -> tuple[Row, Row]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    gpus = spec.get("gpus")
    row = [
        name_of(obj),
        f"job/{spec['job']}" if spec.get("job") else show(spec.get("deployment")),
        show(str(spec.get("revision") or "")[:REVISION_CHARS]),
        show(spec.get("pool"), empty=NONE),
        replica_phase(obj),
        "1/1" if status.get("ready") else "0/1",
        restarts_text(obj, now),
        show(status.get("pid")),
        show(spec.get("port")),
        age(created_of(obj), now),
    ]
    extra = [
        ",".join(map(str, gpus)) if isinstance(gpus, list) and gpus else NONE,
        last_exit_text(status.get("lastExit"), now),
    ]
    return row, extra


def _nodepool_row(obj: Obj, now: float) -> tuple[Row, Row]:
    spec = obj.get("spec") or {}
    capacity = spec.get("capacity") or {}
    row = [
        name_of(obj),
        show(capacity.get("cpu")),
        show(capacity.get("memory")),
        show(capacity.get("gpu"), empty="0"),
        format_labels(spec.get("labels")),
        format_taints(spec.get("taints")),
        age(created_of(obj), now),
    ]
    return row, []


def _namespace_row(obj: Obj, now: float) -> tuple[Row, Row]:
    quota = field(obj, "spec", "quota")
    quota_text = ",".join(f"{k}={v}" for k, v in quota.items() if v is not None) if quota else ""
    phase = "Terminating" if meta(obj, "deletionTimestamp") else field(obj, "status", "phase")
    row = [
        name_of(obj),
        show(phase, empty="Active"),
        quota_text or NONE,
        age(created_of(obj), now),
    ]
    return row, []


def job_state(obj: Obj) -> str:
    """kubectl's STATUS of a Job: Complete, Failed, Terminating, Running (replicas active), Pending."""
    status = obj.get("status") or {}
    if meta(obj, "deletionTimestamp") is not None:
        return "Terminating"
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return "Running" if status.get("active") else "Pending"


def _job_row(obj: Obj, now: float) -> tuple[Row, Row]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    started = timestamp(status.get("startTime"))
    finished = timestamp(status.get("completionTime"))
    duration = format_age((finished or now) - started) if started is not None else MISSING
    row = [
        name_of(obj),
        job_state(obj),
        f"{status.get('succeeded') or 0}/{show(spec.get('completions'), empty='1')}",
        duration,
        age(created_of(obj), now),
    ]
    command = spec.get("command")
    extra = [" ".join(map(str, command)) if isinstance(command, list) else MISSING]
    return row, extra


def metric_target(metric: Mapping[str, Any]) -> str:
    """`concurrency: 1.5/2`, `cpu: 45%/70%` as `kubectl get hpa` shows TARGETS; `<unknown>` unread."""
    percent = metric.get("unit") == "% of request"
    current = metric.get("current")
    shown = "<unknown>" if current is None else f"{current:g}" + ("%" if percent else "")
    target = metric.get("target")
    return f"{metric.get('name') or metric.get('type')}: {shown}/{target:g}{'%' if percent else ''}"


def _autoscaler_row(obj: Obj, now: float) -> tuple[Row, Row]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    metrics = [m for m in status.get("currentMetrics") or [] if isinstance(m, Mapping)]
    row = [
        name_of(obj),
        f"ModelDeployment/{field(obj, 'spec', 'scaleTargetRef', 'name') or name_of(obj)}",
        ", ".join(metric_target(m) for m in metrics) or NONE,
        show(spec.get("minReplicas")),
        show(spec.get("maxReplicas")),
        show(status.get("currentReplicas")),
        age(created_of(obj), now),
    ]
    panicking = [str(m.get("type")) for m in metrics if m.get("panicking")]
    extra = [show(status.get("desiredReplicas")), ",".join(panicking) or NONE]
    return row, extra


RowFn = Callable[[Obj, float], tuple[Row, Row]]
_COLUMNS: dict[str, tuple[list[str], list[str], RowFn]] = {
    "modeldeployments": (
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "VERSION", "AGE"],
        ["FORMAT", "POOL", "URI"],
        _deployment_row,
    ),
    "replicas": (
        ["NAME", "DEPLOYMENT", "REVISION", "POOL", "PHASE", "READY", "RESTARTS", "PID", "PORT", "AGE"],
        ["GPUS", "LAST EXIT"],
        _replica_row,
    ),
    "nodepools": (["NAME", "CPU", "MEMORY", "GPU", "LABELS", "TAINTS", "AGE"], [], _nodepool_row),
    "namespaces": (["NAME", "STATUS", "QUOTA", "AGE"], [], _namespace_row),
    "jobs": (["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], ["COMMAND"], _job_row),
    "autoscalers": (
        ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"],
        ["DESIRED", "PANIC"],
        _autoscaler_row,
    ),
}


def get_table(
    info: KindInfo, items: Sequence[Obj], *, now: float, wide: bool = False, all_namespaces: bool = False
) -> str:
    """The table `get KIND` prints, or kubectl's `No resources found…` line when there are none."""
    if info.plural == "events":
        return events_table(items, now=now, all_namespaces=all_namespaces)
    if not items:
        return "No resources found."
    headers, wide_headers, row_fn = _COLUMNS[info.plural]
    headers = headers + wide_headers if wide else list(headers)
    with_namespace = all_namespaces and not info.cluster_scoped
    if with_namespace:
        headers = ["NAMESPACE", *headers]
    rows = []
    for obj in items:
        row, extra = row_fn(obj, now)
        row = row + extra if wide else row
        rows.append([namespace_of(obj), *row] if with_namespace else row)
    return format_table(headers, rows)


# --- events ------------------------------------------------------------------------------------


def event_namespace(event: Obj) -> str:
    """The namespace of the object an event is about (`involvedObject.namespace`), `-` if cluster-wide."""
    for ref in ("involvedObject", "object", "regarding"):
        if isinstance(event.get(ref), Mapping) and ref_namespace(event[ref]) is not None:
            return str(ref_namespace(event[ref]))
    return str(event.get("namespace") or field(event, "metadata", "namespace") or MISSING)


def ref_namespace(ref: Mapping[str, Any]) -> str | None:
    value = ref.get("namespace")
    return str(value) if value else None


def event_time(event: Obj) -> float | None:
    for key in ("lastTimestamp", "lastSeen", "eventTime", "time", "firstTimestamp"):
        at = timestamp(event.get(key))
        if at is not None:
            return at
    return None


def event_object(event: Obj) -> str:
    """`modeldeployment/iris`, from `object`, `involvedObject` or top-level `kind` + `name` fields."""
    ref = event.get("object") or event.get("involvedObject") or event.get("regarding")
    if isinstance(ref, Mapping):
        kind, name = ref.get("kind"), ref.get("name")
    else:
        kind, name = event.get("kind"), event.get("name")
        if kind == "Event":  # the event's own identity, not the object it is about
            kind, name = event.get("objectKind"), event.get("objectName")
    if not name:
        return MISSING
    return f"{str(kind).lower()}/{name}" if kind else str(name)


def events_table(events: Sequence[Obj], *, now: float, all_namespaces: bool = False) -> str:
    """LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, COUNT — oldest first, as kubectl sorts them."""
    if not events:
        return "No events found."
    ordered = sorted(events, key=lambda event: event_time(event) or 0.0)
    headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", "COUNT"]
    rows = []
    for event in ordered:
        at = event_time(event)
        row = [
            format_age(now - at) if at is not None else "<unknown>",
            show(event.get("type"), empty="Normal"),
            show(event.get("reason")),
            event_object(event),
            " ".join(str(event.get("message") or "").split()) or MISSING,
            show(event.get("count"), empty="1"),
        ]
        rows.append([event_namespace(event), *row] if all_namespaces else row)
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
    return format_table(headers, rows)


# --- top ---------------------------------------------------------------------------------------


def top_table(
    replicas: Sequence[Obj],
    *,
    usage: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    traffic: Mapping[tuple[str, str], tuple[float | None, float | None]] | None = None,
    all_namespaces: bool = False,
) -> str:
    """Per replica: CPU (millicores), MEMORY, INFLIGHT, REQ/S; `-` for what nobody measured.

    CPU and memory come from `usage[(namespace, replica)]` (`cpuMillis`, `memoryBytes`: the node
    agent's readings, `GET /api/v1/usage`); in-flight requests and req/s from
    `traffic[(namespace, replica)]` (the router's metrics), else from the reading's `inflight` /
    `requestsPerSecond` if present.
    """
    if not replicas:
        return "No resources found."
    headers = ["NAME", "DEPLOYMENT", "CPU", "MEMORY", "INFLIGHT", "REQ/S"]
    rows = []
    for obj in replicas:
        reading = (usage or {}).get((namespace_of(obj), name_of(obj))) or {}
        cpu = reading.get("cpuMillis")
        inflight, rps = (traffic or {}).get((namespace_of(obj), name_of(obj)), (None, None))
        inflight = inflight if inflight is not None else reading.get("inflight")
        rps = rps if rps is not None else reading.get("requestsPerSecond")
        row = [
            name_of(obj),
            show(field(obj, "spec", "deployment")),
            f"{cpu:.0f}m" if isinstance(cpu, int | float) else MISSING,
            format_bytes(reading.get("memoryBytes")),
            f"{inflight:.0f}" if isinstance(inflight, int | float) else MISSING,
            f"{rps:.1f}" if isinstance(rps, int | float) else MISSING,
        ]
        rows.append([namespace_of(obj), *row] if all_namespaces else row)
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
    return format_table(headers, rows)


def requests_table(
    metrics: Sequence[Mapping[str, Any]],
    replicas: Sequence[Obj],
    *,
    all_namespaces: bool = False,
) -> str:
    """Per deployment: READY replicas, INFLIGHT, REQ/S, P99 and ERRORS (5xx share) over the window of
    the control plane's request metrics (`GET /api/v1/metrics`); `-` where nothing was measured."""
    ready: dict[tuple[str, str], list[int]] = {}
    for obj in replicas:
        deployment = field(obj, "spec", "deployment")
        if isinstance(deployment, str):
            counts = ready.setdefault((namespace_of(obj), deployment), [0, 0])
            counts[0] += bool(field(obj, "status", "ready"))
            counts[1] += 1
    by_key = {(m["namespace"], m["name"]): m.get("total") or {} for m in metrics}
    headers = ["DEPLOYMENT", "READY", "INFLIGHT", "REQ/S", "P99", "ERRORS"]
    rows = []
    for key in sorted(set(ready) | set(by_key)):
        total = by_key.get(key, {})
        counts = ready.get(key, [0, 0])
        p99 = total.get("p99Ms")
        measured = bool(total) and total.get("requests") is not None
        row = [
            key[1],
            f"{counts[0]}/{counts[1]}",
            f"{total['inflight']:.1f}" if measured else MISSING,
            f"{total['requestsPerSecond']:.1f}" if measured else MISSING,
            f"{p99:.1f}ms" if isinstance(p99, int | float) else MISSING,
            f"{100 * total['errorRate']:.1f}%" if measured and total.get("requests") else MISSING,
        ]
        rows.append([key[0], *row] if all_namespaces else row)
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
    return format_table(headers, rows)


# --- -o json | yaml | name ---------------------------------------------------------------------


def as_list(items: Sequence[Obj]) -> dict[str, Any]:
    """Several objects as kubectl prints them: one `List`."""
    return {"apiVersion": "v1", "kind": "List", "items": list(items)}


def format_document(document: Any, output: str) -> str:
    """An object or a `List` in `json` (indented) or `yaml` (keys in the API's order)."""
    if output == "json":
        return json.dumps(document, indent=2)
    if output == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).rstrip("\n")
    raise ValueError(f"unknown output format {output!r}; use wide, yaml, json or name.")


def format_names(info: KindInfo, items: Iterable[Obj]) -> str:
    """`-o name`: `modeldeployment.modelplane.dev/iris`, one per line."""
    return "\n".join(f"{info.resource}/{name_of(obj)}" for obj in items)

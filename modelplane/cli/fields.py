"""Reading API objects leniently, and formatting their small values: ages, labels, taints, bytes.

Pure. Objects are read leniently — a missing field prints `-` (or `<none>` where kubectl does), never
an error — because the API grows fields over time and an old CLI must still print what it knows.
Identity is read from `metadata` (as the API returns objects) or from the top level (as some records
carry it), whichever the object has. Times are epoch seconds or RFC 3339 strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelplane.spec import ScaleStatus, desired_replicas, sizing_of

Obj = Mapping[str, Any]
Row = list[str]
NONE = "<none>"
MISSING = "-"
REVISION_CHARS = 10
"""Revisions are hashes; tables show their start, as kubectl shows a pod-template-hash."""


# --- reading objects ---------------------------------------------------------------------------


def field(obj: Obj, *path: str) -> Any:
    """`obj[path[0]][path[1]]…`, or None where any step is missing or not a mapping."""
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def meta(obj: Obj, key: str) -> Any:
    """An identity field, at the top level (store records) or under `metadata` (YAML objects)."""
    value = obj.get(key)
    return value if value is not None else field(obj, "metadata", key)


def name_of(obj: Obj) -> str:
    return str(meta(obj, "name") or MISSING)


def namespace_of(obj: Obj) -> str:
    return str(meta(obj, "namespace") or "default")


def timestamp(value: Any) -> float | None:
    """Epoch seconds from a number or an ISO-8601 string (`2026-01-01T00:00:00Z`); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def created_of(obj: Obj) -> float | None:
    return timestamp(meta(obj, "created") or meta(obj, "creationTimestamp"))


def desired_of(deployment: Obj) -> int | None:
    """How many replicas a ModelDeployment wants: `status.desiredReplicas` as the controller wrote it,
    else (before its first pass) the same owner's answer from the spec (`modelplane.spec`); None when
    neither can be read."""
    status, spec = deployment.get("status"), deployment.get("spec")
    status = status if isinstance(status, Mapping) else {}
    desired = status.get("desiredReplicas")
    if isinstance(desired, int) and not isinstance(desired, bool):
        return desired
    try:
        return desired_replicas(
            sizing_of(spec if isinstance(spec, Mapping) else {}), ScaleStatus.read(status)
        )
    except ValueError:
        return None


# --- ages and small values ---------------------------------------------------------------------


def format_age(seconds: float) -> str:
    """A duration as kubectl prints ages (`5s`, `3m12s`, `15m`, `2h5m`, `10h`, `4d`, `3d2h`, `2y5d`)."""
    total = int(seconds)
    if total < -1:
        return "<invalid>"
    if total < 0:
        return "0s"
    if total < 120:
        return f"{total}s"
    minutes = total // 60
    if minutes < 10:
        rest = total % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years, rest = divmod(days, 365)
    if years < 8 and rest:
        return f"{years}y{rest}d"
    return f"{years}y"


def age(value: Any, now: float) -> str:
    """The age of a timestamp (number or ISO string) at `now`, or `<unknown>`."""
    at = timestamp(value)
    return format_age(now - at) if at is not None else "<unknown>"


def show(value: Any, *, empty: str = MISSING) -> str:
    """A scalar for a table cell: None → `-`, booleans as kubectl prints them (`true`)."""
    if value is None or value == "":
        return empty
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_labels(labels: Any) -> str:
    if not isinstance(labels, Mapping) or not labels:
        return NONE
    return ",".join(f"{key}={value}" for key, value in labels.items())


def format_taints(taints: Any) -> str:
    if not isinstance(taints, list) or not taints:
        return NONE
    parts = []
    for taint in taints:
        if not isinstance(taint, Mapping):
            continue
        value = f"={taint['value']}" if taint.get("value") else ""
        parts.append(f"{taint.get('key', '')}{value}:{taint.get('effect', '')}")
    return ",".join(parts) or NONE


def format_bytes(value: Any) -> str:
    """Memory in kubectl top's units: `312Mi`, `1Gi`; `-` when unknown."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return MISSING
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if value >= size:
            return f"{value / size:.0f}{unit}"
    return f"{value:.0f}"


def last_exit_text(last_exit: Any, now: float) -> str:
    """`Error (code 1), 2m ago`, or `-` for a replica that never exited."""
    if not isinstance(last_exit, Mapping):
        return MISSING
    reason = last_exit.get("reason") or "Unknown"
    code = last_exit.get("code")
    text = f"{reason} (code {code})" if code is not None else str(reason)
    at = timestamp(last_exit.get("at"))
    return f"{text}, {format_age(now - at)} ago" if at is not None else text

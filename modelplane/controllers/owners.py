"""What the two owners of replicas — the deployment controller and the Job controller — share:
creating replicas through their namespace's admission (defaults, then quota), and quoting the end of
a failed replica's log in an event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelplane.controllers import admission
from modelplane.controllers.objects import dump
from modelplane.runtime import log_path
from modelplane.spec import NamespaceSpec
from modelplane.spec.replica import HOLDS_NOTHING, Replica
from modelplane.store import AlreadyExists, Store

MakeReplica = Callable[[Mapping[str, Any]], Replica]
"""A new replica (with a freshly drawn name) given its admitted resources."""


def create_replicas(
    store: Store,
    owner: Mapping[str, str],
    template_resources: Mapping[str, Any],
    count: int,
    make: MakeReplica,
    *,
    now: float,
) -> str | None:
    """Create `count` replicas for `owner` ({kind, namespace, name}), each admitted into its namespace
    (missing resources from the namespace's defaults, then the quota), with a SuccessfulCreate event
    each, all in one store batch (one transaction). Returns the quota refusal that stopped it (also a
    FailedCreate event), if any."""
    namespace = owner["namespace"]
    stored_ns = store.find("Namespace", "", namespace)
    spec = NamespaceSpec.model_validate(stored_ns.spec) if stored_ns is not None else None
    resources = admission.with_defaults(template_resources, spec)
    missing = admission.check_requests(namespace, spec, resources, owner=owner["name"])
    if missing is not None:
        store.record_event(**owner, type="Warning", reason="FailedCreate", message=missing, now=now)
        return missing
    # the namespace's use matters only under a quota; it is read once and grows with each replica
    # created here (reading it again for each one made creating N replicas cost N x N rows)
    has_quota = spec is not None and spec.quota is not None
    used = [
        admission.demand_of(r.spec.get("resources") or {})
        for r in (store.list("Replica", namespace=namespace) if has_quota else [])
        if r.status.get("phase") not in HOLDS_NOTHING
    ]
    requested = admission.demand_of(resources)
    with store.batch():  # one commit for all of them, not one per replica and per event
        for _ in range(count):
            refusal = admission.check_quota(namespace, spec, requested=requested, used=used)
            if refusal is not None:
                store.record_event(**owner, type="Warning", reason="FailedCreate", message=refusal, now=now)
                return refusal
            name = _create_one(store, owner, resources, make, now=now)
            used.append(requested)
            store.record_event(
                **owner, type="Normal", reason="SuccessfulCreate", message=f"Created replica: {name}", now=now
            )
    return None


def _create_one(
    store: Store, owner: Mapping[str, str], resources: Mapping[str, Any], make: MakeReplica, *, now: float
) -> str:
    for _ in range(10):  # a random suffix may be taken already: draw another
        replica = make(resources)
        try:
            store.create(
                "Replica", replica.namespace, replica.name, labels=replica.labels,
                spec=dump(replica.spec), status=dump(replica.status), now=now,
            )  # fmt: skip
        except AlreadyExists:
            continue
        return replica.name
    raise RuntimeError(
        f"{owner['kind']} {owner['namespace']}/{owner['name']}: 10 replica names drawn were all taken; "
        "delete leftover replicas of it (modelplane get replicas) and it tries again."
    )


def log_tail(logs_dir: Path | None, namespace: str, replica: str, lines: int = 3) -> str:
    """The last `lines` lines of a replica's log, joined with ` | ` (for an event's message)."""
    if logs_dir is None:
        return ""
    try:
        text = log_path(logs_dir.parent, namespace, replica).read_bytes()[-4096:].decode(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

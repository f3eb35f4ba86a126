"""`GET /api/v1/recommendations`: right-sizing advice per deployment, from the store's usage history.

Each deployment's current requests and limits are its spec's, with its namespace's defaults filled in
as its replicas get them (`admission.with_defaults`); its samples are every replica's, of every
revision, in the window. The decision itself is `controllers.rightsizing.recommend` (pure).
"""

from __future__ import annotations

from typing import Any

from modelplane.controllers import admission, rightsizing
from modelplane.spec import NamespaceSpec, ResourceRequirements
from modelplane.store import NotFound, Store, StoredObject


def recommendations_for(
    store: Store, *, namespace: str | None, deployment: str | None, window_s: float | None, now: float
) -> dict[str, Any]:
    """`{"items": [recommendation...]}` for the deployments asked for; NotFound for an unknown name."""
    if deployment is not None and namespace is not None:
        chosen = [store.get("ModelDeployment", namespace, deployment)]
    else:
        chosen = [
            d for d in store.list("ModelDeployment", namespace=namespace) if deployment in (None, d.name)
        ]
        if deployment is not None and not chosen:
            raise NotFound("ModelDeployment", "", deployment)
    defaults = {ns.name: NamespaceSpec.model_validate(ns.spec) for ns in store.list("Namespace")}
    since = None if window_s is None else now - window_s
    items = [
        _recommendation(store, obj, defaults.get(obj.namespace), since=since, window_s=window_s, now=now)
        for obj in chosen
    ]
    return {"items": items}


def _recommendation(
    store: Store,
    obj: StoredObject,
    namespace: NamespaceSpec | None,
    *,
    since: float | None,
    window_s: float | None,
    now: float,
) -> dict[str, Any]:
    resources = admission.with_defaults(obj.spec.get("resources") or {}, namespace)
    return rightsizing.recommend(
        namespace=obj.namespace,
        deployment=obj.name,
        resources=ResourceRequirements.model_validate(resources),
        samples=store.usage(obj.namespace, obj.name, since=since),
        now=now,
        window_s=window_s,
    ).to_json()

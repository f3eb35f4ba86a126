"""The REST routes of the control plane (docs/control-plane.md has the table).

Every handler validates at the edge (YAML through modelplane.spec, query strings here) and talks to
the store; nothing here decides anything about replicas: the controllers do, reading the store.
Long polls (`watch`, `endpoints`) park a future on the `Hub` and answer when the store changes or
the timeout ends.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from modelplane.api import applying, auth, queries
from modelplane.api.endpoints import endpoints_table
from modelplane.api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    TooManyRequests,
)
from modelplane.api.listing import EncodedObjects
from modelplane.api.recommendations import recommendations_for
from modelplane.controllers import deployments, disruption, jobs, namespaces
from modelplane.net.errors import HttpError, MethodNotAllowed
from modelplane.net.http import Deferred, Request, Response
from modelplane.runtime import log_path, read_log
from modelplane.spec import (
    KINDS,
    MAX_REPLICAS,
    DocumentRefused,
    Job,
    Loaded,
    ModelDeploymentSpec,
    load_text,
    scale_refusal,
    sizing_of,
)
from modelplane.store import Store, parse_selector
from modelplane.store import errors as store_errors

PLURALS = {
    "namespaces": "Namespace",
    "nodepools": "NodePool",
    "modeldeployments": "ModelDeployment",
    "jobs": "Job",
    "replicas": "Replica",
    "revisions": "Revision",
}
PLURAL_OF = {kind: plural for plural, kind in PLURALS.items()}
CLUSTER_SCOPED = frozenset({"Namespace", "NodePool"})
MAX_POLL_S = 25.0
WATCH_LIMIT = 1000


def render_error(error: HttpError) -> Response:
    body: dict[str, Any] = {"error": str(error), "reason": getattr(error, "reason", type(error).__name__)}
    if isinstance(error, ApiError) and error.details:
        body["details"] = error.details
    headers = ((b"retry-after", b"5"),) if error.status == 429 else ()
    return Response(error.status, orjson.dumps(body), headers=headers)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(payload))


class Hub:
    """Parks long-poll requests until the store's resourceVersion moves past theirs."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def wait(self, timeout: float) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.add(future)
        handle = loop.call_later(timeout, _resolve, future)

        def forget(done: asyncio.Future[None]) -> None:
            handle.cancel()
            self._waiters.discard(done)

        future.add_done_callback(forget)
        return future

    def notify(self) -> None:
        for future in list(self._waiters):
            _resolve(future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Api:
    """The Handler of the control plane's HTTP server."""

    def __init__(
        self,
        store: Store,
        *,
        hub: Hub,
        state_dir: Path,
        token: str | None,
        on_down: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.hub = hub
        self.state_dir = state_dir
        self.token = token
        self.on_down = on_down
        self.clock = clock
        self._encoded = EncodedObjects()  # list answers encode only the objects that moved

    def __call__(self, request: Request) -> Response | Deferred:
        if self.token is not None:
            auth.check(request.headers.get(b"authorization"), self.token)
        else:
            auth.check_local(request.headers)
        try:
            return self._route(request)
        except store_errors.NotFound as error:
            raise NotFound(str(error)) from error
        except (store_errors.Conflict, store_errors.AlreadyExists) as error:
            raise Conflict(str(error)) from error
        except store_errors.Expired as error:
            raise Gone(str(error)) from error

    def _route(self, request: Request) -> Response | Deferred:
        path = request.path.rstrip("/")
        query = dict(urllib.parse.parse_qsl(request.query))
        if path == "/healthz":
            return _json({"ok": True})
        if not path.startswith("/api/v1/"):
            raise NotFound(f"no route for {request.method} {request.path}; the API lives under /api/v1/.")
        parts = path[len("/api/v1/") :].split("/")
        head = parts[0]
        if head == "apply":
            _require(request, "POST")
            return self.apply(request.body, query)
        if head == "watch":
            _require(request, "GET")
            return self.watch(query)
        if head == "endpoints":
            _require(request, "GET")
            return self.endpoints(query)
        if head == "events":
            _require(request, "GET")
            return self.events(query)
        if head == "recommendations":
            _require(request, "GET")
            return self.recommendations(query)
        if head == "logs" and len(parts) == 3:
            _require(request, "GET")
            return self.logs(parts[1], parts[2], query)
        if head == "down":
            _require(request, "POST")
            self.on_down()
            return _json({"stopping": True})
        kind = PLURALS.get(head)
        if kind is None:
            known = ", ".join(PLURALS)
            raise NotFound(f"unknown resource '{head}'; the API serves {known}.")
        return self._object_route(request, kind, parts[1:], query)

    def _object_route(self, request: Request, kind: str, rest: list[str], query: dict[str, str]) -> Response:
        if not rest:
            _require(request, "GET")
            return self.list(kind, query)
        if kind == "NodePool" and len(rest) == 2 and rest[1] in ("cordon", "uncordon") and rest[0]:
            _require(request, "POST")
            return self.cordon(rest[0], cordoned=rest[1] == "cordon")
        plural = PLURAL_OF[kind]
        # a path of the wrong scope is a 404 naming the right one (the store would raise: a 500)
        if kind in CLUSTER_SCOPED:
            if len(rest) != 1 or not rest[0]:
                raise NotFound(
                    f"{kind} objects are cluster-wide: use /api/v1/{plural}/<name> "
                    f"(not {request.path}); list a namespaced kind with /api/v1/<kind>?namespace=<namespace>."
                )
            namespace, name = "", rest[0]
        elif len(rest) >= 2 and rest[0] and rest[1]:
            namespace, name = rest[0], rest[1]
        else:
            raise NotFound(f"{kind} objects are namespaced: use /api/v1/{plural}/<namespace>/<name>.")
        if rest[2:] == ["scale"] and kind == "ModelDeployment":
            _require(request, "POST")
            return self.scale(namespace, name, request.body)
        if rest[2:] == ["eviction"] and kind == "Replica":
            _require(request, "POST")
            return self.evict(namespace, name)
        if rest[2:]:
            raise NotFound(f"no route for {request.method} {request.path}.")
        if request.method in ("GET", "HEAD"):
            return _json(self.store.get(kind, namespace, name).to_json())
        if request.method == "DELETE":
            return self.delete(kind, namespace, name)
        if request.method == "PUT":
            return self.replace(kind, namespace, name, request.body)
        raise MethodNotAllowed(f"{request.path} takes GET, PUT or DELETE, not {request.method}.")

    # handlers
    def apply(self, body: bytes, query: dict[str, str]) -> Response:
        try:
            text = body.decode()
        except UnicodeDecodeError as error:
            raise BadRequest("the body must be UTF-8 YAML or JSON text.") from error
        result = load_text(text, file=query.get("file", "<apply>"))
        if unsafe := [str(e) for e in result.errors if isinstance(e, DocumentRefused)]:
            # refused before any object was built (YAML aliases expanding without bound): a bad body
            raise BadRequest(f"{len(unsafe)} document(s) refused; nothing was stored.", details=unsafe)
        if result.errors:
            lines = [str(e) for e in result.errors]
            raise Invalid(f"{len(lines)} error(s) in the applied objects; nothing was stored.", details=lines)
        self._admit_namespaces(result.objects)
        base_dir = _base_dir(query)
        now = self.clock()
        prepared: list[applying.Applied] = []
        refusals: list[str] = []
        # every document is checked before any is stored; this handler runs on the event loop, as every
        # writer does, so no write comes between reading an object here and storing its merged spec
        for loaded in result.objects:
            obj = loaded.obj
            namespace = "" if obj.cluster_scoped else obj.metadata.namespace
            existing = self.store.find(obj.kind, namespace, obj.metadata.name)
            try:
                prepared.append(applying.prepare(loaded, existing, base_dir=base_dir))
            except applying.Refused as refused:
                refusals.extend(refused.lines)
        if refusals:
            raise Invalid(f"{len(refusals)} object(s) refused; nothing was stored.", details=refusals)
        results = []
        prepared.sort(key=lambda item: item.kind != "Namespace")  # a file may declare its Namespace anywhere
        for item in prepared:
            stored, outcome = self.store.apply(
                item.kind,
                item.namespace,
                item.name,
                labels=item.labels,
                spec=item.spec,
                last_applied=item.last_applied,
                now=now,
            )
            results.append(
                {"kind": item.kind, "namespace": stored.namespace, "name": stored.name, "result": outcome}
            )
        self.hub.notify()
        return _json({"results": results})

    def _admit_namespaces(self, objects: Sequence[Loaded]) -> None:
        """Refuse the whole request when an object's namespace is missing (404) or terminating (403)."""
        stored = {ns.name: ns.deletion_timestamp is not None for ns in self.store.list("Namespace")}
        declared = {loaded.obj.metadata.name for loaded in objects if loaded.obj.kind == "Namespace"}
        refusals, lines = [], []
        for loaded in objects:
            obj = loaded.obj
            if obj.kind in CLUSTER_SCOPED:
                continue
            refusal = namespaces.admit(obj.metadata.namespace, stored=stored, declared=declared)
            if refusal is not None:
                refusals.append(refusal)
                lines.append(f"{loaded.file}:{loaded.line}: {obj.display_name}: {refusal.message}")
        if refusals:
            error = NotFound if any(not r.terminating for r in refusals) else Forbidden
            raise error(namespaces.summarize(refusals), details=lines)

    def replace(self, kind: str, namespace: str, name: str, body: bytes) -> Response:
        """PUT: replace an object's spec and labels, refused (409) when metadata.resourceVersion is stale."""
        try:
            obj = orjson.loads(body)
            metadata = obj["metadata"]
            rv = int(metadata.pop("resourceVersion"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
            raise BadRequest(
                "PUT takes the whole object as JSON with metadata.resourceVersion (from a GET) set."
            ) from error
        for key in ("uid", "generation", "creationTimestamp", "deletionTimestamp"):
            metadata.pop(key, None)
        obj.pop("status", None)
        result = load_text(orjson.dumps(obj).decode(), file="<put>")
        if result.errors:
            lines = [str(e) for e in result.errors]
            raise Invalid(f"{len(lines)} error(s) in the object; nothing was stored.", details=lines)
        typed = result.objects[0].obj
        body_namespace = "" if kind in CLUSTER_SCOPED else typed.metadata.namespace
        if typed.kind != kind or typed.metadata.name != name or body_namespace != namespace:
            raise BadRequest(
                f"the body is {typed.kind} {body_namespace}/{typed.metadata.name}, "
                f"the path names {kind} {namespace}/{name}; they must agree."
            )
        spec = typed.spec.model_dump(mode="json", by_alias=True)
        if isinstance(typed, Job):  # the same immutability as apply; workingDir as stored when unset
            existing = self.store.get(kind, namespace, name)
            if spec.get("workingDir") is None:
                spec["workingDir"] = existing.spec.get("workingDir")
            try:
                spec = jobs.admit(existing, spec, base_dir=None)
            except jobs.JobRefused as error:
                raise Invalid(f"Job/{name}: {error}") from error
        updated = self.store.update(
            kind,
            namespace,
            name,
            spec=spec,
            labels=dict(typed.metadata.labels),
            expected_rv=rv,
            now=self.clock(),
        )
        self.hub.notify()
        return _json(updated.to_json())

    def list(self, kind: str, query: dict[str, str]) -> Response:
        selector = None
        if query.get("selector"):
            try:
                selector = parse_selector(query["selector"])
            except ValueError as error:
                raise BadRequest(str(error)) from error
        namespace = query.get("namespace") or None
        items = self.store.list(kind, namespace=namespace, selector=selector)
        whole = namespace is None and selector is None
        return Response(200, self._encoded.body(kind, items, self.store.current_rv(), whole_kind=whole))

    def delete(self, kind: str, namespace: str, name: str) -> Response:
        if kind == "Namespace" and (forbidden := namespaces.undeletable(name)):
            raise Forbidden(forbidden)
        # graceful kinds are drained by the controllers (replicas leave the router, then SIGTERM,
        # grace, SIGKILL; a namespace deletes everything in it first); other kinds go at once
        stored = namespaces.delete_object(self.store, kind, namespace, name, now=self.clock())
        self.hub.notify()
        return _json(stored.to_json())

    def scale(self, namespace: str, name: str, body: bytes) -> Response:
        try:
            replicas = orjson.loads(body)["replicas"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise BadRequest('the body must be {"replicas": N}.') from error
        if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= MAX_REPLICAS:
            raise Invalid(
                f"replicas must be a whole number from 0 to {MAX_REPLICAS:,} (modelplane's limit on "
                f"replicas); got {replicas!r}."
            )
        stored = self.store.get("ModelDeployment", namespace, name)
        # under autoscaling the autoscaler owns the count: refused, as a scale would be overwritten
        refusal = scale_refusal(sizing_of(stored.spec), name=name, namespace=namespace, replicas=replicas)
        if refusal is not None:
            raise Conflict(refusal)
        spec = {**stored.spec, "replicas": replicas}
        updated = self.store.update(
            "ModelDeployment",
            namespace,
            name,
            spec=spec,
            expected_rv=stored.resource_version,
            now=self.clock(),
        )
        self.hub.notify()
        return _json(updated.to_json())

    def evict(self, namespace: str, name: str) -> Response:
        """The Eviction API: a graceful delete that the deployment's disruption budget may refuse (429)."""
        now = self.clock()
        replica = self.store.get("Replica", namespace, name)
        deployment = self.store.find("ModelDeployment", namespace, replica.spec.get("deployment", ""))
        status = None
        if deployment is not None:
            spec = ModelDeploymentSpec.model_validate(deployment.spec)
            owned = [
                deployments.facts(r)
                for r in self.store.list("Replica", namespace=namespace)
                if r.spec.get("deployment") == deployment.name
            ]
            # the same status the deployment controller shows in status.disruptionBudget, computed fresh
            status = deployments.disruption_status(deployment, spec, owned, now=now)
        decision = disruption.decide_eviction(status, deployments.facts(replica), now=now)
        if isinstance(decision, disruption.Refuse):
            raise TooManyRequests(decision.message)
        self.store.mark_deleted("Replica", namespace, name, now=now)
        self.store.record_event(
            kind="Replica", namespace=namespace, name=name, type="Normal", reason="Evicted",
            message=decision.reason, now=now,
        )  # fmt: skip
        self.hub.notify()
        return _json({"evicted": True, "reason": decision.reason})

    def cordon(self, name: str, *, cordoned: bool) -> Response:
        pool = self.store.get("NodePool", "", name)
        updated = self.store.update(
            "NodePool",
            "",
            name,
            spec={**pool.spec, "unschedulable": cordoned},
            expected_rv=None,
            now=self.clock(),
        )
        self.hub.notify()
        return _json(updated.to_json())

    def events(self, query: dict[str, str]) -> Response:
        events = self.store.events(
            namespace=query.get("namespace") or None,
            kind=query.get("kind") or None,
            name=query.get("name") or None,
        )
        return _json({"items": [e.to_json() for e in events]})

    def recommendations(self, query: dict[str, str]) -> Response:
        """Right-sizing advice per deployment (`modelplane recommend`), from the recorded usage."""
        window = queries.whole(query, "window", low=1)
        answer = recommendations_for(
            self.store,
            namespace=query.get("namespace") or None,
            deployment=query.get("deployment") or None,
            window_s=window,
            now=self.clock(),
        )
        return _json(answer)

    def logs(self, namespace: str, replica: str, query: dict[str, str]) -> Response:
        offset = queries.whole(query, "offset", low=0)
        tail = queries.whole(query, "tail", low=0)
        self.store.get("Replica", namespace, replica)
        path = log_path(self.state_dir, namespace, replica)
        if not path.exists():
            return _json({"text": "", "offset": 0})
        chunk = read_log(path, tail_lines=tail, offset=offset)
        return _json({"text": chunk.text, "offset": chunk.offset})

    def watch(self, query: dict[str, str]) -> Response | Deferred:
        asked = queries.whole(query, "since", low=0)
        since = self.store.current_rv() if asked is None else asked
        timeout = queries.seconds(query, "timeout", default=MAX_POLL_S, most=MAX_POLL_S)
        kinds = [PLURALS.get(k, k) for k in query["kinds"].split(",")] if query.get("kinds") else None

        def answer() -> Response:
            # read up to `current` first: with a kinds filter, changes of other kinds move the rv too,
            # and the client must not be sent back to a `since` it has already seen (a busy loop)
            current = self.store.current_rv()
            changes = self.store.changes_since(since, kinds=kinds, limit=WATCH_LIMIT)
            payload = [{"type": c.type, "object": c.object.to_json()} for c in changes]
            last = max([since, *(c.rv for c in changes)])
            rv = last if len(changes) >= WATCH_LIMIT else max(current, last)
            return _json({"resourceVersion": rv, "changes": payload})

        if self.store.current_rv() > since:
            return answer()
        return Deferred(self.hub.wait(timeout), lambda _: answer())

    def endpoints(self, query: dict[str, str]) -> Response | Deferred:
        asked = queries.whole(query, "since", low=0)
        since = -1 if asked is None else asked
        timeout = queries.seconds(query, "timeout", default=MAX_POLL_S, most=MAX_POLL_S)

        def answer() -> Response:
            rv = self.store.current_rv()
            deployments = self.store.list("ModelDeployment")
            replicas = self.store.list("Replica")
            return _json(endpoints_table(deployments, replicas, rv=rv))

        if self.store.current_rv() > since:
            return answer()
        return Deferred(self.hub.wait(timeout), lambda _: answer())


def _base_dir(query: dict[str, str]) -> Path | None:
    """`?baseDir=`: the applied file's folder, against which relative model URIs and Job working
    directories are resolved; an absolute path (the CLI sends one), else 400."""
    text = query.get("baseDir")
    if text is None:
        return None
    if "\x00" in text or not text.startswith("/"):
        raise BadRequest(
            f"query parameter baseDir must be an absolute path (the applied file's folder); got {text!r}."
        )
    return Path(text)


def _require(request: Request, method: str) -> None:
    """Refuse any other method (405); HEAD goes wherever GET does (the HTTP server drops the body)."""
    if request.method != method and not (method == "GET" and request.method == "HEAD"):
        raise MethodNotAllowed(f"{request.path} takes {method}, not {request.method}.")


__all__ = ["CLUSTER_SCOPED", "KINDS", "PLURALS", "Api", "Hub", "render_error"]

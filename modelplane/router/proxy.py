"""The router's request handler: find the deployment, choose version and replica, forward, retry.

Routes (namespace `default` unless the path starts with `/ns/{namespace}`, which is cut off before
the request goes to the replica):

    GET  /v2/health/live | /v2/health/ready | /v2       the router itself
    GET  /v2/models                                      deployments of the namespace
    GET  /v2/models/{name}[/versions/{v}]/ready          answered here: 200 when a replica is ready
    GET  /v1/models/{name}                               answered here: {"name", "ready"}
    ANY  /v2/models/{name}[/versions/{v}][/infer]        forwarded to a replica
    POST /v1/models/{name}:predict                       forwarded to a replica
    GET  /metrics                                        Prometheus, per deployment and version
    GET  /router/endpoints                               the endpoints table in use (for debugging)

Paths are read by `net/paths.py`, as the model server reads them: a path that cannot name a model
(empty segment, `..`, percent-encoding, too long) gets 400; HEAD goes wherever GET does.

Every request is handled with loop callbacks, no task: a choice (picking.py), a slot (queueing.py),
one pooled upstream request (net/client.py), and a Deferred answer for the HTTP server. Each request
has a phase (phases.py: routing, queued, held, in flight, retrying, done); every move goes through
`Proxy._to`, which checks it and moves the gauges (queued, held, in flight, the replica's slot) with it.
A failed connection or a replica that dies mid-answer is retried on another replica of the same version
(`retries` times); a timeout is not (the replica may still be working on it). A replica that refused
a connection is avoided for `avoid_s` seconds unless no other can serve.

A client whose connection is reset (RST) before its answer abandons its request: a queued or held
one leaves unsent, one at a replica has its upstream connection reset and its slot freed for the next
in the queue. It counts as status 499. A FIN is not a departure: a client that close()s its socket
normally, or whose process is killed (the kernel closes its socket, with a FIN when nothing is left
unread), is taken as having half-closed, and its request is still forwarded and answered (nginx and
Envoy by default take that FIN as the client gone). See docs/router.md, "Clients that leave".

A request that finds no serving replica (none for a weighted version; none of the version it pins)
is held (holding.py) until a table update brings one, or answered 503 `ready_wait_s` after it arrived.
So is a queued request whose version lost its replicas, and a retry with no replica left; an unpinned
one draws its version again. A request that finds a replica never touches the holding code. A
deployment whose table entry wants 0 replicas (scaled to 0, or being deleted) answers 503 at once
instead of holding: none will come.

A request already admitted (a retry, a queued request moved to another version, a held one released)
is never refused for the queue's capacity: that applies once, when a request arrives.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from random import Random
from typing import Any, Protocol

import orjson

from modelplane import __version__
from modelplane.net.client import (
    UpstreamConnectError,
    UpstreamDisconnected,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeout,
)
from modelplane.net.errors import HttpError, MethodNotAllowed
from modelplane.net.http import JSON, Deferred, Request, Response
from modelplane.net.paths import ModelPath, Op, match
from modelplane.router.errors import BadGateway, GatewayTimeout, NoReadyReplicas, QueueFull, RouteNotFound
from modelplane.router.holding import HOLD_CAPACITY, READY_WAIT_S, Holding
from modelplane.router.metrics import CLIENT_CLOSED, CONTENT_TYPE, RouterMetrics, VersionStats
from modelplane.router.phases import PLACING, IllegalTransition, Phase, transition
from modelplane.router.picking import choose_replica, choose_version, serving_endpoints
from modelplane.router.queueing import Gate, queue_capacity
from modelplane.router.table import DEFAULT_NAMESPACE, Deployment, Endpoint, EndpointsTable

_RETRY_AFTER = ((b"retry-after", b"1"),)


class Upstreams(Protocol):
    """The part of `ConnectionPool` the proxy uses: send one request, withdraw it, forget replicas."""

    def request(
        self, address: str, method: str, path: str, *, body: bytes = ..., content_type: bytes | None = ...
    ) -> asyncio.Future[UpstreamResponse]: ...

    def cancel(self, address: str, future: asyncio.Future[UpstreamResponse]) -> None: ...

    def retain(self, addresses: Iterable[str]) -> None: ...


def render_error(error: HttpError) -> Response:
    headers = _RETRY_AFTER if isinstance(error, QueueFull) else ()
    return Response(error.status, orjson.dumps({"error": str(error)}), headers=headers)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(payload))


@dataclass(eq=False)
class Route:
    """One deployment as the router serves it: its table entry, prepared for picking."""

    deployment: Deployment
    gate: Gate[Forward]
    serving: dict[str, list[Endpoint]]  # version -> endpoints that may take new requests
    weights: list[tuple[str, int]]
    live: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.deployment.namespace}/{self.deployment.name}"


@dataclass(eq=False, slots=True)
class Forward:
    """One client request on its way to a replica (and maybe a second one)."""

    route: Route
    version: str
    stats: VersionStats
    method: str
    path: str
    body: bytes
    content_type: bytes | None
    answer: asyncio.Future[Response]
    started: float
    retries_left: int
    tried: list[str] = field(default_factory=list)
    replica: Endpoint | None = None  # the replica of its attempt in flight (or its last one)
    upstream: asyncio.Future[UpstreamResponse] | None = None  # the attempt on the wire
    phase: Phase = Phase.ROUTING
    pinned: bool = False  # it names its version (`/versions/{v}`): it never moves to another

    def __str__(self) -> str:  # for errors only: never built on the request path
        return f"{self.method} {self.path} to {self.route.label}"


class Proxy:
    """The router's `Handler`. `update(table)` swaps the table; everything else runs per request."""

    def __init__(
        self,
        pool: Upstreams,
        *,
        retries: int = 1,
        queue_size: int | None = None,
        avoid_s: float = 1.0,
        ready_wait_s: float = READY_WAIT_S,
        hold_capacity: int = HOLD_CAPACITY,
        rng: Random | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.pool = pool
        self.retries = retries
        self.queue_size = queue_size
        self.avoid_s = avoid_s
        self.ready_wait_s = ready_wait_s
        self.hold_capacity = hold_capacity
        self.rng = rng or Random()
        self.clock = clock
        self.table: EndpointsTable | None = None
        self.routes: dict[tuple[str, str], Route] = {}
        self.metrics = RouterMetrics(
            lambda: self.table, lambda: [(k, g.inflight, g.answered) for k, g in self._gates.items()]
        )
        self.draining = False
        self._gates: dict[tuple[str, str], Gate[Forward]] = {}
        self._down: dict[str, float] = {}  # replica -> until (clock) it is avoided
        self._held: dict[tuple[str, str], Holding[Forward]] = {}  # deployments with held requests

    # the table
    def update(self, table: EndpointsTable) -> None:
        """Serve from `table` from now on; queued and held requests move to the new replicas, wait on,
        or are refused (their deployment was removed)."""
        routes: dict[tuple[str, str], Route] = {}
        for deployment in table.deployments:
            gate = self._gates.get(deployment.key)
            if gate is None:
                gate = self._gates[deployment.key] = Gate(deployment.concurrency)
            gate.concurrency = deployment.concurrency
            by_version: dict[str, list[Endpoint]] = {}
            for endpoint in deployment.endpoints:
                by_version.setdefault(endpoint.version, []).append(endpoint)
            serving = {v: s for v, eps in by_version.items() if (s := serving_endpoints(eps))}
            routes[deployment.key] = Route(
                deployment, gate, serving, deployment.weights(), frozenset(deployment.live_versions())
            )
        old, self.routes, self.table = self.routes, routes, table
        self.pool.retain(e.address for d in table.deployments for e in d.endpoints)
        for key, route in old.items():
            if key not in routes:
                removed = RouteNotFound(f"model {route.label} was removed.")
                for version in list(route.gate.waiting):
                    for forward in route.gate.drop(version):
                        self._finish(forward, render_error(removed))
                for forward in self._unhold_all(key):
                    self._finish(forward, render_error(removed))
                del self._gates[key]
        for key, route in routes.items():
            for version in list(route.gate.waiting):
                self._admit_waiting(route, version)
            if key in self._held and route.serving:
                self._release_held(route)
            if key in self._held and route.deployment.replicas == 0:  # none will come: answer now
                for forward in self._unhold_all(key):
                    forward.route = route  # the entry that says so (held ones keep the old one)
                    self._finish(forward, self._no_ready(forward, waited=False))

    def gates(self) -> Mapping[tuple[str, str], Gate[Forward]]:
        """Each deployment's per-replica counts (the metrics reporter reads them)."""
        return self._gates

    # routing
    def handle(self, request: Request) -> Response | Deferred:
        target = match(request.path)  # BadPath: 400
        namespace = target.namespace or DEFAULT_NAMESPACE
        model = target.model
        if model is not None:
            return self._model(request, namespace, model, target.path)
        if target.path == "/v2/models":
            _require(request, "GET")
            return self._list(namespace)
        route = _STATIC.get(target.path) if namespace == DEFAULT_NAMESPACE else None
        if route is None:
            if target.namespace is not None and target.path == "/":
                raise RouteNotFound(f"no route for {request.method} {request.path}; use /ns/NAMESPACE/v2/...")
            if target.path.startswith(("/v2/models/", "/v1/models/")):
                raise RouteNotFound(f"no route for {request.method} {request.path}.")
            raise RouteNotFound(f"no route for {request.method} {request.path}; see /v2/models.")
        _require(request, "GET")
        return route(self)

    def _model(self, request: Request, namespace: str, model: ModelPath, path: str) -> Response | Deferred:
        route = self._find(namespace, model.name)
        version = model.version
        if version is not None and version not in route.live:
            live = ", ".join(sorted(route.live)) or "none"
            raise RouteNotFound(f"model {route.label} has no live version '{version}'; live: {live}.")
        if model.op is Op.READY:
            _require(request, "GET")
            return self._model_ready(route, version)
        if model.op is Op.V1_READY:
            _require(request, "GET")
            return _json({"name": route.deployment.name, "ready": self._has_serving(route, None)})
        return self._forward(route, version, request, path)  # metadata, infer, predict: the replica's

    def _find(self, namespace: str, name: str) -> Route:
        route = self.routes.get((namespace, name))
        if route is None:
            known = sorted(n for ns, n in self.routes if ns == namespace)
            where = f"namespace '{namespace}'"
            if not known:
                raise RouteNotFound(f"model '{name}' not found: {where} has no models.")
            raise RouteNotFound(f"model '{name}' not found in {where}; known models: {', '.join(known)}.")
        return route

    def _has_serving(self, route: Route, version: str | None) -> bool:
        if version is not None:
            return version in route.serving
        return any(w > 0 and v in route.serving for v, w in route.weights)

    # answered here
    def live(self) -> Response:
        return _json({"live": True})

    def ready(self) -> Response:
        if self.draining:
            return _json({"ready": False, "error": "the router is shutting down"}, 503)
        if self.table is None:
            return _json({"ready": False, "error": "no endpoints table yet"}, 503)
        return _json({"ready": True})

    def server_metadata(self) -> Response:
        return _json({"name": "modelplane-router", "version": __version__, "extensions": []})

    def render_metrics(self) -> Response:
        return Response(200, self.metrics.render(), content_type=CONTENT_TYPE)

    def endpoints(self) -> Response:
        if self.table is None:
            return _json({"error": "no endpoints table yet"}, 503)
        return Response(200, self.table.model_dump_json(by_alias=True).encode())

    def _list(self, namespace: str) -> Response:
        routes = sorted((r for (ns, _), r in self.routes.items() if ns == namespace), key=lambda r: r.label)
        deployments = [
            {
                "name": r.deployment.name,
                "versions": sorted(r.live),
                "traffic": [{"version": v, "weight": w} for v, w in r.weights],
                "ready": {v: len(eps) for v, eps in r.serving.items()},
            }
            for r in routes
        ]
        return _json({"models": [r.deployment.name for r in routes], "deployments": deployments})

    def _model_ready(self, route: Route, version: str | None) -> Response:
        name = route.deployment.name
        if self._has_serving(route, version):
            return _json({"name": name, "ready": True})
        which = f"version '{version}' of {route.label}" if version else route.label
        return _json({"name": name, "ready": False, "error": f"no ready replicas for {which}"}, 503)

    # forwarding
    def _forward(self, route: Route, pinned: str | None, request: Request, path: str) -> Deferred:
        started = self.clock()
        deployment = route.deployment
        version = pinned if pinned is not None else choose_version(route.weights, route.serving, self.rng)
        stats = self.metrics.stats(deployment.namespace, deployment.name, version or "")
        answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        forward = Forward(
            route,
            version or "",
            stats,
            request.method,
            f"{path}?{request.query}" if request.query else path,
            request.body,
            request.content_type,
            answer,
            started,
            self.retries,
            pinned=pinned is not None,
        )
        if version is None or version not in route.serving:
            self._hold(forward)
        else:
            self._start(forward, admitted=False)
        return Deferred(answer, _answer, lambda: self._abandon(forward))

    def _start(self, forward: Forward, *, admitted: bool) -> None:
        """Send `forward` to a replica of its version with a free slot, else queue it.

        A new request finds the queue's capacity applied (503 when full); an `admitted` one (a retry, a
        request rerouted or released from holding) is queued past it: it was admitted when it came,
        and refusing it now would turn a replica going away into errors for requests already waiting.
        """
        route = forward.route
        endpoint = self._pick(route, forward)
        if endpoint is not None:
            self._send(forward, endpoint)
            return
        capacity = sys.maxsize
        if not admitted:
            capacity = queue_capacity(
                serving_replicas=sum(len(eps) for eps in route.serving.values()),
                concurrency=route.gate.concurrency,
                fixed=self.queue_size,
            )
        if route.gate.offer(forward.version, forward, capacity=capacity):
            self._to(forward, Phase.QUEUED)
        else:
            message = (
                f"{route.label} is at capacity: every replica of version '{forward.version}' has "
                f"{route.gate.concurrency} request(s) in flight and {route.gate.queued} wait; retry shortly."
            )
            self._finish(forward, render_error(QueueFull(message)))

    def _pick(self, route: Route, forward: Forward) -> Endpoint | None:
        avoid: list[str] | set[str] = forward.tried
        if self._down:
            now = self.clock()
            for replica, until in list(self._down.items()):
                if until <= now:
                    del self._down[replica]
            if self._down:
                avoid = {*forward.tried, *self._down}
        endpoint = choose_replica(
            route.serving.get(forward.version, ()),
            route.gate.load,
            limit=route.gate.concurrency,
            rng=self.rng,
            avoid=avoid,
        )
        if endpoint is not None and endpoint.replica in forward.tried and not forward.pinned:
            # a retry with no other replica of its version (e.g. mid-rollout): any other version's
            # replica answers better than the one that just failed; a pinned version never moves
            everyone = tuple(e for endpoints in route.serving.values() for e in endpoints)
            other = choose_replica(
                everyone,
                route.gate.load,
                limit=route.gate.concurrency,
                rng=self.rng,
                avoid=set(forward.tried),
            )
            if other is not None and other.replica not in forward.tried:
                return other
        return endpoint

    def _send(self, forward: Forward, endpoint: Endpoint) -> None:
        forward.replica = endpoint
        self._to(forward, Phase.IN_FLIGHT)
        upstream = forward.upstream = self.pool.request(
            endpoint.address,
            forward.method,
            forward.path,
            body=forward.body,
            content_type=forward.content_type,
        )
        upstream.add_done_callback(lambda done: self._on_answer(forward, endpoint, done))

    def _on_answer(
        self, forward: Forward, endpoint: Endpoint, done: asyncio.Future[UpstreamResponse]
    ) -> None:
        route = forward.route
        forward.upstream = None
        if forward.answer.done():  # its client left (counted then): nothing to relay or retry
            self._finish(forward, None)  # only the slot to pass on
        elif done.cancelled():  # withdrawn while its client still waits (not by _abandon): say so
            where = f"replica {endpoint.replica} of {route.label} ({endpoint.address})"
            message = f"{where} failed: the request to it was cancelled before it answered."
            self._finish(forward, render_error(BadGateway(message)))
        elif (error := done.exception()) is None:
            self._finish(forward, _relay(done.result(), head=forward.method == "HEAD"))
        elif isinstance(error, UpstreamConnectError | UpstreamDisconnected) and forward.retries_left > 0:
            if isinstance(error, UpstreamConnectError):
                self._down[endpoint.replica] = self.clock() + self.avoid_s
            self._to(forward, Phase.RETRYING)
            forward.retries_left -= 1
            forward.tried.append(endpoint.replica)
            forward.stats.retries += 1
            current = self.routes.get(route.deployment.key)
            if current is None:
                self._finish(forward, render_error(RouteNotFound(f"model {route.label} was removed.")))
            else:
                self._reroute(current, forward)
        else:
            self._finish(forward, render_error(_gateway_error(route, endpoint, error, forward)))
        current = self.routes.get(route.deployment.key)
        if current is not None and current.gate.waiting:
            self._admit_waiting(current, endpoint.version)

    def _admit_waiting(self, route: Route, version: str) -> None:
        """Send queued requests of `version` to replicas with a free slot, in order."""
        gate = route.gate
        if version not in route.serving:
            for dropped in gate.drop(version):
                self._to(dropped, Phase.ROUTING)
                self._reroute(route, dropped)
            return
        while (forward := gate.peek(version)) is not None:
            endpoint = self._pick(route, forward)
            if endpoint is None:
                return
            gate.pop(version)
            forward.route = route
            self._send(forward, endpoint)

    def _reroute(self, route: Route, forward: Forward) -> None:
        """Start `forward` again on `route` after its replica failed or its version lost its replicas.

        An unpinned request whose version has no serving replica left draws its version again; with
        none to draw (or a pinned version with none), it is held.
        """
        forward.route = route
        if forward.version not in route.serving and not forward.pinned:
            version = choose_version(route.weights, route.serving, self.rng)
            if version is not None:
                self._move(forward, version)
        if forward.version in route.serving:
            self._start(forward, admitted=True)
        else:
            self._hold(forward)

    def _move(self, forward: Forward, version: str) -> None:
        """Give an unpinned request (neither queued, held nor in flight) a new version, and its counters."""
        if forward.phase not in PLACING:  # its gauges count under the version it has
            raise IllegalTransition(f"request {forward}: cannot change version while {forward.phase}")
        deployment = forward.route.deployment
        forward.version = version
        forward.stats = self.metrics.stats(deployment.namespace, deployment.name, version)

    # holding (no ready replica)
    def _hold(self, forward: Forward) -> None:
        """Keep `forward` until a table brings a replica that can take it, up to `ready_wait_s` after
        it arrived; 503 at once when holding is off, the router drains, the deployment wants no replica
        (scaled to 0, or being deleted: none will come), or it holds its cap."""
        route = forward.route
        wait = forward.started + self.ready_wait_s - self.clock()
        if self.ready_wait_s <= 0 or self.draining or wait <= 0 or route.deployment.replicas == 0:
            self._finish(forward, self._no_ready(forward, waited=wait <= 0 < self.ready_wait_s))
            return
        holding = self._held.get(route.deployment.key)
        if holding is None:  # stored below once it holds a request: no deployment keeps an empty one
            holding = Holding(self.hold_capacity)
        if holding.full:
            message = (
                f"{route.label} has no ready replica and {len(holding)} request(s) already wait for one; "
                "retry shortly."
            )
            self._finish(forward, render_error(QueueFull(message)))
            return
        self._held[route.deployment.key] = holding
        holding.add(forward, asyncio.get_running_loop().call_later(wait, self._expire, forward))
        self._to(forward, Phase.HELD)

    def _release_held(self, route: Route) -> None:
        """Start the held requests `route` can serve now, oldest first; the others wait on.

        An unpinned request draws its version now; a pinned one leaves when its version serves (or is
        no longer live: 404). A released request goes to a replica or to the queue, even past the
        queue's capacity: it was admitted when it was held, and holding is bounded on its own. An
        unpinned request keeps the version label it was held under until it draws one here.
        """
        holding = self._held[route.deployment.key]
        for forward in holding.waiters():
            pinned = forward.pinned
            if pinned and forward.version not in route.live:
                holding.remove(forward)
                live = ", ".join(sorted(route.live)) or "none"
                message = f"model {route.label} has no live version '{forward.version}'; live: {live}."
                self._finish(forward, render_error(RouteNotFound(message)))
                continue
            version = forward.version if pinned else choose_version(route.weights, route.serving, self.rng)
            if version is None or version not in route.serving:
                continue
            holding.remove(forward)
            self._to(forward, Phase.ROUTING)
            forward.route = route
            if not pinned:
                self._move(forward, version)
            self._start(forward, admitted=True)
        if not holding:
            del self._held[route.deployment.key]

    def _expire(self, forward: Forward) -> None:
        """The wait of a held request is over (its timer fired): the 503 it was spared so far."""
        key = forward.route.deployment.key
        holding = self._held.get(key)
        if holding is not None and holding.remove(forward):
            if not holding:
                del self._held[key]
            self._finish(forward, self._no_ready(forward, waited=True))

    def _unhold_all(self, key: tuple[str, str]) -> list[Forward]:
        """Take every held request of deployment `key` out (their timers cancelled), to be answered."""
        holding = self._held.pop(key, None)
        return holding.take_all() if holding is not None else []

    def _no_ready(self, forward: Forward, *, waited: bool) -> Response:
        label = forward.route.label
        which = f"version '{forward.version}' of {label}" if forward.pinned else label
        if self.draining:
            message = f"no ready replicas for {which}; the router is shutting down."
        elif forward.route.deployment.replicas == 0:
            message = f"no ready replicas for {which}: it wants 0 replicas (scaled to 0, or being deleted)."
        elif waited:
            message = f"no ready replicas for {which} after waiting {self.ready_wait_s:g} s."
        else:
            message = f"no ready replicas for {which}."
        return render_error(NoReadyReplicas(message))

    def drain(self) -> None:
        """The router stops: /v2/health/ready turns 503, and held requests get their 503 now (no new
        table will come to release them), as will any request that finds no serving replica."""
        self.draining = True
        for key in list(self._held):
            for forward in self._unhold_all(key):
                self._finish(forward, self._no_ready(forward, waited=False))

    def _abandon(self, forward: Forward) -> None:
        """The client reset its connection before its answer (the HTTP server cancelled the answer)."""
        stats = forward.stats
        stats.observe(CLIENT_CLOSED, self.clock() - forward.started)
        phase = forward.phase
        if phase is Phase.IN_FLIGHT and forward.upstream is not None and forward.replica is not None:
            stats.closed_inflight += 1
            self.pool.cancel(forward.replica.address, forward.upstream)  # _on_answer frees the slot
        elif phase is Phase.QUEUED and forward.route.gate.remove(forward.version, forward):
            stats.closed_queued += 1
            self._finish(forward, None)
        elif phase is Phase.HELD:
            key = forward.route.deployment.key
            if (held := self._held.get(key)) is not None and held.remove(forward) and not held:
                del self._held[key]
            stats.closed_held += 1
            self._finish(forward, None)

    def _to(self, forward: Forward, phase: Phase) -> None:
        """The one way a request changes phase: checked, and its gauges moved with it (phases.py)."""
        replica = forward.replica
        forward.phase = transition(
            forward.phase,
            phase,
            gauges=forward.stats,
            slots=forward.route.gate,
            replica=replica.replica if replica is not None else None,
            request=forward,
            now=self.clock(),
        )

    def _finish(self, forward: Forward, response: Response | None) -> None:
        """The request is done: out of its phase's gauges; `response` answers it if its client waits
        (None: its client left, counted as 499 in _abandon)."""
        self._to(forward, Phase.DONE)
        if response is not None and not forward.answer.done():
            forward.stats.observe(response.status, self.clock() - forward.started)
            forward.answer.set_result(response)


def _answer(done: asyncio.Future[Response]) -> Response:
    return done.result()


def _relay(upstream: UpstreamResponse, *, head: bool = False) -> Response:
    """The replica's answer as the client gets it; a HEAD answer keeps the length its GET would have."""
    retry_after = upstream.headers.get(b"retry-after")
    length = upstream.headers.get(b"content-length") if head else None
    return Response(
        upstream.status,
        upstream.body,
        content_type=upstream.headers.get(b"content-type", JSON),
        headers=((b"retry-after", retry_after),) if retry_after is not None else (),
        content_length=int(length) if length is not None and length.isdigit() else None,
    )


def _gateway_error(route: Route, endpoint: Endpoint, error: BaseException, forward: Forward) -> HttpError:
    where = f"replica {endpoint.replica} of {route.label} ({endpoint.address})"
    tries = len(forward.tried) + 1
    attempts = f" after {tries} attempts" if tries > 1 else ""
    if isinstance(error, UpstreamTimeout):
        return GatewayTimeout(f"{where} did not answer in time: {error}.")
    if isinstance(error, UpstreamError):
        return BadGateway(f"{where} failed{attempts}: {error}.")
    return BadGateway(f"{where} failed{attempts}: {type(error).__name__}: {error}.")


def _require(request: Request, method: str) -> None:
    """Refuse any other method (405); HEAD goes wherever GET does (the HTTP server drops the body)."""
    if request.method != method and not (method == "GET" and request.method == "HEAD"):
        raise MethodNotAllowed(f"{request.path} takes {method}, not {request.method}.")


_STATIC: dict[str, Callable[[Proxy], Response]] = {
    "/v2/health/live": Proxy.live,
    "/v2/health/ready": Proxy.ready,
    "/v2": Proxy.server_metadata,
    "/metrics": Proxy.render_metrics,
    "/router/endpoints": Proxy.endpoints,
}

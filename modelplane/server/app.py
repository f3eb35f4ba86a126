"""The model server: Open Inference Protocol v2 and KServe v1 endpoints over the models of one process.

A `ModelServer` serves one or more models. It listens at once (live), loads the models in a worker
thread (ready when all have loaded), and on SIGTERM turns not-ready, stops accepting connections,
lets in-flight requests finish within the grace period, and returns exit code 0. A model that fails
to load makes `run` return 1 with the loader's message, so the supervisor restarts it with backoff.

Routes (all JSON; errors are `{"error": "..."}` with the protocol's status codes):
    GET  /v2/health/live | /v2/health/ready | /v2 | /v2/models | /metrics
    GET  /v2/models/{name}[/versions/{v}]          model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready    model ready
    POST /v2/models/{name}[/versions/{v}]/infer    inference
    GET  /v1/models/{name}                         KServe v1 model ready
    POST /v1/models/{name}:predict                 KServe v1 predict
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import orjson

from modelplane import __version__
from modelplane.net import paths
from modelplane.net.cross_site import check_browser_request
from modelplane.net.errors import HttpError
from modelplane.net.http import Deferred, HttpServer, Limits, Request, Response
from modelplane.server import tensors
from modelplane.server.batching import Batcher, Outputs
from modelplane.server.errors import (
    InvalidInput,
    MethodNotAllowed,
    ModelLoadError,
    ModelNotFound,
    NotReady,
    ServerError,
)
from modelplane.server.fastpath import CommonRequest
from modelplane.server.loaders import load_model
from modelplane.server.metrics import CONTENT_TYPE, ModelMetrics, ServerMetrics
from modelplane.server.model import Array, LoadRequest, Model, TensorSpec

log = logging.getLogger("modelplane.server")

_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024  # largest JSON answer to an inference request
_PLAIN_JSON = {None: True, b"application/json": True}  # content types check_json_body always takes
CLIENT_CLOSED = 499  # nginx's status for a request whose client went away before the answer


class ModelState(StrEnum):
    LOADING = "Loading"
    READY = "Ready"
    FAILED = "Failed"


@dataclass(frozen=True)
class ModelConfig:
    """What to serve: the loader's request plus the batching settings of `spec.batching`."""

    load: LoadRequest
    batching: bool
    max_batch_size: int
    max_latency_ms: float

    @property
    def name(self) -> str:
        return self.load.name

    @property
    def version(self) -> str | None:
        return self.load.version


@dataclass(eq=False)
class ServedModel:
    config: ModelConfig
    metrics: ModelMetrics
    state: ModelState = ModelState.LOADING
    model: Model | None = None
    batcher: Batcher | None = None
    error: str | None = None
    inputs: dict[str, TensorSpec] = field(default_factory=dict)
    outputs: dict[str, TensorSpec] = field(default_factory=dict)
    all_outputs: frozenset[str] = frozenset()  # what a request asks for when it names no output
    common: CommonRequest | None = None  # the fast path for the common request (server/fastpath.py)
    first_output: frozenset[str] = frozenset()  # what a KServe v1 predict asks for

    @property
    def name(self) -> str:
        return self.config.name

    def check_version(self, version: str | None) -> None:
        if version is not None and version != self.config.version:
            serving = f"version '{self.config.version}'" if self.config.version else "no named version"
            raise ModelNotFound(f"model '{self.name}' has no version '{version}'; it serves {serving}.")

    def healthy(self) -> bool:
        """A model's own readiness check (`healthy()`, e.g. a python model's), when it has one."""
        check = getattr(self.model, "healthy", None)
        return bool(check()) if callable(check) else True

    def ready_batcher(self) -> Batcher:
        if self.state is ModelState.READY and self.batcher is not None:
            return self.batcher
        if self.state is ModelState.FAILED:
            raise NotReady(f"model '{self.name}' failed to load: {self.error}")
        raise NotReady(
            f"model '{self.name}' is still loading; retry when /v2/models/{self.name}/ready is 200."
        )


def render_error(error: HttpError) -> Response:
    return Response(error.status, orjson.dumps({"error": str(error)}))


def _json(payload: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(payload, option=_DUMPS_OPTIONS))


class ModelServer:
    max_response = DEFAULT_MAX_RESPONSE  # bytes (--max-response-size); larger answers get 400

    def __init__(
        self, models: Sequence[ModelConfig], *, max_body: int = DEFAULT_MAX_BODY, limits: Limits | None = None
    ) -> None:
        self.metrics = ServerMetrics()
        self.models = {m.name: ServedModel(m, self.metrics.for_model(m.name, m.version)) for m in models}
        self._infer_paths = _infer_paths(self.models)
        self.stopping = False
        self.http = HttpServer(self.handle, render_error=render_error, max_body=max_body, limits=limits)

    # lifecycle
    async def run(self, host: str, port: int, *, grace_s: float, on_listening: Callable[[int], None]) -> int:
        """Serve until SIGTERM/SIGINT; the process exit code."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        on_listening(await self.http.listen(host, port))
        loading = asyncio.ensure_future(self.load_all())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({loading, stopped}, return_when=asyncio.FIRST_COMPLETED)
        code = 0
        if loading.done() and loading.exception() is not None:
            log.error("%s", loading.exception())
            code = 1
        elif loading.done():
            await stopped
        else:
            loading.cancel()
        await self.shutdown(grace_s)
        return code

    async def load_all(self) -> None:
        for served in self.models.values():
            await self._load(served)
        # The models and libraries are loaded for good: move them out of the collector's sight, so
        # that full collections under load scan only request garbage (they took 20-30 ms otherwise,
        # the p99 of a busy server).
        gc.collect()
        gc.freeze()

    async def _load(self, served: ServedModel) -> None:
        config = served.config
        started = time.perf_counter()
        try:
            model = await _in_daemon_thread(load_model, config.load)
        except ModelLoadError as error:
            served.state, served.error = ModelState.FAILED, str(error)
            raise
        seconds = time.perf_counter() - started
        served.model = model
        served.inputs = {s.name: s for s in model.inputs}
        served.outputs = {s.name: s for s in model.outputs}
        served.all_outputs = frozenset(served.outputs)
        served.first_output = frozenset(list(served.outputs)[:1])
        served.common = CommonRequest(
            name=served.name, version=config.version, inputs=model.inputs, outputs=model.outputs
        )
        served.batcher = Batcher(
            model,
            name=served.name,
            max_batch_size=config.max_batch_size,
            max_latency_s=config.max_latency_ms / 1000.0,
            batching=config.batching,
            on_batch=served.metrics.observe_batch,
            on_dequeue=served.metrics.queue_time.observe,
        )
        served.metrics.load_time.set(seconds)
        served.metrics.ready.set(1)
        served.state = ModelState.READY
        version = f" version {config.version}" if config.version else ""
        log.info("model '%s'%s (%s) loaded in %.2f s", served.name, version, config.load.format, seconds)

    async def shutdown(self, grace_s: float) -> None:
        """Not ready at once, stop accepting, finish in-flight requests within the grace period."""
        self.stopping = True
        inflight = len(self.http.connections)
        log.info("shutting down: draining %d connection(s), grace period %.0f s", inflight, grace_s)
        self.http.drain()
        if not await self.http.wait_closed(grace_s):
            log.warning(
                "grace period of %.0f s ended with requests still in flight; they were cut off", grace_s
            )
        for served in self.models.values():
            served.metrics.ready.set(0)
            if served.batcher is not None:
                served.batcher.close()

    # routing
    def handle(self, request: Request) -> Response | Deferred:
        headers, content_type = request.headers, request.content_type
        # what check_browser_request lets through without a look (no Origin or Sec-Fetch-Site, a JSON
        # or no content type), tested first: it is every request a client other than a browser sends
        if b"origin" in headers or b"sec-fetch-site" in headers or not _PLAIN_JSON.get(content_type, False):
            check_browser_request(headers, content_type, request.body)  # 403 / 415
        served = self._infer_paths.get(request.path)
        if served is not None and request.method == "POST":  # where _model_route takes it, at once
            return self._infer(served, request)
        target = paths.match(request.path)  # net/paths.py, as the router reads paths; BadPath: 400
        model = target.model
        if model is not None and target.namespace is None:  # /ns/... is the router's, never sent here
            return self._model_route(request, model)
        route = _STATIC.get(target.path) if target.namespace is None else None
        if route is None:
            raise ModelNotFound(f"no route for {request.method} {request.path}; see /v2 and /v2/models.")
        _require(request, "GET")
        return route(self)

    def _model_route(self, request: Request, model: paths.ModelPath) -> Response | Deferred:
        if model.op is paths.Op.V1_PREDICT:
            _require(request, "POST")
            return self._v1_predict(self._find(model.name), request)
        if model.op is paths.Op.V1_READY:
            _require(request, "GET")
            served = self._find(model.name)
            return _json({"name": served.name, "ready": served.state is ModelState.READY})
        served = self._find(model.name)
        served.check_version(model.version)
        if model.op is paths.Op.INFER:
            _require(request, "POST")
            return self._infer(served, request)
        _require(request, "GET")
        return self._metadata(served) if model.op is paths.Op.METADATA else self._model_ready(served)

    def _find(self, name: str) -> ServedModel:
        served = self.models.get(name)
        if served is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelNotFound(f"model '{name}' not found; this server serves: {known}.")
        return served

    # endpoints
    def live(self) -> Response:
        return _json({"live": True})

    def ready(self) -> Response:
        if self.stopping:
            return _json({"ready": False, "error": "server is shutting down"}, 503)
        waiting = [s for s in self.models.values() if s.state is not ModelState.READY]
        if waiting:
            detail = "; ".join(f"model '{s.name}' is {s.state.value.lower()}" for s in waiting)
            return _json({"ready": False, "error": f"server is not ready: {detail}"}, 503)
        unhealthy = [s.name for s in self.models.values() if not s.healthy()]
        if unhealthy:
            detail = ", ".join(f"model '{n}'" for n in unhealthy)
            return _json({"ready": False, "error": f"server is not ready: {detail} reports unhealthy"}, 503)
        return _json({"ready": True})

    def server_metadata(self) -> Response:
        return _json({"name": "modelplane", "version": __version__, "extensions": []})

    def list_models(self) -> Response:
        return _json({"models": list(self.models)})

    def render_metrics(self) -> Response:
        return Response(200, self.metrics.render(), content_type=CONTENT_TYPE)

    def _metadata(self, served: ServedModel) -> Response:
        model = served.model
        if model is None:
            served.ready_batcher()  # raises the not-ready error
            raise NotReady(f"model '{served.name}' is not loaded")
        payload: dict[str, Any] = {"name": served.name}
        if served.config.version:
            payload["versions"] = [served.config.version]
        payload["platform"] = model.platform
        payload["inputs"] = [s.as_json() for s in model.inputs]
        payload["outputs"] = [s.as_json() for s in model.outputs]
        return _json(payload)

    def _model_ready(self, served: ServedModel) -> Response:
        if served.state is ModelState.READY and not self.stopping and served.healthy():
            return _json({"name": served.name, "ready": True})
        reason = served.error or f"model is {served.state.value.lower()}"
        if served.state is ModelState.READY:
            reason = "the model reports unhealthy"
        if self.stopping:
            reason = "server is shutting down"
        return _json({"name": served.name, "ready": False, "error": reason}, 503)

    def _infer(self, served: ServedModel, request: Request) -> Response | Deferred:
        started = time.perf_counter()
        try:
            batcher = served.batcher
            if served.state is not ModelState.READY or batcher is None:
                batcher = served.ready_batcher()  # raises the not-ready error
            common = served.common.decode(request.body) if served.common is not None else None
            if common is not None:
                arrays, requested, request_id = common
            else:
                payload = _parse_body(request)
                _check_echoed(payload)
                arrays = self._decode_inputs(served, payload.get("inputs"))
                requested = self._requested_outputs(served, payload.get("outputs"))
                request_id = payload.get("id")
            result = batcher.call(arrays, frozenset(requested) if requested else served.all_outputs)
        except ServerError as error:
            self._observe(served, started, error.status)
            raise

        def respond(outputs: Outputs) -> Response:
            return self._infer_response(served, request_id, outputs, requested)

        if isinstance(result, asyncio.Future):
            return self._answer_later(served, started, result, respond)
        if served.common is not None:  # the common answer, counted as _answer counts it
            try:
                body = served.common.encode(request_id, result, requested, self.max_response)
            except Exception:  # the general path says what is wrong
                body = None
            if body is not None:
                metrics = served.metrics
                metrics.count(200)
                metrics.latency.observe(time.perf_counter() - started)
                return Response(200, body)
        return self._answer(
            served,
            started,
            result,
            lambda outputs: self._infer_response(served, request_id, outputs, requested),
        )

    def _answer_later(
        self,
        served: ServedModel,
        started: float,
        future: asyncio.Future[Outputs],
        respond: Callable[[Outputs], Response],
    ) -> Deferred:
        """The response once the batch has run; counts it in the metrics either way."""
        served.metrics.inflight.inc()

        def finish(done: asyncio.Future[Outputs]) -> Response:
            served.metrics.inflight.dec()
            if done.cancelled():
                self._observe(served, started, CLIENT_CLOSED)
                raise asyncio.CancelledError
            try:
                outputs = done.result()
            except ServerError as error:
                self._observe(served, started, error.status)
                return render_error(error)
            return self._answer(served, started, outputs, respond)

        return Deferred(future, finish)

    def _answer(
        self, served: ServedModel, started: float, outputs: Outputs, respond: Callable[[Outputs], Response]
    ) -> Response:
        """The response for a model's outputs (now, or once its batch has run), counted in the metrics.
        A request answered inline never waits between loop iterations, so it is never in flight."""
        try:
            response = respond(outputs)
        except ServerError as error:
            self._observe(served, started, error.status)
            return render_error(error)
        except Exception as error:  # an answer that cannot be encoded is still counted
            self._observe(served, started, 500)
            raise ServerError(f"could not encode the answer: {type(error).__name__}: {error}") from error
        self._observe(served, started, 200)
        return response

    def _infer_response(
        self, served: ServedModel, request_id: Any, outputs: Outputs, requested: list[str]
    ) -> Response:
        names = requested or list(outputs)
        arrays = [outputs[name] for name in names if name in outputs]
        self._check_size_floor(arrays)
        if len(arrays) != len(names):
            missing = next(name for name in names if name not in outputs)
            raise ServerError(f"model '{served.name}' did not return output '{missing}'.")
        encoded = [tensors.encode_output(name, array) for name, array in zip(names, arrays, strict=True)]
        body: dict[str, Any] = {"model_name": served.name}
        if served.config.version:
            body["model_version"] = served.config.version
        if request_id is not None:
            body["id"] = request_id
        body["outputs"] = encoded
        return self._bounded_json(body)

    def _decode_inputs(self, served: ServedModel, raw: Any) -> dict[str, Array]:
        if not isinstance(raw, list) or not raw:
            raise InvalidInput("'inputs' is required: a non-empty list of {name, shape, datatype, data}.")
        arrays: dict[str, Array] = {}
        for index, obj in enumerate(raw):
            name, array = tensors.decode_input(obj, index=index)
            if name in arrays:
                raise InvalidInput(f"input '{name}' is given twice.")
            if served.inputs:
                spec = served.inputs.get(name)
                if spec is None:
                    expected = ", ".join(served.inputs)
                    raise InvalidInput(
                        f"model '{served.name}' has no input '{name}'; its inputs are: {expected}."
                    )
                array = tensors.conform(array, spec, where=f"input '{name}'")
            arrays[name] = array
        missing = [n for n in served.inputs if n not in arrays]
        if missing:
            raise InvalidInput(
                f"model '{served.name}' needs input(s) {', '.join(missing)}; they are missing."
            )
        return arrays

    def _requested_outputs(self, served: ServedModel, raw: Any) -> list[str]:
        if raw is None:
            return []
        names: list[str] = []
        for o in raw if type(raw) is list else (None,):  # a loop: no generator per request
            name = o.get("name") if type(o) is dict else None
            if type(name) is not str:
                raise InvalidInput(
                    "'outputs' must be a list of objects with a 'name', e.g. [{\"name\": \"label\"}]."
                )
            names.append(name)
        if len(names) > 1 and len(set(names)) != len(names):
            twice = next(n for i, n in enumerate(names) if n in names[:i])
            raise InvalidInput(f"'outputs' names '{twice}' twice; name each output once.")
        if served.outputs:
            unknown = [n for n in names if n not in served.outputs]
            if unknown:
                known = ", ".join(served.outputs)
                raise InvalidInput(
                    f"model '{served.name}' has no output {', '.join(unknown)}; its outputs: {known}."
                )
        return names

    def _v1_predict(self, served: ServedModel, request: Request) -> Response | Deferred:
        started = time.perf_counter()
        try:
            batcher = served.ready_batcher()
            payload = _parse_body(request)
            instances = payload.get("instances", payload.get("inputs"))
            if not isinstance(instances, list) or not instances:
                raise InvalidInput("'instances' is required: a non-empty list with one entry per row.")
            if len(served.inputs) > 1:
                raise InvalidInput(
                    f"model '{served.name}' has {len(served.inputs)} inputs; v1 predict takes one. "
                    "Use POST /v2/models/{name}/infer."
                )
            spec = next(iter(served.inputs.values()), None)
            array = tensors.instances_to_array(instances, spec)
            if spec is not None:
                array = tensors.conform(array, spec, where="instances")
            first = next(iter(served.outputs), None)
            result = batcher.call({spec.name if spec else "input0": array}, served.first_output)
        except ServerError as error:
            self._observe(served, started, error.status)
            raise

        def respond(outputs: Outputs) -> Response:
            name = first if first is not None and first in outputs else next(iter(outputs))
            self._check_size_floor([outputs[name]])
            return self._bounded_json({"predictions": _nested(outputs[name])})

        if isinstance(result, asyncio.Future):
            return self._answer_later(served, started, result, respond)
        return self._answer(served, started, result, respond)

    def _check_size_floor(self, arrays: Iterable[Array]) -> None:
        """Refuse an answer too large for --max-response-size from its arrays, before building it."""
        floor = sum(tensors.encoded_size_floor(array) for array in arrays)
        if floor > self.max_response:
            raise _too_large(f"at least {floor}", self.max_response)

    def _bounded_json(self, payload: Any) -> Response:
        body = orjson.dumps(payload, option=_DUMPS_OPTIONS)
        if len(body) > self.max_response:
            raise _too_large(str(len(body)), self.max_response)
        return Response(200, body)

    def _observe(self, served: ServedModel, started: float, status: int) -> None:
        served.metrics.count(status)
        served.metrics.latency.observe(time.perf_counter() - started)


def _infer_paths(models: dict[str, ServedModel]) -> dict[str, ServedModel]:
    """Each model's infer paths (unversioned, and with its own version), kept only where `paths.match`
    reads them as that model's infer: `handle` sends those paths straight to `_infer`."""
    found: dict[str, ServedModel] = {}
    for name, served in models.items():
        version = served.config.version
        candidates: list[tuple[str, str | None]] = [(f"/v2/models/{name}/infer", None)]
        if version:
            candidates.append((f"/v2/models/{name}/versions/{version}/infer", version))
        for path, pinned in candidates:
            try:
                target = paths.match(path)
            except paths.BadPath:
                continue
            if target == paths.Target(path, None, paths.ModelPath(paths.Op.INFER, name, pinned)):
                found[path] = served
    return found


def _in_daemon_thread(
    function: Callable[[LoadRequest], Model], request: LoadRequest
) -> asyncio.Future[Model]:
    """Run a model load in a daemon thread: unlike asyncio.to_thread, a SIGTERM during a long load
    does not wait for it to finish (the process exits within its grace period)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Model] = loop.create_future()

    def run() -> None:
        try:
            result = function(request)
        except BaseException as error:
            loop.call_soon_threadsafe(_settle, future, None, error)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    threading.Thread(target=run, name=f"load-{request.name}", daemon=True).start()
    return future


def _settle(future: asyncio.Future[Model], result: Model | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


def _nested(array: Array) -> Any:
    if array.dtype.kind in "OSU":
        return tensors.wire_data(array) if array.ndim == 1 else [_nested(row) for row in array]
    if array.dtype.kind == "f" and array.dtype.itemsize == 2:
        return array.astype("float32")
    return np.ascontiguousarray(array)  # orjson serialises only C-contiguous arrays


def _parse_body(request: Request) -> dict[str, Any]:
    try:
        payload = orjson.loads(request.body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"the request body is not valid JSON: {error}.") from error
    if not isinstance(payload, dict):
        raise InvalidInput("the request body must be a JSON object.")
    return payload


def _too_large(size: str, limit: int) -> InvalidInput:
    return InvalidInput(
        f"the answer would be {size} bytes, over this server's limit of {limit} bytes "
        "(--max-response-size); send fewer rows or ask for fewer outputs."
    )


def _check_echoed(payload: dict[str, Any]) -> None:
    """The request values the answer echoes must be writable: orjson writes at most 254 levels."""
    for key in ("id", "parameters"):
        value = payload.get(key)
        if value is not None and tensors.nests_deeper(value):
            raise InvalidInput(
                f"'{key}' nests deeper than {tensors.MAX_NESTING} levels of arrays/objects; "
                "send a flatter value."
            )


def _require(request: Request, method: str) -> None:
    """Refuse any other method (405); HEAD goes wherever GET does (the HTTP server drops the body)."""
    if request.method != method and not (method == "GET" and request.method == "HEAD"):
        raise MethodNotAllowed(f"{request.path} takes {method}, not {request.method}.")


_STATIC: dict[str, Callable[[ModelServer], Response]] = {
    "/v2/health/live": ModelServer.live,
    "/v2/health/ready": ModelServer.ready,
    "/v2": ModelServer.server_metadata,
    "/v2/models": ModelServer.list_models,
    "/metrics": ModelServer.render_metrics,
}

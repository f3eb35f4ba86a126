"""The W1 handler behind each HTTP server that bench/http_core.py compares (imported by its server processes).

Two apps, each on every server:
- `bare`: POST /predict {"features": [4 floats]} -> {"prediction": int}: orjson in/out and one
  scikit-learn LogisticRegression predict (the peers' W1, trained on iris at start-up) run inline in
  the event loop. Nothing but the HTTP server differs between the servers.
- `full`: modelplane's model server (`ModelServer.handle`: routing, OIP v2 validation, the batcher,
  the worker thread) for the spec in $HTTP_CORE_SPEC. On our core that is `modelplane serve` itself;
  on uvicorn and granian it is the same `ModelServer` behind a thin ASGI adapter.

The ASGI apps are raw ASGI 3 (no framework); granian also gets an RSGI one for the bare app.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelplane.net.errors import HttpError
from modelplane.net.http import Deferred, Request, Response
from modelplane.server.app import ModelServer, render_error
from modelplane.server.deployments import model_config
from modelplane.spec import ModelDeployment, load_path

_model: LogisticRegression | None = None


def model() -> LogisticRegression:
    global _model
    if _model is None:
        x, y = load_iris(return_X_y=True)
        _model = LogisticRegression(max_iter=1000).fit(x, y)
    return _model


def predict(body: bytes) -> bytes:
    """The bare W1 handler: JSON in, one predict, JSON out."""
    features = orjson.loads(body)["features"]
    label = int(model().predict(np.asarray(features, dtype=np.float64).reshape(1, 4))[0])
    return orjson.dumps({"prediction": label})


# ---------------------------------------------------------------------------------------------- ours
def bare_handler(request: Request) -> Response:
    return Response(200, predict(request.body))


# ---------------------------------------------------------------------------------------------- ASGI
_JSON_HEADERS = [(b"content-type", b"application/json")]


async def _read_body(receive: Any) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    while message.get("more_body", False):
        message = await receive()
        body += message.get("body", b"")
    return body


async def _lifespan(receive: Any, send: Any, startup: Any = None) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if startup is not None:
                await startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def asgi_bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        model()
        await _lifespan(receive, send)
        return
    payload = predict(await _read_body(receive))
    headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _configs(spec: Path, name: str | None) -> list[Any]:
    result = load_path(spec)
    if result.errors:
        raise SystemExit("\n".join(str(e) for e in result.errors))
    return [
        model_config(loaded.obj, base_dir=loaded.file.parent.resolve())
        for loaded in result.objects
        if isinstance(loaded.obj, ModelDeployment) and (name is None or loaded.obj.metadata.name == name)
    ]


class AsgiModelServer:
    """modelplane's ModelServer (handler only; its own HTTP server never listens) as an ASGI app."""

    def __init__(self, spec: Path, name: str | None) -> None:
        self.configs = _configs(spec, name)
        self.server: ModelServer | None = None
        self._loading: asyncio.Lock | None = None

    async def _start(self) -> ModelServer:
        if self._loading is None:
            self._loading = asyncio.Lock()
        async with self._loading:
            if self.server is None:
                server = ModelServer(self.configs)
                await server.load_all()
                self.server = server
        return self.server

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self._start)
            return
        server = self.server or await self._start()
        headers = {name.lower(): value for name, value in scope["headers"]}
        request = Request(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode(),
            body=await _read_body(receive),
            content_type=headers.get(b"content-type"),
            headers=headers,
        )
        response = await _answer(server, request)
        out = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            *response.headers,
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        await send({"type": "http.response.body", "body": response.body})


async def _answer(server: ModelServer, request: Request) -> Response:
    try:
        result = server.handle(request)
        if isinstance(result, Deferred):
            with contextlib.suppress(Exception):  # finish() turns the future's error into the answer
                await result.future
            return result.finish(result.future)
        return result
    except HttpError as error:
        return render_error(error)


# ---------------------------------------------------------------------------------------------- RSGI
class RsgiBare:
    """granian's own interface (RSGI): the bare app without the ASGI message dicts."""

    def __rsgi_init__(self, loop: Any) -> None:
        model()

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        payload = predict(await protocol())
        protocol.response_bytes(200, [("content-type", "application/json")], payload)


def _app() -> Any:
    kind = os.environ.get("HTTP_CORE_APP", "bare")
    if kind == "bare":
        return asgi_bare
    if kind == "rsgi":
        return RsgiBare()
    return AsgiModelServer(Path(os.environ["HTTP_CORE_SPEC"]), os.environ.get("HTTP_CORE_NAME") or None)


app = _app()  # granian imports `http_core_apps:app`

"""A small, fast HTTP/1.1 server on asyncio + httptools, for the model server, the router and the API.

Why not a framework: the model server's whole job is request overhead; a framework adds a task, a
scope dict and a response object per request. Here a request is parsed by httptools, handed to one
`Handler` call, and answered with one `transport.write`. Measured against uvicorn and granian serving
the same handler (bench/http_core.py; the decision and its reasons: bench/RESULTS.md, "HTTP core"):
1.2-1.4x their req/s per core, and uvicorn has no head or body read timeout.

Invariants:
- Responses go out in request order on each connection (pipelined requests wait their turn).
- A handler returns a `Response`, or a `Deferred` whose future completes later (no task per request).
- A connection lost while an answer is pending (the client reset it, RST, or the grace period cut it
  off) cancels the `Deferred`'s future and calls its `abandon`. A FIN is not a departure but a
  half-close: the answer still goes out, then the connection closes. That holds for `shutdown(SHUT_WR)`
  and equally for a normal `close()` or the close the kernel makes for a killed client process (TCP
  cannot tell them apart until the answer is written) — unlike nginx and Envoy, which by default take
  a FIN as the client gone.
- Bodies over `max_body` get 413 before the body is read, and the connection closes.
- `drain()` stops accepting: idle connections close now; busy ones close after their response.

Timeouts (`Limits`; one sweep per server checks each connection's deadline, so a request costs a clock
read and no timer handle):
- keep-alive: a connection with no request in progress closes after `keep_alive_s` without a byte of a
  next request (silently, as uvicorn's `timeout_keep_alive` does);
- head: the request line and headers must arrive within `head_s` of their first byte, trickled or not;
- body: the whole body must arrive within `body_s` of the end of the head.
A head or body too slow gets 408 and the connection closes. Time spent waiting on the handler, or on an
answer queued before it, never counts against the client.
- Connections beyond `max_connections` get 503 with `connection: close` at once, and close.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import httptools

from modelplane.net.errors import HeadersTooLarge, HttpError, PayloadTooLarge, RequestTimeout

log = logging.getLogger(__name__)

JSON = b"application/json"
MAX_HEAD_BYTES = 64 * 1024  # request line + headers; beyond it 431, as nginx and uvicorn do
_LINGER_S = 2.0
_REASONS = {
    100: b"Continue",
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    409: b"Conflict",
    410: b"Gone",
    413: b"Payload Too Large",
    415: b"Unsupported Media Type",
    422: b"Unprocessable Entity",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}


_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
DEFAULT_MAX_CONNECTIONS = 1000
_SWEEP_MIN_S, _SWEEP_MAX_S = 0.05, 1.0
# what a connection is waiting for; its deadline is for that
_IDLE, _HEAD, _BODY, _BUSY, _CLOSING = range(5)


def default_max_connections() -> int:
    """1000, or half the process's open-file limit when that is lower: refuse with 503 well before
    accept() fails for want of file descriptors (the rest serve files, upstreams and the runtime)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    return max(1, min(DEFAULT_MAX_CONNECTIONS, soft // 2))


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How long a client may take, and how many connections it may hold (see the module docstring)."""

    keep_alive_s: float = 5.0
    head_s: float = 10.0
    body_s: float = 60.0
    max_connections: int | None = None  # None: default_max_connections()

    def __post_init__(self) -> None:
        for name in ("keep_alive_s", "head_s", "body_s"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of seconds, not {value}")
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections}")

    def sweep_interval(self) -> float:
        """How often deadlines are checked: a quarter of the shortest timeout, within [0.05, 1] s."""
        shortest = min(self.keep_alive_s, self.head_s, self.body_s)
        return min(_SWEEP_MAX_S, max(_SWEEP_MIN_S, shortest / 4))


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    body: bytes
    content_type: bytes | None
    headers: dict[bytes, bytes]


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: bytes = JSON
    headers: tuple[tuple[bytes, bytes], ...] = ()
    content_length: int | None = None  # what a HEAD answer announces when it has no body (its GET's)


@dataclass(slots=True)
class Deferred:
    """A response that is not ready yet: `finish(future)` builds it once `future` is done.

    If the client's connection is lost first (a reset, not a FIN: see the module docstring), `future`
    is cancelled and `abandon()` (when given) is called at once, so the producer can stop working on
    an answer nobody will read.
    """

    future: asyncio.Future[Any]
    finish: Callable[[asyncio.Future[Any]], Response]
    abandon: Callable[[], None] | None = None


class Handler(Protocol):
    def __call__(self, request: Request) -> Response | Deferred: ...


ErrorRenderer = Callable[[HttpError], Response]


class HttpServer:
    """Owns the listening socket and the set of live connections."""

    def __init__(
        self, handler: Handler, *, render_error: ErrorRenderer, max_body: int, limits: Limits | None = None
    ) -> None:
        self.handler = handler
        self.render_error = render_error
        self.max_body = max_body
        self.limits = limits if limits is not None else Limits()
        self.max_connections = self.limits.max_connections or default_max_connections()
        self.connections: set[Connection] = set()
        self.draining = False
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeping: asyncio.TimerHandle | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def listen(self, host: str, port: int) -> int:
        loop = self._loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self, loop), host, port, backlog=2048)
        self._sweeping = loop.call_later(self.limits.sweep_interval(), self._sweep)
        sock = self._server.sockets[0]
        return int(sock.getsockname()[1])

    def _sweep(self) -> None:
        """Act on every connection whose deadline has passed; then again in a moment, until drained."""
        assert self._loop is not None
        now = self._loop.time()
        for connection in [c for c in self.connections if c.deadline <= now]:
            connection.expire(now)
        if self.draining and not self.connections:
            self._sweeping = None
            return
        self._sweeping = self._loop.call_later(self.limits.sweep_interval(), self._sweep)

    def drain(self) -> None:
        self.draining = True
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close_when_idle()

    async def wait_closed(self, timeout: float) -> bool:
        """Wait until every connection has finished; False when the timeout cut some off."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            for connection in list(self.connections):
                connection.abort()
            return False

    def track(self, connection: Connection, alive: bool) -> None:
        if alive:
            self.connections.add(connection)
            self._idle.clear()
        else:
            self.connections.discard(connection)
            if not self.connections:
                self._idle.set()
                if self.draining and self._sweeping is not None:
                    self._sweeping.cancel()
                    self._sweeping = None


class Connection(asyncio.Protocol):
    """One client connection: parse, hand each request to the handler, write answers in order.

    Backpressure: while an answer is pending, reading pauses once the next request is queued, and
    nothing is handled while the transport's write buffer is full (pause_writing), so a pipelining
    or non-reading client cannot grow the server's memory.
    """

    __slots__ = (
        "_body",
        "_content_length",
        "_eof",
        "_eof_sent",
        "_head_bytes",
        "_headers",
        "_in_head",
        "_keep_alive",
        "_loop",
        "_method",
        "_parser",
        "_pending",
        "_phase",
        "_queue",
        "_raw_head",
        "_reading_paused",
        "_refusal",
        "_refused",
        "_server",
        "_transport",
        "_unsent",
        "_url",
        "_writing_paused",
        "deadline",
    )

    def __init__(self, server: HttpServer, loop: asyncio.AbstractEventLoop) -> None:
        self._server = server
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        # the body as it came when it came in one piece (most do: no copy); else one growing buffer, so a
        # chunked body of tiny chunks costs its size, not ~40 bytes a chunk
        self._body: bytes | bytearray = b""
        self._content_length = 0
        self._unsent = 0  # bytes of answers the client had not read at the last deadline
        self._head_bytes = 0
        self._raw_head = 0
        self._in_head = False
        self._refused = False
        self._refusal: Response | None = None
        self._keep_alive = True
        self._eof = False
        self._eof_sent = False
        self._method = "GET"
        self._reading_paused = False
        self._writing_paused = False
        self._queue: deque[tuple[Request, bool]] = deque()
        self._pending: Deferred | None = None
        self._phase = _IDLE
        self.deadline = loop.time() + server.limits.keep_alive_s

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._server.track(self, True)
        if self._server.draining:
            self._transport.close()
        elif len(self._server.connections) > self._server.max_connections:
            self._refuse_over_limit()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._queue.clear()
        self._server.track(self, False)
        pending = self._pending
        # nobody waits for it any more: let its producer know (not when the answer is already made)
        if pending is not None and pending.future.cancel() and pending.abandon is not None:
            try:
                pending.abandon()
            except Exception:
                log.exception("abandoning the request of a closed connection failed")

    def eof_received(self) -> bool | None:
        """The client half-closed: answer what it already sent, then close."""
        self._eof = True
        if self._pending is not None or self._queue:
            return True
        return None

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._run_queue()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if not self._refused:
                self._reply_and_close(
                    Response(501, b'{"error": "protocol upgrades (e.g. h2c) are not supported"}')
                )
            return
        except httptools.HttpParserError as error:
            if not self._refused:
                message = f"malformed HTTP request: {error}".encode()
                self._reply_and_close(Response(400, b'{"error": %s}' % _quote(message)))
            return
        if self._in_head:  # httptools holds an unfinished header until it ends: bound what it holds
            self._raw_head += len(data)
            if self._raw_head > 2 * MAX_HEAD_BYTES:
                self._count_head(self._raw_head)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = b""
        self._content_length = 0
        self._head_bytes = 0
        self._raw_head = 0
        self._in_head = True
        self._phase = _HEAD
        self.deadline = self._loop.time() + self._server.limits.head_s

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._count_head(0)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._count_head(0)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES and not self._refused:
            error = HeadersTooLarge(f"the request line and headers exceed {MAX_HEAD_BYTES} bytes.")
            self._reply_and_close(self._server.render_error(error))

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._refused:
            return
        self._phase = _BODY
        self.deadline = self._loop.time() + self._server.limits.body_s
        length = self._headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self._server.max_body:
            self._refuse_too_large()
            return
        expect = self._headers.get(b"expect", b"").lower() == b"100-continue"
        if expect and self._transport is not None and self._pending is None and not self._queue:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._content_length += len(body)
        if self._content_length > self._server.max_body:
            self._refuse_too_large()
            return
        if not self._body:
            self._body = body
        elif type(self._body) is bytes:
            self._body = bytearray(self._body) + body
        else:
            self._body += body

    def on_message_complete(self) -> None:
        if self._refused or self._parser.should_upgrade():
            return  # an upgrade ends in HttpParserUpgrade, answered once in data_received
        self._phase = _BUSY
        self.deadline = math.inf
        url = httptools.parse_url(self._url)
        body, self._body = self._body, b""
        method = self._parser.get_method()
        request = Request(
            method=_METHODS.get(method) or method.decode(),
            path=url.path.decode(),
            query=url.query.decode() if url.query else "",
            body=body if type(body) is bytes else bytes(body),
            content_type=self._headers.get(b"content-type"),
            headers=self._headers,
        )
        self._queue.append((request, self._parser.should_keep_alive()))
        if self._pending is None and not self._writing_paused:
            self._run_queue()
        else:
            self._pause_reading()

    # answering
    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()

    def _run_queue(self) -> None:
        while (
            self._queue and self._pending is None and self._transport is not None and not self._writing_paused
        ):
            request, keep_alive = self._queue.popleft()
            self._keep_alive = keep_alive
            self._method = request.method
            try:
                result = self._server.handler(request)
            except HttpError as error:
                result = self._server.render_error(error)
            except Exception as error:
                log.exception("handler failed on %s %s", request.method, request.path)
                result = self._server.render_error(HttpError(f"{type(error).__name__}: {error}"))
            if isinstance(result, Deferred):
                self._pending = result
                result.future.add_done_callback(self._on_deferred)
            else:
                self._write(result)
        if (
            not self._queue
            and self._reading_paused
            and self._transport is not None
            and not self._writing_paused
        ):
            self._reading_paused = False
            self._transport.resume_reading()
        if not self._queue and self._pending is None and not self._refused:
            self._arm()

    def _arm(self) -> None:
        """Nothing left to answer: the client's clock runs again, for what it is in the middle of."""
        limits = self._server.limits
        if self._phase == _HEAD:
            self.deadline = self._loop.time() + limits.head_s
        elif self._phase == _BODY:
            self.deadline = self._loop.time() + limits.body_s
        else:
            self._phase = _IDLE
            self.deadline = self._loop.time() + limits.keep_alive_s

    def expire(self, now: float) -> None:
        """The deadline passed (the server's sweep calls this)."""
        if self._still_reading(now):
            return
        if self._phase == _CLOSING or self._transport is None:
            self.abort()  # a close that could not flush (the client reads nothing): cut it off
            return
        if self._pending is not None or self._queue:
            self.deadline = math.inf  # the server is the slow one; _run_queue re-arms after the answer
            return
        if self._phase == _IDLE:
            self._closing(now)
            self._transport.close()
            return
        limits = self._server.limits
        if self._phase == _HEAD:
            message = f"the request line and headers did not arrive within {limits.head_s:g} s"
        else:
            message = f"the request body did not arrive within {limits.body_s:g} s of its headers"
        self._reply_and_close(self._server.render_error(RequestTimeout(f"{message}; send it faster.")))

    def _still_reading(self, now: float) -> bool:
        """The client is still reading an answer (our write buffer shrank since the last deadline):
        its clock starts again. A big answer (a list of 10,000 replicas is 21 MB) read slowly is
        never cut off as idle; a client that reads nothing for a whole timeout is."""
        unsent = self._transport.get_write_buffer_size() if self._transport is not None else 0
        progressed = unsent > 0 and (self._unsent == 0 or unsent < self._unsent)
        self._unsent = unsent
        if progressed:
            self.deadline = now + self._server.limits.keep_alive_s
        return progressed

    def _closing(self, now: float) -> None:
        self._phase = _CLOSING
        self.deadline = now + 2 * _LINGER_S

    def _on_deferred(self, future: asyncio.Future[Any]) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            response = pending.finish(future)
        except HttpError as error:
            response = self._server.render_error(error)
        except asyncio.CancelledError:
            return  # the client went away
        except Exception as error:
            log.exception("response failed")
            response = self._server.render_error(HttpError(f"{type(error).__name__}: {error}"))
        self._write(response)
        if self._refusal is not None:
            refusal, self._refusal = self._refusal, None
            self._send_refusal(refusal)
            return
        self._run_queue()

    def _write(self, response: Response) -> None:
        transport = self._transport
        if transport is None or self._eof_sent:
            return
        closing = (
            not self._keep_alive
            or (self._server.draining and not self._queue)
            or (self._eof and not self._queue and self._refusal is None)
        )
        if closing or response.headers or self._method == "HEAD":
            transport.write(_encode(response, closing=closing, head=self._method == "HEAD"))
            if closing:
                transport.close()
            return
        # _encode's common answer, written out: one formatting, no call
        transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
            % (
                response.status,
                _REASONS.get(response.status, b"Unknown"),
                response.content_type,
                len(response.body),
                response.body,
            )
        )

    def _refuse_over_limit(self) -> None:
        limit = self._server.max_connections
        message = (
            f"server busy: it already holds its limit of {limit} connections; retry later, "
            "reuse keep-alive connections, or raise --limit-connections."
        )
        body = b'{"error": %s}' % _quote(message.encode())
        self._reply_and_close(Response(503, body, headers=((b"retry-after", b"1"),)))

    def _refuse_too_large(self) -> None:
        limit = self._server.max_body
        error = PayloadTooLarge(
            f"request body exceeds the limit of {limit} bytes; send smaller batches or raise --max-body-size."
        )
        self._reply_and_close(self._server.render_error(error))

    def _reply_and_close(self, response: Response) -> None:
        """Refuse what the client is sending: after the answer still pending (if any), answer,
        then half-close and discard what the client still sends — closing a socket with unread
        data makes the kernel send RST, and the client could lose the answer."""
        self._refused = True
        self._queue.clear()
        if self._pending is not None:
            self._refusal = response
            self._pause_reading()
            return
        self._send_refusal(response)

    def _send_refusal(self, response: Response) -> None:
        transport = self._transport
        if transport is None or self._eof_sent:
            return
        self._closing(self._loop.time())
        transport.write(_encode(response, closing=True))
        if transport.can_write_eof():
            transport.write_eof()
            self._eof_sent = True
            if self._reading_paused:  # read (and drop) the rest, so the close is clean
                self._reading_paused = False
                transport.resume_reading()
            asyncio.get_running_loop().call_later(_LINGER_S, transport.close)
        else:
            transport.close()

    def close_when_idle(self) -> None:
        if self._pending is None and not self._queue and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


def _encode(response: Response, *, closing: bool, head: bool = False) -> bytes:
    if not (response.headers or closing or head):  # most answers: one formatting, no list
        return b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (
            response.status,
            _REASONS.get(response.status, b"Unknown"),
            response.content_type,
            len(response.body),
            response.body,
        )
    length = response.content_length if head and response.content_length is not None else len(response.body)
    lines = [
        b"HTTP/1.1 %d %s\r\n" % (response.status, _REASONS.get(response.status, b"Unknown")),
        b"content-type: %s\r\ncontent-length: %d\r\n" % (response.content_type, length),
    ]
    for name, value in response.headers:
        lines.append(b"%s: %s\r\n" % (name, value))
    if closing:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    if not head:  # a HEAD answer has the length of the body it would carry, not the body
        lines.append(response.body)
    return b"".join(lines)


def _quote(text: bytes) -> bytes:
    return b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b" ") + b'"'

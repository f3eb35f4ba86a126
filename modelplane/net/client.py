"""An asyncio HTTP/1.1 client with a keep-alive connection pool per upstream address (httptools).

Built for the router's hot path: `request()` is a plain call that writes the request at once on an
idle connection and returns a future; the connection's protocol completes that future from
`data_received`. No task per request (a task is made only to open a new connection).

Invariants:
- One request per connection at a time; at most `max_per_address` connections per address. Requests
  beyond that wait in a FIFO per address for the next connection to free.
- A connection goes back to the idle list only after a complete response that allows keep-alive.
- The request body is written as given (`writelines([head, body])`), never joined or copied.
- A reused idle connection that the server closed meanwhile (the answer never started) is retried
  once on a fresh connection, as urllib3 and aiohttp do: the caller never sees a stale keep-alive.
- `cancel()` withdraws a request nobody waits for: it leaves the queue unsent, or its connection is
  reset (never pooled half-read). A future cancelled directly is dropped too if it has not been sent.
- The answer to a HEAD ends with its head, whatever length it announces (RFC 9110 §9.3.2): llhttp
  cannot be told the request was HEAD, so the exchange completes at `on_headers_complete`, and the
  parser is replaced before the connection takes another request. Bytes after that head mean the
  upstream is out of step: the connection is closed, never pooled.

Errors (every one carries the upstream `address`):

    UpstreamError                   the request may have reached the upstream; not safe to retry blindly
    ├── UpstreamConnectError        no connection, or it closed before any byte of the answer: retry-safe
    ├── UpstreamDisconnected        the connection dropped in the middle of the answer
    ├── UpstreamTimeout             no complete answer within the response timeout
    └── UpstreamTooLarge            the answer's head or body is over the pool's bounds; connection closed

Bounds: an answer's head (status line and headers) may take `MAX_HEAD_BYTES`, its body
`max_response_bytes` (announced or received); beyond either the exchange fails at once, nothing more is
buffered, and the connection is closed. A misbehaving upstream can never make the router buffer more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import httptools

log = logging.getLogger(__name__)

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST
MAX_HEAD_BYTES = 64 * 1024  # an answer's status line and headers, as the server bounds a request's
DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024  # an answer's body; the model server's answers are bounded alike

__all__ = [
    "ConnectionPool",
    "UpstreamConnectError",
    "UpstreamDisconnected",
    "UpstreamError",
    "UpstreamResponse",
    "UpstreamTimeout",
    "UpstreamTooLarge",
]


class UpstreamError(Exception):
    def __init__(self, address: str, message: str) -> None:
        super().__init__(message)
        self.address = address


class UpstreamConnectError(UpstreamError):
    """Nothing of an answer arrived: the upstream did not get to answer, so the request can be retried."""


class UpstreamDisconnected(UpstreamError):
    """The connection dropped after the answer had started (the upstream died mid-response)."""


class UpstreamTimeout(UpstreamError):
    """No complete answer within the response timeout; the connection is closed."""


class UpstreamTooLarge(UpstreamError):
    """The answer's head or body is larger than the pool accepts; the connection is closed."""


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: dict[bytes, bytes]  # names lower-cased
    body: bytes

    @property
    def content_type(self) -> bytes | None:
        return self.headers.get(b"content-type")


@dataclass(slots=True, eq=False)
class _Exchange:
    """One request on its way: what to write, and the future its answer completes."""

    address: str
    head: bytes
    body: bytes
    timeout: float
    future: asyncio.Future[UpstreamResponse]
    bodiless: bool = False  # a HEAD: its answer has no body, whatever its content-length says
    fresh_retry_done: bool = False


@dataclass(eq=False)
class _Upstream:
    """The connections to one address."""

    address: str
    host: str
    port: int
    idle: list[_Connection] = field(default_factory=list)
    waiting: deque[_Exchange] = field(default_factory=deque)
    connections: set[_Connection] = field(default_factory=set)  # connected, idle or busy
    open: int = 0  # connected or connecting


class ConnectionPool:
    """Keep-alive connections to many upstreams (`host:port` addresses). Use on one event loop."""

    def __init__(
        self,
        *,
        max_per_address: int = 256,
        connect_timeout: float = 2.0,
        response_timeout: float = 60.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE,
    ) -> None:
        if max_response_bytes < 0:
            raise ValueError(f"max_response_bytes must be 0 or more, not {max_response_bytes}")
        self.max_per_address = max_per_address
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.max_response_bytes = max_response_bytes
        self._upstreams: dict[str, _Upstream] = {}
        self._connecting: set[asyncio.Task[None]] = set()
        self._closed = False

    def request(
        self,
        address: str,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        content_type: bytes | None = None,
        headers: Iterable[tuple[bytes, bytes]] = (),
        timeout: float | None = None,
    ) -> asyncio.Future[UpstreamResponse]:
        """Send one request to `address` (`host:port`); the future holds the answer or an UpstreamError.

        `path` is the path with its query string, as it goes on the request line.
        """
        upstream = self._upstreams.get(address)
        if upstream is None:
            upstream = self._add(address)
        lines = [b"%s %s HTTP/1.1\r\nhost: %s\r\n" % (method.encode(), path.encode(), address.encode())]
        if body or method not in ("GET", "HEAD"):
            lines.append(b"content-length: %d\r\n" % len(body))
        if content_type is not None:
            lines.append(b"content-type: %s\r\n" % content_type)
        for name, value in headers:
            lines.append(b"%s: %s\r\n" % (name, value))
        lines.append(b"\r\n")
        future: asyncio.Future[UpstreamResponse] = asyncio.get_running_loop().create_future()
        exchange = _Exchange(
            address,
            b"".join(lines),
            body,
            self.response_timeout if timeout is None else timeout,
            future,
            method == "HEAD",
        )
        if self._closed:
            future.set_exception(UpstreamConnectError(address, "the connection pool is closed"))
        else:
            self._dispatch(upstream, exchange)
        return future

    def cancel(self, address: str, future: asyncio.Future[UpstreamResponse]) -> None:
        """Withdraw the request of `future` (sent to `address`): its caller will not read the answer.

        A request still waiting for a connection is dropped unsent. One on the wire has its connection
        reset — a reset, not a FIN, which an HTTP server takes as a half-close and answers anyway — so
        the upstream can stop working on it. Nothing happens when the answer is already there.
        """
        if not future.cancel():
            return
        upstream = self._upstreams.get(address)
        if upstream is None:
            return
        for exchange in upstream.waiting:
            if exchange.future is future:
                upstream.waiting.remove(exchange)
                return
        for connection in upstream.connections:
            if connection.carries(future):
                connection.reset()
                return
        # still connecting: _connect pools the new connection instead of sending

    def connections(self, address: str) -> int:
        """Open (or opening) connections to `address`."""
        upstream = self._upstreams.get(address)
        return 0 if upstream is None else upstream.open

    def retain(self, addresses: Iterable[str]) -> None:
        """Forget upstreams not in `addresses` (replicas gone from the table): close their idle
        connections; busy ones finish their exchange and close when the upstream does."""
        keep = set(addresses)
        for address in [a for a in self._upstreams if a not in keep]:
            upstream = self._upstreams[address]
            for connection in upstream.idle:
                connection.close()
            upstream.idle.clear()
            if upstream.open == 0 and not upstream.waiting:
                del self._upstreams[address]

    async def close(self) -> None:
        """Close every connection; requests still waiting fail with UpstreamConnectError."""
        self._closed = True
        for task in list(self._connecting):
            task.cancel()
        for upstream in self._upstreams.values():
            while upstream.waiting:
                exchange = upstream.waiting.popleft()
                _fail(exchange, UpstreamConnectError(upstream.address, "the connection pool closed"))
            for connection in upstream.idle:
                connection.close()
            upstream.idle.clear()
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)

    # internals
    def _add(self, address: str) -> _Upstream:
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"upstream address {address!r} is not host:port")
        upstream = self._upstreams[address] = _Upstream(address, host.strip("[]"), int(port))
        return upstream

    def _dispatch(self, upstream: _Upstream, exchange: _Exchange, *, fresh: bool = False) -> None:
        if upstream.idle and not fresh:
            upstream.idle.pop().send(exchange)  # the most recently used: the warmest, least likely stale
        elif upstream.open < self.max_per_address:
            upstream.open += 1
            task = asyncio.ensure_future(self._connect(upstream, exchange))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)
        else:
            upstream.waiting.append(exchange)

    async def _connect(self, upstream: _Upstream, exchange: _Exchange) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self, upstream), upstream.host, upstream.port),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as error:
            upstream.open -= 1
            reason = "timed out" if isinstance(error, TimeoutError) else str(error) or type(error).__name__
            _fail(
                exchange,
                UpstreamConnectError(upstream.address, f"cannot connect to {upstream.address}: {reason}"),
            )
            self._next_waiting(upstream)
            return
        except asyncio.CancelledError:
            upstream.open -= 1
            _fail(exchange, UpstreamConnectError(upstream.address, "the connection pool closed"))
            raise
        if exchange.future.done():  # cancelled while connecting
            self._release(upstream, protocol)
        else:
            protocol.send(exchange)

    def _release(self, upstream: _Upstream, connection: _Connection) -> None:
        """A connection finished an exchange and may take the next one."""
        if self._upstreams.get(upstream.address) is not upstream:  # forgotten by retain()
            connection.close()
        elif upstream.waiting and (exchange := _next(upstream.waiting)) is not None:
            connection.send(exchange)
        elif self._closed:
            connection.close()
        else:
            upstream.idle.append(connection)

    def _lost(self, upstream: _Upstream, connection: _Connection) -> None:
        upstream.open -= 1
        upstream.connections.discard(connection)
        if connection in upstream.idle:
            upstream.idle.remove(connection)
        self._next_waiting(upstream)

    def _next_waiting(self, upstream: _Upstream) -> None:
        """A connection slot freed: a waiting request may open a new connection."""
        if upstream.waiting and upstream.open < self.max_per_address and not self._closed:
            exchange = _next(upstream.waiting)
            if exchange is not None:
                self._dispatch(upstream, exchange, fresh=True)

    def _retry_fresh(self, upstream: _Upstream, exchange: _Exchange) -> bool:
        """A reused connection closed before answering: try once more on a new connection."""
        if exchange.fresh_retry_done or self._closed:
            return False
        exchange.fresh_retry_done = True
        self._dispatch(upstream, exchange, fresh=True)
        return True


def _next(waiting: deque[_Exchange]) -> _Exchange | None:
    """The next waiting exchange whose caller still wants the answer."""
    while waiting:
        exchange = waiting.popleft()
        if not exchange.future.done():
            return exchange
    return None


def _fail(exchange: _Exchange, error: UpstreamError) -> None:
    if not exchange.future.done():
        exchange.future.set_exception(error)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; parses answers with httptools and completes the exchange's future."""

    __slots__ = (
        "_after_head",
        "_body",
        "_exchange",
        "_head_size",
        "_headers",
        "_parser",
        "_pool",
        "_received",
        "_size",
        "_timer",
        "_transport",
        "_upstream",
        "_used",
    )

    def __init__(self, pool: ConnectionPool, upstream: _Upstream) -> None:
        self._pool = pool
        self._upstream = upstream
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._exchange: _Exchange | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []
        self._head_size = 0
        self._size = 0
        self._received = False
        self._used = 0
        self._after_head: bool | None = None  # a HEAD was answered in this feed: may the connection stay?

    def send(self, exchange: _Exchange) -> None:
        self._exchange = exchange
        self._used += 1
        transport = self._transport
        if transport is None or transport.is_closing():
            self._failed_before_answer("the connection closed")
            return
        self._headers = {}
        self._body = []
        self._head_size = 0
        self._size = 0
        self._received = False
        self._timer = asyncio.get_running_loop().call_later(exchange.timeout, self._on_timeout)
        if exchange.body:
            transport.writelines((exchange.head, exchange.body))
        else:
            transport.write(exchange.head)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def carries(self, future: asyncio.Future[UpstreamResponse]) -> bool:
        return self._exchange is not None and self._exchange.future is future

    def reset(self) -> None:
        """Drop the exchange on the wire and reset the connection (RST, not FIN)."""
        self._exchange = None
        self._cancel_timer()
        transport = self._transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            transport.abort()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._upstream.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self._exchange is None:
            # bytes nobody asked for: the connection is out of step, never reuse it
            self._abort()
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._after_head = False if self._after_head is not None else None
            self._finish_with(UpstreamError(self._upstream.address, f"malformed answer: {error}"))
        if self._after_head is not None:
            self._end_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._cancel_timer()
        self._pool._lost(self._upstream, self)
        if self._exchange is None:
            return
        if self._received:
            self._finish_with(
                UpstreamDisconnected(self._upstream.address, f"{self._upstream.address} closed mid-answer")
            )
        else:
            self._failed_before_answer(f"{self._upstream.address} closed the connection before answering")

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        self._grow_head(len(status))

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._grow_head(len(name) + len(value) + 4):
            self._headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        if not exchange.bodiless:
            length = self._headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self._pool.max_response_bytes:
                self._too_large(f"announces a {int(length)}-byte answer")
            return
        # the answer to a HEAD: complete now; data_received replaces the parser, which waits for a body
        self._exchange = None
        self._cancel_timer()
        self._after_head = self._parser.should_keep_alive()
        response = UpstreamResponse(self._parser.get_status_code(), self._headers, b"")
        if not exchange.future.done():
            exchange.future.set_result(response)

    def on_body(self, body: bytes) -> None:
        if self._after_head is not None:  # a body after the head of a HEAD answer: out of step
            self._after_head = False
            return
        if self._exchange is None:  # given up on (too large): nothing more is kept
            return
        self._size += len(body)
        if self._size > self._pool.max_response_bytes:
            self._too_large(f"sent more than {self._pool.max_response_bytes} bytes of answer")
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        self._exchange = None
        self._cancel_timer()
        response = UpstreamResponse(self._parser.get_status_code(), self._headers, b"".join(self._body))
        keep = self._parser.should_keep_alive()
        if not exchange.future.done():
            exchange.future.set_result(response)
        if keep and self._transport is not None:
            self._pool._release(self._upstream, self)
        else:
            self.close()

    def _end_head(self) -> None:
        """The answer to a HEAD is complete: a fresh parser, then pool the connection or close it."""
        keep, self._after_head = self._after_head, None
        self._parser = httptools.HttpResponseParser(self)
        transport = self._transport
        if keep and transport is not None and not transport.is_closing():
            self._pool._release(self._upstream, self)
        else:
            self.close()

    # bounds
    def _grow_head(self, size: int) -> bool:
        """Count `size` more bytes of head; False (and the exchange failed) once it is over the bound."""
        if self._exchange is None:
            return False
        self._head_size += size
        if self._head_size > MAX_HEAD_BYTES:
            self._too_large(f"sent an answer head over {MAX_HEAD_BYTES} bytes")
            return False
        return True

    def _too_large(self, what: str) -> None:
        address = self._upstream.address
        self._body = []
        self._finish_with(
            UpstreamTooLarge(
                address,
                f"{address} {what}; at most {self._pool.max_response_bytes} bytes are accepted "
                "(the router's --max-response-size)",
            )
        )

    # failures
    def _failed_before_answer(self, reason: str) -> None:
        exchange, self._exchange = self._exchange, None
        self._cancel_timer()
        if exchange is None:
            return
        reused = self._used > 1  # a keep-alive connection the server closed while it was idle
        if reused and self._pool._retry_fresh(self._upstream, exchange):
            return
        _fail(exchange, UpstreamConnectError(self._upstream.address, reason))

    def _on_timeout(self) -> None:
        self._timer = None
        exchange = self._exchange
        if exchange is not None:
            message = f"{self._upstream.address} gave no complete answer within {exchange.timeout:g} s"
            self._finish_with(UpstreamTimeout(self._upstream.address, message))

    def _finish_with(self, error: UpstreamError) -> None:
        exchange, self._exchange = self._exchange, None
        self._cancel_timer()
        if exchange is not None:
            _fail(exchange, error)
        self._abort()

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

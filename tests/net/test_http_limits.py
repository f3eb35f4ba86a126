"""The HTTP core's timeouts and connection limit, seen from raw sockets: idle keep-alive connections,
trickled heads and slow bodies are closed (408 for the last two), waiting on the handler never counts
against the client, and the connection over the limit gets a clear 503."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import orjson
import pytest
from click.testing import CliRunner

from modelplane.cli.main import cli
from modelplane.net.errors import HttpError
from modelplane.net.http import Deferred, HttpServer, Limits, Request, Response
from tests.conftest import wait_for

SLOW_HANDLER_S = 0.8
BIG_ANSWER = b"x" * (8 << 20)  # more than the kernel's socket buffers hold


def render_error(error: HttpError) -> Response:
    return Response(error.status, orjson.dumps({"error": str(error)}))


def handle(request: Request) -> Response | Deferred:
    if request.path == "/slow":  # the server takes its time: a Deferred answered later
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        loop.call_later(SLOW_HANDLER_S, future.set_result, None)
        return Deferred(future, lambda _: Response(200, b'{"slow": true}'))
    if request.path == "/big":
        return Response(200, BIG_ANSWER)
    return Response(200, orjson.dumps({"path": request.path, "size": len(request.body)}))


class ServerThread:
    """An HttpServer on a free port, in a thread with its own event loop."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server = HttpServer(handle, render_error=render_error, max_body=1 << 20, limits=limits)
        started: Future[int] = Future()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        self.port = started.result(timeout=10)

    def _run(self, started: Future[int]) -> None:
        asyncio.set_event_loop(self._loop)
        started.set_result(self._loop.run_until_complete(self._server.listen("127.0.0.1", 0)))
        self._loop.run_forever()

    @property
    def connections(self) -> int:
        return len(self._server.connections)

    def stop(self) -> None:
        async def drain() -> None:
            self._server.drain()
            await self._server.wait_closed(1)

        asyncio.run_coroutine_threadsafe(drain(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    started: list[ServerThread] = []

    def start(**limits: float) -> ServerThread:
        server = ServerThread(Limits(**limits))  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def connect(server: ServerThread) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes its side (recv times out after the socket's timeout)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def get(sock: socket.socket, path: str = "/health") -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nhost: test\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def test_idle_keep_alive_connection_is_closed_after_the_timeout(serve: Callable[..., ServerThread]) -> None:
    server = serve(keep_alive_s=0.3)
    with connect(server) as sock:
        assert get(sock).startswith(b"HTTP/1.1 200 ")
        answered = time.monotonic()
        assert read_until_closed(sock) == b""  # closed without a word, as uvicorn does
        idle = time.monotonic() - answered
    assert 0.25 <= idle < 3, f"closed after {idle:.2f} s idle, keep-alive timeout 0.3 s"


def test_a_big_answer_read_slowly_is_not_cut_off_by_the_keep_alive_timeout(
    serve: Callable[..., ServerThread],
) -> None:
    """The keep-alive clock runs once the answer has left: a client still reading (a list of
    10,000 replicas is 21 MB) is never taken for an idle one, however short the timeout."""
    # 1 s, not shorter: on a loaded shared machine this reader thread has gone unscheduled for more
    # than 0.2 s, and a reader that reads nothing for a whole timeout is rightly taken for gone
    server = serve(keep_alive_s=1.0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    sock.settimeout(10)
    with sock:
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /big HTTP/1.1\r\nhost: test\r\n\r\n")
        received = bytearray()
        while chunk := sock.recv(64 << 10):
            received += chunk
            if received.endswith(BIG_ANSWER[-16:]) and len(received) > len(BIG_ANSWER):
                break
            time.sleep(0.04)  # a slow reader: about 1.6 MB/s, so the answer takes ~5 s to read
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert len(body) == len(BIG_ANSWER), f"answer cut off at {len(body):,} of {len(BIG_ANSWER):,} bytes"


def test_a_connection_that_never_sends_is_closed_too(serve: Callable[..., ServerThread]) -> None:
    server = serve(keep_alive_s=0.3)
    with connect(server) as sock:
        assert read_until_closed(sock) == b""
    wait_for(lambda: server.connections == 0, timeout=3, what="the server to forget the connection")


def test_waiting_on_the_handler_does_not_count_against_the_client(
    serve: Callable[..., ServerThread],
) -> None:
    server = serve(keep_alive_s=0.2, head_s=0.2, body_s=0.2)
    with connect(server) as sock:
        answer = get(sock, "/slow")  # the handler takes 0.8 s, longer than every timeout
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert b'{"slow": true}' in answer
        assert get(sock).startswith(b"HTTP/1.1 200 "), "the connection stays usable"


def trickle(sock: socket.socket, data: bytes, stop: threading.Event, every_s: float) -> None:
    for i in range(len(data)):
        if stop.wait(every_s):
            return
        try:
            sock.send(data[i : i + 1])
        except OSError:
            return


def test_trickled_head_gets_408_and_is_closed(serve: Callable[..., ServerThread]) -> None:
    server = serve(keep_alive_s=5, head_s=0.5)
    head = b"GET /health HTTP/1.1\r\nhost: test\r\nx-padding: " + b"a" * 200 + b"\r\n\r\n"
    stop = threading.Event()
    with connect(server) as sock:
        # one byte every 20 ms: each byte well within any per-read timeout, the whole head in ~5 s
        sender = threading.Thread(target=trickle, args=(sock, head, stop, 0.02), daemon=True)
        began = time.monotonic()
        sender.start()
        try:
            answer = read_until_closed(sock)
        finally:
            stop.set()
            sender.join(5)
        took = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert b"connection: close" in answer
    assert b"did not arrive within 0.5 s" in answer
    assert took < 3, f"the trickled head held the connection {took:.1f} s"


def test_slow_body_gets_408_and_is_closed(serve: Callable[..., ServerThread]) -> None:
    server = serve(keep_alive_s=5, head_s=5, body_s=0.5)
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 100\r\n\r\n" + b"x" * 10)
        began = time.monotonic()
        answer = read_until_closed(sock)
        took = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert b"request body did not arrive within 0.5 s" in answer
    assert took < 3


def test_connection_over_the_limit_gets_a_clear_503(serve: Callable[..., ServerThread]) -> None:
    server = serve(keep_alive_s=30, max_connections=3)
    held = [connect(server) for _ in range(3)]
    try:
        for sock in held:
            assert get(sock).startswith(b"HTTP/1.1 200 ")
        with connect(server) as extra:
            extra.sendall(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
            answer = read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), answer
        assert b"connection: close" in answer
        assert b"retry-after: 1" in answer
        assert b"limit of 3 connections" in answer
        for sock in held:  # the connections within the limit are untouched
            assert get(sock).startswith(b"HTTP/1.1 200 ")
        held.pop().close()

        def admitted() -> bool:
            with connect(server) as sock:
                return get(sock).startswith(b"HTTP/1.1 200 ")

        wait_for(admitted, timeout=5, what="a connection to be admitted once one closed")
    finally:
        for sock in held:
            sock.close()


def test_health_is_answered_while_idle_sockets_fill_the_limit(serve: Callable[..., ServerThread]) -> None:
    server = serve(keep_alive_s=0.3, max_connections=8)
    idle = [connect(server) for _ in range(8)]  # they connect and say nothing
    try:
        wait_for(lambda: server.connections == 8, timeout=5, what="the idle connections to be accepted")

        def healthy() -> bool:
            with connect(server) as sock:
                return get(sock).startswith(b"HTTP/1.1 200 ")

        wait_for(healthy, timeout=5, what="/health to answer 200 while idle sockets are open")
        for sock in idle:
            assert read_until_closed(sock) == b"", "the idle sockets were closed by the server"
    finally:
        for sock in idle:
            sock.close()


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="keep_alive_s must be a positive number of seconds"):
        Limits(keep_alive_s=0)
    with pytest.raises(ValueError, match="max_connections must be at least 1"):
        Limits(max_connections=0)


@pytest.mark.parametrize("command", ["serve", "router"])
def test_a_zero_timeout_flag_is_refused_with_its_name(command: str) -> None:
    args = [command, "--header-timeout", "0", "--endpoints-file" if command == "router" else "-f", "x.yaml"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "--header-timeout must be more than 0" in result.output

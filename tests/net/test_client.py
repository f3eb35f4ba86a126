"""The upstream connection pool against a real model server: keep-alive, bounds, timeouts, failures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelplane.net.client import (
    ConnectionPool,
    UpstreamConnectError,
    UpstreamResponse,
    UpstreamTimeout,
)
from tests.conftest import ServerProcess
from tests.router.conftest import BODY, simulated_spec, stop_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(
        simulated_spec(tmp_path_factory.mktemp("client"), "sim", latency_ms=200), "--log-level", "warning"
    )
    try:
        server.wait_ready()
        yield server
    finally:
        stop_process(server.proc)


def infer(pool: ConnectionPool, port: int, **kwargs: float) -> asyncio.Future[UpstreamResponse]:
    return pool.request(
        f"127.0.0.1:{port}",
        "POST",
        "/v2/models/sim/infer",
        body=BODY,
        content_type=b"application/json",
        **kwargs,
    )


def test_keep_alive_reuses_one_connection(replica: ServerProcess) -> None:
    async def main() -> None:
        pool = ConnectionPool()
        address = f"127.0.0.1:{replica.port}"
        for _ in range(5):
            response = await infer(pool, replica.port)
            assert response.status == 200
            assert response.content_type == b"application/json"
            assert json.loads(response.body)["outputs"][0]["data"] == [3.0]
        live = await pool.request(address, "GET", "/v2/health/live?x=1")
        assert (live.status, json.loads(live.body)) == (200, {"live": True})
        assert pool.connections(address) == 1
        await pool.close()

    asyncio.run(main())


def test_connections_per_address_are_bounded(replica: ServerProcess) -> None:
    async def main() -> None:
        pool = ConnectionPool(max_per_address=2)
        responses = await asyncio.gather(*(infer(pool, replica.port) for _ in range(8)))
        assert [r.status for r in responses] == [200] * 8
        assert pool.connections(f"127.0.0.1:{replica.port}") == 2
        await pool.close()

    asyncio.run(main())


def test_connect_refused_is_a_connect_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        pool = ConnectionPool()
        with pytest.raises(UpstreamConnectError) as error:
            await infer(pool, port)
        assert error.value.address == f"127.0.0.1:{port}"
        assert pool.connections(f"127.0.0.1:{port}") == 0
        await pool.close()

    asyncio.run(main())


def test_response_timeout_then_the_pool_still_works(replica: ServerProcess) -> None:
    async def main() -> None:
        pool = ConnectionPool()
        with pytest.raises(UpstreamTimeout, match=r"no complete answer within 0\.05 s"):
            await infer(pool, replica.port, timeout=0.05)
        assert (await infer(pool, replica.port)).status == 200
        await pool.close()

    asyncio.run(main())


def test_upstream_killed_before_answering_is_a_connect_error(tmp_path: Path) -> None:
    server = ServerProcess(simulated_spec(tmp_path, "sim", latency_ms=5000), "--log-level", "warning")
    try:
        server.wait_ready()

        async def main() -> None:
            pool = ConnectionPool()
            pending = infer(pool, server.port)
            deadline = asyncio.get_running_loop().time() + 10
            while not _inflight(server):  # poll until the request is in the replica's hands
                assert asyncio.get_running_loop().time() < deadline, "the request never reached the replica"
                await asyncio.sleep(0.02)
            os.kill(server.proc.pid, signal.SIGKILL)
            with pytest.raises(UpstreamConnectError, match="closed the connection before answering"):
                await pending
            await pool.close()

        asyncio.run(main())
    finally:
        stop_process(server.proc)


def _inflight(server: ServerProcess) -> bool:
    text = server.request("GET", "/metrics")[1]
    return any(
        line.startswith("modelplane_server_inflight_requests{") and not line.endswith(" 0.0")
        for line in text.splitlines()
    )


def test_a_stale_keep_alive_connection_is_retried_on_a_fresh_one() -> None:
    """A server that answers the first request of a connection and closes it on the second, unanswered:
    what a client sees when a server closes an idle keep-alive connection just as it is reused."""

    async def main() -> None:
        async def one_answer_per_connection(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
            with contextlib.suppress(asyncio.IncompleteReadError):  # the pool closing its last connection
                await reader.readuntil(b"\r\n\r\n")
            writer.close()

        server = await asyncio.start_server(one_answer_per_connection, "127.0.0.1", 0)
        address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = ConnectionPool()
        for _ in range(3):
            response = await pool.request(address, "GET", "/")
            assert (response.status, response.body) == (200, b"ok")
        await pool.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_cancel_resets_the_connection_of_a_request_on_the_wire() -> None:
    """The upstream sees a reset (not a FIN, which a server takes as a half-close and answers)."""

    async def main() -> None:
        seen: list[str] = []

        async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            seen.append("request")
            try:
                seen.append("eof" if not await reader.read(1) else "data")
            except ConnectionResetError:
                seen.append("reset")
            writer.close()

        server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = ConnectionPool()
        pending = pool.request(address, "GET", "/")
        await _until(lambda: seen == ["request"], "the request to arrive")
        pool.cancel(address, pending)
        assert pending.cancelled()
        await _until(lambda: len(seen) == 2, "the upstream to see the connection end")
        assert seen == ["request", "reset"]
        await _until(lambda: pool.connections(address) == 0, "the connection to leave the pool")
        await pool.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_cancelled_requests_waiting_for_a_connection_are_never_sent() -> None:
    async def main() -> None:
        paths: list[bytes] = []
        go = asyncio.Event()

        async def answer_on_go(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(asyncio.IncompleteReadError):
                while head := await reader.readuntil(b"\r\n\r\n"):
                    paths.append(head.split(b" ")[1])
                    await go.wait()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer_on_go, "127.0.0.1", 0)
        address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = ConnectionPool(max_per_address=1)
        first = pool.request(address, "GET", "/first")
        withdrawn = pool.request(address, "GET", "/withdrawn")
        dropped = pool.request(address, "GET", "/dropped")
        last = pool.request(address, "GET", "/last")
        await _until(lambda: paths == [b"/first"], "the first request to arrive")
        pool.cancel(address, withdrawn)  # the pool's way
        dropped.cancel()  # a caller that just stops waiting (a cancelled task) gets the same
        go.set()
        assert (await first).status == 200 and (await last).status == 200
        assert paths == [b"/first", b"/last"] and withdrawn.cancelled() and dropped.cancelled()
        assert pool.connections(address) == 1  # nothing was reset: the connection stays pooled
        await pool.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_a_request_cancelled_while_connecting_is_not_sent_and_its_connection_is_pooled() -> None:
    async def main() -> None:
        paths: list[bytes] = []

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(asyncio.IncompleteReadError):
                while head := await reader.readuntil(b"\r\n\r\n"):
                    paths.append(head.split(b" ")[1])
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = ConnectionPool(max_per_address=1)
        pool.cancel(address, pool.request(address, "GET", "/withdrawn"))  # before it could connect
        assert (await pool.request(address, "GET", "/next")).status == 200  # on the same connection
        assert paths == [b"/next"] and pool.connections(address) == 1
        await pool.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


async def _head_server(stray: bytes) -> tuple[asyncio.Server, list[int]]:
    """Answers HEAD with the head of a 5-byte answer (plus `stray` bytes), anything else with `hello`;
    the list counts the connections it accepted."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n"
                writer.write(answer + stray if head.startswith(b"HEAD ") else answer + b"hello")
                await writer.drain()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0), accepted


def test_a_head_answer_ends_with_its_head_and_the_connection_is_reused() -> None:
    """The answer to a HEAD announces the length of its GET and carries no body: the pool must not wait
    for one (it did until the response timeout, holding the connection)."""

    async def main() -> None:
        server, accepted = await _head_server(b"")
        address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = ConnectionPool(response_timeout=30)
        for _ in range(3):
            response = await asyncio.wait_for(pool.request(address, "HEAD", "/"), 2)
            assert (response.status, response.body) == (200, b"")
            assert response.headers[b"content-length"] == b"5"
            got = await asyncio.wait_for(pool.request(address, "GET", "/"), 2)
            assert (got.status, got.body) == (200, b"hello")
        assert len(accepted) == 1 and pool.connections(address) == 1
        await pool.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_a_body_after_a_head_answer_closes_the_connection() -> None:
    """An upstream that sends a body after the head of a HEAD answer is out of step: the answer still
    counts, but the connection is never reused (its next bytes would be taken for the next answer)."""

    async def main() -> None:
        server, accepted = await _head_server(b"hello")
        address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = ConnectionPool(response_timeout=30)
        response = await asyncio.wait_for(pool.request(address, "HEAD", "/"), 2)
        assert (response.status, response.body) == (200, b"")
        got = await asyncio.wait_for(pool.request(address, "GET", "/"), 2)
        assert (got.status, got.body) == (200, b"hello")
        assert len(accepted) == 2
        await pool.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())

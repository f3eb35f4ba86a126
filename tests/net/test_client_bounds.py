"""The connection pool never buffers more than its bounds, whatever an upstream sends: a huge announced
length, an endless chunked body, an endless head, or bytes that are not HTTP at all (fuzzed). Each
fails with an error of the documented tree (net/client.py) and the connection is closed, never pooled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelplane.net.client import (
    MAX_HEAD_BYTES,
    ConnectionPool,
    UpstreamError,
    UpstreamResponse,
    UpstreamTooLarge,
)

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _with_upstream(answer: Answer, exchange: Callable[[str], Awaitable[None]]) -> list[int]:
    """Run `exchange(address)` against a raw upstream that answers each request with `answer`; the
    number of bytes each connection had sent when the client closed it."""
    sent: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            sent.append(writer.transport.get_write_buffer_size())
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        await exchange(f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
    finally:
        server.close()
        await server.wait_closed()
    return sent


async def _endless(writer: asyncio.StreamWriter, head: bytes, piece: bytes) -> None:
    """Send `head`, then `piece` again and again until the client hangs up."""
    writer.write(head)
    for _ in range(100_000):
        writer.write(piece)
        await writer.drain()


def test_an_announced_length_over_the_bound_fails_at_once() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000001\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        await reader.read()  # until the client closes

    async def exchange(address: str) -> None:
        pool = ConnectionPool(max_response_bytes=1_000_000, response_timeout=30)
        with pytest.raises(UpstreamTooLarge, match="announces a 1000001-byte answer; at most 1000000"):
            await asyncio.wait_for(pool.request(address, "GET", "/"), 5)
        assert pool.connections(address) == 0
        await pool.close()

    asyncio.run(_with_upstream(answer, exchange))


def test_an_endless_chunked_body_stops_at_the_bound() -> None:
    chunk = b"%x\r\n%s\r\n" % (4096, b"y" * 4096)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _endless(writer, b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", chunk)

    async def exchange(address: str) -> None:
        pool = ConnectionPool(max_response_bytes=100_000, response_timeout=30)
        with pytest.raises(UpstreamTooLarge, match="sent more than 100000 bytes"):
            await asyncio.wait_for(pool.request(address, "GET", "/"), 10)
        assert pool.connections(address) == 0
        await pool.close()

    asyncio.run(_with_upstream(answer, exchange))


def test_an_endless_head_stops_at_the_head_bound() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _endless(writer, b"HTTP/1.1 200 OK\r\n", b"x-filler: " + b"z" * 1000 + b"\r\n")

    async def exchange(address: str) -> None:
        pool = ConnectionPool(response_timeout=30)
        with pytest.raises(UpstreamTooLarge, match=f"head over {MAX_HEAD_BYTES} bytes"):
            await asyncio.wait_for(pool.request(address, "GET", "/"), 10)
        await pool.close()

    asyncio.run(_with_upstream(answer, exchange))


def test_an_answer_of_exactly_the_bound_is_served_and_pooled() -> None:
    body = b"k" * 50_000

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            with contextlib.suppress(asyncio.IncompleteReadError):
                await reader.readuntil(b"\r\n\r\n")

    async def exchange(address: str) -> None:
        pool = ConnectionPool(max_response_bytes=len(body), response_timeout=30)
        for _ in range(2):
            response = await asyncio.wait_for(pool.request(address, "GET", "/"), 5)
            assert (response.status, response.body) == (200, body)
        assert pool.connections(address) == 1
        await pool.close()

    asyncio.run(_with_upstream(answer, exchange))


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_response_bytes must be 0 or more"):
        ConnectionPool(max_response_bytes=-1)


# Fuzzed: any bytes from an upstream end in an answer within the bounds or an UpstreamError, never
# another exception or a hang.

_HEADS = [
    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    b"HTTP/1.0 503 Service Unavailable\r\nretry-after: 1\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
]


@st.composite
def upstream_bytes(draw: st.DrawFn) -> list[bytes]:
    """A valid answer, mutated (bytes flipped, cut, duplicated, junk added), split into pieces."""
    data = bytearray(draw(st.sampled_from(_HEADS)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "double"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(max_size=40))
        else:
            data.extend(bytes(data))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    return [bytes(data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=upstream_bytes())
def test_any_bytes_from_an_upstream_end_in_an_answer_or_an_upstream_error(pieces: list[bytes]) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
        writer.write_eof()
        await reader.read()

    async def exchange(address: str) -> None:
        pool = ConnectionPool(max_response_bytes=64, response_timeout=2)
        result: UpstreamResponse | UpstreamError
        try:
            result = await asyncio.wait_for(pool.request(address, "GET", "/"), 5)
        except UpstreamError as error:
            result = error
        if isinstance(result, UpstreamResponse):
            assert 100 <= result.status <= 999 and len(result.body) <= 64
        await pool.close()

    asyncio.run(_with_upstream(answer, exchange))

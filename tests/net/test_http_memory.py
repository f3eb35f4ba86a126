"""A chunked body of tiny chunks costs about its size in the server, not ~40 bytes per chunk.

The connection is fed the bytes a socket would deliver (64 KiB reads, built before measuring) through a
stand-in transport that only records what is written; tracemalloc measures the parse itself.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import orjson

from modelplane.net.errors import HttpError
from modelplane.net.http import Connection, HttpServer, Request, Response

BODY_SIZE = 100_000


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def test_a_body_of_one_byte_chunks_costs_about_its_size() -> None:
    sizes: list[int] = []

    def handle(request: Request) -> Response:
        sizes.append(len(request.body))
        return Response(200, b"{}")

    def render_error(error: HttpError) -> Response:
        return Response(error.status, orjson.dumps({"error": str(error)}))

    wire = b"POST /echo HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n"
    wire += b"1\r\nx\r\n" * BODY_SIZE + b"0\r\n\r\n"
    reads = [wire[i : i + 65536] for i in range(0, len(wire), 65536)]

    async def main() -> int:
        server = HttpServer(handle, render_error=render_error, max_body=1 << 20)
        connection = Connection(server, asyncio.get_running_loop())
        transport = RecordingTransport()
        connection.connection_made(transport)
        tracemalloc.start()
        try:
            for data in reads:
                connection.data_received(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert transport.written and transport.written[0].startswith(b"HTTP/1.1 200 ")
        return peak

    peak = asyncio.run(main())
    assert sizes == [BODY_SIZE]
    # one buffer plus the request's bytes copy of it; a list of 1-byte objects was ~40x
    assert peak < 2.5 * BODY_SIZE, f"parsing a {BODY_SIZE}-byte body peaked at {peak} bytes"

"""Every status a modelplane server answers goes out with its reason phrase, not "Unknown": the 403
and 415 of the cross-site checks, the API's 401/409/410/422/429, as well as the older ones."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import orjson
import pytest

from modelplane.net.errors import HttpError
from modelplane.net.http import HttpServer, Request, Response

STATUSES = (400, 401, 403, 404, 405, 408, 409, 410, 413, 415, 422, 429, 431, 500, 501, 502, 503, 504)


def render_error(error: HttpError) -> Response:
    return Response(error.status, orjson.dumps({"error": str(error)}))


def handle(request: Request) -> Response:
    error = HttpError(f"status {request.path[1:]}")
    error.status = int(request.path[1:])
    raise error


async def status_lines() -> dict[int, bytes]:
    server = HttpServer(handle, render_error=render_error, max_body=1 << 10)
    port = await server.listen("127.0.0.1", 0)
    lines = {}
    try:
        for status in STATUSES:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /{status} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n".encode())
            lines[status] = (await asyncio.wait_for(reader.readline(), 10)).rstrip(b"\r\n")
            writer.close()
    finally:
        server.drain()
        await server.wait_closed(1)
    return lines


@pytest.fixture(scope="module")
def lines() -> dict[int, bytes]:
    return asyncio.run(status_lines())


@pytest.mark.parametrize("status", STATUSES)
def test_each_status_line_carries_its_reason_phrase(lines: dict[int, bytes], status: int) -> None:
    line = lines[status]
    assert line.startswith(b"HTTP/1.1 %d " % status), line
    reason = line.split(b" ", 2)[2]
    assert reason != b"Unknown", line
    if status not in (413,):  # 413 keeps RFC 9110's older name, Payload Too Large
        assert reason == HTTPStatus(status).phrase.encode(), line

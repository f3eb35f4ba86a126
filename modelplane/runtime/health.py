"""The effect behind a probe: one HTTP GET against a replica's health endpoint.

Success is a status in [200, 400), as the kubelet's httpGet handler; a refused connection, a closed
connection, a malformed answer or no answer within `timeout` seconds is a failure. One connection per
probe (`Connection: close`), as the kubelet does, over asyncio streams so the loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol


class Prober(Protocol):
    async def __call__(self, port: int, path: str, *, timeout: float) -> bool: ...


async def http_probe(port: int, path: str, *, timeout: float, host: str = "127.0.0.1") -> bool:
    """GET http://host:port/path; True for a 2xx or 3xx status within `timeout` seconds."""
    try:
        return await asyncio.wait_for(_get_status_ok(host, port, path), timeout)
    except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return False


async def _get_status_ok(host: str, port: int, path: str) -> bool:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: modelplane-probe/1.0\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("ascii"))
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            return False
        return 200 <= int(parts[1]) < 400
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

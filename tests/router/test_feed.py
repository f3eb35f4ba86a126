"""The endpoints feed from the control plane's long poll: bearer token, `since`, and riding out an outage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from modelplane.net.client import ConnectionPool
from modelplane.router.feed import follow_api
from modelplane.router.table import EndpointsTable


class FakeControlPlane:
    """`GET /api/v1/endpoints[?since=RV]` over real HTTP: answers at once when the table is newer than
    `since`, else holds the request until it changes (the long poll)."""

    def __init__(self) -> None:
        self.rv = 1
        self.changed = asyncio.Event()
        self.seen: list[tuple[str, str]] = []  # (path, authorization)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    def table(self) -> dict[str, Any]:
        return {"resourceVersion": self.rv, "deployments": [{"name": f"model-{self.rv}"}]}

    def bump(self) -> None:
        self.rv += 1
        self.changed.set()
        self.changed = asyncio.Event()

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                path = head.split(" ")[1]
                auth = next(
                    (
                        line.split(": ", 1)[1]
                        for line in head.split("\r\n")
                        if line.startswith("authorization")
                    ),
                    "",
                )
                self.seen.append((path, auth))
                since = int(path.split("since=")[1]) if "since=" in path else None
                if since is not None and since >= self.rv:
                    await self.changed.wait()
                body = json.dumps(self.table()).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
                await writer.drain()
        self.writers.discard(writer)


def test_follow_api_long_polls_and_keeps_the_table_through_an_outage() -> None:
    async def main() -> None:
        api = FakeControlPlane()
        port = await api.start()
        applied: list[EndpointsTable] = []
        pool = ConnectionPool()
        feed = asyncio.ensure_future(
            follow_api(f"http://127.0.0.1:{port}", applied.append, pool=pool, token="s3cret")
        )

        async def until(rv: int, timeout: float) -> float:
            started = time.monotonic()
            while not applied or applied[-1].resource_version < rv:
                assert time.monotonic() - started < timeout, f"table {rv} not applied within {timeout} s"
                await asyncio.sleep(0.01)
            return time.monotonic() - started

        await until(1, 5)
        api.bump()
        assert await until(2, 1) < 0.5  # the held long poll answers on the change
        assert api.seen[0] == ("/api/v1/endpoints", "Bearer s3cret")
        assert api.seen[1] == ("/api/v1/endpoints?since=1", "Bearer s3cret")

        await api.stop()  # the control plane goes away: the router keeps table 2 and retries
        await asyncio.sleep(1.5)
        assert applied[-1].resource_version == 2
        assert [d.name for d in applied[-1].deployments] == ["model-2"]
        api.bump()
        await api.start(port)
        assert await until(3, 5) <= 1.2  # back within the 1 s retry cap
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        await pool.close()
        await api.stop()

    asyncio.run(main())

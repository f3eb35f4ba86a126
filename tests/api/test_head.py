"""HEAD on the API answers like GET without a body, at once; methods other than GET still get 405.

A real HTTP server in this process in front of the API handler and a real SQLite store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from modelplane.api.routes import Api, Hub, render_error
from modelplane.net.http import HttpServer
from modelplane.store import Store


async def _ask(port: int, method: str, path: str) -> tuple[int, int, bytes]:
    """Status, announced content-length and what came after the head (on a HEAD, then a GET on the
    same connection: the GET's answer must come next, so a HEAD body would show up here)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".encode())
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    return int(lines[0].split()[1]), int(headers["content-length"]), rest


def test_head_answers_like_get_without_a_body(tmp_path: Path) -> None:
    async def main() -> None:
        with Store(tmp_path / "state") as store:
            api = Api(store, hub=Hub(), state_dir=tmp_path / "state", token=None, on_down=lambda: None)
            server = HttpServer(api, render_error=render_error, max_body=1 << 20)
            port = await server.listen("127.0.0.1", 0)
            try:
                for path in ("/healthz", "/api/v1/modeldeployments", "/api/v1/modeldeployments/default/x"):
                    get = await _ask(port, "GET", path)
                    status, length, rest = await _ask(port, "HEAD", path)
                    assert (status, length) == get[:2], path
                    assert rest.startswith(b"HTTP/1.1 200 "), (path, rest[:40])  # the GET's answer, no body
                assert (await _ask(port, "HEAD", "/api/v1/apply"))[0] == 405  # POST only
            finally:
                server.drain()
                await server.wait_closed(1)

    asyncio.run(main())

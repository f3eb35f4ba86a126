"""Keeps the router's endpoints table current, from the control plane or from a JSON file.

Two loops, one per source; each calls `apply(table)` whenever the table changed and never ends by
itself (the router's task group cancels it on shutdown):

- `follow_api`: long-polls `GET {api}/api/v1/endpoints?since=RV` (the API holds the request up to 25 s
  and answers when anything changed after RV). On an error it keeps the last table, so serving goes
  on while the control plane is down, and tries again after 0.1, 0.2, 0.4 … at most 1 s: a readiness
  change reaches the router within about 1 s of the API answering again.
- `follow_file`: reads the file when its mtime, size or inode changes, checked every 100 ms. A file
  that cannot be read or parsed is logged and skipped; the last good table stays. Write it atomically
  (write a temporary file, then rename) so the router never reads half a table.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from modelplane.net.client import ConnectionPool, UpstreamError
from modelplane.router.errors import TableError
from modelplane.router.table import EndpointsTable, parse_table

log = logging.getLogger(__name__)

FILE_POLL_S = 0.1
MAX_BACKOFF_S = 1.0
LONG_POLL_S = 25.0

Apply = Callable[[EndpointsTable], None]


def api_address(url: str) -> tuple[str, str]:
    """(host:port, path prefix) of an API base URL like `http://127.0.0.1:8090`."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"--api {url!r}: give an http://HOST:PORT URL (https is not supported yet).")
    return f"{parts.hostname}:{parts.port or 80}", parts.path.rstrip("/")


async def follow_api(api: str, apply: Apply, *, pool: ConnectionPool, token: str | None = None) -> None:
    address, prefix = api_address(api)
    headers = [(b"authorization", b"Bearer " + token.encode())] if token else []
    since: int | None = None
    backoff = 0.1
    failing = False
    while True:
        query = "" if since is None else f"?since={since}"
        try:
            response = await pool.request(
                address,
                "GET",
                f"{prefix}/api/v1/endpoints{query}",
                headers=headers,
                timeout=LONG_POLL_S + 10,
            )
            if response.status == 304 or (response.status == 200 and not response.body):
                continue
            if response.status != 200:
                raise TableError(f"{api} answered {response.status}: {response.body[:300]!r}")
            table = parse_table(response.body, source=api)
        except (UpstreamError, TableError) as error:
            if not failing:
                log.warning("endpoints from %s unavailable, keeping the last table: %s", api, error)
            failing = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            continue
        if failing:
            log.info("endpoints from %s available again", api)
        failing, backoff = False, 0.1
        if table.resource_version != since:
            since = table.resource_version
            apply(table)


async def follow_file(path: Path, apply: Apply) -> None:
    seen: tuple[int, int, int] | None = None
    while True:
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != seen:
                seen = stamp
                apply(parse_table(path.read_bytes(), source=str(path)))
        except OSError as error:
            if seen != (0, 0, 0):
                log.warning("cannot read the endpoints file %s: %s", path, error)
                seen = (0, 0, 0)
        except TableError as error:
            log.warning("%s; keeping the last table", error)
        await asyncio.sleep(FILE_POLL_S)

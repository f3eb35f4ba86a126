"""The router process: an HTTP server with the proxy handler, fed by one endpoints source.

`run_router` serves until SIGTERM/SIGINT, then drains like the model server: /v2/health/ready turns
503, requests held for a ready replica get their 503 (no new table will come), the listening socket
closes, idle connections close, in-flight requests finish within the grace period, and it returns
exit code 0. The feed loop runs in a TaskGroup beside the server; if it ever ends on its own, that is
logged as an error and the router stops (exit code 1) rather than serve a table that no longer changes.
When following the control plane (--api), the metrics reporter (reporting.py) runs in the same group
under the same rule: it never ends by itself, so its end is a bug that must not go unnoticed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelplane.net.client import DEFAULT_MAX_RESPONSE, ConnectionPool
from modelplane.net.cross_site import check_browser_request
from modelplane.net.http import Deferred, Handler, HttpServer, Limits, Request, Response
from modelplane.router.feed import follow_api, follow_file
from modelplane.router.holding import HOLD_CAPACITY, READY_WAIT_S
from modelplane.router.proxy import Proxy, render_error
from modelplane.router.reporting import Reporter

log = logging.getLogger("modelplane.router")

DEFAULT_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class RouterOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    api: str | None = None
    token: str | None = None
    endpoints_file: Path | None = None
    retries: int = 1
    queue_size: int | None = None
    ready_wait_s: float = READY_WAIT_S  # hold a request this long for a ready replica; 0: 503 at once
    hold_capacity: int = HOLD_CAPACITY  # requests held per deployment
    max_connections: int = 256  # per replica
    connect_timeout_s: float = 2.0
    response_timeout_s: float = 60.0
    max_body: int = DEFAULT_MAX_BODY
    max_response: int = DEFAULT_MAX_RESPONSE  # a replica's answer; larger ones fail with 502
    grace_s: float = 30.0
    report_interval_s: float = 1.0  # push request metrics to --api this often; 0: never (file mode: never)
    limits: Limits = field(default_factory=Limits)  # the clients' connections: timeouts and how many at once


def _refusing_web_pages(handle: Handler) -> Handler:
    """Every request first passes the checks against browsers (modelplane.net.cross_site): an
    Origin gets 403, a body whose Content-Type is not JSON 415, before anything is routed."""

    def guarded(request: Request) -> Response | Deferred:
        check_browser_request(request.headers, request.content_type, request.body)
        return handle(request)

    return guarded


class _LoopEnded(Exception):
    pass


async def run_router(options: RouterOptions, *, on_listening: Callable[[int], None]) -> int:
    """Serve until SIGTERM/SIGINT; the process exit code."""
    pool = ConnectionPool(
        max_per_address=options.max_connections,
        connect_timeout=options.connect_timeout_s,
        response_timeout=options.response_timeout_s,
        max_response_bytes=options.max_response,
    )
    proxy = Proxy(
        pool,
        retries=options.retries,
        queue_size=options.queue_size,
        ready_wait_s=options.ready_wait_s,
        hold_capacity=options.hold_capacity,
    )
    http = HttpServer(
        _refusing_web_pages(proxy.handle),
        render_error=render_error,
        max_body=options.max_body,
        limits=options.limits,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    on_listening(await http.listen(options.host, options.port))
    code = 0
    try:
        async with asyncio.TaskGroup() as tasks:
            loops = {tasks.create_task(_supervised(_feed(options, proxy), "endpoints feed"))}
            if options.api is not None and options.report_interval_s > 0:
                loops.add(tasks.create_task(_supervised(_report(options, proxy), "metrics reporter")))
            stopping = tasks.create_task(stop.wait())
            await asyncio.wait({*loops, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (*loops, stopping):
                task.cancel()
    except* _LoopEnded:
        code = 1
    await _drain(proxy, http, pool, options.grace_s)
    return code


def _feed(options: RouterOptions, proxy: Proxy) -> Coroutine[Any, Any, None]:
    if options.endpoints_file is not None:
        log.info("endpoints from file %s", options.endpoints_file)
        return follow_file(options.endpoints_file, proxy.update)
    log.info("endpoints from the control plane at %s", options.api)
    return _follow_api(options, proxy)


async def _follow_api(options: RouterOptions, proxy: Proxy) -> None:
    """The long poll on a pool of its own: the proxy's pool drops addresses that leave the table."""
    assert options.api is not None
    pool = ConnectionPool(max_per_address=1, connect_timeout=options.connect_timeout_s)
    try:
        await follow_api(options.api, proxy.update, pool=pool, token=options.token)
    finally:
        await pool.close()


async def _report(options: RouterOptions, proxy: Proxy) -> None:
    """The metrics push (reporting.py), on a pool of its own like the long poll."""
    assert options.api is not None
    pool = ConnectionPool(max_per_address=1, connect_timeout=options.connect_timeout_s)
    reporter = Reporter(
        options.api,
        stats=proxy.metrics.all_stats,
        gates=proxy.gates,
        table=lambda: proxy.table,
        pool=pool,
        token=options.token,
        interval_s=options.report_interval_s,
        clock=proxy.clock,
    )
    try:
        await reporter.run()
    finally:
        await pool.close()


async def _supervised(loop: Coroutine[Any, Any, None], what: str) -> None:
    try:
        await loop
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("the %s failed; the router stops", what)
        raise _LoopEnded() from None
    log.error("the %s ended; the router stops", what)
    raise _LoopEnded()


async def _drain(proxy: Proxy, http: HttpServer, pool: ConnectionPool, grace_s: float) -> None:
    proxy.drain()
    log.info("shutting down: draining %d connection(s), grace period %.0f s", len(http.connections), grace_s)
    http.drain()
    if not await http.wait_closed(grace_s):
        log.warning("grace period of %.0f s ended with requests still in flight; they were cut off", grace_s)
    await pool.close()

"""`modelplane router`: run the ingress in front of the replicas."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from modelplane.cli.durations import DURATION
from modelplane.cli.http_limits import limit_options, limits_from
from modelplane.net.client import DEFAULT_MAX_RESPONSE
from modelplane.router.app import DEFAULT_MAX_BODY, RouterOptions, run_router
from modelplane.router.holding import HOLD_CAPACITY, READY_WAIT_S


@click.command()
@click.option("--api", default=None, help="Control-plane URL to follow, e.g. http://127.0.0.1:8090.")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File holding the bearer token for --api.",
)
@click.option(
    "--endpoints-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON endpoints table to follow instead of --api (re-read when it changes).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, help="Port to bind; 0 picks a free one.")
@click.option(
    "--retries",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Times a request is sent again to another replica when its replica fails.",
)
@click.option(
    "--queue",
    "queue_size",
    default=None,
    type=click.IntRange(min=0),
    help="Requests a deployment may queue when its replicas are full "
    "[default: 2 × ready replicas × spec.concurrency].",
)
@click.option(
    "--ready-wait",
    "ready_wait",
    metavar="DURATION",
    default=READY_WAIT_S,
    show_default=True,
    type=DURATION,
    help="How long a request is held while its deployment has no ready replica, before it gets 503 "
    "(15, 15s, 1m); 0 answers 503 at once.",
)
@click.option(
    "--ready-wait-queue",
    "hold_capacity",
    metavar="N",
    default=HOLD_CAPACITY,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests a deployment may hold during --ready-wait; more get 503 with Retry-After at once.",
)
@click.option(
    "--max-connections",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keep-alive connections per replica.",
)
@click.option(
    "--timeout",
    "response_timeout",
    metavar="DURATION",
    default=60.0,
    show_default=True,
    type=DURATION,
    help="How long a replica may take to answer (60, 60s, 2m); then 504.",
)
@click.option(
    "--max-body-size",
    default=DEFAULT_MAX_BODY,
    show_default=True,
    help="Largest request body in bytes; larger ones get 413.",
)
@click.option(
    "--max-response-size",
    default=DEFAULT_MAX_RESPONSE,
    show_default=True,
    help="Largest answer in bytes taken from a replica; a larger one is cut off and the client gets 502.",
)
@click.option(
    "--grace-period",
    metavar="DURATION",
    default=30.0,
    show_default=True,
    type=DURATION,
    help="How long in-flight requests may take to finish after SIGTERM (30, 30s, 1m).",
)
@click.option(
    "--metrics-interval",
    "metrics_interval",
    metavar="DURATION",
    default=1.0,
    show_default=True,
    type=DURATION,
    help="How often request metrics are pushed to --api (1, 500ms); 0 pushes none "
    "(the autoscaler then sees no request metrics).",
)
@limit_options
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def router(
    api: str | None,
    token_file: Path | None,
    endpoints_file: Path | None,
    host: str,
    port: int,
    retries: int,
    queue_size: int | None,
    ready_wait: float,
    hold_capacity: int,
    max_connections: int,
    response_timeout: float,
    max_body_size: int,
    max_response_size: int,
    grace_period: float,
    metrics_interval: float,
    keep_alive_timeout: float,
    header_timeout: float,
    body_timeout: float,
    limit_connections: int | None,
    log_level: str,
) -> None:
    """Route inference requests to the ready replicas of each deployment.

    Follows the control plane (--api) or a JSON endpoints file (--endpoints-file), serves the OIP v2
    and KServe v1 paths with /ns/NAMESPACE for namespaces other than default, and prints
    `modelplane router listening on http://HOST:PORT` once it accepts connections.
    """
    if (api is None) == (endpoints_file is None):
        raise click.UsageError("give exactly one of --api URL or --endpoints-file FILE.")
    if token_file is not None and api is None:
        raise click.UsageError("--token-file goes with --api.")
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = RouterOptions(
        host=host,
        port=port,
        api=api,
        token=token_file.read_text().strip() if token_file is not None else None,
        endpoints_file=endpoints_file,
        retries=retries,
        queue_size=queue_size,
        ready_wait_s=ready_wait,
        hold_capacity=hold_capacity,
        max_connections=max_connections,
        response_timeout_s=response_timeout,
        max_body=max_body_size,
        max_response=max_response_size,
        grace_s=grace_period,
        report_interval_s=metrics_interval,
        limits=limits_from(keep_alive_timeout, header_timeout, body_timeout, limit_connections),
    )

    def announce(bound: int) -> None:
        print(f"modelplane router listening on http://{host}:{bound}", flush=True)

    _install_uvloop()
    raise SystemExit(asyncio.run(run_router(options, on_listening=announce)))


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # not on every platform; asyncio's loop works, slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    router()

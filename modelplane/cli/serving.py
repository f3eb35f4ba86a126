"""`modelplane serve`: run the model server for the ModelDeployments of a spec file."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from modelplane.cli.http_limits import limit_options, limits_from
from modelplane.server.app import DEFAULT_MAX_BODY, DEFAULT_MAX_RESPONSE, ModelServer
from modelplane.server.deployments import model_config
from modelplane.spec import ModelDeployment, load_path


@click.command()
@click.option(
    "-f",
    "--filename",
    "path",
    required=True,
    type=click.Path(path_type=Path),
    help="Spec file or folder holding the ModelDeployment(s).",
)
@click.option("--name", default=None, help="Serve only the ModelDeployment with this name.")
@click.option("-n", "--namespace", default=None, help="Serve only ModelDeployments of this namespace.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, help="Port to bind; 0 picks a free one.")
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
    help="Largest inference answer in bytes; a request whose answer would be larger gets 400.",
)
@click.option(
    "--grace-period",
    type=float,
    default=None,
    help="Seconds to finish in-flight requests after SIGTERM "
    "[default: spec.terminationGracePeriodSeconds, 30].",
)
@limit_options
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def serve(
    path: Path,
    name: str | None,
    namespace: str | None,
    host: str,
    port: int,
    max_body_size: int,
    max_response_size: int,
    grace_period: float | None,
    keep_alive_timeout: float,
    header_timeout: float,
    body_timeout: float,
    limit_connections: int | None,
    log_level: str,
) -> None:
    """Serve the ModelDeployment(s) in FILE over Open Inference Protocol v2 and KServe v1.

    Without --name every ModelDeployment in the file is served by this one process. Prints
    `modelplane server listening on http://HOST:PORT` once it accepts connections; /v2/health/ready
    turns 200 when every model has loaded.
    """
    limits = limits_from(keep_alive_timeout, header_timeout, body_timeout, limit_connections)
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    result = load_path(path)
    if result.errors:
        for error in result.errors:
            click.echo(str(error), err=True)
        raise SystemExit(1)
    deployments = [
        (loaded.obj, loaded.file)
        for loaded in result.objects
        if isinstance(loaded.obj, ModelDeployment)
        and (name is None or loaded.obj.metadata.name == name)
        and (namespace is None or loaded.obj.metadata.namespace == namespace)
    ]
    if not deployments:
        wanted = f" named '{name}'" if name else ""
        raise click.ClickException(f"{path} has no ModelDeployment{wanted}; check -f and --name.")
    names = [d.metadata.name for d, _ in deployments]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise click.ClickException(
            f"{path} has several ModelDeployments named {', '.join(duplicates)} (in different namespaces); "
            "pick one with --namespace."
        )
    configs = [model_config(d, base_dir=file.parent.resolve()) for d, file in deployments]
    grace = grace_period
    if grace is None:
        grace = float(max(d.spec.termination_grace_period_seconds for d, _ in deployments))
    server = ModelServer(configs, max_body=max_body_size, limits=limits)
    server.max_response = max_response_size

    def announce(bound: int) -> None:
        print(f"modelplane server listening on http://{host}:{bound}", flush=True)

    _install_uvloop()
    code = asyncio.run(server.run(host, port, grace_s=grace, on_listening=announce))
    raise SystemExit(code)


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # not on every platform; asyncio's loop works, slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

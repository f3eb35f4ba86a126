"""`modelplane loadtest`: offer a load to deployments through the router; report JSON and a PNG.

    modelplane loadtest iris --rate 500 --duration 30s
    modelplane loadtest sentiment:2 intent:1 --rate 300 --profile spike --to 3000 --at 10s --for 20s
    modelplane loadtest iris --clients 32 --duration 1m                  # closed loop
    modelplane loadtest iris --profile replay --rates-file day.txt       # req/s per second

Flags are checked before anything is sent (modelplane.loadtest.profiles names the flag at fault).
Then, for each target, the body: `--body FILE`, else one row built from GET /v2/models/NAME through the
router. The run itself is modelplane.loadtest.running on uvloop; each second the live display (rich,
on a terminal; a line every 5 s otherwise) shows offered, served, errors, p50/p99, in flight and the
replica counts read from the control plane (GET /api/v1/modeldeployments/NS/NAME, in a thread).
See docs/loadtest.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from modelplane.cli.client import ApiClient, ApiError, connect, connection_options, open_url, recorded_url
from modelplane.cli.durations import DURATION
from modelplane.cli.objects import API
from modelplane.cli.observing import DEFAULT_INGRESS
from modelplane.loadtest.bodies import body_from_metadata, check_body
from modelplane.loadtest.errors import LoadTestError, ProfileError, TargetError
from modelplane.loadtest.plotting import plot
from modelplane.loadtest.profiles import Profile, Shape, make_profile, read_rates
from modelplane.loadtest.recording import Second
from modelplane.loadtest.report import build_report, write_json
from modelplane.loadtest.running import Outcome, Plan, Progress, ReplicaReader, Target, run
from modelplane.spec.meta import DEFAULT_NAMESPACE

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
PLAIN_EVERY_S = 5


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="[NS/]NAME[:SHARE]...")
@click.option(
    "-n", "--namespace", default=None, help=f"Namespace of the targets [default: {DEFAULT_NAMESPACE}]."
)
@click.option(
    "--rate", type=float, default=None, help="Open loop: req/s in all (split by SHARE) [default: 100]."
)
@click.option(
    "--clients", type=int, default=None, help="Closed loop: concurrent clients in all, instead of --rate."
)
@click.option("-d", "--duration", type=DURATION, default=None, help="How long to offer load [default: 30s].")
@click.option(
    "--profile",
    default="constant",
    show_default=True,
    help="Shape of the load over time: constant, step, spike, ramp, replay.",
)
@click.option("--to", "to", type=float, default=None, help="step/spike/ramp: the rate (or clients) to go to.")
@click.option("--at", "at", type=DURATION, default=None, help="step/spike/ramp: when it starts.")
@click.option(
    "--for", "hold", type=DURATION, default=None, help="spike: how long it lasts; ramp: how long it climbs."
)
@click.option(
    "--rates-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="replay: req/s per second, one number a line (or a JSON list).",
)
@click.option(
    "--arrivals",
    type=click.Choice(["constant", "poisson"]),
    default="constant",
    show_default=True,
    help="Open loop: evenly spaced requests, or a Poisson process of the same rate.",
)
@click.option(
    "--body",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON request body for every target [default: one row built from the model's metadata].",
)
@click.option(
    "--ingress",
    default=None,
    metavar="URL",
    help="The router [default: $MODELPLANE_INGRESS, else the URL `modelplane up` recorded, "
    f"else {DEFAULT_INGRESS}].",
)
@click.option("--timeout", type=DURATION, default="30s", show_default=True, help="Per request.")
@click.option("--max-connections", type=int, default=512, show_default=True, help="To the router, at most.")
@click.option("--seed", type=int, default=None, help="Seed of the Poisson arrivals (for a repeatable run).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The JSON report; the PNG goes beside it [default: loadtest-YYYYMMDD-HHMMSS.json].",
)
@click.option("--no-plot", is_flag=True, help="Write the JSON report only.")
@click.option("--no-replicas", is_flag=True, help="Do not read replica counts from the control plane.")
@click.option("-q", "--quiet", is_flag=True, help="No live display; the summary only.")
@connection_options
def loadtest(
    targets: tuple[str, ...],
    namespace: str | None,
    rate: float | None,
    clients: int | None,
    duration: float | None,
    profile: str,
    to: float | None,
    at: float | None,
    hold: float | None,
    rates_file: Path | None,
    arrivals: str,
    body: Path | None,
    ingress: str | None,
    timeout: float,
    max_connections: int,
    seed: int | None,
    output: Path | None,
    no_plot: bool,
    no_replicas: bool,
    quiet: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Offer a load to deployments through the router; live progress, then a JSON report and a PNG.

    Open loop by default (--rate: requests are sent on a schedule, and latency counts from when each was
    due, so queueing cannot hide); --clients N for a closed loop. SHARE splits the load between targets
    (default 1 each). Profiles: constant, step (--to, --at), spike (--to, --at, --for), ramp (--to,
    --at, --for), replay (--rates-file).
    """
    try:
        shape = _profile(profile, rate, clients, duration, to, at, hold, rates_file)
        if timeout <= 0:
            raise ProfileError("--timeout", f"--timeout must be more than 0, not {timeout:g}.")
        if max_connections < 1:
            raise ProfileError(
                "--max-connections", f"--max-connections must be 1 or more, not {max_connections}."
            )
        parsed = [_target(text, namespace or DEFAULT_NAMESPACE) for text in targets]
    except LoadTestError as error:
        raise click.UsageError(str(error)) from None
    router = (
        ingress or os.environ.get("MODELPLANE_INGRESS") or recorded_url("ingress") or DEFAULT_INGRESS
    ).rstrip("/")
    if "://" not in router:
        router = f"http://{router}"
    address = _address(router)
    try:
        user_body = check_body("--body", body.read_bytes()) if body is not None else None
    except OSError as error:
        raise click.UsageError(f"--body: cannot read {body}: {error.strerror or error}.") from None
    except TargetError as error:
        raise click.UsageError(str(error)) from None
    try:
        plan = Plan(
            targets=tuple(
                Target(ns, name, share, user_body or _metadata_body(router, ns, name))
                for ns, name, share in parsed
            ),
            profile=shape,
            address=address,
            closed=clients is not None,
            poisson=arrivals == "poisson",
            timeout=timeout,
            max_connections=max_connections,
            seed=seed,
        )
    except TargetError as error:
        raise click.ClickException(str(error)) from None
    reader = None if no_replicas else replica_reader(connect(server, token))
    json_path = output or Path(time.strftime("loadtest-%Y%m%d-%H%M%S.json"))
    outcome = _run(plan, reader, quiet=quiet)
    report = build_report(plan, outcome, router=router)
    write_json(report, json_path)
    click.echo(summary(report))
    click.echo(f"report: {json_path}")
    if outcome.replica_errors:
        click.echo(f"replicas not read: {outcome.replica_errors[0]}", err=True)
    if not no_plot:
        png = json_path.with_suffix(".png")
        try:
            plot(report, png)
        except LoadTestError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"plot: {png}")


def _profile(
    shape: str,
    rate: float | None,
    clients: int | None,
    duration: float | None,
    to: float | None,
    at: float | None,
    hold: float | None,
    rates_file: Path | None,
) -> Profile:
    if rate is not None and clients is not None:
        raise ProfileError("--clients", "--clients (closed loop) and --rate (open loop) exclude each other.")
    rates = read_rates(rates_file) if rates_file is not None else None
    if clients is not None:
        if shape == Shape.REPLAY:
            raise ProfileError(
                "--profile", "--profile replay replays req/s: use it with --rate, not --clients."
            )
        if clients < 1:
            raise ProfileError("--clients", f"--clients must be 1 or more, not {clients}.")
        return make_profile(shape, duration=duration, rate=clients, to=to, at=at, hold=hold, unit="--clients")
    if rate is not None and shape == Shape.REPLAY:
        raise ProfileError("--rate", "--rate does not apply to --profile replay; --rates-file sets the rate.")
    return make_profile(
        shape, duration=duration, rate=100.0 if rate is None else rate, to=to, at=at, hold=hold, rates=rates
    )


def _target(text: str, namespace: str) -> tuple[str, str, float]:
    """`[NS/]NAME[:SHARE]` → (namespace, name, share)."""
    ref, colon, share_text = text.partition(":")
    ns, slash, name = ref.rpartition("/")
    ns = ns if slash else namespace
    for what, value in (("namespace", ns), ("deployment name", name)):
        if len(value) > 63 or not _NAME.fullmatch(value):
            raise TargetError(
                text, f"target {text!r}: {value!r} is not a {what} (lowercase letters, digits and '-')."
            )
    share = 1.0
    if colon:
        try:
            share = float(share_text)
        except ValueError:
            share = -1.0
        if not 0 < share < float("inf"):
            raise TargetError(text, f"target {text!r}: the share after ':' must be a number more than 0.")
    return ns, name, share


def _address(router: str) -> str:
    parts = urllib.parse.urlsplit(router)
    if parts.scheme != "http" or not parts.hostname:
        raise click.UsageError(
            f"--ingress: {router!r} is not an http:// URL of the router (https is not spoken)."
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port or 80}"


def _metadata_body(router: str, namespace: str, name: str) -> bytes:
    prefix = "" if namespace == DEFAULT_NAMESPACE else f"/ns/{namespace}"
    url = f"{router}{prefix}/v2/models/{name}"
    where = "" if namespace == DEFAULT_NAMESPACE else f" in namespace {namespace}"
    try:
        with open_url(url, timeout=20) as response:
            metadata = json.loads(response.read())
    except urllib.error.HTTPError as error:
        said = _error_text(error)
        if error.code == 404:
            raise TargetError(
                name,
                f"The router at {router} serves no deployment '{name}'{where} ({said}). "
                "Check the name with `modelplane get md`.",
            ) from None
        raise TargetError(
            name,
            f"The metadata of '{name}'{where} could not be read through the router at {router}: HTTP "
            f"{error.code} ({said}). Wait until a replica is ready, or give the body with --body FILE.",
        ) from None
    except (urllib.error.URLError, OSError) as error:
        raise TargetError(
            name,
            f"No router answered at {router} ({getattr(error, 'reason', error)}). Start one with "
            "`modelplane up`, or point --ingress at it.",
        ) from None
    except ValueError:
        raise TargetError(name, f"{url} did not answer JSON; is --ingress the modelplane router?") from None
    return body_from_metadata(name, metadata)


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        answer = {}
    return str(answer.get("error") or error.reason) if isinstance(answer, dict) else str(error.reason)


def replica_reader(client: ApiClient) -> ReplicaReader:
    """Ready and desired replicas of a target, from the control plane (in a thread: the client blocks)."""
    quick = ApiClient(server=client.server, token=client.token, timeout=2.0)

    async def read(target: Target) -> tuple[int | None, int | None]:
        path = f"{API}/modeldeployments/{target.namespace}/{target.name}"
        try:
            document = await asyncio.to_thread(quick.get, path)
        except ApiError as error:
            raise LoadTestError(error.message) from None
        status = document.get("status") or {} if isinstance(document, dict) else {}
        desired = status.get("desiredReplicas")
        return int(status.get("readyReplicas") or 0), desired if isinstance(desired, int) else None

    return read


def _run(plan: Plan, reader: ReplicaReader | None, *, quiet: bool) -> Outcome:
    console = Console(stderr=True)
    if quiet:
        return _on_loop(plan, reader, None)
    if not console.is_terminal:

        def plain(progress: Progress) -> None:
            if int(progress.elapsed) % PLAIN_EVERY_S == 0:
                line = " | ".join(
                    f"{t.label}: {s.offered} offered, {s.served} served, {s.errors} errors, "
                    f"p99 {_ms(s.p99_ms)}"
                    for t, s in zip(plan.targets, progress.last, strict=True)
                )
                print(f"[{progress.elapsed:5.0f}s] {line}", file=sys.stderr, flush=True)

        return _on_loop(plan, reader, plain)
    with Live(console=console, auto_refresh=False, transient=False) as live:

        def show(progress: Progress) -> None:
            live.update(progress_table(plan, progress), refresh=True)

        return _on_loop(plan, reader, show)


def _on_loop(
    plan: Plan, reader: ReplicaReader | None, on_second: Callable[[Progress], None] | None
) -> Outcome:
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # not on every platform; asyncio's loop works, slower
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(run(plan, read_replicas=reader, on_second=on_second))


def progress_table(plan: Plan, progress: Progress) -> Table:
    word = "clients" if plan.closed else "req/s"
    state = "draining" if progress.draining else f"{progress.elapsed:.0f}/{progress.duration:g} s"
    table = Table(title=f"modelplane loadtest: {state}", title_justify="left")
    for column in (
        "target",
        f"want {word}",
        "offered/s",
        "served/s",
        "errors/s",
        "p50 ms",
        "p99 ms",
        "in flight",
        "replicas",
        "served",
        "errors",
    ):
        table.add_column(column, justify="left" if column == "target" else "right")
    for index, (target, row) in enumerate(zip(plan.targets, progress.last, strict=True)):
        table.add_row(
            target.label,
            f"{plan.share_of(index).rate_at(progress.elapsed - 1):.0f}",
            str(row.offered),
            str(row.served),
            f"[red]{row.errors}[/red]" if row.errors else "0",
            _ms(row.p50_ms),
            _ms(row.p99_ms),
            str(progress.in_flight[index]),
            _replicas(row),
            str(progress.served[index]),
            str(progress.errors[index]),
        )
    return table


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"{report['mode']} loop, {report['profile']['shape']} profile, {report['duration']:g} s; "
        f"latency from the {report['latencyFrom']} send time"
    ]
    for target in report["targets"]:
        totals = target["totals"]
        latency = totals["latencyMs"]
        kinds = ", ".join(f"{k} {v}" for k, v in totals["errorsByKind"].items())
        lines.append(
            f"  {target['name']}: offered {totals['offered']} ({totals['offeredPerSecond']:g}/s), served "
            f"{totals['served']} ({totals['servedPerSecond']:g}/s), errors {totals['errors']}"
            + (f" ({kinds})" if kinds else "")
            + f"; p50 {_ms(latency['p50'])} ms, p99 {_ms(latency['p99'])} ms, max {_ms(latency['max'])} ms"
        )
    generator = report["generator"]
    lag = generator["sendLagMs"]["p99"]
    lines.append(
        f"  generator: {generator['cpuSeconds']:g} s CPU in {generator['wallSeconds']:g} s, "
        f"send lag p99 {_ms(lag)} ms"
    )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _replicas(row: Second) -> str:
    if row.ready is None and row.desired is None:
        return "-"
    return f"{'-' if row.ready is None else row.ready}/{'-' if row.desired is None else row.desired}"

"""`modelplane recommend`: right-sizing from observed usage, thin over `GET /api/v1/recommendations`.

The node agent records every replica's CPU and memory every 5 s (kept 24 h); the API compares them
with each deployment's requests and limits (controllers/rightsizing.py has the formula, docs/cli.md
explains it). This prints, per deployment, a table, the reason for each verdict, and the proposed
`resources:` block to paste into the deployment's spec. `format_recommendation` is pure.
"""

from __future__ import annotations

import math
from typing import Any

import click
import yaml

from modelplane.cli import fields, printing
from modelplane.cli.client import RequestFailed, connect, connection_options
from modelplane.cli.durations import DURATION
from modelplane.cli.objects import API, items_of, namespace_option
from modelplane.spec.meta import DEFAULT_NAMESPACE

HEADERS = ("RESOURCE", "REQUEST", "LIMIT", "P95", "PEAK", "PROPOSED REQUEST", "PROPOSED LIMIT", "VERDICT")
_COLUMNS = ("request", "limit", "p95", "peak", "proposedRequest", "proposedLimit", "verdict")


def format_recommendation(item: dict[str, Any]) -> str:
    """One deployment: a header line, the table, each verdict's reason, then the block to paste."""
    name, namespace = item.get("deployment", "?"), item.get("namespace", "?")
    replicas, samples = item.get("replicas", 0), item.get("samples", 0)
    window = fields.format_age(float(item.get("windowSeconds") or 0))
    lines = [
        f"modeldeployment.modelplane.dev/{name} (namespace {namespace}): {samples} "
        f"sample{'' if samples == 1 else 's'} from {replicas} replica{'' if replicas == 1 else 's'} "
        f"over {window}"
    ]
    resources = [r for r in item.get("resources") or [] if isinstance(r, dict)]
    rows = [[str(r.get("resource")), *(fields.show(r.get(column)) for column in _COLUMNS)] for r in resources]
    lines.append(printing.format_table(HEADERS, rows))
    lines.extend(f"  {r.get('resource')}: {r.get('reason')}." for r in resources)
    proposed = item.get("proposed")
    if isinstance(proposed, dict):
        block = yaml.safe_dump({"resources": proposed}, sort_keys=False).rstrip("\n")
        lines += ["", f"Proposed for the spec of {name}:", block]
    return "\n".join(lines)


def window_seconds(seconds: float | None) -> int | None:
    """`--window 1h` (parsed by DURATION) as whole seconds (rounded up), None when not given."""
    if seconds is None:
        return None
    if seconds <= 0:
        raise click.BadParameter("the window must be longer than 0 s, e.g. 30m or 1h.", param_hint="--window")
    return math.ceil(seconds)


@click.command()
@click.argument("deployment", required=False)
@namespace_option
@click.option("-A", "--all-namespaces", is_flag=True, help="The deployments of every namespace.")
@click.option(
    "--window",
    default=None,
    type=DURATION,
    metavar="DURATION",
    help="Only the usage of the last DURATION, e.g. 30m or 1h [default: all recorded, up to 24 h].",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json"]),
    default=None,
    help="The API's answer as yaml / json.",
)
@connection_options
def recommend(
    deployment: str | None,
    namespace: str | None,
    all_namespaces: bool,
    window: float | None,
    output: str | None,
    server: str | None,
    token: str | None,
) -> None:
    """Compare each deployment's requests and limits with its observed CPU and memory (peak and p95)
    and propose requests and limits.

    CPU request = p95 × 1.15 (at least 25m); memory request = peak × 1.15 (at least 250Mi); memory
    limit = peak × 1.5; a CPU limit, where one is set, = max(2 × request, peak × 1.5).
    """
    if deployment is not None and all_namespaces:
        raise click.UsageError(
            "name a DEPLOYMENT with -n NAMESPACE, or use -A for every deployment; not both."
        )
    seconds = window_seconds(window)
    scope = None if all_namespaces else namespace or DEFAULT_NAMESPACE
    query: dict[str, str | int | None] = {"namespace": scope, "deployment": deployment, "window": seconds}
    try:
        answer = connect(server, token).get(f"{API}/recommendations", query)
    except RequestFailed as exc:
        if exc.status == 404 and deployment is not None:
            raise click.ClickException(
                f"Deployment {deployment!r} was not found in namespace {scope}. List the deployments with "
                f"`modelplane get md -n {scope}` (or `-A` for every namespace)."
            ) from None
        raise
    items = items_of(answer)
    if output is not None:
        click.echo(printing.format_document({"items": items}, output))
        return
    if not items:
        where = "" if scope is None else f" in {scope} namespace"
        click.echo(f"No deployments found{where}.", err=True)
        return
    click.echo("\n\n".join(format_recommendation(item) for item in items))

"""`logs`, `events` and `top`: what is happening, read from the control plane (and the router).

`logs -f` follows by long-polling the API with the byte offset it last got (`?offset=N&wait=S`),
so no line is printed twice or skipped; Ctrl-C ends it quietly. `top` reads CPU and memory from
`GET /api/v1/usage` (the node agent's latest readings, kept in memory, not in the replicas' status)
and in-flight requests and req/s from the router's Prometheus metrics at `--ingress` when the router
answers (else from the control plane's request metrics); what nobody measured shows `-`. Below, per
deployment, the control plane's request metrics (`GET /api/v1/metrics`, the routers' reports over
the last `REQUEST_WINDOW_S`): ready replicas, in-flight, req/s, p99 and the share of 5xx answers.
"""

from __future__ import annotations

import os
import time
import urllib.error
from collections.abc import Mapping
from typing import Any

import click
from prometheus_client.parser import text_string_to_metric_families

from modelplane.cli import fields, printing
from modelplane.cli.client import ApiClient, connect, connection_options, open_url, recorded_url
from modelplane.cli.client import ApiError as ApiClientError
from modelplane.cli.durations import DURATION
from modelplane.cli.kinds import UnknownKind, split_ref
from modelplane.cli.objects import (
    API,
    all_namespaces_option,
    items_of,
    kind_of,
    namespace_option,
    replicas_of,
    sort_key,
)
from modelplane.spec.meta import DEFAULT_NAMESPACE

DEFAULT_INGRESS = "http://127.0.0.1:8080"
FOLLOW_WAIT_S = 20
"""How long one follow request may wait on the API for new output (it answers at once when there is)."""
FOLLOW_POLL_S = 0.5
"""Pause before asking again when an answer brought nothing new."""

INFLIGHT_METRIC = "modelplane_router_replica_inflight"
REQUESTS_METRIC = "modelplane_router_replica_requests"
"""The router's per-replica gauge and counter (labels `namespace`, `replica`) that `top` reads."""

REQUEST_WINDOW_S = 10
"""The window of the per-deployment request numbers: long enough to smooth 1 s buckets, short enough
to show a spike."""

TrafficSample = dict[tuple[str, str], tuple[float | None, float | None]]


# --- logs --------------------------------------------------------------------------------------


def choose_replica(
    replicas: list[dict[str, Any]], owner: str, wanted: str | None, *, kind: str = "deployment"
) -> str:
    """The replica whose log to show: `wanted`, else the only one, else the first ready one (for a
    Job: the running one, else the newest)."""
    names = sorted(fields.name_of(replica) for replica in replicas)
    if wanted is not None:
        if wanted not in names:
            listed = ", ".join(names) or "none"
            raise click.ClickException(
                f"Replica {wanted!r} does not belong to {kind} {owner!r} (its replicas: {listed})."
            )
        return wanted
    if not names:
        short = "md" if kind == "deployment" else kind
        raise click.ClickException(
            f"{kind.capitalize()} {owner!r} has no replicas yet; see `modelplane describe {short} {owner}`."
        )
    ready = sorted(
        (replica for replica in replicas if fields.field(replica, "status", "ready")), key=sort_key
    )
    if ready:
        chosen = fields.name_of(ready[0])
    elif kind == "job":  # the newest attempt
        chosen = fields.name_of(max(replicas, key=lambda r: fields.timestamp(fields.created_of(r)) or 0.0))
    else:
        chosen = names[0]
    if len(names) > 1:
        click.echo(f"Found {len(names)} replicas, using replica/{chosen}; pick one with --replica.", err=True)
    return chosen


@click.command()
@click.argument("target")
@click.option("--replica", "-r", default=None, help="Which replica of the deployment or Job.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output until Ctrl-C.")
@click.option("--tail", type=click.IntRange(min=0), default=None, help="Only the last N lines.")
@namespace_option
@connection_options
def logs(
    target: str,
    replica: str | None,
    follow: bool,
    tail: int | None,
    namespace: str | None,
    server: str | None,
    token: str | None,
) -> None:
    """Print the output of a replica: `logs DEPLOYMENT [--replica R]`, `logs job/NAME` or
    `logs replica/NAME`."""
    try:
        info, name = split_ref(target)
    except UnknownKind as exc:
        raise click.UsageError(str(exc)) from None
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    if info is not None and info.plural == "replicas":
        replica_name = name
    elif info is None or info.plural == "modeldeployments":
        replica_name = choose_replica(replicas_of(client, namespace=ns, deployment=name), name, replica)
    elif info.plural == "jobs":
        replicas = replicas_of(client, namespace=ns, job=name)
        replica_name = choose_replica(replicas, name, replica, kind="job")
    else:
        raise click.UsageError(
            "logs belong to replicas: `logs DEPLOYMENT`, `logs job/NAME` or `logs replica/NAME`."
        )
    path = f"{API}/logs/{ns}/{replica_name}"
    answer = client.get(path, {"tail": tail})
    _write(answer)
    if not follow:
        return
    offset = _offset(answer)
    try:
        while True:
            answer = client.get(
                path, {"offset": offset, "wait": FOLLOW_WAIT_S}, timeout=client.timeout + FOLLOW_WAIT_S
            )
            _write(answer)
            if _offset(answer, default=offset) == offset:
                time.sleep(FOLLOW_POLL_S)  # nothing new (an API that does not long-poll answers at once)
            offset = _offset(answer, default=offset)
    except KeyboardInterrupt:
        return


def _write(answer: Any) -> None:
    text = answer.get("text") if isinstance(answer, dict) else None
    if text:
        click.echo(text, nl=False)


def _offset(answer: Any, default: int = 0) -> int:
    offset = answer.get("offset") if isinstance(answer, dict) else None
    return offset if isinstance(offset, int) else default


# --- events ------------------------------------------------------------------------------------


@click.command()
@namespace_option
@all_namespaces_option
@click.option("--for", "for_object", default=None, metavar="KIND/NAME", help="Only events about one object.")
@connection_options
def events(
    namespace: str | None, all_namespaces: bool, for_object: str | None, server: str | None, token: str | None
) -> None:
    """List recent events (scheduling, starts, crashes, scaling, rollouts), oldest first."""
    query: dict[str, str | int | None] = {
        "namespace": None if all_namespaces else namespace or DEFAULT_NAMESPACE
    }
    if for_object is not None:
        kind, slash, name = for_object.partition("/")
        if not slash or not name:
            raise click.UsageError("--for takes KIND/NAME, e.g. --for md/iris.")
        query.update(kind=kind_of(kind).kind, name=name)
    answer = connect(server, token).get(f"{API}/events", query)
    table = printing.events_table(items_of(answer), now=time.time(), all_namespaces=all_namespaces)
    click.echo(table, err=not items_of(answer))


# --- top ---------------------------------------------------------------------------------------


def parse_router_metrics(text: str) -> dict[tuple[str, str], dict[str, float]]:
    """Per (namespace, replica): `inflight` and `requests` (a running total) from Prometheus text."""
    found: dict[tuple[str, str], dict[str, float]] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, IndexError, KeyError):  # not Prometheus text: no router metrics
        return found
    for family in families:
        for sample in family.samples:
            labels: Mapping[str, str] = sample.labels
            if "replica" not in labels:
                continue
            key = (labels.get("namespace") or DEFAULT_NAMESPACE, labels["replica"])
            if sample.name == INFLIGHT_METRIC:
                found.setdefault(key, {})["inflight"] = float(sample.value)
            elif sample.name in (REQUESTS_METRIC, f"{REQUESTS_METRIC}_total"):
                found.setdefault(key, {})["requests"] = float(sample.value)
    return found


def traffic_rates(
    first: Mapping[tuple[str, str], Mapping[str, float]],
    second: Mapping[tuple[str, str], Mapping[str, float]],
    seconds: float,
) -> TrafficSample:
    """(in-flight now, req/s over the window) per replica from two scrapes `seconds` apart."""
    sample: TrafficSample = {}
    for key, values in second.items():
        before = first.get(key, {}).get("requests")
        after = values.get("requests")
        rate = (
            (after - before) / seconds if before is not None and after is not None and seconds > 0 else None
        )
        sample[key] = (values.get("inflight"), rate)
    return sample


def _scrape(ingress: str) -> dict[tuple[str, str], dict[str, float]] | None:
    try:
        with open_url(f"{ingress.rstrip('/')}/metrics", timeout=2) as response:
            return parse_router_metrics(response.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def read_traffic(ingress: str, window: float) -> TrafficSample:
    """The router's view, or nothing when no router answers (top then shows `-`)."""
    first = _scrape(ingress)
    if first is None:
        return {}
    if window > 0:
        time.sleep(window)  # a rate needs two samples of the counter
    second = _scrape(ingress) or {}
    return traffic_rates(first, second, window)


@click.command()
@namespace_option
@all_namespaces_option
@click.option(
    "--ingress",
    default=None,
    metavar="URL",
    help="The router, for in-flight and req/s [default: $MODELPLANE_INGRESS, else the URL `modelplane up` "
    f"recorded, else {DEFAULT_INGRESS}].",
)
@click.option(
    "--window",
    type=DURATION,
    default="1",
    show_default=True,
    help="How long to measure req/s over (1, 500ms, 5s).",
)
@connection_options
def top(
    namespace: str | None,
    all_namespaces: bool,
    ingress: str | None,
    window: float,
    server: str | None,
    token: str | None,
) -> None:
    """Show per replica CPU, memory, in-flight requests and req/s (`-` where not measured)."""
    client: ApiClient = connect(server, token)
    scope = None if all_namespaces else namespace or DEFAULT_NAMESPACE
    replicas = sorted(items_of(client.get(f"{API}/replicas", {"namespace": scope})), key=sort_key)
    if not replicas:
        where = "" if scope is None else f" in {scope} namespace"
        click.echo(f"No replicas found{where}.", err=True)
        return
    ingress_url = (
        ingress or os.environ.get("MODELPLANE_INGRESS") or recorded_url("ingress") or DEFAULT_INGRESS
    )
    readings = items_of(client.get(f"{API}/usage", {"namespace": scope}))
    usage = {(r["namespace"], r["name"]): r for r in readings}
    traffic = read_traffic(ingress_url, window)
    metrics = _request_metrics(client, scope)
    if not traffic:  # no router answers here: the control plane's per-replica numbers
        traffic = {
            (m["namespace"], r["name"]): (r.get("inflight"), r.get("requestsPerSecond"))
            for m in metrics
            for r in m.get("replicas", ())
        }
    click.echo(printing.top_table(replicas, usage=usage, traffic=traffic, all_namespaces=all_namespaces))
    if metrics:
        click.echo()
        click.echo(printing.requests_table(metrics, replicas, all_namespaces=all_namespaces))


def _request_metrics(client: ApiClient, scope: str | None) -> list[dict[str, Any]]:
    """Per deployment, the control plane's request metrics; none from a control plane without them."""
    try:
        answer = client.get(f"{API}/metrics", {"namespace": scope, "window": REQUEST_WINDOW_S})
    except ApiClientError:
        return []
    return list(items_of(answer))

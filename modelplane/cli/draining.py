"""`modelplane cordon`, `uncordon` and `drain`: take a node pool out of service (kubectl drain).

`drain POOL` cordons the pool (no new replica is placed there), then evicts every replica on it
through the Eviction API. An eviction that a disruption budget refuses is retried every 5 s, as
kubectl drain does, until `--timeout`; the deployment controller meanwhile creates replacements,
which the scheduler places on other pools. It returns once no replica is left on the pool.
"""

from __future__ import annotations

import time
from typing import Any

import click

from modelplane.cli.client import ApiClient, ApiError, connect, connection_options
from modelplane.cli.durations import DURATION
from modelplane.cli.objects import API

RETRY_S = 5.0


@click.command()
@click.argument("pool")
@connection_options
def cordon(pool: str, server: str | None, token: str | None) -> None:
    """Mark a node pool unschedulable: no new replica is placed on it."""
    connect(server, token).post_json(f"{API}/nodepools/{pool}/cordon", {})
    click.echo(f"nodepool/{pool} cordoned")


@click.command()
@click.argument("pool")
@connection_options
def uncordon(pool: str, server: str | None, token: str | None) -> None:
    """Make a cordoned node pool schedulable again."""
    connect(server, token).post_json(f"{API}/nodepools/{pool}/uncordon", {})
    click.echo(f"nodepool/{pool} uncordoned")


@click.command()
@click.argument("pool")
@click.option(
    "--timeout",
    type=DURATION,
    default="0",
    show_default=True,
    help="Give up after this long (90, 30s, 5m; 0: never).",
)
@connection_options
def drain(pool: str, timeout: float, server: str | None, token: str | None) -> None:
    """Cordon a node pool and evict its replicas, honouring disruption budgets (kubectl drain)."""
    client = connect(server, token)
    client.post_json(f"{API}/nodepools/{pool}/cordon", {})
    click.echo(f"nodepool/{pool} cordoned")
    deadline = time.monotonic() + timeout if timeout > 0 else None
    evicted: set[str] = set()
    retry_at: dict[str, float] = {}
    while True:
        on_pool = _replicas_on(client, pool)
        if not on_pool:
            click.echo(f"nodepool/{pool} drained")
            return
        for replica in on_pool:
            meta = replica["metadata"]
            name, namespace = meta["name"], meta.get("namespace", "default")
            if meta.get("deletionTimestamp") or name in evicted or retry_at.get(name, 0) > time.monotonic():
                continue
            try:
                client.post_json(f"{API}/replicas/{namespace}/{name}/eviction", {})
            except ApiError as error:
                if error.status != 429:
                    raise
                click.echo(
                    f"error when evicting replica/{name} (will retry after {RETRY_S:g}s): {error.message}"
                )
                retry_at[name] = time.monotonic() + RETRY_S
                continue
            evicted.add(name)
            click.echo(f"evicting replica/{name}")
        if deadline is not None and time.monotonic() > deadline:
            left = ", ".join(r["metadata"]["name"] for r in on_pool)
            raise click.ClickException(f"drain of {pool} timed out after {timeout:g} s; still there: {left}.")
        time.sleep(0.5)


def _replicas_on(client: ApiClient, pool: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"{API}/replicas")["items"]
    return [r for r in items if (r.get("spec") or {}).get("pool") == pool]

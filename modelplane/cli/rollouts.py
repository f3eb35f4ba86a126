"""`modelplane rollout status|history|undo`: follow and steer a deployment's revisions (kubectl rollout).

Revisions are the Revision objects of the API (one per distinct replica template); the controller
rolls between them. `undo` copies an earlier revision's template back into the deployment (as
kubectl does, client-side), which starts a normal rollout to it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from modelplane.cli import fields
from modelplane.cli.client import ApiClient, connect, connection_options
from modelplane.cli.durations import DURATION
from modelplane.cli.objects import API, namespace_option
from modelplane.spec import TEMPLATE_FIELDS

DEFAULT_NAMESPACE = "default"


@click.group()
def rollout() -> None:
    """Follow and steer rollouts: status, history, undo, pause, resume."""


def _revisions(client: ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    items = client.get(f"{API}/revisions", {"namespace": namespace})["items"]
    mine = [r for r in items if fields.field(r, "spec", "deployment") == name]
    return sorted(mine, key=lambda r: int(fields.field(r, "spec", "number") or 0))


_SHORT = 24
"""A changed value longer than this is said to be `changed` rather than shown."""


def change_cause(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """What changed in the template from the revision before: `model.version: v1→v2, model.uri
    changed`; `created` for the first revision listed."""
    if before is None:
        return "created"
    changes = []
    for path, old, new in _changed(before, after, ""):
        if path.split(".")[0] not in TEMPLATE_FIELDS:  # not what makes a revision (e.g. replicas)
            continue
        short = all(len(str(v)) <= _SHORT for v in (old, new) if v is not None)
        if short and not isinstance(old, dict | list) and not isinstance(new, dict | list):
            changes.append(f"{path}: {'-' if old is None else old}→{'-' if new is None else new}")
        else:
            changes.append(f"{path} changed")
    return ", ".join(changes) or "-"


def _changed(before: Any, after: Any, path: str) -> list[tuple[str, Any, Any]]:
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted({*before, *after}):
            found += _changed(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return found
    return [] if before == after else [(path, before, after)]


@rollout.command()
@click.argument("name")
@namespace_option
@connection_options
def history(name: str, namespace: str | None, server: str | None, token: str | None) -> None:
    """List a deployment's revisions: number, model version, replicas, age, and what changed from the
    revision before (kubectl's CHANGE-CAUSE, computed from the templates)."""
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    client.get(f"{API}/modeldeployments/{ns}/{name}")  # a clear 404 for an unknown deployment
    click.echo(f"modeldeployment.modelplane.dev/{name}")
    rows = [("REVISION", "VERSION", "FORMAT", "REPLICAS", "TEMPLATE", "AGE", "CHANGE-CAUSE")]
    previous: dict[str, Any] | None = None
    for revision in _revisions(client, ns, name):
        spec = revision["spec"]
        template = spec.get("template") or {}
        model = template.get("model") or {}
        created = fields.field(revision, "metadata", "creationTimestamp")
        rows.append(
            (
                str(spec.get("number")),
                str(model.get("version", "-")),
                str(model.get("format", "-")),
                str(spec.get("replicas")),
                str(spec.get("templateHash")),
                fields.age(created, time.time()) if created else "-",
                change_cause(previous, template),
            )
        )
        previous = template
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@rollout.command()
@click.argument("name")
@click.option(
    "--timeout", type=DURATION, default="10m", show_default=True, help="How long to wait (90, 30s, 5m)."
)
@namespace_option
@connection_options
def status(name: str, timeout: float, namespace: str | None, server: str | None, token: str | None) -> None:
    """Follow a rollout until it completes (exit 0) or fails (exit 1), like `kubectl rollout status`."""
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        deployment = client.get(f"{API}/modeldeployments/{ns}/{name}")
        message, done, failed = _progress(deployment)
        if message != last:
            click.echo(message)
            last = message
        if failed:
            raise click.ClickException(f"deployment {name!r} failed to roll out: {failed}")
        if done:
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"timed out after {timeout:g} s waiting for {name!r} to roll out.")
        time.sleep(0.5)


def _progress(deployment: dict[str, Any]) -> tuple[str, bool, str]:
    """kubectl's DeploymentStatusViewer: (message, complete, failure reason)."""
    name = fields.field(deployment, "metadata", "name")
    status = deployment.get("status") or {}
    want = fields.desired_of(deployment) or 0
    generation = int(fields.field(deployment, "metadata", "generation") or 0)
    if int(status.get("observedGeneration", 0)) < generation:
        return (f'Waiting for deployment "{name}" spec update to be observed...', False, "")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Degraded" and condition.get("status") == "True":
            # an automatic rollback: the revision this spec asks for failed; the old one serves
            return (f'deployment "{name}" was rolled back automatically', False, condition.get("message", ""))
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return (
                f'deployment "{name}" exceeded its progress deadline',
                False,
                condition.get("message", ""),
            )
    updated = int(status.get("updatedReplicas", 0))
    total = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    if updated < want:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas '
            "have been updated...",
            False,
            "",
        )
    if total > updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending '
            "termination...",
            False,
            "",
        )
    if available < updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
            "are available...",
            False,
            "",
        )
    return (f'deployment "{name}" successfully rolled out', True, "")


@rollout.command()
@click.argument("name")
@click.option("--to-revision", type=int, default=0, show_default=True, help="0 = the previous revision.")
@namespace_option
@connection_options
def undo(name: str, to_revision: int, namespace: str | None, server: str | None, token: str | None) -> None:
    """Roll back to an earlier revision (its template goes back into the deployment)."""
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    deployment = client.get(f"{API}/modeldeployments/{ns}/{name}")
    revisions = _revisions(client, ns, name)
    numbers = [int(r["spec"]["number"]) for r in revisions]
    if to_revision == 0:
        if len(numbers) < 2:
            raise click.ClickException(f"deployment {name!r} has no earlier revision to roll back to.")
        to_revision = sorted(numbers)[-2]
    target = next((r for r in revisions if int(r["spec"]["number"]) == to_revision), None)
    if target is None:
        kept = ", ".join(map(str, numbers)) or "none"
        raise click.ClickException(f"revision {to_revision} of {name!r} is not kept (kept: {kept}).")
    template = dict(target["spec"]["template"])
    spec = dict(deployment["spec"])
    if template.get("model") == spec.get("model") and all(
        template.get(k) == spec.get(k) for k in ("resources", "batching", "probes")
    ):
        click.echo(
            f"modeldeployment.modelplane.dev/{name} skipped rollback (current template already matches)"
        )
        return
    for key, value in template.items():
        if key not in ("replicas", "autoscaling", "traffic", "strategy"):
            spec[key] = value
    _put(client, deployment, spec)
    click.echo(f"modeldeployment.modelplane.dev/{name} rolled back to revision {to_revision}")


def _put(client: ApiClient, deployment: dict[str, Any], spec: dict[str, Any]) -> None:
    """Replace the deployment's spec, guarded by the resourceVersion it was read at (409 if stale)."""
    meta = deployment["metadata"]
    namespace = meta.get("namespace", DEFAULT_NAMESPACE)
    body = {
        "apiVersion": deployment.get("apiVersion", "modelplane.dev/v1alpha1"),
        "kind": "ModelDeployment",
        "metadata": {
            "name": meta["name"],
            "namespace": namespace,
            "labels": meta.get("labels") or {},
            "resourceVersion": meta.get("resourceVersion"),
        },
        "spec": spec,
    }
    path = f"{API}/modeldeployments/{namespace}/{meta['name']}"
    client.request("PUT", path, body=json.dumps(body).encode(), content_type="application/json")


def _set_paused(
    name: str, paused: bool, namespace: str | None, server: str | None, token: str | None
) -> None:
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    deployment = client.get(f"{API}/modeldeployments/{ns}/{name}")
    word = "paused" if paused else "resumed"
    if bool((deployment.get("spec") or {}).get("paused")) == paused:
        click.echo(f"modeldeployment.modelplane.dev/{name} already {word}")
        return
    _put(client, deployment, {**deployment["spec"], "paused": paused})
    click.echo(f"modeldeployment.modelplane.dev/{name} {word}")


@rollout.command()
@click.argument("name")
@namespace_option
@connection_options
def pause(name: str, namespace: str | None, server: str | None, token: str | None) -> None:
    """Stop rolling out template changes; scaling still works (kubectl rollout pause)."""
    _set_paused(name, True, namespace, server, token)


@rollout.command()
@click.argument("name")
@namespace_option
@connection_options
def resume(name: str, namespace: str | None, server: str | None, token: str | None) -> None:
    """Roll out template changes again (kubectl rollout resume)."""
    _set_paused(name, False, namespace, server, token)

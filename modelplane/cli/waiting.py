"""`modelplane wait`: block until objects reach a condition, or are gone, as `kubectl wait`.

`wait job/train --for condition=Complete --timeout 10m` polls every 0.5 s. Condition type and status
compare case-insensitively, as in kubectl (`condition=available` matches `Available=True`). One
difference from kubectl, to fail fast in scripts: waiting for a Job to be Complete ends at once (exit
1, with the Job's failure message) when it is Failed instead, and the other way round.
"""

from __future__ import annotations

import time
from typing import Any

import click

from modelplane.cli.client import ApiError, connect, connection_options
from modelplane.cli.durations import DURATION
from modelplane.cli.objects import _split_refs, namespace_option, object_path
from modelplane.spec.meta import DEFAULT_NAMESPACE

POLL_S = 0.5
_OPPOSITE = {"complete": "Failed", "failed": "Complete"}  # by lower-cased type


def parse_for(text: str) -> tuple[str, str | None, str]:
    """`delete` → ("delete", None, ""); `condition=Ready` → ("condition", "Ready", "True");
    `condition=Ready=false` → ("condition", "Ready", "False")."""
    if text == "delete":
        return "delete", None, ""
    what, _, rest = text.partition("=")
    name, _, value = rest.partition("=")
    if what != "condition" or not name:
        raise click.BadParameter(
            f"{text!r}: use `--for condition=TYPE[=true|false]` (e.g. condition=Complete) or `--for delete`."
        )
    return "condition", name, (value or "true").capitalize()


def condition_reached(obj: dict[str, Any], name: str, value: str) -> tuple[bool, str | None]:
    """(reached, why it never will): the opposite terminal condition of a Job makes waiting pointless.

    Type and status compare case-insensitively, as kubectl does."""
    conditions = [c for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]
    for condition in conditions:
        if _same(condition.get("type"), name) and _same(condition.get("status"), value):
            return True, None
    opposite = _OPPOSITE.get(name.lower()) if _same(value, "True") else None
    for condition in conditions:
        if opposite and _same(condition.get("type"), opposite) and _same(condition.get("status"), "True"):
            return False, f"{opposite}: {condition.get('reason')}: {condition.get('message')}"
    return False, None


def _same(found: object, wanted: str) -> bool:
    return str(found).lower() == wanted.lower()


@click.command()
@click.argument("kind")
@click.argument("names", nargs=-1)
@click.option("--for", "for_", required=True, help="condition=TYPE[=true|false], or delete.")
@click.option(
    "--timeout", type=DURATION, default="30s", show_default=True, help="How long to wait (90, 30s, 5m)."
)
@namespace_option
@connection_options
def wait(
    kind: str,
    names: tuple[str, ...],
    for_: str,
    timeout: float,
    namespace: str | None,
    server: str | None,
    token: str | None,
) -> None:
    """Wait until objects meet a condition or are deleted: `wait job/NAME --for condition=Complete`."""
    mode, condition, value = parse_for(for_)
    info, refs = _split_refs(kind, names)
    if not refs:
        raise click.UsageError(f"name the {info.plural} to wait for: `wait {info.plural}/NAME`.")
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    deadline = time.monotonic() + timeout
    for ref in refs:
        label = f"{info.kind.lower()}/{ref}"
        while True:
            try:
                obj = client.get(object_path(info, ns, ref))
            except ApiError as error:
                if error.status == 404 and mode == "delete":
                    click.echo(f"{label} deleted")
                    break
                raise
            if mode == "condition":
                assert condition is not None
                reached, never = condition_reached(obj, condition, value)
                if reached:
                    click.echo(f"{label} condition met")
                    break
                if never is not None:
                    raise click.ClickException(f"{label} will not be {condition}: it is {never}")
            if time.monotonic() > deadline:
                wanted = "deleted" if mode == "delete" else f"condition {condition}={value}"
                raise click.ClickException(
                    f"timed out after {timeout:g} s waiting for {label} to be {wanted}."
                )
            time.sleep(POLL_S)

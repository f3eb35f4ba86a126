"""`apply`, `get`, `describe`, `delete` and `scale`: the object commands, thin over the API.

Each command parses its flags, makes one or a few requests through `ApiClient` and prints with
printing.py / describing.py; no decision about objects is taken here. `apply`, `get -f` and
`delete -f` validate the files locally first (like `validate`) and contact the API only when every
object is valid. Failures exit 1 with a sentence on stderr (see client.py); never a traceback.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from modelplane.cli import describing, fields, printing
from modelplane.cli.client import ApiClient, RequestFailed, connect, connection_options
from modelplane.cli.kinds import KindInfo, UnknownKind, for_kind, resolve, valid_names
from modelplane.cli.linting import finding_lines
from modelplane.spec import Loaded, load_paths
from modelplane.spec.meta import DEFAULT_NAMESPACE

API = "/api/v1"

filename_option = click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A spec file, or a directory of *.yaml / *.yml files. Repeat for several.",
)
namespace_option = click.option(
    "-n", "--namespace", default=None, help=f"Namespace of the objects [default: {DEFAULT_NAMESPACE}]."
)
all_namespaces_option = click.option(
    "-A", "--all-namespaces", is_flag=True, help="Objects of every namespace; adds a NAMESPACE column."
)


# --- shared helpers ----------------------------------------------------------------------------


def kind_of(name: str) -> KindInfo:
    """`resolve`, with an unknown name turned into a usage error (exit 2) listing the valid ones."""
    try:
        return resolve(name)
    except UnknownKind as exc:
        raise click.UsageError(str(exc)) from None


def resource_of(kind: str) -> str:
    """`modeldeployment.modelplane.dev` for an object's `kind`, tolerating kinds this CLI lacks."""
    try:
        return for_kind(kind).resource
    except UnknownKind:
        return kind.lower()


def object_path(info: KindInfo, namespace: str, name: str) -> str:
    """`/api/v1/modeldeployments/NS/NAME`; cluster-wide kinds have no namespace segment."""
    if info.cluster_scoped:
        return f"{API}/{info.plural}/{name}"
    return f"{API}/{info.plural}/{namespace}/{name}"


def items_of(answer: Any) -> list[dict[str, Any]]:
    items = answer.get("items") if isinstance(answer, dict) else None
    return [item for item in items or [] if isinstance(item, dict)]


def sort_key(obj: fields.Obj) -> tuple[str, str]:
    return (fields.namespace_of(obj), fields.name_of(obj))


def load_valid(paths: Sequence[Path]) -> list[Loaded]:
    """The objects of the files; every error printed as `validate` prints it, then exit 1."""
    result = load_paths(paths)
    if result.errors:
        for error in result.errors:
            click.echo(str(error), err=True)
        noun = "error" if len(result.errors) == 1 else "errors"
        click.echo(f"{len(result.errors)} {noun} found; nothing was sent to the control plane.", err=True)
        raise SystemExit(1)
    return result.objects


def _split_refs(kind: str | None, names: Sequence[str]) -> tuple[KindInfo, list[str]]:
    """`get md iris`, `get md/iris`, `get md/iris md/other` → (kind, names)."""
    if kind is None:
        raise click.UsageError(f"name a KIND, or give -f FILE. KIND is one of:\n{valid_names()}")
    kind_name, slash, first = kind.partition("/")
    info = kind_of(kind_name)
    refs = [first] if slash else []
    for name in names:
        other, slash, rest = name.partition("/")
        if slash and kind_of(other) != info:
            raise click.UsageError(f"give objects of one kind at a time; {name!r} is not a {info.kind}.")
        refs.append(rest if slash else name)
    return info, refs


def emit_objects(
    info: KindInfo,
    objects: list[dict[str, Any]],
    *,
    output: str | None,
    single: bool,
    all_namespaces: bool,
) -> None:
    if output in ("json", "yaml"):
        document: Any = objects[0] if single and len(objects) == 1 else printing.as_list(objects)
        click.echo(printing.format_document(document, output))
    elif output == "name":
        if objects:
            click.echo(printing.format_names(info, objects))
    else:
        table = printing.get_table(
            info, objects, now=time.time(), wide=output == "wide", all_namespaces=all_namespaces
        )
        click.echo(table, err=not objects)


# --- apply -------------------------------------------------------------------------------------


@click.command()
@filename_option
@connection_options
def apply(paths: tuple[Path, ...], server: str | None, token: str | None) -> None:
    """Create or update the objects of spec files, as `kubectl apply -f`.

    The files are validated here first: if any object is invalid, every error is printed and
    nothing is sent. Then each file goes to the control plane, which answers per object:

        modeldeployment.modelplane.dev/iris created|configured|unchanged

    A re-apply merges the file into the live object, as kubectl does: fields the file leaves out keep
    what `scale` or `rollout pause` set; fields the previous file had and this one drops go back to
    their defaults.

    Once a file is applied, the risks `modelplane lint` finds in its objects are printed on stderr as
    `Warning: FILE:LINE: Kind/name: field: message Fix: …`; they never fail the apply.
    """
    if not paths:
        raise click.UsageError("give the spec files with -f FILE (or -f DIR).")
    loaded = load_valid(paths)
    # a file that declares a Namespace goes first, so the objects of the other files find it there
    declaring = {item.file for item in loaded if item.obj.kind == "Namespace"}
    files = sorted(dict.fromkeys(item.file for item in loaded), key=lambda file: file not in declaring)
    client = connect(server, token)
    for file in files:
        # baseDir: relative model URIs are relative to the spec file, not to the control plane's cwd.
        query = {"file": str(file), "baseDir": str(file.resolve().parent)}
        answer = client.post_yaml(f"{API}/apply", file.read_text(encoding="utf-8-sig"), query)
        # Like kubectl's server warnings: after the object is accepted, before its result line.
        for warning in apply_warnings([item for item in loaded if item.file == file]):
            click.echo(warning, err=True)
        for result in (answer or {}).get("results") or []:
            kind = str(result.get("kind") or "")
            click.echo(f"{resource_of(kind)}/{result.get('name')} {result.get('result')}")


def apply_warnings(loaded: Sequence[Loaded]) -> list[str]:
    """`Warning: FILE:LINE: Kind/name: field: message Fix: …`, one per lint finding of `loaded`."""
    return [f"Warning: {line}" for line in finding_lines(loaded)]


# --- get ---------------------------------------------------------------------------------------


@click.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@filename_option
@namespace_option
@all_namespaces_option
@click.option("-l", "--selector", default=None, help="Label selector, e.g. `team=nlp,tier!=canary`.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["wide", "yaml", "json", "name"]),
    default=None,
    help="wide: more columns; yaml / json: the objects as the API returns them; name: kind/name.",
)
@connection_options
def get(
    kind: str | None,
    names: tuple[str, ...],
    paths: tuple[Path, ...],
    namespace: str | None,
    all_namespaces: bool,
    selector: str | None,
    output: str | None,
    server: str | None,
    token: str | None,
) -> None:
    """List objects of a KIND, or show the named ones, as `kubectl get`.

    KIND: modeldeployments (md, deploy), replicas (rep), nodepools (np), namespaces (ns), jobs,
    events (ev) — singular, plural or short, any case. `get -f FILE` shows the objects of a file.
    """
    if paths:
        if kind or names:
            raise click.UsageError("give either KIND [NAME…] or -f FILE, not both.")
        _get_files(connect(server, token), paths, output=output)
        return
    info, refs = _split_refs(kind, names)
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    if refs:
        if info.listed_only:
            raise click.UsageError(f"{info.plural} are listed only; run `modelplane get {info.plural}`.")
        objects = [client.get(object_path(info, ns, ref)) for ref in refs]
        emit_objects(info, objects, output=output, single=len(refs) == 1, all_namespaces=False)
        return
    scope = None if all_namespaces or info.cluster_scoped else ns
    answer = client.get(f"{API}/{info.plural}", {"namespace": scope, "selector": selector})
    objects = items_of(answer)
    if not info.listed_only:
        objects.sort(key=sort_key)
    if not objects and output is None:
        where = "" if scope is None else f" in {scope} namespace"
        click.echo(f"No resources found{where}.", err=True)
        return
    emit_objects(info, objects, output=output, single=False, all_namespaces=all_namespaces)


def _get_files(client: ApiClient, paths: Sequence[Path], *, output: str | None) -> None:
    by_kind: dict[KindInfo, list[dict[str, Any]]] = {}
    for item in load_valid(paths):
        info = for_kind(item.obj.kind)
        obj = client.get(object_path(info, item.obj.metadata.namespace, item.obj.metadata.name))
        by_kind.setdefault(info, []).append(obj)
    if output in ("json", "yaml"):
        objects = [obj for group in by_kind.values() for obj in group]
        document: Any = objects[0] if len(objects) == 1 else printing.as_list(objects)
        click.echo(printing.format_document(document, output))
        return
    for index, (info, objects) in enumerate(by_kind.items()):
        if index and output != "name":
            click.echo()
        emit_objects(info, objects, output=output, single=False, all_namespaces=False)


# --- describe ----------------------------------------------------------------------------------


def fetch_events(client: ApiClient, *, namespace: str | None, kind: str, name: str) -> list[dict[str, Any]]:
    """Events about one object; none (rather than a failure) when the API cannot list them."""
    try:
        answer = client.get(f"{API}/events", {"namespace": namespace, "kind": kind, "name": name})
    except RequestFailed:
        return []
    return items_of(answer)


def replicas_of(
    client: ApiClient, *, namespace: str, deployment: str | None = None, job: str | None = None
) -> list[dict[str, Any]]:
    """The replicas of one deployment, or of one Job."""
    answer = client.get(f"{API}/replicas", {"namespace": namespace})
    owner, name = ("job", job) if job is not None else ("deployment", deployment)
    return [item for item in items_of(answer) if fields.field(item, "spec", owner) == name]


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@namespace_option
@connection_options
def describe(
    kind: str, name: str | None, namespace: str | None, server: str | None, token: str | None
) -> None:
    """Show one object in detail, with its recent events, as `kubectl describe`.

    A deployment shows its spec summary, status and conditions, and its replicas (phase, ready,
    restarts, last exit, age); a replica shows its spec, status (waiting reason, last exit, whether
    its limits are enforced) and events. KIND NAME or KIND/NAME.
    """
    info, refs = _split_refs(kind, [name] if name else [])
    if len(refs) != 1:
        raise click.UsageError("name one object: `describe KIND NAME` or `describe KIND/NAME`.")
    if info.listed_only:
        raise click.UsageError(f"{info.plural} cannot be described; run `modelplane events`.")
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    obj = client.get(object_path(info, ns, refs[0]))
    events = fetch_events(client, namespace=None if info.cluster_scoped else ns, kind=info.kind, name=refs[0])
    now = time.time()
    if info.plural == "modeldeployments":
        replicas = replicas_of(client, namespace=ns, deployment=refs[0])
        click.echo(describing.describe_deployment(obj, replicas, events, now=now))
    elif info.plural == "replicas":
        click.echo(describing.describe_replica(obj, events, now=now))
    elif info.plural == "jobs":
        replicas = replicas_of(client, namespace=ns, job=refs[0])
        click.echo(describing.describe_job(obj, replicas, events, now=now))
    else:
        click.echo(describing.describe_object(info, obj, events, now=now))


# --- delete ------------------------------------------------------------------------------------


@click.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@filename_option
@namespace_option
@click.option("--ignore-not-found", is_flag=True, help="Do not fail when an object is already gone.")
@connection_options
def delete(
    kind: str | None,
    names: tuple[str, ...],
    paths: tuple[Path, ...],
    namespace: str | None,
    ignore_not_found: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Delete objects by KIND and NAME, or those of spec files (-f), as `kubectl delete`.

    Replicas of a deleted deployment drain first (removed from the router, SIGTERM, grace period).
    """
    targets: list[tuple[KindInfo, str, str]] = []
    if paths:
        if kind or names:
            raise click.UsageError("give either KIND NAME… or -f FILE, not both.")
        for item in load_valid(paths):
            targets.append((for_kind(item.obj.kind), item.obj.metadata.namespace, item.obj.metadata.name))
    else:
        info, refs = _split_refs(kind, names)
        if not refs:
            raise click.UsageError(f"name the {info.plural} to delete: `delete {info.plural} NAME`.")
        if info.listed_only:
            raise click.UsageError(f"{info.plural} cannot be deleted; they expire by themselves.")
        targets = [(info, namespace or DEFAULT_NAMESPACE, ref) for ref in refs]
    client = connect(server, token)
    failed = False
    for info, ns, ref in targets:
        try:
            client.delete(object_path(info, ns, ref))
        except RequestFailed as exc:
            if exc.status == 404 and ignore_not_found:
                continue
            click.echo(f"Error: {exc.message}", err=True)
            failed = True
            continue
        click.echo(f'{info.resource} "{ref}" deleted')
    if failed:
        sys.exit(1)


# --- scale -------------------------------------------------------------------------------------


@click.command()
@click.argument("target", nargs=-1, required=True)
@click.option("--replicas", type=click.IntRange(min=0), required=True, help="The desired number of replicas.")
@namespace_option
@connection_options
def scale(
    target: tuple[str, ...], replicas: int, namespace: str | None, server: str | None, token: str | None
) -> None:
    """Set the replicas of a deployment: `scale iris --replicas 3` (or `scale md/iris`, `scale md iris`).

    A deployment with spec.autoscaling is refused (the autoscaler owns its count): the API's message
    says to change minReplicas / maxReplicas instead."""
    if len(target) == 1 and "/" not in target[0]:
        info, refs = kind_of("modeldeployments"), list(target)
    else:
        info, refs = _split_refs(target[0], target[1:])
    if info.plural != "modeldeployments" or len(refs) != 1:
        raise click.UsageError("scale one ModelDeployment: `scale NAME --replicas N`.")
    client = connect(server, token)
    ns = namespace or DEFAULT_NAMESPACE
    client.post_json(f"{API}/modeldeployments/{ns}/{refs[0]}/scale", {"replicas": replicas})
    click.echo(f"{info.resource}/{refs[0]} scaled")

"""What `apply` stores for each applied object: kubectl apply's three-way merge.

The file's spec does not replace the live one; three specs meet, all camelCase JSON:
- live: the stored spec, defaults filled in, perhaps changed since by other writers (`scale`,
  `rollout pause`, `rollout undo`, the autoscaler);
- last applied: the fields the previous apply's file declared, no defaults (`StoredObject.last_applied`);
- applied: the fields this file declares, no defaults (`Loaded.applied_spec`).

`merge`: a field the file declares takes the file's value (`null` removes it); a field the last apply
declared and the file no longer does is removed, so its default applies again; a field in neither
keeps its live value. Mappings merge key by key, recursively; lists and scalars are replaced whole
(there are no strategic-merge keys). Before merging, `undefaulted` takes out of the live spec the
values that are only the last apply's defaults, so that defaults are computed again from the merged
spec: requests defaulted from limits follow new limits, and a strategy switched to Recreate keeps no
defaulted rollingUpdate. The merged spec is then validated through the kind's model and stored with
its defaults filled in, like a new object's.

An object without a last-applied spec (applied by a modelplane that did not keep one) is replaced by
the file, as every apply used to; from then on apply merges. Nothing here reads or writes the store:
the caller passes the stored object in and stores the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from modelplane.controllers import jobs
from modelplane.server.deployments import resolve_uri
from modelplane.spec import Job, Loaded, ModelDeployment, load_data
from modelplane.store import JsonObject, StoredObject

_ABSENT = object()


class Refused(ValueError):
    """An applied object that cannot be stored; `lines` are `file:line: Kind/name: …` sentences."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class Applied:
    """One object ready to store: the merged spec (defaults filled in) and the file's own fields."""

    kind: str
    namespace: str
    name: str
    labels: dict[str, str]
    spec: JsonObject
    last_applied: JsonObject


def merge(live: Mapping[str, Any], last_applied: Mapping[str, Any], applied: Mapping[str, Any]) -> JsonObject:
    """The three-way merge of the module docstring, at one level of mappings (recursing into them)."""
    merged = {key: value for key, value in live.items() if key in applied or key not in last_applied}
    for key, value in applied.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            before, last = merged.get(key), last_applied.get(key)
            merged[key] = merge(
                before if isinstance(before, dict) else {}, last if isinstance(last, dict) else {}, value
            )
        else:
            merged[key] = value
    return merged


def undefaulted(
    live: Mapping[str, Any], last_applied: Mapping[str, Any], defaulted: Mapping[str, Any]
) -> JsonObject:
    """`live` without the values the last apply only defaulted: equal to `defaulted` (the last applied
    spec as validation fills it in) and not declared by the last apply. Values someone changed since
    differ from their default, so they stay. A mapping left empty goes too, unless it was declared: a
    present but empty `rollingUpdate` is not the same as none."""
    kept: JsonObject = {}
    for key, value in live.items():
        declared, default = last_applied.get(key), defaulted.get(key, _ABSENT)
        if isinstance(value, dict) and isinstance(default, dict):
            inner = undefaulted(value, declared if isinstance(declared, dict) else {}, default)
            if inner or key in last_applied:
                kept[key] = inner
        elif key in last_applied or value != default:
            kept[key] = value
    return kept


def prepare(loaded: Loaded, existing: StoredObject | None, *, base_dir: Path | None) -> Applied:
    """The object to store for `loaded` (valid on its own) given the stored one; Refused when the merged
    spec is invalid or a Job would change an immutable field."""
    obj = loaded.obj
    applied = _with_absolute_uri(loaded, base_dir)
    last_applied = None if existing is None else existing.last_applied
    merged = applied
    if existing is not None and last_applied is not None:
        live = existing.spec
        defaulted = _defaulted(loaded, last_applied)
        if defaulted is not None:
            live = undefaulted(live, last_applied, defaulted)
        merged = merge(live, last_applied, applied)
    spec = _validated(loaded, merged, merged_with_live=last_applied is not None)
    if isinstance(obj, Job):
        try:
            spec = jobs.admit(existing, spec, base_dir=base_dir)
        except jobs.JobRefused as error:
            raise Refused([f"{loaded.file}:{loaded.line}: Job/{obj.metadata.name}: {error}"]) from error
        if applied.get("workingDir") is not None:  # kept as stored: absolute, like model URIs
            applied = {**applied, "workingDir": spec["workingDir"]}
    return Applied(
        kind=obj.kind,
        namespace="" if obj.cluster_scoped else obj.metadata.namespace,
        name=obj.metadata.name,
        labels=dict(obj.metadata.labels),
        spec=spec,
        last_applied=applied,
    )


def _with_absolute_uri(loaded: Loaded, base_dir: Path | None) -> JsonObject:
    """The file's declared spec, a relative model URI made absolute against the file's folder."""
    applied = loaded.applied_spec()
    obj = loaded.obj
    if isinstance(obj, ModelDeployment) and base_dir is not None and applied["model"].get("uri"):
        uri = resolve_uri(obj.spec.model.uri, format=obj.spec.model.format, base_dir=base_dir)
        applied["model"] = {**applied["model"], "uri": uri}
    return applied


def _defaulted(loaded: Loaded, last_applied: JsonObject) -> JsonObject | None:
    """The last applied spec with the kind's defaults filled in; None when today's model refuses it."""
    try:
        spec = type(loaded.obj.spec).model_validate(last_applied)
    except ValidationError:
        return None
    dumped: JsonObject = spec.model_dump(mode="json", by_alias=True)
    return dumped


def _validated(loaded: Loaded, spec: JsonObject, *, merged_with_live: bool) -> JsonObject:
    """`spec` validated through the kind's model and dumped with its defaults; Refused naming the fields."""
    obj = loaded.obj
    metadata = {"name": obj.metadata.name}
    if not obj.cluster_scoped:
        metadata["namespace"] = obj.metadata.namespace
    document = {"apiVersion": obj.api_version, "kind": obj.kind, "metadata": metadata, "spec": spec}
    result = load_data(document, file=loaded.file, line=loaded.line)
    if result.errors:
        errors = result.errors
        if merged_with_live:
            hint = (
                " (in the file merged with the live spec: a field the file leaves out keeps the value "
                "that scale, rollout or the autoscaler set; set it in the file, or to null to reset it)"
            )
            errors = [replace(error, message=error.message + hint) for error in errors]
        raise Refused([str(error) for error in errors])
    validated: JsonObject = result.objects[0].obj.spec.model_dump(mode="json", by_alias=True)
    return validated

"""Reads spec files (YAML, many documents each) into typed objects, reporting every error with its line.

`load_path` takes a file or a directory (its *.yaml and *.yml files, sorted, not recursive). Each
document is parsed on its own — a `---` line at column 0 always starts a new document in YAML — so a
syntax error in one document does not hide the errors of the others. Errors point at the line of the
offending field, found by walking the composed YAML nodes along the error's field path. `load_data`
(a document the control plane computed, validated on every apply) writes its data out as YAML and
composes it only when validation fails: on a valid spec that cost most of apply's time.

YAML anchors and aliases are allowed (`<<: *defaults`, a shared label block), but a document whose
aliases would expand it by more than `MAX_ALIAS_EXPANSION` nodes (a "billion laughs": 400 bytes that
expand to millions of values) or that refers to itself is refused whole as a `DocumentRefused`,
before any Python object is built from it: the check counts the composed node graph with each shared
node counted once per use, in time linear in the nodes the file writes. Across the documents of one
text, aliases may add at most `MAX_ALIAS_EXPANSION` values or as many as the documents write out.

Invariants: bad input never raises — every problem (unreadable file, binary garbage, YAML syntax,
unknown kind, invalid field, duplicate key or object) becomes a `SpecError` in `LoadResult.errors`,
sorted by file and line; `LoadResult.objects` holds only valid objects, each (kind, namespace, name)
once.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TypeVar

import yaml
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from modelplane.spec.bounds import MAX_DIGITS
from modelplane.spec.errors import DocumentRefused, FieldPath, FieldProblems, InvalidSpecError, SpecError
from modelplane.spec.kinds import KINDS, SpecObject
from modelplane.spec.messages import explain, show, yaml_path
from modelplane.spec.meta import API_VERSION, Object

SPEC_SUFFIXES = (".yaml", ".yml")
MAX_ALIAS_EXPANSION: Final = 10_000
"""Most nodes YAML aliases may add to a document beyond those it writes out: far above what anchors
for shared defaults need (a 30-field block reused 50 times adds 1,500), far below what harms."""

_DOCUMENT_START = re.compile(r"---(?:[ \t]|\r?\n|\r|$)")
_TRIVIAL_LINE = re.compile(r"\s*(#.*|%.*)?")
T = TypeVar("T", bound=Object)


@dataclass(frozen=True)
class Loaded:
    """A valid object and where it was declared (`line` is the 1-based line where its document starts).

    `document` is the document as the file wrote it (before validation), so that what the user declared
    can be told apart from the defaults the model fills in.
    """

    obj: SpecObject
    file: Path
    line: int
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    def applied_spec(self) -> dict[str, Any]:
        """The spec fields the document declares, as the validated spec dumps them (camelCase keys,
        normalized values), without any field the model defaulted: what `apply` keeps as last applied.

        A dump with `exclude_unset=True` is not enough: validators that fill one field from another
        (requests from limits) mark the filled field as set.
        """
        validated = self.obj.spec.model_dump(mode="json", by_alias=True)
        declared = _declared(validated, self.document.get("spec"))
        return declared if isinstance(declared, dict) else {}


@dataclass
class LoadResult:
    """Everything one load found: the valid objects and every error, in file and line order."""

    objects: list[Loaded] = field(default_factory=list)
    errors: list[SpecError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def of_kind(self, kind: type[T]) -> list[T]:
        """The valid objects of one kind, e.g. `result.of_kind(ModelDeployment)`."""
        return [loaded.obj for loaded in self.objects if isinstance(loaded.obj, kind)]

    def raise_for_errors(self) -> None:
        """Raise InvalidSpecError carrying every error, if there was any."""
        if self.errors:
            raise InvalidSpecError(self.errors)


def load_path(path: Path) -> LoadResult:
    """Load one spec file, or every *.yaml / *.yml file of a directory."""
    return load_paths([path])


def load_paths(paths: Iterable[Path]) -> LoadResult:
    """Load several files or directories as one set: names must be unique across all of them."""
    result = LoadResult()
    for path in paths:
        for file in _spec_files(path, result.errors):
            text = _read(file, result.errors)
            if text is not None:
                _load_documents(text, file, result)
    return _finish(result, what=", ".join(str(path) for path in paths))


def load_text(text: str, *, file: Path | str = Path("<text>")) -> LoadResult:
    """Load spec documents from a string; `file` names it in error messages."""
    result = LoadResult()
    _load_documents(text, Path(file), result)
    return _finish(result, what=str(file))


def _finish(result: LoadResult, *, what: str) -> LoadResult:
    if not result.objects and not result.errors:
        result.errors.append(
            SpecError(
                f"no objects found in {what}; a spec file holds YAML documents with apiVersion, kind, "
                "metadata and spec, separated by '---'."
            )
        )
    _drop_duplicates(result)
    result.errors.sort(key=lambda error: (str(error.file or ""), error.line or 0))
    return result


def _spec_files(path: Path, errors: list[SpecError]) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
        if not files:
            errors.append(SpecError("no .yaml or .yml files in this directory.", file=path))
        return files
    if not path.exists():
        errors.append(SpecError("no such file or directory; check the path.", file=path))
        return []
    return [path]


def _read(file: Path, errors: list[SpecError]) -> str | None:
    try:
        data = file.read_bytes()
    except OSError as exc:
        errors.append(SpecError(f"cannot read the file: {exc.strerror or exc}.", file=file))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        errors.append(
            SpecError(
                f"not UTF-8 text (byte 0x{data[exc.start]:02x}); spec files are YAML text.",
                file=file,
                line=line,
            )
        )
        return None


def split_documents(text: str) -> list[tuple[int, str]]:
    """The documents of a YAML stream as (index of the document's first line, its text)."""
    lines = text.splitlines(keepends=True)
    starts = [0] + [index for index, line in enumerate(lines) if index and _DOCUMENT_START.match(line)]
    chunks: list[tuple[int, str]] = []
    pending: int | None = None
    for position, start in enumerate(starts):
        end = starts[position + 1] if position + 1 < len(starts) else len(lines)
        first = start if pending is None else pending
        body = lines[start:end]
        if all(_TRIVIAL_LINE.fullmatch(line.rstrip("\r\n")) for line in body):
            # Only comments, blank lines or directives: they belong to the next document.
            pending = first
            continue
        pending = None
        chunks.append((first, "".join(lines[first:end])))
    return chunks


@dataclass
class _AliasTally:
    """What the accepted documents of one text wrote out and what their aliases added to it."""

    written: int = 0
    added: int = 0


def _load_documents(text: str, file: Path, result: LoadResult) -> None:
    tally = _AliasTally()
    for first_line, chunk in split_documents(text):
        parsed = _parse(chunk, file=file, first_line=first_line, errors=result.errors, tally=tally)
        if parsed is None:
            continue
        node, data, duplicate_keys = parsed
        kind, name = _identity(data) if isinstance(data, dict) else (None, None)
        result.errors.extend(replace(error, kind=kind, name=name) for error in duplicate_keys)
        line = node.start_mark.line + 1
        obj = _validate(data, _known(node), line=line, file=file, errors=result.errors)
        if obj is not None:
            result.objects.append(Loaded(obj=obj, file=file, line=line, document=data))


def load_data(data: dict[str, Any], *, file: Path | str, line: int) -> LoadResult:
    """Validate one document given as data rather than text (a spec computed by the control plane);
    errors name the field and point at `line`, the line of the document it was computed from."""
    result = LoadResult()
    path = Path(file)
    # the YAML nodes only serve to word errors as for a file: composed only when validation fails (on
    # a valid spec they were most of apply's time, on the control plane's event loop)
    obj = _validate(data, functools.cache(lambda: _compose(data)), line=line, file=path, errors=result.errors)
    result.errors[:] = [replace(error, line=line) for error in result.errors]
    if obj is not None:
        result.objects.append(Loaded(obj=obj, file=path, line=line, document=data))
    return _finish(result, what=str(file))


def _declared(validated: Any, written: Any) -> Any:
    """The part of `validated` (a model dumped by alias) that `written` (the same value as the YAML
    gave it) declares. A written key matches a dumped one as is (mapping fields keep their keys) or in
    camelCase (a model field written in snake_case); lists of the same length are matched item by item.
    """
    if isinstance(validated, dict) and isinstance(written, dict):
        keys = {
            str(key) if str(key) in validated else to_camel(str(key)): value for key, value in written.items()
        }
        return {key: _declared(value, keys[key]) for key, value in validated.items() if key in keys}
    if isinstance(validated, list) and isinstance(written, list) and len(validated) == len(written):
        return [_declared(item, raw) for item, raw in zip(validated, written, strict=True)]
    return validated


def _parse(
    chunk: str, *, file: Path, first_line: int, errors: list[SpecError], tally: _AliasTally
) -> tuple[yaml.Node, Any, list[SpecError]] | None:
    loader: yaml.SafeLoader | None = None
    offset = first_line  # marks count lines from the chunk's start until they are shifted
    try:
        loader = _Loader(chunk)
        node = loader.get_single_node()
        if node is None:
            return None
        _shift_marks(node, first_line)
        offset = 0
        refusal = _alias_refusal(node, tally)
        if refusal is not None:
            kind, name = _node_identity(node)
            errors.append(
                DocumentRefused(refusal, file=file, line=node.start_mark.line + 1, kind=kind, name=name)
            )
            return None
        duplicate_keys = _duplicate_keys(node, file)
        return node, loader.construct_document(node), duplicate_keys
    except _NumberTooLong as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else first_line + 1
        errors.append(SpecError(f"{exc.problem}; use a smaller number.", file=file, line=line))
    except yaml.MarkedYAMLError as exc:
        last_line = first_line + chunk.rstrip("\r\n").count("\n") + 1  # errors at the stream's end show here
        line = min(exc.problem_mark.line + offset + 1, last_line) if exc.problem_mark else first_line + 1
        context = f" {exc.context}" if exc.context else ""
        errors.append(SpecError(f"YAML syntax error{context}: {exc.problem}.", file=file, line=line))
    except yaml.reader.ReaderError as exc:
        line = first_line + chunk.count("\n", 0, exc.position) + 1
        errors.append(
            SpecError(f"YAML cannot read character {exc.character!r}: {exc.reason}.", file=file, line=line)
        )
    except (yaml.YAMLError, RecursionError) as exc:
        errors.append(SpecError(f"YAML error: {exc}.", file=file, line=first_line + 1))
    finally:
        if loader is not None:
            loader.dispose()
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _node_identity(root: yaml.Node) -> tuple[str | None, str | None]:
    """`kind` and `metadata.name` read off the composed nodes, for a document never built into data."""
    child = _child(root, "kind")
    kind = child[0].value if child is not None and isinstance(child[0], yaml.ScalarNode) else None
    metadata = _child(root, "metadata")
    named = _child(metadata[0], "name") if metadata is not None else None
    name = named[0].value if named is not None and isinstance(named[0], yaml.ScalarNode) else None
    return kind, name


def _alias_refusal(root: yaml.Node, tally: _AliasTally) -> str | None:
    """Why the document under `root` is refused for its aliases, or None (then it is added to `tally`).
    Counts the nodes the document stands for once aliases are expanded (each node times its uses),
    memoized per node, so the count costs one visit per written node however far the aliases would
    expand. Across the documents of one text, aliases may add at most `MAX_ALIAS_EXPANSION` values or
    as many as the documents write out, whichever is more: many documents each just under the bound
    would otherwise multiply a small body (shared defaults add far less than they write)."""
    expanded: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            expanded[key] = 1 + sum(expanded[id(child)] for child in _children(node))
            continue
        if key in expanded:
            continue
        if isinstance(node, yaml.ScalarNode):
            expanded[key] = 1
            continue
        if key in on_path:
            return (
                "the document refers to itself through a YAML alias (an anchor used inside its own "
                "value), so it never ends; write the value out instead."
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in expanded)
    written, total = len(expanded), expanded[id(root)]
    if total - written > MAX_ALIAS_EXPANSION:
        return (
            f"YAML aliases expand this document from {written:,} to {total:,} values, more than the "
            f"{MAX_ALIAS_EXPANSION:,} that aliases may add; write the repeated values out, or use fewer "
            "aliases (anchors for shared defaults are fine)."
        )
    added, all_written = tally.added + total - written, tally.written + written
    if added > max(MAX_ALIAS_EXPANSION, all_written):
        return (
            f"YAML aliases add {total - written:,} values to this document and {tally.added:,} to the "
            f"earlier documents of this file: together more than the {MAX_ALIAS_EXPANSION:,} (or as many "
            "as the documents write out) that aliases may add to one file; write the repeated values "
            "out, or use fewer aliases."
        )
    tally.added, tally.written = added, all_written
    return None


class _NumberTooLong(yaml.MarkedYAMLError):
    """An integer with more digits than any field takes (Python refuses to build one past 4,300)."""


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, refusing integers longer than `MAX_DIGITS` at their line instead of building
    them: no field takes one, and past 4,300 digits Python would raise a ValueError, not a YAML error."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(character.isdigit() for character in node.value)
        if digits > MAX_DIGITS:
            raise _NumberTooLong(
                problem=f"a number with {digits:,} digits; no field takes more than {MAX_DIGITS}",
                problem_mark=node.start_mark,
            )
        value: int = super().construct_yaml_int(node)
        return value


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _shift_marks(root: yaml.Node, lines: int) -> None:
    """Move every mark under `root` down by `lines`, so lines count from the start of the file."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for mark in (node.start_mark, node.end_mark):
            if mark is not None and id(mark) not in seen:
                seen.add(id(mark))
                mark.line += lines
        if isinstance(node, yaml.MappingNode):
            stack.extend(item for pair in node.value for item in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _duplicate_keys(root: yaml.Node, file: Path) -> list[SpecError]:
    errors: list[SpecError] = []
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_lines: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in first_lines:
                        errors.append(
                            SpecError(
                                f"key {key.value!r} appears twice (first on line "
                                f"{first_lines[key.value]}); keep one.",
                                file=file,
                                line=line,
                            )
                        )
                    first_lines.setdefault(key.value, line)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return errors


def _identity(data: dict[Any, Any]) -> tuple[str | None, str | None]:
    kind = data.get("kind")
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return (kind if isinstance(kind, str) else None, name if isinstance(name, str) else None)


def _known(node: yaml.Node) -> Callable[[], yaml.Node]:
    """`node`, as the callable `_validate` asks for nodes with (a file's document was composed anyway)."""
    return lambda: node


def _compose(data: dict[str, Any]) -> yaml.Node:
    """The YAML nodes of `data` written out as YAML, to locate fields in errors about it."""
    node = yaml.compose(yaml.safe_dump(data))
    assert node is not None  # a dict dumps to a mapping
    return node


def _validate(
    data: Any, nodes: Callable[[], yaml.Node], *, line: int, file: Path, errors: list[SpecError]
) -> SpecObject | None:
    """The object `data` describes, or None with its errors added. `nodes` gives the document's YAML
    nodes (starting at `line`), asked for only to word errors."""
    if data is None:
        return None
    if not isinstance(data, dict):
        errors.append(
            SpecError(
                "a document must be a mapping with apiVersion, kind, metadata and spec; "
                f"got {'text' if isinstance(data, str) else show(data)}.",
                file=file,
                line=line,
            )
        )
        return None
    kind, name = _identity(data)
    cls = _kind_class(data, nodes, file=file, errors=errors)
    if cls is None:
        return None
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        node = nodes()
        for error in exc.errors():
            errors.extend(_spec_errors(error, cls, node, file=file, kind=kind, name=name))
    except RecursionError:
        errors.append(SpecError("the document refers to itself (a YAML alias cycle).", file=file, line=line))
    return None


def _kind_class(
    data: dict[Any, Any], nodes: Callable[[], yaml.Node], *, file: Path, errors: list[SpecError]
) -> type[SpecObject] | None:
    kind, name = _identity(data)
    api_version = data.get("apiVersion")
    known_kinds = ", ".join(KINDS)
    problems: list[tuple[FieldPath, str]] = []
    if api_version is None:
        problems.append((("apiVersion",), f"apiVersion is missing; add apiVersion: {API_VERSION}."))
    elif api_version != API_VERSION:
        problems.append(
            (("apiVersion",), f"unknown apiVersion {api_version!r}; modelplane knows {API_VERSION}.")
        )
    cls = KINDS.get(kind) if kind is not None else None
    if data.get("kind") is None:
        problems.append((("kind",), f"kind is missing; add kind: with one of {known_kinds}."))
    elif cls is None:
        close = difflib.get_close_matches(str(data.get("kind")), list(KINDS), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]}?" if close else ""
        problems.append(
            (("kind",), f"unknown kind {data.get('kind')!r}; modelplane knows {known_kinds}.{hint}")
        )
    for path, message in problems:
        errors.append(SpecError(message, file=file, line=locate(nodes(), path), kind=kind, name=name))
    return cls if not problems else None


def _spec_errors(
    error: ErrorDetails,
    root: type[SpecObject],
    node: yaml.Node,
    *,
    file: Path,
    kind: str | None,
    name: str | None,
) -> list[SpecError]:
    ctx = error.get("ctx", {})
    loc = yaml_path(root, error["loc"])
    problem = ctx.get("error")
    if error["type"] == "value_error" and isinstance(problem, FieldProblems):
        pairs = [(loc + sub, message) for sub, message in problem.problems]
    else:
        if error["type"] == "union_tag_invalid":
            loc += (str(ctx.get("discriminator", "type")).strip("'"),)
        message = explain({**error, "loc": loc}, root=root, raw=_scalar_text(node, loc))
        pairs = [(loc, message)]
    result = []
    for path, message in pairs:
        line = locate(node, path)
        result.append(
            SpecError(message, file=file, line=line, kind=kind, name=name, path=render(path) or None)
        )
    return result


def _child(node: yaml.Node, element: str | int) -> tuple[yaml.Node, int] | None:
    """The node under `element` of a mapping or sequence node, with the line that names it."""
    if isinstance(node, yaml.MappingNode):
        for key, value in reversed(node.value):
            if isinstance(key, yaml.ScalarNode) and key.value == str(element):
                return value, key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode) and isinstance(element, int) and 0 <= element < len(node.value):
        item = node.value[element]
        return item, item.start_mark.line + 1
    return None


def render(path: Sequence[str | int]) -> str:
    """A field path as users write it: `spec.traffic[1].weight`."""
    text = ""
    for element in path:
        text += f"[{element}]" if isinstance(element, int) else (f".{element}" if text else element)
    return text


def locate(node: yaml.Node, path: Sequence[str | int]) -> int:
    """The 1-based line of the deepest field of `path` present in the YAML under `node`."""
    line = node.start_mark.line + 1
    current = node
    for element in path:
        child = _child(current, element)
        if child is None:
            break
        current, line = child
    return line


def _scalar_text(node: yaml.Node, loc: Sequence[str | int]) -> str | None:
    current: yaml.Node = node
    for element in loc:
        child = _child(current, element)
        if child is None:
            return None
        current = child[0]
    return current.value if isinstance(current, yaml.ScalarNode) else None


def _drop_duplicates(result: LoadResult) -> None:
    first: dict[tuple[str, str, str], Loaded] = {}
    kept: list[Loaded] = []
    for loaded in result.objects:
        previous = first.get(loaded.obj.key)
        if previous is None:
            first[loaded.obj.key] = loaded
            kept.append(loaded)
            continue
        result.errors.append(
            SpecError(
                f"{loaded.obj.display_name} is defined twice; the first is at {previous.file}:"
                f"{previous.line}. Names must be unique per kind and namespace.",
                file=loaded.file,
                line=loaded.line,
                kind=loaded.obj.kind,
                name=loaded.obj.metadata.name,
            )
        )
    result.objects = kept

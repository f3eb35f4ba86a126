"""The model paths of the Open Inference Protocol (v2) and KServe v1, matched in one place.

The model server and the router both take these paths; `match` reads them once, the same way, so
they cannot drift apart (a model named `versions`, a trailing slash, an empty name):

    [/ns/{namespace}]/v2/models/{name}[/versions/{version}]          METADATA
    [/ns/{namespace}]/v2/models/{name}[/versions/{version}]/ready    READY
    [/ns/{namespace}]/v2/models/{name}[/versions/{version}]/infer    INFER
    [/ns/{namespace}]/v1/models/{name}                               V1_READY
    [/ns/{namespace}]/v1/models/{name}:predict                       V1_PREDICT

`/ns/{namespace}` is the router's: it is cut off, and `Target.path` is what a replica is sent. Trailing
slashes are ignored. Any other path is returned with no `model` (health, metadata, `/v2/models`, or a
path nobody serves: the caller answers 404).

A path that cannot name anything is refused with `BadPath` (400) before any lookup: longer than
`MAX_PATH`; an empty segment (`/v2/models//infer`); a `.` or `..` segment; percent-encoding (`%2F`) in
a model path; a namespace, name or version longer than `MAX_NAME` or with characters beyond letters,
digits, `-`, `_`, `.` and `~` (what the specs allow is a subset). Names are compared as written: the
path is not decoded, so `sim` and `%73im` are not the same model (and the second is refused).

Pure: no I/O, no state but a cache of the last answers (a dict lookup per request instead of a
regex and two objects); a path refused is not cached.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from modelplane.net.errors import HttpError

MAX_PATH = 2048  # characters of a path (without its query); a longer one is refused
MAX_NAME = 253  # characters of a namespace, model name or version
CACHED = 1024  # paths whose answer is kept (at most 2 MiB): a router sees the same few paths again

_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
# the common case in one regex call (the router and the model server read every request's path):
# names not starting with '.', so never '.' or '..'; anything else takes the slow path, which says why
_NAME = rf"[A-Za-z0-9_~-][A-Za-z0-9._~-]{{0,{MAX_NAME - 1}}}"
_V2_FAST = re.compile(rf"({_NAME})(?:/versions/({_NAME}))?(?:/(ready|infer))?")
_V1_FAST = re.compile(rf"({_NAME})(:predict)?")
_NAMESPACE_FAST = re.compile(_NAME)
_V2 = "/v2/models/"
_V1 = "/v1/models/"
_PREDICT = ":predict"


class Op(StrEnum):
    METADATA = "metadata"
    READY = "ready"
    INFER = "infer"
    V1_READY = "v1_ready"
    V1_PREDICT = "v1_predict"


_V2_TAILS: dict[tuple[str, ...], Op] = {(): Op.METADATA, ("ready",): Op.READY, ("infer",): Op.INFER}
_V2_OPS: dict[str | None, Op] = {None: Op.METADATA, "ready": Op.READY, "infer": Op.INFER}


class BadPath(HttpError):
    """A path that cannot name a model (400); the message says what is wrong with it."""

    status = 400


class ModelPath(NamedTuple):
    op: Op
    name: str
    version: str | None = None  # `/versions/{version}`: pinned


class Target(NamedTuple):
    path: str  # without `/ns/{namespace}` and trailing slashes: what a replica is sent
    namespace: str | None = None  # from `/ns/{namespace}`; None without one
    model: ModelPath | None = None  # None: not a model path of the table above


@lru_cache(maxsize=CACHED)
def match(path: str) -> Target:
    """What `path` (no query string) names; BadPath when it cannot name anything."""
    if len(path) > MAX_PATH:
        raise BadPath(f"the path is {len(path)} characters long; at most {MAX_PATH} are accepted.")
    rest = path.rstrip("/") or "/"
    namespace: str | None = None
    if rest.startswith("/ns/"):
        namespace, sep, tail = rest[4:].partition("/")
        if _NAMESPACE_FAST.fullmatch(namespace) is None:
            _check(namespace, "namespace", path)
        rest = "/" + tail if sep else "/"
    if rest.startswith(_V2):
        fast = _V2_FAST.fullmatch(rest, len(_V2))
        if fast is not None:
            name, version, op = fast.groups()
            return Target(rest, namespace, ModelPath(_V2_OPS[op], name, version))
        return Target(rest, namespace, _v2(rest[len(_V2) :], path))
    if rest.startswith(_V1):
        fast = _V1_FAST.fullmatch(rest, len(_V1))
        if fast is not None:
            name, predict = fast.groups()
            return Target(rest, namespace, ModelPath(Op.V1_PREDICT if predict else Op.V1_READY, name))
        return Target(rest, namespace, _v1(rest[len(_V1) :], path))
    return Target(rest, namespace)


def _v2(rest: str, path: str) -> ModelPath | None:
    parts = rest.split("/")
    for part in parts:
        _check_segment(part, path)
    _check(parts[0], "model name", path)
    version: str | None = None
    tail = parts[1:]
    if len(parts) >= 3 and parts[1] == "versions":
        version, tail = parts[2], parts[3:]
        _check(version, "version", path)
    op = _V2_TAILS.get(tuple(tail))
    return None if op is None else ModelPath(op, parts[0], version)


def _v1(rest: str, path: str) -> ModelPath | None:
    for part in rest.split("/"):
        _check_segment(part, path)
    op = Op.V1_READY
    if rest.endswith(_PREDICT):
        op, rest = Op.V1_PREDICT, rest[: -len(_PREDICT)]
    if "/" in rest or ":" in rest:  # another verb (`:explain`) or more path: nothing serves it
        return None
    _check(rest, "model name", path)
    return ModelPath(op, rest)


def _check_segment(part: str, path: str) -> None:
    if not part:
        raise BadPath(f"{_quote(path)} has an empty segment ('//'); write the model path without it.")
    if part in (".", ".."):
        raise BadPath(f"{_quote(path)} has a '{part}' segment; model paths take no relative segments.")
    if "%" in part:
        raise BadPath(
            f"{_quote(path)} is percent-encoded; write namespaces, model names and versions as they are "
            "(letters, digits, '-', '_', '.')."
        )


def _check(value: str, what: str, path: str) -> None:
    _check_segment(value, path)
    if len(value) > MAX_NAME:
        raise BadPath(f"the {what} in {_quote(path)} is {len(value)} characters long; at most {MAX_NAME}.")
    if not _SEGMENT.fullmatch(value):
        raise BadPath(
            f"the {what} {value!r} in {_quote(path)} has characters no {what} can have; "
            "use letters, digits, '-', '_' and '.'."
        )


def _quote(path: str) -> str:
    """The path for a message: shortened, so a long bad path never makes a long answer."""
    return repr(path if len(path) <= 120 else path[:100] + "...")

"""Errors of the store; each carries the HTTP status and reason the API answers with.

    StoreError (500)
    ├── NotFound (404)          no object of that kind, namespace and name
    ├── AlreadyExists (409)     `create` of an object that is already stored
    ├── Conflict (409)          an update named a stale resourceVersion (optimistic concurrency)
    ├── Expired (410)           `changes_since` asked for changes older than the kept history
    └── IncompatibleState (500) state.db was written by a newer schema than this code knows

Invariant: every message is a sentence a user can act on — what failed, on which object, what to do.
The structured fields (kind, namespace, name, resource versions) are there for code; the message for people.
"""

from __future__ import annotations

from typing import ClassVar


def describe(kind: str, namespace: str, name: str) -> str:
    """`ModelDeployment default/iris`, or `Namespace production` for cluster-wide kinds."""
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


class StoreError(Exception):
    """Base of the store's errors; `status` is the HTTP status, `reason` the API's reason word."""

    status: ClassVar[int] = 500
    reason: ClassVar[str] = "InternalError"


class ObjectError(StoreError):
    """An error about one object, named by kind, namespace ('' when cluster-wide) and name."""

    def __init__(self, message: str, *, kind: str, namespace: str, name: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.namespace = namespace
        self.name = name


class NotFound(ObjectError):
    status = 404
    reason = "NotFound"

    def __init__(self, kind: str, namespace: str, name: str) -> None:
        where = f" in namespace {namespace}" if namespace else ""
        super().__init__(
            f"{describe(kind, namespace, name)} was not found. Check the kind, name and namespace "
            f"(list the {kind} objects{where} to see what exists), or apply it first.",
            kind=kind,
            namespace=namespace,
            name=name,
        )


class AlreadyExists(ObjectError):
    status = 409
    reason = "AlreadyExists"

    def __init__(self, kind: str, namespace: str, name: str) -> None:
        super().__init__(
            f"{describe(kind, namespace, name)} already exists. Use apply to change it, "
            "or delete it first to create it anew.",
            kind=kind,
            namespace=namespace,
            name=name,
        )


class Conflict(ObjectError):
    status = 409
    reason = "Conflict"

    def __init__(self, kind: str, namespace: str, name: str, *, current_rv: int, expected_rv: int) -> None:
        super().__init__(
            f"{describe(kind, namespace, name)} was changed by someone else (resourceVersion {current_rv}, "
            f"you sent {expected_rv}). Get it again and retry.",
            kind=kind,
            namespace=namespace,
            name=name,
        )
        self.current_rv = current_rv
        self.expected_rv = expected_rv


class Expired(StoreError):
    status = 410
    reason = "Expired"

    def __init__(self, *, requested_rv: int, oldest_rv: int) -> None:
        super().__init__(
            f"Changes after resourceVersion {requested_rv} are no longer kept (the oldest kept change is "
            f"{oldest_rv}). List the objects again for the current state and resourceVersion, "
            "then watch from that resourceVersion."
        )
        self.requested_rv = requested_rv
        self.oldest_rv = oldest_rv


class IncompatibleState(StoreError):
    def __init__(self, path: str, *, found: int, known: int) -> None:
        super().__init__(
            f"{path} was written by a newer modelplane (schema version {found}; this one knows up to "
            f"{known}). Upgrade modelplane, or start with another --state-dir."
        )
        self.path = path
        self.found = found
        self.known = known

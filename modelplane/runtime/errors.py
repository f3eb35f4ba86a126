"""Errors of the runtime (the kubelet of modelplane).

    RuntimeFailure                  anything the runtime could not do to a replica
    ├── CgroupError                 a cgroup could not be created, written or read
    └── SpawnError                  a replica process could not be started

Each carries the replica (or cgroup) it is about, and its message says what to do.
"""

from __future__ import annotations


class RuntimeFailure(Exception):
    """The runtime could not do something to a replica."""

    def __init__(self, message: str, *, subject: str) -> None:
        super().__init__(message)
        self.subject = subject


class CgroupError(RuntimeFailure):
    """A cgroup file could not be written or read (permissions, missing controller, busy group)."""


class SpawnError(RuntimeFailure):
    """The replica process could not be started (command not found, bad working directory, …)."""

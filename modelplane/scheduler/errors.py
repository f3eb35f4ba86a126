"""Errors of the scheduler package.

    ValueError
    └── InventoryError      the machine's inventory could not be read as given: a malformed
                            MODELPLANE_GPUS (JSON text or file) or an injected GPU list with
                            duplicate indices; the message names the source and what to write

A replica that fits nowhere is not an error: `schedule()` returns `Unschedulable` with a
Kubernetes-style message, and the replica stays Pending.
"""

from __future__ import annotations


class InventoryError(ValueError):
    """The GPU inventory given to modelplane is malformed; `source` says where it came from."""

    def __init__(self, message: str, *, source: str) -> None:
        self.source = source
        super().__init__(message)

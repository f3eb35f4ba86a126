"""BYTES tensors reach models as object arrays of bytes (or str); libraries want str."""

from __future__ import annotations

from typing import Any


def as_text(value: Any) -> str:
    """One BYTES element as text: bytes are decoded as utf-8, anything else goes through str()."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)

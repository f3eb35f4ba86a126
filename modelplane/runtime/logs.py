"""Replica log files: rotation by copy-and-truncate, and reading for `modelplane logs`.

A replica writes its stdout and stderr to `<name>.log` opened with O_APPEND, so the file can be
rotated under it without telling it: copy the file to `<name>.log.1` (older copies move to `.2` …
`.K`, the oldest is dropped), then truncate it to zero; the next write lands at the new end. A few lines
written between the copy and the truncate can be lost — the price of copytruncate (logrotate's too).

`read_log` serves both `logs --tail N` (the last N lines) and `logs -f` (everything after a byte
offset; an offset beyond the end means the file was rotated, and reading restarts at 0).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
DEFAULT_KEEP: Final = 3
MAX_READ: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LogRotator:
    """Rotate a log once it exceeds `max_bytes`, keeping `keep` old copies."""

    max_bytes: int = DEFAULT_MAX_BYTES
    keep: int = DEFAULT_KEEP

    def rotate_if_needed(self, path: Path) -> bool:
        """Rotate `path` if it is too big; whether it did."""
        try:
            if path.stat().st_size <= self.max_bytes:
                return False
        except FileNotFoundError:
            return False
        self.rotate(path)
        return True

    def rotate(self, path: Path) -> None:
        if self.keep <= 0:
            os.truncate(path, 0)
            return
        for index in range(self.keep - 1, 0, -1):
            older = _numbered(path, index)
            if older.exists():
                older.replace(_numbered(path, index + 1))
        shutil.copyfile(path, _numbered(path, 1))
        os.chmod(_numbered(path, 1), 0o600)  # as private as the log (store/private.py)
        os.truncate(path, 0)


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Text read from a log, and the byte offset to continue from."""

    text: str
    offset: int


def read_log(
    path: Path, *, tail_lines: int | None = None, offset: int | None = None, limit: int = MAX_READ
) -> LogChunk:
    """The last `tail_lines` lines, or the bytes after `offset`, or the whole log (at most `limit` bytes)."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if offset is not None:
                start = offset if 0 <= offset <= size else 0  # beyond the end: rotated under us, start over
                start = max(start, size - limit)
            elif tail_lines is not None:
                start = _tail_start(file, size, tail_lines, limit)
            else:
                start = max(0, size - limit)
            file.seek(start)
            data = file.read(size - start)
    except FileNotFoundError:
        return LogChunk("", 0)
    return LogChunk(data.decode("utf-8", errors="replace"), start + len(data))


def _tail_start(file: BinaryIO, size: int, lines: int, limit: int) -> int:
    """The offset where the last `lines` lines of the file begin (a last line without '\\n' counts)."""
    if lines <= 0:
        return size
    start = max(0, size - limit)
    file.seek(start)
    data = file.read(size - start)
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    position = end
    for _ in range(lines):
        position = data.rfind(b"\n", 0, position)
        if position < 0:
            return start
    return start + position + 1


def _numbered(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")

"""The state dir is private: its directories 0700, its files 0600, whatever the umask.

The state dir holds every object's spec (model paths, Job commands and environment variables), the
change log, events, usage history, the replicas' logs (what the models print, request errors) and,
off loopback, the API token: nothing another user of the machine should read. Files are created
private rather than chmod-ed after, so there is no window in which they are readable; SQLite gives
`state.db-wal` and `state.db-shm` the mode of `state.db`. A state dir made by an older modelplane
(0755, files 0644) is tightened when it is opened, with one warning line in the log.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Final

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600

log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner can enter (created with its parents if missing)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tighten(path)
    return path


def tighten(path: Path) -> bool:
    """Take group and other permissions off `path` if it exists and has any; whether it did."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if not mode & 0o077:
        return False
    os.chmod(path, mode & 0o700)
    log.warning("%s was readable by other users (mode %o); made it private (%o).", path, mode, mode & 0o700)
    return True


def create_private(path: Path) -> None:
    """Create `path` as an empty 0600 file if missing; tighten it if it exists."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        tighten(path)


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """`os.open(path, flags | O_CREAT)` creating the file 0600 (an existing one is tightened)."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
        os.fchmod(fd, FILE_MODE)
    return fd


def write_private(path: Path, text: str) -> None:
    """Replace `path`'s contents with `text`, the file 0600."""
    with open(path, "w", opener=lambda name, flags: open_private(name, flags | os.O_TRUNC)) as file:
        file.write(text)

"""How much CPU and memory the cgroups of this process allow: the caps on the detected machine.

Reads `/proc/self/cgroup` and `/proc/self/mountinfo` to find the process's own cgroup directory under
each cgroup mount (v2 `cgroup2`, and v1 `cgroup` hierarchies carrying the `cpu` or `memory`
controller, as on hybrid hosts), then the limit files of that directory and of every ancestor up to
the mount point: a parent's limit binds its children, so the smallest one wins.

- CPU: v2 `cpu.max` (`"150000 100000"` = 1.5 CPUs, `"max …"` = none); v1 `cpu.cfs_quota_us` /
  `cpu.cfs_period_us` (quota -1 = none). Millicores are rounded down: a quota never grants more.
- Memory: v2 `memory.max` (`"max"` = none); v1 `memory.limit_in_bytes` (a huge value = none; the
  caller caps it by MemTotal anyway).

Invariants: every reader takes `root` (the filesystem root, `/` in production) so tests can lay out a
fake tree; a missing or unreadable file means "no limit", never an error — the machine is then what
the kernel reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_FLAGS = frozenset({"rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode"})
"""v1 super options that are not controller names."""


@dataclass(frozen=True)
class CgroupMount:
    """One line of mountinfo that mounts a cgroup hierarchy."""

    root: str
    """The part of the hierarchy that is mounted (`/` unless bind-mounted from deeper)."""
    mount_point: str
    version: int
    controllers: frozenset[str]
    """v1 only: the controllers of the hierarchy, e.g. {"cpu", "cpuacct"}; empty for v2."""


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Controller → cgroup path from `/proc/self/cgroup`; the v2 hierarchy is under the key ``""``."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup mounts listed in `/proc/self/mountinfo`."""
    mounts: list[CgroupMount] = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if dash < 5 or len(fields) < dash + 4:
            continue
        fstype, super_options = fields[dash + 1], fields[dash + 3]
        root, mount_point = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            mounts.append(CgroupMount(root, mount_point, 2, frozenset()))
        elif fstype == "cgroup":
            options = super_options.split(",")
            controllers = frozenset(
                option for option in options if "=" not in option and option not in _FLAGS
            )
            mounts.append(CgroupMount(root, mount_point, 1, controllers))
    return mounts


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (`\\040`)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def parse_cpu_max(text: str) -> int | None:
    """Millicores allowed by a v2 `cpu.max` line (`"150000 100000"` → 1500); None when unlimited."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    period = int(parts[1]) if len(parts) > 1 else 100_000
    return quota_millis(int(parts[0]), period)


def quota_millis(quota_us: int, period_us: int) -> int | None:
    """Millicores of a CFS quota per period, rounded down; None when there is no quota (-1)."""
    if quota_us < 0 or period_us <= 0:
        return None
    return quota_us * 1000 // period_us


def parse_memory_max(text: str) -> int | None:
    """Bytes allowed by `memory.max` / `memory.limit_in_bytes`; None when unlimited (`max`)."""
    value = text.strip()
    if not value or value == "max":
        return None
    return int(value)


def cpu_limit_millis(*, root: Path) -> int | None:
    """The tightest CPU quota on this process's cgroups, in millicores; None when there is none."""
    limits: list[int] = []
    for version, directory in _cgroup_dirs("cpu", root=root):
        try:
            if version == 2:
                text = _read(directory / "cpu.max")
                limit = parse_cpu_max(text) if text is not None else None
            else:
                quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
                limit = quota_millis(int(quota), int(period)) if quota and period else None
        except ValueError:
            continue  # a file we cannot parse limits nothing we can know of
        if limit is not None:
            limits.append(limit)
    return min(limits, default=None)


def memory_limit_bytes(*, root: Path) -> int | None:
    """The tightest memory limit on this process's cgroups, in bytes; None when there is none."""
    limits: list[int] = []
    for version, directory in _cgroup_dirs("memory", root=root):
        text = _read(directory / ("memory.max" if version == 2 else "memory.limit_in_bytes"))
        try:
            limit = parse_memory_max(text) if text is not None else None
        except ValueError:
            continue
        if limit is not None:
            limits.append(limit)
    return min(limits, default=None)


def _cgroup_dirs(controller: str, *, root: Path) -> Iterator[tuple[int, Path]]:
    """(version, directory) for the process's cgroup of `controller` and each ancestor to the mount."""
    own = _read(root / "proc/self/cgroup")
    mountinfo = _read(root / "proc/self/mountinfo")
    if own is None or mountinfo is None:
        return
    paths = parse_proc_cgroup(own)
    for mount in parse_mountinfo(mountinfo):
        if mount.version == 2:
            path = paths.get("")
        else:
            path = paths.get(controller) if controller in mount.controllers else None
        if path is None:
            continue
        top = root / mount.mount_point.lstrip("/")
        directory = _own_directory(top, mount.root, path)
        while True:
            yield mount.version, directory
            if directory == top or top not in directory.parents:
                break
            directory = directory.parent


def _own_directory(top: Path, mount_root: str, path: str) -> Path:
    """Where the process's cgroup `path` appears under a mount of the hierarchy's `mount_root`."""
    if mount_root == "/":
        relative = path
    elif path == mount_root or path.startswith(mount_root + "/"):
        relative = path[len(mount_root) :]
    else:
        return top  # another cgroup namespace's view: the mount itself is our cgroup
    if ".." in relative.split("/"):
        return top  # `/../..`: our cgroup lies outside this mount's namespace
    directory = top / relative.lstrip("/")
    return directory if directory.is_dir() else top


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, ValueError):
        return None

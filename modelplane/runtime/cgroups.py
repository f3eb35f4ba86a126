"""Resource limits of replica processes with Linux cgroups (v2, or v1), and what to do without them.

Each replica gets a group `modelplane/<group>` at the top of the hierarchy (v2: one tree; v1: one in
each of the memory, cpu and cpuacct hierarchies). Not under the control plane's own group: a service
manager that stops the control plane kills its group, and replicas must outlive it.

Values, as the kubelet writes them (k8s-semantics §5 "Limits at runtime"):
- memory limit → v1 `memory.limit_in_bytes`, v2 `memory.max` (+ `memory.swap.max=0`): above it the
  kernel OOM-kills the process, counted in `oom_kill` of v1 `memory.oom_control` / v2 `memory.events`;
- CPU limit → CFS quota `limit × 100 ms` per 100 ms period (v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`,
  v2 `cpu.max`): throttled, never killed;
- CPU request → weight: v1 `cpu.shares = millis × 1024 / 1000` (min 2), v2 `cpu.weight` converted
  from the shares as the container runtimes do.

`detect_cgroups()` picks v2 when `/sys/fs/cgroup/cgroup.controllers` exists, v1 when the memory and
cpu hierarchies are mounted, and checks it can create groups; otherwise it warns once and returns
`NoCgroups`: limits are then not enforced (`limits_enforced=False`), except memory through
RLIMIT_AS in the child (see processes.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, Protocol

from modelplane.runtime.errors import CgroupError
from modelplane.spec.resources import ResourceRequirements

log = logging.getLogger(__name__)

CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
PARENT: Final = "modelplane"
CFS_PERIOD_US: Final = 100_000
MIN_QUOTA_US: Final = 1_000
MIN_SHARES: Final = 2
MAX_SHARES: Final = 262_144


class CgroupVersion(StrEnum):
    V2 = "v2"
    V1 = "v1"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Limits:
    """What a replica's group enforces; None means unlimited (memory, cpu) or best effort (request)."""

    memory_bytes: int | None = None
    cpu_millis: int | None = None
    cpu_request_millis: int | None = None

    @classmethod
    def of(cls, resources: ResourceRequirements) -> Limits:
        limits, requests = resources.limits, resources.requests
        return cls(
            memory_bytes=limits.memory_bytes or None,
            cpu_millis=limits.cpu_millis or None,
            cpu_request_millis=requests.cpu_millis or None,
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """What a replica's group has used, for `modelplane top`; None where the group cannot tell."""

    memory_bytes: int | None = None
    cpu_seconds: float | None = None
    oom_kills: int = 0
    throttled_periods: int | None = None


def cpu_shares(request_millis: int | None) -> int:
    """Kubernetes' MilliCPUToShares: 1024 per core, at least 2 (a replica without a request gets 2)."""
    if not request_millis:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, request_millis * 1024 // 1000))


def cpu_weight(request_millis: int | None) -> int:
    """cgroup v2 weight for the same shares (1…10000), as runc and crun convert them."""
    return 1 + ((cpu_shares(request_millis) - 2) * 9999) // 262_142


def cpu_quota_us(limit_millis: int | None) -> int | None:
    """Kubernetes' MilliCPUToQuota: `limit × period`, at least 1 ms; None for no limit."""
    if not limit_millis:
        return None
    return max(MIN_QUOTA_US, limit_millis * CFS_PERIOD_US // 1000)


class Cgroups(Protocol):
    """Per-replica groups: the narrow interface the supervisor uses."""

    @property
    def version(self) -> CgroupVersion: ...

    @property
    def enforced(self) -> bool: ...

    def create(self, group: str, limits: Limits) -> Sequence[Path]:
        """Create (or update) the group; the `cgroup.procs` files a new process must join."""
        ...

    def add(self, group: str, pid: int) -> None: ...

    def oom_kills(self, group: str) -> int: ...

    def usage(self, group: str) -> Usage: ...

    def remove(self, group: str) -> None: ...


class CgroupV2:
    """cgroup v2 (unified): `<root>/modelplane/<group>` with the memory and cpu controllers."""

    version = CgroupVersion.V2
    enforced = True

    def __init__(self, root: Path = CGROUP_ROOT, *, parent: str = PARENT) -> None:
        self.root = root
        self.base = root / parent

    def setup(self) -> None:
        """Enable the memory and cpu controllers down to `modelplane/`; CgroupError if not allowed."""
        available = _read(self.root / "cgroup.controllers", group="/").split()
        missing = {"memory", "cpu"} - set(available)
        if missing:
            raise CgroupError(
                f"cgroup v2 at {self.root} lacks the {', '.join(sorted(missing))} controller(s).",
                subject=str(self.root),
            )
        _mkdir(self.base)
        for directory in (self.root, self.base):
            enabled = set(_read(directory / "cgroup.subtree_control", group="/").split())
            if not {"memory", "cpu"} <= enabled:
                _write(directory / "cgroup.subtree_control", "+memory +cpu")

    def create(self, group: str, limits: Limits) -> Sequence[Path]:
        path = self.base / group
        _mkdir(path)
        _write(path / "memory.max", str(limits.memory_bytes) if limits.memory_bytes else "max")
        if limits.memory_bytes and (path / "memory.swap.max").exists():
            _write(path / "memory.swap.max", "0")
        quota = cpu_quota_us(limits.cpu_millis)
        _write(path / "cpu.max", f"{quota if quota is not None else 'max'} {CFS_PERIOD_US}")
        _write(path / "cpu.weight", str(cpu_weight(limits.cpu_request_millis)))
        return [path / "cgroup.procs"]

    def add(self, group: str, pid: int) -> None:
        _write(self.base / group / "cgroup.procs", str(pid))

    def oom_kills(self, group: str) -> int:
        return _keyed(self.base / group / "memory.events").get("oom_kill", 0)

    def usage(self, group: str) -> Usage:
        path = self.base / group
        cpu = _keyed(path / "cpu.stat")
        return Usage(
            memory_bytes=_int_or_none(path / "memory.current"),
            cpu_seconds=cpu["usage_usec"] / 1e6 if "usage_usec" in cpu else None,
            oom_kills=self.oom_kills(group),
            throttled_periods=cpu.get("nr_throttled"),
        )

    def remove(self, group: str) -> None:
        path = self.base / group
        if (path / "cgroup.kill").exists() and _read(path / "cgroup.procs", group=group).strip():
            _write(path / "cgroup.kill", "1")
        _rmdir(path)


class CgroupV1:
    """cgroup v1: `<mount>/modelplane/<group>` in the memory, cpu and (if mounted) cpuacct hierarchies."""

    version = CgroupVersion.V1
    enforced = True

    def __init__(self, mounts: Mapping[str, Path], *, parent: str = PARENT) -> None:
        self.mounts = dict(mounts)
        self.parent = parent

    def _dir(self, controller: str, group: str) -> Path:
        return self.mounts[controller] / self.parent / group

    def _dirs(self, group: str) -> list[Path]:
        return list(
            dict.fromkeys(self._dir(c, group) for c in ("memory", "cpu", "cpuacct") if c in self.mounts)
        )

    def setup(self) -> None:
        for controller in ("memory", "cpu", "cpuacct"):
            if controller in self.mounts:
                _mkdir(self.mounts[controller] / self.parent)

    def create(self, group: str, limits: Limits) -> Sequence[Path]:
        for path in self._dirs(group):
            _mkdir(path)
        memory, cpu = self._dir("memory", group), self._dir("cpu", group)
        _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes) if limits.memory_bytes else "-1")
        # Without swap accounting a limited group would swap instead of being OOM-killed.
        with contextlib.suppress(CgroupError):
            _write(memory / "memory.swappiness", "0")
        quota = cpu_quota_us(limits.cpu_millis)
        _write(cpu / "cpu.cfs_period_us", str(CFS_PERIOD_US))
        _write(cpu / "cpu.cfs_quota_us", str(quota) if quota is not None else "-1")
        _write(cpu / "cpu.shares", str(cpu_shares(limits.cpu_request_millis)))
        return [path / "cgroup.procs" for path in self._dirs(group)]

    def add(self, group: str, pid: int) -> None:
        for path in self._dirs(group):
            _write(path / "cgroup.procs", str(pid))

    def oom_kills(self, group: str) -> int:
        return _keyed(self._dir("memory", group) / "memory.oom_control").get("oom_kill", 0)

    def usage(self, group: str) -> Usage:
        cpuacct = self._dir("cpuacct", group) if "cpuacct" in self.mounts else None
        nanos = _int_or_none(cpuacct / "cpuacct.usage") if cpuacct is not None else None
        return Usage(
            memory_bytes=_int_or_none(self._dir("memory", group) / "memory.usage_in_bytes"),
            cpu_seconds=nanos / 1e9 if nanos is not None else None,
            oom_kills=self.oom_kills(group),
            throttled_periods=_keyed(self._dir("cpu", group) / "cpu.stat").get("nr_throttled"),
        )

    def remove(self, group: str) -> None:
        for path in self._dirs(group):
            _rmdir(path)


class NoCgroups:
    """No writable cgroup: nothing is enforced here (memory falls back to RLIMIT_AS in the child)."""

    version = CgroupVersion.NONE
    enforced = False

    def __init__(self, reason: str = "") -> None:
        self.reason = reason

    def create(self, group: str, limits: Limits) -> Sequence[Path]:
        return []

    def add(self, group: str, pid: int) -> None:
        return None

    def oom_kills(self, group: str) -> int:
        return 0

    def usage(self, group: str) -> Usage:
        return Usage()

    def remove(self, group: str) -> None:
        return None


def detect_cgroups(
    *, root: Path = CGROUP_ROOT, parent: str = PARENT, mountinfo: Path = Path("/proc/self/mountinfo")
) -> CgroupV2 | CgroupV1 | NoCgroups:
    """The cgroup manager this machine allows; logs one warning when limits cannot be enforced."""
    manager: CgroupV2 | CgroupV1
    if (root / "cgroup.controllers").is_file():
        manager = CgroupV2(root, parent=parent)
    else:
        mounts = v1_mounts(mountinfo)
        if "memory" not in mounts or "cpu" not in mounts:
            return _without(f"no cgroup v2 at {root} and no cgroup v1 memory and cpu hierarchies")
        manager = CgroupV1(mounts, parent=parent)
    try:
        manager.setup()
    except CgroupError as error:
        return _without(f"cgroup {manager.version} is not writable ({error})")
    log.info("replica limits enforced with cgroup %s under %s/", manager.version, parent)
    return manager


def v1_mounts(mountinfo: Path) -> dict[str, Path]:
    """Mount point of each cgroup v1 controller, from /proc/self/mountinfo."""
    mounts: dict[str, Path] = {}
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return mounts
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] != "cgroup":
            continue
        for option in tail[2].split(","):
            if option in ("memory", "cpu", "cpuacct"):
                mounts.setdefault(option, Path(fields[4]))
    return mounts


def _without(reason: str) -> NoCgroups:
    log.warning(
        "replica limits are NOT enforced: %s. Memory limits fall back to RLIMIT_AS (virtual memory) in "
        "each replica; CPU limits and requests are ignored. Run as root on Linux, or give this user a "
        "delegated cgroup, to enforce them.",
        reason,
    )
    return NoCgroups(reason)


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(exist_ok=True)
    except OSError as error:
        raise CgroupError(f"cannot create cgroup {path}: {error.strerror}.", subject=str(path)) from error


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError as error:
        log.warning("cgroup %s not removed: %s (a process may still be in it)", path, error.strerror)


def _write(path: Path, value: str) -> None:
    try:
        with open(path, "w") as file:
            file.write(value)
    except OSError as error:
        raise CgroupError(
            f"cannot write {value!r} to {path}: {error.strerror}.", subject=str(path)
        ) from error


def _read(path: Path, *, group: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise CgroupError(f"cannot read {path}: {error.strerror}.", subject=group) from error


def _keyed(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file (`key value` per line); empty when unreadable (the group is gone)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            values[key] = int(value)
    return values


def _int_or_none(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None

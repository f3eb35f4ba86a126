"""The machine modelplane runs on: CPUs, memory and GPUs — the raw material of the node pools.

- CPUs: the CPUs this process may run on (`os.sched_getaffinity`), capped by the cgroup CPU quota of
  the process's own cgroup (v2 `cpu.max`, v1 `cpu.cfs_quota_us / cpu.cfs_period_us`), in millicores.
- Memory: `MemTotal` of `/proc/meminfo`, capped by the process's memory cgroup limit.
- GPUs, first that applies: the `gpus` argument (the control plane's own inventory); the
  `MODELPLANE_GPUS` variable of `env` (JSON text, or the path of a JSON file, e.g.
  `[{"index": 0, "name": "NVIDIA H100", "memory": "80Gi", "uuid": "GPU-…"}]`); NVML through the
  `pynvml` module (package nvidia-ml-py) when it imports and `nvmlInit()` works; else none.

Invariants: nothing is read at import time, and the environment only through the `env` argument;
GPU indices are unique and the devices are sorted by index; a malformed `MODELPLANE_GPUS` is an
`InventoryError` that says what to write (never silently "no GPUs"), while a missing NVML is simply
no GPUs. `Machine.notes` says where each number came from, for `describe` and the logs.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from modelplane.scheduler.cgroups import cpu_limit_millis, memory_limit_bytes
from modelplane.scheduler.errors import InventoryError
from modelplane.spec import QuantityError, format_cpu, format_memory, parse_memory

GPUS_ENV = "MODELPLANE_GPUS"
_EXAMPLE = '[{"index": 0, "name": "NVIDIA H100", "memory": "80Gi", "uuid": "GPU-…"}]'
_GPU_KEYS = frozenset({"index", "name", "memory", "uuid"})


@dataclass(frozen=True)
class GpuDevice:
    """One whole GPU, named by its NVML index (the number `CUDA_VISIBLE_DEVICES` takes)."""

    index: int
    name: str
    memory_bytes: int = 0
    uuid: str = ""


class GpuSource(StrEnum):
    ARGUMENT = "argument"
    ENV = GPUS_ENV
    NVML = "nvml"
    NONE = "none"


@dataclass(frozen=True)
class Machine:
    """What this machine offers to replicas."""

    cpu_millis: int
    memory_bytes: int
    gpus: tuple[GpuDevice, ...] = ()
    gpu_source: GpuSource = GpuSource.NONE
    notes: tuple[str, ...] = ()
    """Where each number came from, e.g. `cpu: 1500m (cgroup quota; 2 CPUs in affinity)`."""


def detect_machine(
    *, env: Mapping[str, str], gpus: Sequence[GpuDevice] | None = None, root: Path = Path("/")
) -> Machine:
    """This machine's CPUs, memory and GPUs. `root` is `/` except in tests of the cgroup readers."""
    cpu_millis, cpu_note = detect_cpu_millis(root=root)
    memory_bytes, memory_note = detect_memory_bytes(root=root)
    devices, source, gpu_note = detect_gpus(env=env, gpus=gpus)
    return Machine(cpu_millis, memory_bytes, devices, source, (cpu_note, memory_note, gpu_note))


def detect_cpu_millis(*, root: Path) -> tuple[int, str]:
    """Millicores this process may use, and a note saying why."""
    try:
        cpus = len(os.sched_getaffinity(0))
        how = "in affinity"
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
        how = "online"
    millis = cpus * 1000
    quota = cpu_limit_millis(root=root)
    if quota is not None and quota < millis:
        return quota, f"cpu: {format_cpu(quota)} (cgroup quota; {cpus} CPUs {how})"
    return millis, f"cpu: {format_cpu(millis)} ({cpus} CPUs {how})"


def detect_memory_bytes(*, root: Path) -> tuple[int, str]:
    """Bytes of memory this process may use, and a note saying why."""
    total = _meminfo_total(root / "proc/meminfo")
    if total is None:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = memory_limit_bytes(root=root)
    if limit is not None and limit < total:
        return limit, f"memory: {format_memory(limit)} (cgroup limit; MemTotal {format_memory(total)})"
    return total, f"memory: {format_memory(total)} (MemTotal)"


def _meminfo_total(path: Path) -> int | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            return int(parts[1]) * 1024 if len(parts) > 1 and parts[1].isdigit() else None
    return None


def detect_gpus(
    *, env: Mapping[str, str], gpus: Sequence[GpuDevice] | None
) -> tuple[tuple[GpuDevice, ...], GpuSource, str]:
    """The GPU inventory, where it came from, and a note. See the module docstring for the order."""
    if gpus is not None:
        devices = _checked(list(gpus), source="the injected GPU inventory")
        return devices, GpuSource.ARGUMENT, f"gpu: {len(devices)} (injected by the caller)"
    injected = env.get(GPUS_ENV, "").strip()
    if injected:
        devices = load_gpu_inventory(injected)
        return devices, GpuSource.ENV, f"gpu: {len(devices)} (from {GPUS_ENV})"
    found, why = nvml_gpus()
    if found is not None:
        return found, GpuSource.NVML, f"gpu: {len(found)} (NVML)"
    return (), GpuSource.NONE, f"gpu: 0 ({why}; set {GPUS_ENV} to declare GPUs by hand)"


def load_gpu_inventory(value: str) -> tuple[GpuDevice, ...]:
    """GPUs from `MODELPLANE_GPUS`: JSON text when it starts with `[`, otherwise a JSON file's path."""
    text = value.strip()
    if text.startswith("["):
        return parse_gpu_inventory(text, source=GPUS_ENV)
    source = f"{GPUS_ENV} file {text}"
    try:
        content = Path(text).expanduser().read_text()
    except OSError as exc:
        raise InventoryError(
            f"{GPUS_ENV}={text!r} is neither a JSON list (it does not start with '[') nor a readable "
            f"file ({exc.strerror or exc}). Set it to JSON such as {_EXAMPLE}, or to the path of a "
            f"file holding that.",
            source=GPUS_ENV,
        ) from None
    return parse_gpu_inventory(content, source=source)


def parse_gpu_inventory(text: str, *, source: str) -> tuple[GpuDevice, ...]:
    """GPUs from JSON text; `source` names where the text came from in error messages."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
            f"Expected a list such as {_EXAMPLE}.",
            source=source,
        ) from None
    if not isinstance(data, list):
        raise InventoryError(
            f"{source} must be a JSON list of GPUs; got {type(data).__name__}. Expected e.g. {_EXAMPLE}.",
            source=source,
        )
    return _checked(
        [_device(item, position, source=source) for position, item in enumerate(data)], source=source
    )


def _device(item: Any, position: int, *, source: str) -> GpuDevice:
    where = f"{source}, GPU #{position}"

    def problem(message: str) -> InventoryError:
        return InventoryError(f"{where}: {message} Expected e.g. {_EXAMPLE}.", source=source)

    if not isinstance(item, dict):
        raise problem(f"must be an object with index, name, memory and uuid; got {json.dumps(item)}.")
    unknown = sorted(set(item) - _GPU_KEYS)
    if unknown:
        raise problem(f"unknown field(s) {', '.join(unknown)}; the fields are index, name, memory, uuid.")
    index, name = item.get("index"), item.get("name", "")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise problem(f"'index' must be a whole number ≥ 0 (the NVML device index); got {json.dumps(index)}.")
    if not isinstance(name, str):
        raise problem(f"'name' must be a string; got {json.dumps(name)}.")
    uuid = item.get("uuid", "")
    if not isinstance(uuid, str):
        raise problem(f"'uuid' must be a string such as \"GPU-…\"; got {json.dumps(uuid)}.")
    try:
        memory = parse_memory(item["memory"]) if "memory" in item else 0
    except QuantityError as exc:
        raise problem(f"'memory': {exc}") from None
    return GpuDevice(index=index, name=name, memory_bytes=memory, uuid=uuid)


def _checked(devices: list[GpuDevice], *, source: str) -> tuple[GpuDevice, ...]:
    seen: set[int] = set()
    for device in devices:
        if device.index in seen:
            raise InventoryError(
                f"{source} lists GPU index {device.index} twice; each device needs its own index.",
                source=source,
            )
        seen.add(device.index)
    return tuple(sorted(devices, key=lambda device: device.index))


def nvml_gpus() -> tuple[tuple[GpuDevice, ...] | None, str]:
    """The GPUs NVML reports, or None and why not (no `pynvml` module, no driver, NVML error)."""
    try:
        nvml: Any = importlib.import_module("pynvml")
    except ImportError:
        return None, "the pynvml module (package nvidia-ml-py) is not installed"
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, …: no usable GPUs here
        return None, f"NVML did not start: {exc}"
    try:
        devices = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            devices.append(
                GpuDevice(
                    index=index,
                    name=_text(nvml.nvmlDeviceGetName(handle)),
                    memory_bytes=int(nvml.nvmlDeviceGetMemoryInfo(handle).total),
                    uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                )
            )
        return tuple(devices), "NVML"
    except Exception as exc:  # a device NVML cannot describe: do not guess a partial inventory
        return None, f"NVML failed to list devices: {exc}"
    finally:
        with contextlib.suppress(Exception):  # shutting down a half-started library: nothing left to do
            nvml.nvmlShutdown()


def _text(value: object) -> str:
    """NVML returns bytes in older nvidia-ml-py releases and str in newer ones."""
    return value.decode() if isinstance(value, bytes) else str(value)

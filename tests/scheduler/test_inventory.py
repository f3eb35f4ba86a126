"""The machine: injected GPU inventories (JSON, file, argument), NVML through a fake module, cgroup caps."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from modelplane.scheduler import GPUS_ENV, GpuDevice, GpuSource, InventoryError, detect_machine
from modelplane.scheduler.cgroups import parse_cpu_max, parse_memory_max, parse_mountinfo, parse_proc_cgroup

H100 = {"index": 0, "name": "NVIDIA H100", "memory": "80Gi", "uuid": "GPU-aaaa"}
GIB = 2**30


@pytest.fixture(autouse=True)
def no_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a real pynvml: `import pynvml` fails unless a test installs a fake."""
    monkeypatch.setitem(sys.modules, "pynvml", None)


def fake_nvml(
    monkeypatch: pytest.MonkeyPatch, devices: list[tuple[Any, int, Any]], *, init_error: bool = False
) -> None:
    module: Any = types.ModuleType("pynvml")
    calls: list[str] = []

    def init() -> None:
        calls.append("init")
        if init_error:
            raise RuntimeError("NVML Shared Library Not Found")

    module.nvmlInit = init
    module.nvmlShutdown = lambda: calls.append("shutdown")
    module.nvmlDeviceGetCount = lambda: len(devices)
    module.nvmlDeviceGetHandleByIndex = lambda index: index
    module.nvmlDeviceGetName = lambda handle: devices[handle][0]
    module.nvmlDeviceGetMemoryInfo = lambda handle: types.SimpleNamespace(total=devices[handle][1])
    module.nvmlDeviceGetUUID = lambda handle: devices[handle][2]
    module.calls = calls
    monkeypatch.setitem(sys.modules, "pynvml", module)


def test_gpus_from_json_in_the_environment() -> None:
    second = {"index": 1, "name": "NVIDIA H100", "memory": "80Gi", "uuid": "GPU-bbbb"}
    machine = detect_machine(env={GPUS_ENV: json.dumps([second, H100])})
    assert machine.gpu_source is GpuSource.ENV
    assert machine.gpus == (
        GpuDevice(0, "NVIDIA H100", 80 * GIB, "GPU-aaaa"),
        GpuDevice(1, "NVIDIA H100", 80 * GIB, "GPU-bbbb"),
    )


def test_gpus_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "gpus.json"
    path.write_text(json.dumps([H100, {"index": 3, "name": "NVIDIA L4"}]))
    machine = detect_machine(env={GPUS_ENV: str(path)})
    assert [(gpu.index, gpu.name, gpu.memory_bytes) for gpu in machine.gpus] == [
        (0, "NVIDIA H100", 80 * GIB),
        (3, "NVIDIA L4", 0),
    ]


def test_the_argument_wins_over_the_environment_and_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nvml(monkeypatch, [(b"NVIDIA A100", 40 * GIB, b"GPU-x")])
    machine = detect_machine(env={GPUS_ENV: "[]"}, gpus=[GpuDevice(2, "injected")])
    assert machine.gpus == (GpuDevice(2, "injected"),)
    assert machine.gpu_source is GpuSource.ARGUMENT


def test_an_empty_list_declares_no_gpus_even_with_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nvml(monkeypatch, [(b"NVIDIA A100", 40 * GIB, b"GPU-x")])
    machine = detect_machine(env={GPUS_ENV: "[]"})
    assert machine.gpus == ()
    assert machine.gpu_source is GpuSource.ENV


def test_gpus_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nvml(monkeypatch, [(b"NVIDIA A100-SXM4-40GB", 40 * GIB, b"GPU-x"), ("NVIDIA L4", 24 * GIB, "GPU-y")])
    machine = detect_machine(env={GPUS_ENV: "  "})
    assert machine.gpu_source is GpuSource.NVML
    assert machine.gpus == (
        GpuDevice(0, "NVIDIA A100-SXM4-40GB", 40 * GIB, "GPU-x"),
        GpuDevice(1, "NVIDIA L4", 24 * GIB, "GPU-y"),
    )
    assert sys.modules["pynvml"].calls == ["init", "shutdown"]


def test_no_gpus_when_nvml_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nvml(monkeypatch, [], init_error=True)
    machine = detect_machine(env={})
    assert (machine.gpus, machine.gpu_source) == ((), GpuSource.NONE)
    assert "NVML did not start: NVML Shared Library Not Found" in machine.notes[2]


def test_no_gpus_without_pynvml() -> None:
    machine = detect_machine(env={})
    assert (machine.gpus, machine.gpu_source) == ((), GpuSource.NONE)
    assert "nvidia-ml-py" in machine.notes[2] and GPUS_ENV in machine.notes[2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[{", "MODELPLANE_GPUS is not valid JSON"),
        ('[{"index": 0, "name": "x"},]', "is not valid JSON"),
        ("[1]", "GPU #0: must be an object"),
        ('[{"name": "NVIDIA H100"}]', "'index' must be a whole number ≥ 0 (the NVML device index); got null"),
        ('[{"index": "0", "name": "x"}]', "'index' must be a whole number ≥ 0"),
        ('[{"index": true, "name": "x"}]', "'index' must be a whole number ≥ 0"),
        ('[{"index": -1, "name": "x"}]', "got -1"),
        ('[{"index": 0, "name": 7}]', "'name' must be a string"),
        ('[{"index": 0, "name": "x", "memory": "80GB"}]', "Did you mean 80G (decimal) or 80Gi (binary)?"),
        ('[{"index": 0, "name": "x", "uuid": 5}]', "'uuid' must be a string"),
        ('[{"index": 0, "name": "x", "mem": "1Gi"}]', "unknown field(s) mem"),
        ('[{"index": 0, "name": "a"}, {"index": 0, "name": "b"}]', "lists GPU index 0 twice"),
        ("/nonexistent/gpus.json", "is neither a JSON list (it does not start with '[') nor a readable file"),
    ],
)
def test_a_malformed_inventory_is_a_clear_error(value: str, expected: str) -> None:
    with pytest.raises(InventoryError) as caught:
        detect_machine(env={GPUS_ENV: value})
    message = str(caught.value)
    assert expected in message
    assert message.startswith("MODELPLANE_GPUS")  # names the source


def test_a_malformed_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gpus.json"
    path.write_text('{"index": 0}')
    with pytest.raises(
        InventoryError, match=f"MODELPLANE_GPUS file {path} must be a JSON list of GPUs; got dict"
    ):
        detect_machine(env={GPUS_ENV: str(path)})


def test_duplicate_injected_indices_are_refused() -> None:
    with pytest.raises(InventoryError, match="the injected GPU inventory lists GPU index 1 twice"):
        detect_machine(env={}, gpus=[GpuDevice(1, "a"), GpuDevice(1, "b")])


# --- CPU and memory, with a fake filesystem root ---------------------------------------------------

V2_MOUNTINFO = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
HYBRID_MOUNTINFO = (
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)


def fake_root(
    tmp_path: Path, *, cgroup: str, mountinfo: str, files: dict[str, str], mem_kib: int = 16 * 2**20
) -> Path:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup)
    (tmp_path / "proc/self/mountinfo").write_text(mountinfo)
    (tmp_path / "proc/meminfo").write_text(f"MemTotal:       {mem_kib} kB\nMemFree:        1 kB\n")
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    return tmp_path


AFFINITY_MILLIS = len(os.sched_getaffinity(0)) * 1000


def test_no_cgroup_limits_gives_affinity_and_memtotal(tmp_path: Path) -> None:
    root = fake_root(
        tmp_path, cgroup="0::/\n", mountinfo=V2_MOUNTINFO, files={"sys/fs/cgroup/cpu.max": "max 100000"}
    )
    machine = detect_machine(env={}, root=root)
    assert machine.cpu_millis == AFFINITY_MILLIS
    assert machine.memory_bytes == 16 * GIB
    assert machine.notes[1] == "memory: 16Gi (MemTotal)"


def test_v2_quota_and_memory_max_cap_the_machine(tmp_path: Path) -> None:
    files = {"sys/fs/cgroup/app/cpu.max": "50000 100000", "sys/fs/cgroup/app/memory.max": str(4 * GIB)}
    root = fake_root(tmp_path, cgroup="0::/app\n", mountinfo=V2_MOUNTINFO, files=files)
    machine = detect_machine(env={}, root=root)
    assert (machine.cpu_millis, machine.memory_bytes) == (500, 4 * GIB)
    assert machine.notes[0].startswith("cpu: 500m (cgroup quota;")
    assert machine.notes[1] == "memory: 4Gi (cgroup limit; MemTotal 16Gi)"


def test_a_parent_cgroup_limit_binds_its_children(tmp_path: Path) -> None:
    files = {
        "sys/fs/cgroup/parent/memory.max": str(2 * GIB),
        "sys/fs/cgroup/parent/child/memory.max": "max",
        "sys/fs/cgroup/parent/child/cpu.max": "25000 100000",
    }
    root = fake_root(tmp_path, cgroup="0::/parent/child\n", mountinfo=V2_MOUNTINFO, files=files)
    machine = detect_machine(env={}, root=root)
    assert (machine.cpu_millis, machine.memory_bytes) == (250, 2 * GIB)


def test_v1_hierarchies_on_a_hybrid_host(tmp_path: Path) -> None:
    cgroup = "9:name=systemd:/\n4:memory:/jobs/abc\n2:cpu,cpuacct:/jobs/abc\n0::/\n"
    files = {
        "sys/fs/cgroup/cpu,cpuacct/jobs/abc/cpu.cfs_quota_us": "75000",
        "sys/fs/cgroup/cpu,cpuacct/jobs/abc/cpu.cfs_period_us": "100000",
        "sys/fs/cgroup/memory/jobs/abc/memory.limit_in_bytes": str(GIB),
        "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712",
    }
    root = fake_root(tmp_path, cgroup=cgroup, mountinfo=HYBRID_MOUNTINFO, files=files)
    machine = detect_machine(env={}, root=root)
    assert (machine.cpu_millis, machine.memory_bytes) == (750, GIB)


def test_v1_unlimited_quota_is_no_cap(tmp_path: Path) -> None:
    files = {
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1",
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000",
    }
    root = fake_root(tmp_path, cgroup="2:cpu,cpuacct:/\n", mountinfo=HYBRID_MOUNTINFO, files=files)
    assert detect_machine(env={}, root=root).cpu_millis == AFFINITY_MILLIS


def test_a_cgroup_path_from_another_namespace_reads_the_mount_itself(tmp_path: Path) -> None:
    files = {"sys/fs/cgroup/cpu.max": "20000 100000"}
    root = fake_root(tmp_path, cgroup="0::/../../host.slice\n", mountinfo=V2_MOUNTINFO, files=files)
    assert detect_machine(env={}, root=root).cpu_millis == 200


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("max 100000", None),
        ("max", None),
        ("150000 100000", 1500),
        ("50000 100000", 500),
        ("33333 100000", 333),
    ],
)
def test_parse_cpu_max(text: str, millis: int | None) -> None:
    assert parse_cpu_max(text) == millis


@pytest.mark.parametrize(("text", "limit"), [("max", None), ("", None), ("1073741824", GIB)])
def test_parse_memory_max(text: str, limit: int | None) -> None:
    assert parse_memory_max(text) == limit


def test_parse_proc_cgroup_and_mountinfo() -> None:
    assert parse_proc_cgroup("4:memory:/a\n2:cpu,cpuacct:/b\n0::/c\n") == {
        "memory": "/a",
        "cpu": "/b",
        "cpuacct": "/b",
        "": "/c",
    }
    mounts = parse_mountinfo(HYBRID_MOUNTINFO)
    assert [(m.mount_point, m.version, sorted(m.controllers)) for m in mounts] == [
        ("/sys/fs/cgroup/cpu,cpuacct", 1, ["cpu", "cpuacct"]),
        ("/sys/fs/cgroup/memory", 1, ["memory"]),
        ("/sys/fs/cgroup/systemd", 1, []),
        ("/sys/fs/cgroup/unified", 2, []),
    ]


def test_the_real_machine_is_detected() -> None:
    machine = detect_machine(env={})
    assert 0 < machine.cpu_millis <= AFFINITY_MILLIS
    assert machine.memory_bytes > 0

"""The environment that gives a replica its GPUs — and only them.

`CUDA_VISIBLE_DEVICES` is set for every replica: to the assigned NVML indices (`"0,2"`), or to the
empty string for a replica with none. The empty string hides every GPU from CUDA (torch sees
`cuda.is_available() == False`), so a CPU-only replica can never grab a device another replica
holds — leaving the variable unset would show it all of them. `CUDA_DEVICE_ORDER=PCI_BUS_ID` makes
CUDA number devices as NVML does (its default, FASTEST_FIRST, may not), so index 1 means the same
device to the scheduler and to the replica.
"""

from __future__ import annotations

from collections.abc import Sequence


def cuda_visible_devices(gpu_indices: Sequence[int]) -> str:
    """`CUDA_VISIBLE_DEVICES` for a replica holding `gpu_indices`: `"0,2"`, or `""` for none."""
    return ",".join(str(index) for index in sorted(gpu_indices))


def gpu_environment(gpu_indices: Sequence[int]) -> dict[str, str]:
    """The variables to add to a replica's environment for its GPUs (also when it has none)."""
    return {"CUDA_VISIBLE_DEVICES": cuda_visible_devices(gpu_indices), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}

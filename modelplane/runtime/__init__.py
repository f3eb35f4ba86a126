"""The runtime: the kubelet of modelplane. Starts, probes, restarts and stops replica processes.

One door: import from `modelplane.runtime`. The pieces:
- `probing` (pure): the probe workers' state machine — started, ready, restart;
- `backoff` (pure): CrashLoopBackOff, when an exited replica may start again;
- `cgroups`: memory/CPU limits with cgroup v2 or v1, or nothing (`NoCgroups`) where none is writable;
- `processes`: spawn in a new session, identify by pid + start time, signal the group, exit reasons;
- `logs`: per-replica log files, copytruncate rotation, reading for `modelplane logs`;
- `health`: the HTTP GET behind a probe;
- `supervisor`: `ReplicaSupervisor`, one replica's lifecycle driven by `tick(now)`;
- `protocol`: `ReplicaRuntime`, what the node agent needs from whatever runs replicas;
- `process_runtime`: `ProcessRuntime`, replicas as processes (one supervisor each);
- `simulated`: `SimulatedRuntime`, replicas without processes (scale benchmark, fleet simulation);
- `node`: `NodeAgent`, the kubelet's sync loop between the store and a `ReplicaRuntime`.

See docs/runtime.md.
"""

from modelplane.runtime.backoff import (
    INITIAL_DELAY,
    MAX_DELAY,
    RESET_AFTER,
    Backoff,
    RestartDecision,
    decide_restart,
)
from modelplane.runtime.cgroups import (
    Cgroups,
    CgroupV1,
    CgroupV2,
    CgroupVersion,
    Limits,
    NoCgroups,
    Usage,
    cpu_quota_us,
    cpu_shares,
    cpu_weight,
    detect_cgroups,
)
from modelplane.runtime.errors import CgroupError, RuntimeFailure, SpawnError
from modelplane.runtime.health import Prober, http_probe
from modelplane.runtime.logs import LogChunk, LogRotator, read_log
from modelplane.runtime.node import NodeAgent
from modelplane.runtime.probing import HEALTH_PATHS, ProbeKind, ProbeResult, ProbeSet, ProbeWorker
from modelplane.runtime.process_runtime import ProcessRuntime, log_path
from modelplane.runtime.processes import (
    AdoptedProcess,
    ChildProcess,
    Exit,
    Launch,
    ReplicaProcess,
    alive,
    exit_reason,
    pid_start_time,
    replica_env,
    spawn,
)
from modelplane.runtime.protocol import Key, ReplicaRuntime
from modelplane.runtime.simulated import SimulatedRuntime
from modelplane.runtime.supervisor import MIN_GRACE_SECONDS, Clock, ReplicaSupervisor, group_name

__all__ = [
    "HEALTH_PATHS",
    "INITIAL_DELAY",
    "MAX_DELAY",
    "MIN_GRACE_SECONDS",
    "RESET_AFTER",
    "AdoptedProcess",
    "Backoff",
    "CgroupError",
    "CgroupV1",
    "CgroupV2",
    "CgroupVersion",
    "Cgroups",
    "ChildProcess",
    "Clock",
    "Exit",
    "Key",
    "Launch",
    "Limits",
    "LogChunk",
    "LogRotator",
    "NoCgroups",
    "NodeAgent",
    "ProbeKind",
    "ProbeResult",
    "ProbeSet",
    "ProbeWorker",
    "Prober",
    "ProcessRuntime",
    "ReplicaProcess",
    "ReplicaRuntime",
    "ReplicaSupervisor",
    "RestartDecision",
    "RuntimeFailure",
    "SimulatedRuntime",
    "SpawnError",
    "Usage",
    "alive",
    "cpu_quota_us",
    "cpu_shares",
    "cpu_weight",
    "decide_restart",
    "detect_cgroups",
    "exit_reason",
    "group_name",
    "http_probe",
    "log_path",
    "pid_start_time",
    "read_log",
    "replica_env",
    "spawn",
]

"""The autoscaler loop against a real store: what it reads of replicas, what it writes (only on a
change: a write wakes every controller), and what it does without any router reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelplane.autoscaler.calculating import Phase
from modelplane.controllers.autoscaling import Autoscaler, _state
from modelplane.metrics import MetricsStore
from modelplane.store import Store, StoredObject

T = 1_000.0
SPEC: dict[str, Any] = {
    "model": {"format": "simulated"},
    "autoscaling": {"minReplicas": 2, "maxReplicas": 5, "metrics": [{"type": "concurrency", "target": 2}]},
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


def test_without_router_readings_it_holds_and_writes_once(store: Store) -> None:
    store.create("ModelDeployment", "default", "sim", labels={}, spec=SPEC, now=T)
    autoscaler = Autoscaler(store, metrics=MetricsStore(), usage=dict)
    autoscaler.run_once(now=T)
    written = store.get("ModelDeployment", "default", "sim")
    scale = written.status["autoscaling"]
    assert scale["desiredReplicas"] == 2  # minReplicas: nothing read yet
    active = next(c for c in scale["conditions"] if c["type"] == "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetPodsMetric")
    assert "no concurrency readings from the router yet" in active["message"]
    for second in range(1, 5):
        autoscaler.run_once(now=T + second)
    assert store.get("ModelDeployment", "default", "sim").resource_version == written.resource_version
    warnings = [e for e in store.events(kind="ModelDeployment", name="sim") if e.type == "Warning"]
    # one event, not one a second
    assert [(e.reason, e.count) for e in warnings] == [("FailedComputeMetricsReplicas", 1)]


def test_a_deployment_without_autoscaling_is_left_alone(store: Store) -> None:
    store.create(
        "ModelDeployment", "default", "fixed", labels={}, spec={"model": {"format": "simulated"}}, now=T
    )
    Autoscaler(store, metrics=MetricsStore(), usage=dict).run_once(now=T)
    assert "autoscaling" not in store.get("ModelDeployment", "default", "fixed").status


def replica(status: dict[str, Any], deleted: float | None = None) -> StoredObject:
    return StoredObject(
        kind="Replica",
        namespace="default",
        name="r",
        uid="u",
        generation=1,
        resource_version=1,
        labels={},
        spec={},
        status=status,
        created=0.0,
        updated=0.0,
        deletion_timestamp=deleted,
    )


@pytest.mark.parametrize(
    ("status", "deleted", "expected"),
    [
        ({"phase": "Pending"}, None, (Phase.PENDING, False, None)),
        (
            {"phase": "Running", "ready": True, "startedAt": 10.0, "readySince": 12.0},
            None,
            (Phase.RUNNING, False, True),
        ),
        ({"phase": "Running", "ready": False, "startedAt": 10.0}, None, (Phase.RUNNING, False, False)),
        ({"phase": "Terminating", "ready": False, "startedAt": 10.0}, None, (Phase.RUNNING, True, False)),
        ({"phase": "Running", "ready": True, "startedAt": 10.0}, 50.0, (Phase.RUNNING, True, True)),
        ({"phase": "Failed"}, None, (Phase.FAILED, False, None)),
    ],
)
def test_replica_states_as_the_calculator_groups_them(
    status: dict[str, Any], deleted: float | None, expected: tuple[Phase, bool, bool | None]
) -> None:
    state = _state(replica(status, deleted))
    assert (state.phase, state.deleting, state.ready) == expected


def test_replicas_waiting_for_room_make_it_capacity_limited(store: Store) -> None:
    store.create("ModelDeployment", "default", "sim", labels={}, spec=SPEC, now=T)
    waiting = {
        "phase": "Pending",
        "waiting": {"reason": "Unschedulable", "message": "0/1 pools: Insufficient cpu."},
    }
    store.create("Replica", "default", "sim-a", labels={}, spec={"deployment": "sim"}, status=waiting, now=T)
    Autoscaler(store, metrics=MetricsStore(), usage=dict).run_once(now=T)
    scale = store.get("ModelDeployment", "default", "sim").status["autoscaling"]
    limited = next(c for c in scale["conditions"] if c["type"] == "CapacityLimited")
    assert (limited["status"], limited["reason"]) == ("True", "Unschedulable")
    assert limited["message"] == "1 replica(s) wait for room: 0/1 pools: Insufficient cpu."

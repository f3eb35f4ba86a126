"""What a deployment wants (modelplane.spec.desired), table-tested: typed spec and scale status in,
desired replicas, bounds, the scale refusal, the template hash and the default split out."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelplane.spec import (
    NO_SCALE,
    ModelDeploymentSpec,
    ScaleStatus,
    Share,
    awaited_replicas,
    default_split,
    desired_replicas,
    replica_bounds,
    scale_refusal,
    sizing_of,
    template_hash,
)

MODEL = {"format": "simulated", "version": "v1"}
CONCURRENCY = [{"type": "concurrency", "target": 4}]


def spec(**fields: Any) -> ModelDeploymentSpec:
    return ModelDeploymentSpec.model_validate({"model": MODEL, **fields})


def autoscaled(low: int, high: int, **fields: Any) -> ModelDeploymentSpec:
    scaling = {"minReplicas": low, "maxReplicas": high, "metrics": CONCURRENCY}
    return spec(autoscaling=scaling, **fields)


@pytest.mark.parametrize(
    ("deployment", "scale", "desired"),
    [
        (spec(), NO_SCALE, 1),  # replicas defaults to 1
        (spec(replicas=3), NO_SCALE, 3),
        (spec(replicas=0), NO_SCALE, 0),
        (spec(replicas=3), ScaleStatus(desired_replicas=9), 3),  # a stale recommendation: not autoscaled
        (autoscaled(2, 20, replicas=7), NO_SCALE, 2),  # spec.replicas is ignored; minReplicas until told
        (autoscaled(0, 5), NO_SCALE, 0),  # scale to zero allowed
        (autoscaled(2, 20), ScaleStatus(desired_replicas=8), 8),
        (autoscaled(2, 20), ScaleStatus(desired_replicas=1), 2),  # clamped up to minReplicas
        (autoscaled(2, 20), ScaleStatus(desired_replicas=50), 20),  # clamped down to maxReplicas
        (autoscaled(0, 5), ScaleStatus(desired_replicas=0), 0),
        (spec(autoscaling={"maxReplicas": 4, "metrics": CONCURRENCY}), NO_SCALE, 1),  # minReplicas: 1
    ],
)
def test_desired_replicas(deployment: ModelDeploymentSpec, scale: ScaleStatus, desired: int) -> None:
    assert desired_replicas(deployment, scale) == desired


@pytest.mark.parametrize(
    ("status", "recommended"),
    [
        ({}, None),
        ({"replicas": 3}, None),  # the controller's counts are not a recommendation
        ({"autoscaling": {"desiredReplicas": 6}}, 6),
        ({"autoscaling": {"desiredReplicas": 0}}, 0),
        ({"autoscaling": {"desiredReplicas": 6, "currentMetrics": []}}, 6),  # other fields ignored
        ({"autoscaling": {}}, None),
        ({"autoscaling": {"desiredReplicas": -1}}, None),  # malformed: no recommendation, no error
        ({"autoscaling": {"desiredReplicas": "6"}}, None),
        ({"autoscaling": {"desiredReplicas": True}}, None),
        ({"autoscaling": {"desiredReplicas": 2.5}}, None),
        ({"autoscaling": [6]}, None),
    ],
)
def test_scale_status_is_read_leniently(status: dict[str, Any], recommended: int | None) -> None:
    assert ScaleStatus.read(status).desired_replicas == recommended


@pytest.mark.parametrize(
    ("deployment", "bounds", "awaited"),
    [
        (spec(replicas=3), (3, 3), 3),
        (spec(replicas=0), (0, 0), 0),  # the router answers at once: none will come
        (autoscaled(2, 20, replicas=7), (2, 20), None),  # the autoscaler may add one on demand
        (autoscaled(0, 5), (0, 5), None),  # ... from zero too
    ],
)
def test_bounds_and_awaited(
    deployment: ModelDeploymentSpec, bounds: tuple[int, int], awaited: int | None
) -> None:
    assert replica_bounds(deployment) == bounds
    assert awaited_replicas(deployment) == awaited


@given(
    low=st.integers(0, 50),
    extra=st.integers(0, 50),
    recommended=st.none() | st.integers(0, 200),
)
def test_desired_is_always_within_bounds(low: int, extra: int, recommended: int | None) -> None:
    deployment = autoscaled(low, max(low + extra, 1))
    desired = desired_replicas(deployment, ScaleStatus(desired_replicas=recommended))
    fewest, most = replica_bounds(deployment)
    assert fewest <= desired <= most
    if recommended is None:
        assert desired == fewest


def test_sizing_of_a_stored_spec_answers_as_the_typed_spec() -> None:
    for typed in (spec(replicas=4), autoscaled(2, 9, replicas=7), autoscaled(0, 3)):
        stored = sizing_of(typed.model_dump(mode="json", by_alias=True))
        assert replica_bounds(stored) == replica_bounds(typed)
        assert desired_replicas(stored) == desired_replicas(typed)
        assert awaited_replicas(stored) == awaited_replicas(typed)
    assert sizing_of({}).replicas == 1
    for bad in ({"replicas": -1}, {"replicas": "3"}, {"autoscaling": {"minReplicas": 3, "maxReplicas": 1}}):
        with pytest.raises(ValueError):
            sizing_of(bad)


@pytest.mark.parametrize(
    ("deployment", "replicas", "says"),
    [
        (spec(replicas=2), 5, None),
        (
            autoscaled(2, 20),
            5,
            [
                "ModelDeployment 'iris' (namespace prod) is autoscaled between 2 and 20 replicas",
                "the autoscaler would overwrite a scale to 5",
                "spec.autoscaling.minReplicas / maxReplicas",
                "minReplicas: 5 keeps at least 5",
                "`modelplane apply -f FILE`",
                "remove spec.autoscaling and set replicas: 5",
            ],
        ),
        (autoscaled(1, 4), 0, ["minReplicas: 0 lets it scale to zero when idle"]),
    ],
)
def test_scale_refusal(deployment: ModelDeploymentSpec, replicas: int, says: list[str] | None) -> None:
    refusal = scale_refusal(deployment, name="iris", namespace="prod", replicas=replicas)
    if says is None:
        assert refusal is None
    else:
        assert refusal is not None
        for part in says:
            assert part in refusal


BASE = {"model": MODEL, "replicas": 3}


@pytest.mark.parametrize(
    ("changed", "new_revision"),
    [
        ({"replicas": 9}, False),
        ({"traffic": [{"version": "v1", "weight": 100}]}, False),
        ({"autoscaling": {"minReplicas": 1, "maxReplicas": 4, "metrics": CONCURRENCY}}, False),
        ({"strategy": {"type": "Recreate"}}, False),
        ({"paused": True}, False),
        ({"minReadySeconds": 5}, False),
        ({"model": {**MODEL, "version": "v2"}}, True),
        ({"resources": {"limits": {"cpu": "1"}}}, True),
        ({"nodeSelector": {"pool": "gpu"}}, True),
        ({"concurrency": 4}, True),
        ({"batching": {"maxBatchSize": 8}}, True),
        ({"probes": {"readiness": {"periodSeconds": 1}}}, True),
        ({"terminationGracePeriodSeconds": 5}, True),
    ],
)
def test_template_hash_changes_only_with_the_replica_template(
    changed: dict[str, Any], new_revision: bool
) -> None:
    before = template_hash(ModelDeploymentSpec.model_validate(BASE))
    after = template_hash(ModelDeploymentSpec.model_validate({**BASE, **changed}))
    assert (after != before) is new_revision


def test_template_hash_is_the_same_for_a_default_written_out_or_left_implicit() -> None:
    implicit = ModelDeploymentSpec.model_validate(BASE)
    stored = ModelDeploymentSpec.model_validate(implicit.model_dump(mode="json", by_alias=True))
    written = ModelDeploymentSpec.model_validate({**BASE, "terminationGracePeriodSeconds": 30})
    assert template_hash(implicit) == template_hash(stored) == template_hash(written)


def test_template_hash_is_stable_across_releases() -> None:
    """The hash names every stored revision and replica: a change to how it is computed rolls out every
    deployment on upgrade. This value is the one the controller computed before the hash moved here."""
    assert template_hash(ModelDeploymentSpec.model_validate(BASE)) == "c4168e2064"


@pytest.mark.parametrize(
    ("live", "split"),
    [
        ({}, [Share("v2", 100)]),  # nothing live: all of it to model.version
        ({"v2": 3}, [Share("v2", 3)]),
        ({"v2": 2, "v1": 1}, [Share("v1", 1), Share("v2", 2)]),  # every replica an equal share
        ({"v1": 4, "v2": 0}, [Share("v1", 4)]),
    ],
)
def test_default_split(live: dict[str, int], split: list[Share]) -> None:
    assert default_split("v2", live) == split

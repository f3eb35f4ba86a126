"""Namespace defaults (LimitRange) and quota (ResourceQuota) for new replicas."""

from __future__ import annotations

from modelplane.controllers.admission import check_quota, check_requests, demand_of, with_defaults
from modelplane.spec import NamespaceSpec

NS = NamespaceSpec.model_validate(
    {
        "quota": {"cpu": "1", "memory": "1Gi", "gpu": 2},
        "defaults": {"limits": {"cpu": "500m", "memory": "256Mi"}},
    }
)


def test_missing_limits_take_the_default_and_requests_fall_back_to_limits() -> None:
    filled = with_defaults({}, NS)
    assert filled["limits"] == {"cpu": "500m", "memory": "256Mi"}
    assert filled["requests"] == {"cpu": "500m", "memory": "256Mi"}
    own = with_defaults({"limits": {"cpu": "2"}}, NS)
    assert (
        own["limits"]["cpu"] == "2" and own["requests"]["cpu"] == "2" and own["limits"]["memory"] == "256Mi"
    )
    assert with_defaults({"limits": {"cpu": "1"}}, None)["limits"] == {"cpu": "1"}


def test_quota_refuses_with_kubernetes_message() -> None:
    one_gpu = demand_of({"limits": {"gpu": 1}})
    assert check_quota("production", NS, requested=one_gpu, used=[one_gpu]) is None
    assert (
        check_quota("production", NS, requested=one_gpu, used=[one_gpu, one_gpu])
        == "exceeded quota: production, requested: gpu=1, used: gpu=2, limited: gpu=2"
    )
    half = demand_of({"requests": {"cpu": "500m", "memory": "256Mi"}})
    assert (
        check_quota("staging", NS, requested=half, used=[half, half])
        == "exceeded quota: staging, requested: cpu=500m, used: cpu=1, limited: cpu=1"
    )
    assert check_quota("default", None, requested=half, used=[half] * 10) is None


BARE = NamespaceSpec.model_validate({"quota": {"cpu": "4", "memory": "8Gi", "gpu": 1}})


def test_a_cpu_or_memory_quota_refuses_a_replica_without_that_request() -> None:
    # Kubernetes' quota admission (pkg/quota/v1/evaluator/core/pods.go Constraints, wrapped by the
    # resourcequota plugin as "failed quota: %s: %v"): a quota on cpu or memory needs a request for it
    assert (
        check_requests("staging", BARE, with_defaults({}, BARE), owner="accel")
        == "failed quota: staging: must specify cpu for: accel; memory for: accel"
    )
    memory_only = with_defaults({"requests": {"memory": "1Gi"}}, BARE)
    assert check_requests("staging", BARE, memory_only, owner="train") == (
        "failed quota: staging: must specify cpu for: train"
    )


def test_a_request_given_defaulted_from_a_limit_or_by_the_namespace_passes() -> None:
    both = {"requests": {"cpu": "1", "memory": "1Gi"}}
    assert check_requests("staging", BARE, with_defaults(both, BARE), owner="a") is None
    limits = {"limits": {"cpu": "1", "memory": "1Gi"}}  # Kubernetes defaults requests to limits first
    assert check_requests("staging", BARE, with_defaults(limits, BARE), owner="a") is None
    assert check_requests("staging", NS, with_defaults({}, NS), owner="a") is None  # namespace defaults
    gpu_only = NamespaceSpec.model_validate({"quota": {"gpu": 2}})  # gpu is not in the validation set
    assert check_requests("staging", gpu_only, with_defaults({}, gpu_only), owner="a") is None
    assert check_requests("default", None, {}, owner="a") is None  # no quota, nothing required

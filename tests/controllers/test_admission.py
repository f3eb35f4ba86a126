"""Namespace defaults (LimitRange) and quota (ResourceQuota) for new replicas."""

from __future__ import annotations

from modelplane.controllers.admission import check_quota, demand_of, with_defaults
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

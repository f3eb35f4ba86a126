"""Namespace: optional quota and LimitRange-style defaults."""

from __future__ import annotations

from modelplane.spec import Memory, Namespace
from tests.spec._docs import API, only_error, valid


def test_namespace_without_spec() -> None:
    ns = valid({"apiVersion": API, "kind": "Namespace", "metadata": {"name": "staging"}})
    assert isinstance(ns, Namespace)
    assert ns.spec.quota is None and ns.spec.defaults is None
    assert ns.key == ("Namespace", "", "staging")


def test_quota_and_defaults() -> None:
    spec = {
        "quota": {"cpu": "8", "memory": "16Gi", "gpu": 2},
        "defaults": {"limits": {"cpu": "1", "memory": "1Gi"}},
    }
    ns = valid({"apiVersion": API, "kind": "Namespace", "metadata": {"name": "production"}, "spec": spec})
    assert ns.spec.quota.cpu_millis == 8000
    assert ns.spec.quota.gpus == 2
    assert ns.spec.defaults.requests.memory == Memory.parse(
        "1Gi"
    )  # a default request falls back to the limit


def test_quota_quantities_are_checked() -> None:
    doc = {
        "apiVersion": API,
        "kind": "Namespace",
        "metadata": {"name": "p"},
        "spec": {"quota": {"gpu": "half"}},
    }
    assert only_error(doc).path == "spec.quota.gpu"

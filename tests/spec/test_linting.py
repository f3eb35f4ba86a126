"""The lint rules, table-driven: each risky spec yields its finding, and the safe variant yields none."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.spec import ModelDeployment, Namespace, NodePool, SpecObject
from modelplane.spec.linting import Finding, Severity, lint

SAFE: dict[str, Any] = {
    "model": {"format": "sklearn", "uri": "./m.joblib"},
    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "probes": {"readiness": {"periodSeconds": 2}},
}
"""A deployment with no finding; each case below changes a few fields of it."""


def deployment(spec: dict[str, Any], *, name: str = "iris", namespace: str | None = None) -> ModelDeployment:
    metadata = {"name": name} | ({"namespace": namespace} if namespace else {})
    return ModelDeployment.model_validate({"kind": "ModelDeployment", "metadata": metadata, "spec": spec})


def paths(spec: dict[str, Any]) -> list[str]:
    return [finding.path for finding in lint([deployment(SAFE | spec)])]


def test_the_safe_deployment_has_no_finding() -> None:
    assert lint([deployment(SAFE)]) == []


RPS = [{"type": "rps", "target": 5}]
BUDGET = {"disruptionBudget": {"maxUnavailable": 1}}
MEMORY = "spec.resources.limits.memory"
OVERCOMMIT = "spec.resources.requests.memory"
UNAVAILABLE = "spec.strategy.rollingUpdate.maxUnavailable"


def resources(requests: dict[str, Any] | None = None, **limits: Any) -> dict[str, Any]:
    return {"resources": {"requests": requests or {}, "limits": limits}}


def rolling(replicas: int = 1, **rolling_update: Any) -> dict[str, Any]:
    return {"replicas": replicas, "strategy": {"rollingUpdate": rolling_update}} | (
        BUDGET if replicas > 1 else {}
    )


def case(name: str, changes: dict[str, Any], *reported: str) -> Any:
    return pytest.param(changes, list(reported), id=name)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # BestEffort is reported once, in place of the missing memory limit
        case("no resources", {"resources": {}}, "spec.resources"),
        case("cpu only", resources(cpu="1"), MEMORY),
        case("memory request only", resources({"memory": "1Gi"}), MEMORY),
        case("gpu only, no pool", resources(gpu=1), MEMORY, "spec.tolerations"),
        # memory limit / request > 4
        case("limit 8x request", resources({"memory": "256Mi"}, memory="2Gi"), OVERCOMMIT),
        case("limit 4x request", resources({"memory": "256Mi"}, memory="1Gi")),
        case("request 0", resources({"memory": 0}, memory="1Gi"), OVERCOMMIT),
        case("cpu far below its limit is fine", resources({"cpu": "10m"}, cpu="4", memory="1Gi")),
        # GPUs
        case("gpu, toleration", resources(memory="1Gi", gpu=1) | {"tolerations": [{"operator": "Exists"}]}),
        case(
            "gpu, nodeSelector", resources(memory="1Gi", gpu=1) | {"nodeSelector": {"accelerator": "nvidia"}}
        ),
        case("gpu 0", resources(memory="1Gi", gpu=0)),
        # disruption budget
        case("2 replicas, no budget", {"replicas": 2}, "spec.disruptionBudget"),
        case("2 replicas, a budget", {"replicas": 2, "disruptionBudget": {"minAvailable": 1}}),
        case("1 replica", {"replicas": 1}),
        case(
            "autoscaling up to 3",
            {"autoscaling": {"maxReplicas": 3, "metrics": RPS}},
            "spec.disruptionBudget",
        ),
        case("autoscaling up to 1", {"autoscaling": {"maxReplicas": 1, "metrics": RPS}}),
        # a rollout that can leave no ready replica
        case("maxUnavailable 100%", rolling(4, maxUnavailable="100%"), UNAVAILABLE),
        case("maxUnavailable 3 of 3", rolling(3, maxUnavailable=3), UNAVAILABLE),
        case("maxUnavailable 2 of 3", rolling(3, maxUnavailable=2)),
        case("maxUnavailable 1 of 1", rolling(1, maxUnavailable=1), UNAVAILABLE),
        case("defaults, 1 replica (surge rounds up to 1)", rolling(1)),
        case("both round to 0 for 1 replica", rolling(1, maxSurge=0, maxUnavailable="10%"), UNAVAILABLE),
        case("both round to 0 for 2 replicas", rolling(2, maxSurge=0, maxUnavailable="10%")),
        case(
            "canary uses rollingUpdate",
            {
                "strategy": {
                    "type": "Canary",
                    "canary": {"steps": [{"weight": 10}]},
                    "rollingUpdate": {"maxUnavailable": 1},
                }
            },
            UNAVAILABLE,
        ),
        case("Recreate is a choice, not a slip", {"strategy": {"type": "Recreate"}}),
        case("0 replicas", rolling(0, maxUnavailable=1)),
        case(
            "scale to zero: checked at 1",
            rolling(1, maxUnavailable=1) | {"autoscaling": {"minReplicas": 0, "maxReplicas": 1}},
            UNAVAILABLE,
        ),
        # batching
        case("simulated, no batching", {"model": {"format": "simulated"}}, "spec.batching"),
        case("onnx, no batching", {"model": {"format": "onnx", "uri": "m.onnx"}}, "spec.batching"),
        case("torch, no batching", {"model": {"format": "torch", "uri": "m.pt"}}, "spec.batching"),
        case("simulated, batching", {"model": {"format": "simulated"}, "batching": {}}),
        case("sklearn, no batching", {"model": {"format": "sklearn", "uri": "m.joblib"}}),
        # readiness: probed every 50 ms until it first passes, so a slow period delays no scale-up
        case("readiness default 10s", {"probes": {}}),
        case("readiness 30s", {"probes": {"readiness": {"periodSeconds": 30}}}),
    ],
)
def test_rules(changes: dict[str, Any], expected: list[str]) -> None:
    assert paths(changes) == expected


# (changes to SAFE, words the message must hold, words the fix must hold)
MESSAGES: list[tuple[dict[str, Any], str, str]] = [
    ({"resources": {}}, "BestEffort", "set spec.resources.limits"),
    (
        resources(cpu="1"),
        "no memory limit: one replica can take the machine's memory.",
        "set spec.resources.limits.memory, e.g. 1Gi.",
    ),
    (resources({"memory": "512Mi"}), "no memory limit", "e.g. 512Mi (the request)."),
    (
        resources({"memory": "256Mi"}, memory="2Gi"),
        "the memory limit 2Gi is more than 4× the request 256Mi",
        "at least 512Mi",
    ),
    (
        resources(memory="1Gi", gpu=2),
        "asks for 2 GPUs but has no nodeSelector or tolerations",
        "tolerations: [{key: nvidia.com/gpu, operator: Exists}]",
    ),
    (
        {"replicas": 3},
        "3 replicas and no disruption budget: during drains modelplane applies a default of "
        "maxUnavailable 1.",
        "set spec.disruptionBudget, e.g. {maxUnavailable: 1} or {minAvailable: 50%}, to make the budget "
        "explicit.",
    ),
    ({"autoscaling": {"maxReplicas": 5, "metrics": RPS}}, "up to 5 replicas", "make the budget explicit"),
    (
        rolling(1, maxUnavailable=1),
        "with 1 replica, maxSurge 25% and maxUnavailable 1 let a rollout stop 1 at once",
        "{maxSurge: 1, maxUnavailable: 0}",
    ),
    (
        rolling(2, maxUnavailable="100%"),
        "let a rollout stop 2 at once: no replica may be ready to serve.",
        "below 2, e.g. 1 or 25%.",
    ),
    (
        {"model": {"format": "torch", "uri": "m.pt"}},
        "each request is its own torch model call",
        "add spec.batching: {maxBatchSize: 32, maxLatencyMs: 5}.",
    ),
]


@pytest.mark.parametrize(("changes", "message", "fix"), MESSAGES)
def test_messages_say_what_and_how_to_fix(changes: dict[str, Any], message: str, fix: str) -> None:
    [finding] = lint([deployment(SAFE | changes)])
    assert message in finding.message
    assert fix in finding.fix
    assert finding.fix.endswith(".")
    assert len(finding.message) + len(finding.fix) < 300, "keep findings short"


def test_a_finding_names_its_object_and_renders_like_a_spec_error() -> None:
    [finding] = lint([deployment(SAFE | {"replicas": 2}, name="sentiment", namespace="production")])
    assert finding == Finding(
        kind="ModelDeployment",
        namespace="production",
        name="sentiment",
        path="spec.disruptionBudget",
        message=finding.message,
        fix=finding.fix,
    )
    assert finding.severity is Severity.WARNING
    assert str(finding) == (
        f"ModelDeployment/production/sentiment: spec.disruptionBudget: {finding.message} Fix: {finding.fix}"
    )
    [default] = lint([deployment(SAFE | {"replicas": 2})])
    assert default.subject == "ModelDeployment/iris"


def test_findings_follow_object_order_and_other_kinds_have_none() -> None:
    objects: list[SpecObject] = [
        Namespace.model_validate({"kind": "Namespace", "metadata": {"name": "production"}}),
        deployment(SAFE | {"probes": {}}, name="b"),
        NodePool.model_validate({"kind": "NodePool", "metadata": {"name": "gpu"}, "spec": {"capacity": {}}}),
        deployment({"model": {"format": "simulated"}}, name="a"),
    ]
    assert [(finding.name, finding.path) for finding in lint(objects)] == [
        ("a", "spec.resources"),
        ("a", "spec.batching"),
    ]

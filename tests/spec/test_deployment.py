"""ModelDeployment: Kubernetes defaults, and every validation rule a user can hit, with its message."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from modelplane.spec import (
    Cpu,
    CpuMetric,
    IntOrPercent,
    Memory,
    ModelDeployment,
    ModelFormat,
    PolicyType,
    Probe,
    SelectPolicy,
    StrategyType,
    load_text,
)
from tests.spec._docs import deployment, errors_of, only_error, valid

DESIGN_EXAMPLE = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: sentiment, namespace: production, labels: {team: nlp}}
spec:
  model:
    uri: ./models/sentiment
    format: sklearn
    version: v2
  image: ghcr.io/acme/modelplane-server:0.1
  resources:
    requests: {cpu: 500m, memory: 512Mi}
    limits:   {cpu: "1", memory: 1Gi, gpu: 0}
  nodeSelector: {pool: cpu}
  tolerations: []
  replicas: 2
  autoscaling:
    minReplicas: 2
    maxReplicas: 20
    metrics:
      - {type: concurrency, target: 4}
      - {type: cpu, targetUtilization: 70}
    behavior: {}
  batching: {maxBatchSize: 32, maxLatencyMs: 5}
  concurrency: 8
  probes: {startup: {}, readiness: {}, liveness: {}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
    canary:
      steps: [{weight: 10, pause: 30s}, {weight: 50, pause: 60s}]
      analysis: {maxErrorRate: 0.01, maxP99LatencyMs: 250, minRequests: 100}
    progressDeadlineSeconds: 120
    autoRollback: true
  traffic:
    - {version: v1, weight: 90}
    - {version: v2, weight: 10}
  disruptionBudget: {minAvailable: 1}
"""


def test_the_design_example_is_valid_and_typed() -> None:
    result = load_text(DESIGN_EXAMPLE, file="design.yaml")
    assert result.ok, [str(error) for error in result.errors]
    md = result.of_kind(ModelDeployment)[0]
    assert (md.metadata.name, md.metadata.namespace) == ("sentiment", "production")
    spec = md.spec
    assert spec.model.format is ModelFormat.SKLEARN
    assert spec.resources.requests.cpu == Cpu.parse("500m")
    assert spec.resources.limits.memory == Memory.parse("1Gi")
    assert spec.autoscaling is not None and spec.autoscaling.max_replicas == 20
    assert spec.strategy.rolling_update.max_unavailable == IntOrPercent(0)
    assert spec.strategy.canary is not None
    assert [step.pause for step in spec.strategy.canary.steps] == [30.0, 60.0]
    assert spec.traffic[1].version == "v2"
    assert spec.disruption_budget is not None and spec.disruption_budget.min_available == IntOrPercent(1)


def test_what_the_model_server_reads() -> None:
    md = valid(
        deployment(
            {
                "model": {"format": "simulated", "version": "v3", "params": {"latencyMs": 20}},
                "batching": {"maxBatchSize": 16, "maxLatencyMs": 2},
                "concurrency": 4,
                "terminationGracePeriodSeconds": 5,
            },
            name="accel",
        )
    )
    assert isinstance(md, ModelDeployment)
    assert md.spec.model.uri is None
    assert md.spec.model.format == "simulated"
    assert md.spec.model.version == "v3"
    assert md.spec.model.params == {"latencyMs": 20}
    assert md.spec.batching is not None
    assert (md.spec.batching.max_batch_size, md.spec.batching.max_latency_ms) == (16, 2.0)
    assert md.spec.concurrency == 4
    assert md.spec.termination_grace_period_seconds == 5


def test_kubernetes_defaults() -> None:
    md = valid(deployment())
    spec = md.spec
    assert md.metadata.namespace == "default"
    assert spec.replicas == 1
    assert spec.strategy.type is StrategyType.ROLLING_UPDATE
    assert spec.strategy.rolling_update.max_surge == IntOrPercent(25, percent=True)
    assert spec.strategy.rolling_update.max_unavailable == IntOrPercent(25, percent=True)
    assert spec.strategy.progress_deadline_seconds == 600
    assert spec.revision_history_limit == 10
    assert spec.min_ready_seconds == 0
    assert spec.termination_grace_period_seconds == 30
    assert spec.probes.readiness == spec.probes.liveness == Probe()
    probe = Probe()
    assert (
        probe.initial_delay_seconds,
        probe.period_seconds,
        probe.timeout_seconds,
        probe.success_threshold,
        probe.failure_threshold,
    ) == (0, 10, 1, 1, 3)
    assert spec.disruption_budget is None
    assert spec.autoscaling is None


def test_modelplane_defaults_that_have_no_kubernetes_field() -> None:
    spec = valid(deployment()).spec
    assert spec.batching is None
    assert spec.concurrency is None
    assert spec.strategy.auto_rollback is True
    assert spec.strategy.canary is None
    assert spec.traffic == []
    assert spec.probes.startup is None
    assert spec.model.version == "v1"
    assert spec.model.params == {}


def test_batching_defaults_when_given_empty() -> None:
    batching = valid(deployment({"batching": {}})).spec.batching
    assert (batching.max_batch_size, batching.max_latency_ms) == (32, 5.0)


def test_autoscaling_defaults_as_the_hpa() -> None:
    spec = valid(
        deployment({"autoscaling": {"maxReplicas": 5}, "resources": {"requests": {"cpu": "1"}}})
    ).spec
    assert spec.autoscaling.min_replicas == 1
    assert spec.autoscaling.metrics == [CpuMetric(type="cpu", target_utilization=80)]
    assert spec.autoscaling.behavior is None
    explicit_empty = deployment(
        {"autoscaling": {"maxReplicas": 5, "metrics": []}, "resources": {"limits": {"cpu": "1"}}}
    )
    assert valid(explicit_empty).spec.autoscaling.metrics == [CpuMetric(type="cpu", target_utilization=80)]


def test_hpa_behavior_defaults_each_part_on_its_own() -> None:
    autoscaling = {"maxReplicas": 5, "metrics": [{"type": "concurrency", "target": 4}]}
    behavior = valid(deployment({"autoscaling": {**autoscaling, "behavior": {}}})).spec.autoscaling.behavior
    assert behavior.scale_up.stabilization_window_seconds == 0
    assert [(p.type, p.value, p.period_seconds) for p in behavior.scale_up.policies] == [
        (PolicyType.PODS, 4, 15),
        (PolicyType.PERCENT, 100, 15),
    ]
    assert behavior.scale_down.stabilization_window_seconds == 300
    assert [(p.type, p.value, p.period_seconds) for p in behavior.scale_down.policies] == [
        (PolicyType.PERCENT, 100, 15)
    ]
    partial = {**autoscaling, "behavior": {"scaleDown": {"selectPolicy": "Min"}}}
    scale_down = valid(deployment({"autoscaling": partial})).spec.autoscaling.behavior.scale_down
    assert (scale_down.select_policy, scale_down.stabilization_window_seconds) == (SelectPolicy.MIN, 300)


def test_objects_are_frozen() -> None:
    md = valid(deployment())
    with pytest.raises(ValidationError):
        md.spec.replicas = 3


def test_snake_case_keys_are_accepted_too() -> None:
    md = valid(deployment({"termination_grace_period_seconds": 7}))
    assert md.spec.termination_grace_period_seconds == 7


@pytest.mark.parametrize("name", ["Sentiment", "a_b", "-a", "a-", "a.b", "a" * 64, ""])
def test_names_must_be_dns_labels(name: str) -> None:
    error = only_error(deployment(name=name))
    assert error.path == "metadata.name"
    assert "lowercase letters, digits and '-'" in error.message


@pytest.mark.parametrize("name", ["a", "a-1", "0abc", "a" * 63])
def test_valid_names(name: str) -> None:
    assert valid(deployment(name=name)).metadata.name == name


def test_namespaces_must_be_dns_labels_and_the_message_suggests_one() -> None:
    error = only_error(deployment(namespace="Prod_EU"))
    assert error.path == "metadata.namespace"
    assert "e.g. 'prod-eu'" in error.message


def test_labels_are_checked() -> None:
    error = only_error(deployment(labels={"team": "bad value!"}))
    assert error.path == "metadata.labels"
    assert "team='bad value!'" in error.message


def test_gpu_counts_are_whole() -> None:
    error = only_error(deployment({"resources": {"limits": {"gpu": 0.5}}}))
    assert error.path == "spec.resources.limits.gpu"
    assert error.message == "GPUs are whole devices; got 0.5. Use a whole number such as 1."


@pytest.mark.parametrize("resource", ["cpu", "memory"])
def test_limits_must_not_be_below_requests(resource: str) -> None:
    values = {"cpu": ("2", "1"), "memory": ("2Gi", "1Gi")}[resource]
    error = only_error(
        deployment({"resources": {"requests": {resource: values[0]}, "limits": {resource: values[1]}}})
    )
    assert error.path == f"spec.resources.requests.{resource}"
    assert f"more than the limit ({values[1]})" in error.message
    assert f"limits.{resource} to at least {values[0]}" in error.message


def test_requests_equal_to_limits_are_fine() -> None:
    resources = {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": 1, "memory": "1024Mi"}}
    assert valid(deployment({"resources": resources}))


def test_gpu_requests_must_equal_limits() -> None:
    error = only_error(deployment({"resources": {"requests": {"gpu": 1}, "limits": {"gpu": 2}}}))
    assert error.path == "spec.resources.requests.gpu"
    assert "GPUs cannot be overcommitted" in error.message


def test_requests_default_to_limits_per_resource() -> None:
    resources = {"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi", "gpu": 1}}
    spec = valid(deployment({"resources": resources})).spec
    assert spec.resources.requests.cpu == Cpu.parse("500m")
    assert spec.resources.requests.memory == Memory.parse("1Gi")
    assert spec.resources.requests.gpu == 1
    assert spec.resources.limits.cpu == Cpu.parse("1")


def test_a_gpu_request_alone_sets_the_gpu_limit() -> None:
    spec = valid(deployment({"resources": {"requests": {"gpu": 1}}})).spec
    assert spec.resources.limits.gpu == 1


def test_unknown_resources_are_refused_with_the_known_ones() -> None:
    error = only_error(deployment({"resources": {"limits": {"nvidia.com/gpu": 1}}}))
    assert error.path == "spec.resources.limits.nvidia.com/gpu"
    assert "Known fields here: cpu, memory, gpu" in error.message


@pytest.mark.parametrize(
    ("autoscaling", "path", "text"),
    [
        ({"minReplicas": 5, "maxReplicas": 2}, "spec.autoscaling.maxReplicas", "less than minReplicas (5)"),
        ({"minReplicas": -1, "maxReplicas": 2}, "spec.autoscaling.minReplicas", "must be ≥ 0"),
        ({"maxReplicas": 0}, "spec.autoscaling.maxReplicas", "must be ≥ 1"),
        ({"minReplicas": 1}, "spec.autoscaling.maxReplicas", "required field is missing"),
    ],
)
def test_replica_bounds(autoscaling: dict[str, Any], path: str, text: str) -> None:
    autoscaling = {**autoscaling, "metrics": [{"type": "concurrency", "target": 4}]}
    error = only_error(deployment({"autoscaling": autoscaling}))
    assert (error.path, text in error.message) == (path, True), error


def test_scale_to_zero_is_allowed() -> None:
    autoscaling = {"minReplicas": 0, "maxReplicas": 3, "metrics": [{"type": "rps", "target": 10}]}
    assert valid(deployment({"autoscaling": autoscaling})).spec.autoscaling.min_replicas == 0


def test_cpu_metric_needs_a_cpu_request() -> None:
    error = only_error(deployment({"autoscaling": {"maxReplicas": 3}}))
    assert error.path == "spec.autoscaling"
    assert "set resources.requests.cpu" in error.message
    listed = {"maxReplicas": 3, "metrics": [{"type": "concurrency", "target": 2}, {"type": "memory"}]}
    error = only_error(deployment({"autoscaling": listed}))
    assert error.path == "spec.autoscaling.metrics[1]"
    assert "set resources.requests.memory" in error.message


def test_unknown_metric_types_list_the_known_ones() -> None:
    error = only_error(deployment({"autoscaling": {"maxReplicas": 3, "metrics": [{"type": "gpu"}]}}))
    assert error.path == "spec.autoscaling.metrics[0].type"
    assert "use one of: concurrency, rps, cpu, memory" in error.message


@pytest.mark.parametrize(
    ("traffic", "path", "text"),
    [
        (
            [{"version": "v1", "weight": 90}, {"version": "v2", "weight": 20}],
            "spec.traffic",
            "must sum to 100",
        ),
        (
            [{"version": "v1", "weight": -10}, {"version": "v2", "weight": 110}],
            "spec.traffic[0].weight",
            "≥ 0",
        ),
        (
            [{"version": "v1", "weight": 50}, {"version": "v1", "weight": 50}],
            "spec.traffic[1].version",
            "twice",
        ),
        (
            [{"version": "v0", "weight": 50}, {"version": "v9", "weight": 50}],
            "spec.traffic",
            "not model.version 'v1'",
        ),
        ([{"version": "v 1", "weight": 100}], "spec.traffic[0].version", "not a valid version"),
    ],
)
def test_traffic_rules(traffic: list[dict[str, Any]], path: str, text: str) -> None:
    errors = [error for error in errors_of(deployment({"traffic": traffic})) if error.path == path]
    assert errors and text in errors[0].message, errors


def test_traffic_split_between_live_versions() -> None:
    traffic = [{"version": "v1", "weight": 90}, {"version": "v2", "weight": 10}]
    spec = valid(
        deployment({"model": {"format": "onnx", "uri": "m.onnx", "version": "v2"}, "traffic": traffic})
    ).spec
    assert [(t.version, t.weight) for t in spec.traffic] == [("v1", 90), ("v2", 10)]


def test_canary_steps_must_increase() -> None:
    canary = {"steps": [{"weight": 50, "pause": "30s"}, {"weight": 10}, {"weight": 10}]}
    errors = errors_of(deployment({"strategy": {"type": "Canary", "canary": canary}}))
    assert [error.path for error in errors] == [
        "spec.strategy.canary.steps[1].weight",
        "spec.strategy.canary.steps[2].weight",
    ]
    assert "must increase" in errors[0].message


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ({"weight": 101}, "spec.strategy.canary.steps[0].weight"),
        ({"weight": 5, "pause": "soon"}, "spec.strategy.canary.steps[0].pause"),
    ],
)
def test_canary_step_values(step: dict[str, Any], path: str) -> None:
    error = only_error(deployment({"strategy": {"type": "Canary", "canary": {"steps": [step]}}}))
    assert error.path == path


def test_canary_pauses_are_durations() -> None:
    steps = [
        {"weight": 10, "pause": "1h30m"},
        {"weight": 20, "pause": 45},
        {"weight": 50, "pause": "500ms"},
        {"weight": 100},
    ]
    canary = valid(
        deployment({"strategy": {"type": "Canary", "canary": {"steps": steps}}})
    ).spec.strategy.canary
    assert [step.pause for step in canary.steps] == [5400.0, 45.0, 0.5, 0.0]
    assert (canary.analysis.max_error_rate, canary.analysis.min_requests) == (0.01, 100)


def test_canary_type_needs_steps() -> None:
    error = only_error(deployment({"strategy": {"type": "Canary"}}))
    assert error.path == "spec.strategy.canary"
    assert "needs canary steps" in error.message


def test_max_surge_and_max_unavailable_cannot_both_be_zero() -> None:
    error = only_error(deployment({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}}))
    assert error.path == "spec.strategy.rollingUpdate.maxUnavailable"
    assert "both 0" in error.message
    gpu_friendly = {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert valid(
        deployment({"strategy": gpu_friendly})
    ).spec.strategy.rolling_update.max_surge == IntOrPercent(0)


def test_max_unavailable_is_at_most_100_percent() -> None:
    error = only_error(deployment({"strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}}))
    assert "at most 100%" in error.message


def test_recreate_takes_no_rolling_update() -> None:
    error = only_error(deployment({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}))
    assert error.path == "spec.strategy.rollingUpdate"


def test_a_recreate_spec_reads_back_what_it_stores() -> None:
    """The API stores the dumped spec and the controllers validate it again: no default rollingUpdate."""
    spec = valid(deployment({"strategy": {"type": "Recreate"}})).spec
    stored = spec.model_dump(mode="json", by_alias=True)
    assert "rollingUpdate" not in stored["strategy"]
    assert type(spec).model_validate(stored) == spec


def test_progress_deadline_must_exceed_min_ready_seconds() -> None:
    error = only_error(deployment({"minReadySeconds": 700}))
    assert error.path == "spec.strategy.progressDeadlineSeconds"


@pytest.mark.parametrize("probe", ["startup", "liveness"])
def test_success_threshold_is_one_for_liveness_and_startup(probe: str) -> None:
    error = only_error(deployment({"probes": {probe: {"successThreshold": 2}}}))
    assert error.path == f"spec.probes.{probe}.successThreshold"
    assert "must be 1" in error.message


def test_readiness_may_ask_for_several_successes() -> None:
    assert (
        valid(
            deployment({"probes": {"readiness": {"successThreshold": 2}}})
        ).spec.probes.readiness.success_threshold
        == 2
    )


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        ("periodSeconds", 0, "≥ 1"),
        ("timeoutSeconds", 0, "≥ 1"),
        ("failureThreshold", 0, "≥ 1"),
        ("initialDelaySeconds", -1, "≥ 0"),
        ("successThreshold", 0, "≥ 1"),
    ],
)
def test_probe_minimums(field: str, value: int, bound: str) -> None:
    error = only_error(deployment({"probes": {"readiness": {field: value}}}))
    assert error.path == f"spec.probes.readiness.{field}"
    assert bound in error.message


def test_a_probe_can_be_turned_off() -> None:
    assert valid(deployment({"probes": {"liveness": None}})).spec.probes.liveness is None


@pytest.mark.parametrize("model_format", ["sklearn", "onnx", "torch", "python"])
def test_uri_is_required_for_formats_with_files(model_format: str) -> None:
    error = only_error(deployment({"model": {"format": model_format}}))
    assert error.path == "spec.model.uri"
    assert "needs a uri" in error.message


@pytest.mark.parametrize("model_format", ["simulated", "sentence-transformers"])
def test_uri_is_optional_for_simulated_and_packaged_models(model_format: str) -> None:
    assert valid(deployment({"model": {"format": model_format}})).spec.model.uri is None


def test_unknown_format_suggests_the_nearest() -> None:
    error = only_error(deployment({"model": {"format": "sklern", "uri": "x"}}))
    assert error.path == "spec.model.format"
    assert "Did you mean 'sklearn'?" in error.message


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"batching": {"maxBatchSize": 0}}, "spec.batching.maxBatchSize"),
        ({"batching": {"maxLatencyMs": -1}}, "spec.batching.maxLatencyMs"),
        ({"concurrency": 0}, "spec.concurrency"),
        ({"replicas": -1}, "spec.replicas"),
        ({"terminationGracePeriodSeconds": -1}, "spec.terminationGracePeriodSeconds"),
        ({"revisionHistoryLimit": -1}, "spec.revisionHistoryLimit"),
    ],
)
def test_numeric_minimums(spec: dict[str, Any], path: str) -> None:
    assert only_error(deployment(spec)).path == path


def test_zero_batching_latency_is_allowed() -> None:
    assert valid(deployment({"batching": {"maxLatencyMs": 0}})).spec.batching.max_latency_ms == 0


@pytest.mark.parametrize(
    ("budget", "text"),
    [
        ({}, "exactly one"),
        ({"minAvailable": 1, "maxUnavailable": 1}, "exactly one"),
        ({"minAvailable": "150%"}, "at most 100%"),
    ],
)
def test_disruption_budget_rules(budget: dict[str, Any], text: str) -> None:
    error = only_error(deployment({"disruptionBudget": budget}))
    assert error.path is not None and error.path.startswith("spec.disruptionBudget")
    assert text in error.message


def test_disruption_budget_percentages() -> None:
    budget = valid(deployment({"disruptionBudget": {"maxUnavailable": "25%"}})).spec.disruption_budget
    assert budget.max_unavailable.scaled(10, round_up=True) == 3


@pytest.mark.parametrize(
    ("toleration", "path"),
    [
        ({"key": "gpu", "operator": "Exists", "value": "x"}, "spec.tolerations[0].value"),
        ({"operator": "Equal", "value": "x"}, "spec.tolerations[0].operator"),
        (
            {"key": "gpu", "effect": "NoSchedule", "tolerationSeconds": 5},
            "spec.tolerations[0].tolerationSeconds",
        ),
        ({"key": "gpu", "effect": "Sometimes"}, "spec.tolerations[0].effect"),
    ],
)
def test_toleration_rules(toleration: dict[str, Any], path: str) -> None:
    assert only_error(deployment({"tolerations": [toleration]})).path == path

"""The text of `describe`, from API-shaped dicts (see test_printing.py for where they come from)."""

from __future__ import annotations

import copy
import re

from modelplane.cli.describing import describe_deployment, describe_object, describe_replica
from modelplane.cli.kinds import resolve
from tests.cli.test_printing import DEPLOYMENT, EVENTS, NODEPOOL, NOW, REPLICA


def test_describe_deployment_summarises_spec_status_replicas_and_events() -> None:
    text = describe_deployment(DEPLOYMENT, [REPLICA], EVENTS, now=NOW)
    lines = text.splitlines()
    assert lines[0] == "Name:        iris"
    for expected in [
        "Namespace:   default",
        "Labels:      team=nlp",
        "Generation:  3",
        "  Format:   sklearn",
        "  Version:  v2",
        "  URI:      ./iris.joblib",
        "  Requests:  cpu=500m, memory=512Mi",
        "  Limits:    cpu=1",
        "Replicas:       2 desired | 2 updated | 1 ready | 1 available",
        "Autoscaling:    off",
        "Batching:       up to 8 rows, waiting at most 5 ms",
        "Concurrency:    4 per replica",
        "Node selector:  pool=cpu",
        "Traffic:        v1 90%, v2 10%",
        "  Readiness:  delay=0s period=10s timeout=1s success=1 failure=3",
        "  Liveness:   <none>",
        "  Type:               Canary",
        "  Steps:              10% for 30s, then 50% for 60s",
        "  Progress deadline:  120s",
        "  Auto rollback:      true",
        "  observedGeneration:  3",
    ]:
        assert expected in lines, f"{expected!r} not in:\n{text}"
    assert "Available     False    MinimumReplicasUnavailable   60s" in text
    assert "1 of 2 replicas ready" in text
    replicas = text[text.index("\nReplicas:\n") :]
    row = next(line for line in replicas.splitlines() if "iris-7d9f-abcde" in line)
    assert re.split(" {3,}", row.strip()) == [
        "iris-7d9f-abcde", "v2", "7d9f0a1b2c", "Running", "true", "3 (2m ago)", "Error (code 1), 2m ago",
        "3h5m",
    ]  # fmt: skip
    assert "Events:" in text and "Back-off restarting failed replica: exit code 1" in text
    assert text.index("SuccessfulCreate") < text.index("BackOff")  # oldest first


def test_describe_deployment_with_autoscaling_nothing_running_and_no_events() -> None:
    deployment = copy.deepcopy(DEPLOYMENT)
    deployment["spec"]["autoscaling"] = {
        "minReplicas": 2,
        "maxReplicas": 20,
        "metrics": [{"type": "concurrency", "target": 4.0}, {"type": "cpu", "targetUtilization": 70}],
    }
    deployment["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
    }
    deployment["status"] = {}
    text = describe_deployment(deployment, [], [], now=NOW)
    assert "Autoscaling:    2 to 20 replicas on concurrency 4 per replica, cpu 70% of request" in text
    assert "  Rolling:            max surge 25%, max unavailable 0" in text
    assert "Status:\n  <none>" in text
    assert "Conditions:  <none>" in text
    assert "Replicas:  <none>" in text
    assert text.endswith("Events:  <none>")


def test_describe_deployment_shows_the_effective_disruption_budget() -> None:
    deployment = copy.deepcopy(DEPLOYMENT)  # 2 replicas, no spec.disruptionBudget
    deployment["status"]["disruptionBudget"] = {
        "maxUnavailable": 1, "source": "default",
        "expectedPods": 2, "desiredHealthy": 1, "currentHealthy": 1, "disruptionsAllowed": 0,
    }  # fmt: skip
    lines = describe_deployment(deployment, [], [], now=NOW).splitlines()
    assert "Disruption budget:    maxUnavailable 1 (default for more than one replica)" in lines
    assert "Allowed disruptions:  0 (1 healthy, 1 desired healthy, 2 expected)" in lines
    assert not any(line.strip().startswith("disruptionBudget") for line in lines)  # not in Status
    # before the controller's first pass: the rule from the spec, the count unknown
    deployment["status"] = {}
    deployment["spec"]["disruptionBudget"] = {"minAvailable": "50%", "maxUnavailable": None}
    lines = describe_deployment(deployment, [], [], now=NOW).splitlines()
    assert "Disruption budget:    minAvailable 50% (spec)" in lines
    assert "Allowed disruptions:  -" in lines
    del deployment["spec"]["disruptionBudget"]
    deployment["spec"]["replicas"] = 1
    lines = describe_deployment(deployment, [], [], now=NOW).splitlines()
    assert "Disruption budget:    none (default for a single replica: a drain evicts it at once)" in lines
    assert "Allowed disruptions:  any (no budget)" in lines


def test_describe_replica_shows_waiting_last_exit_and_limits() -> None:
    replica = copy.deepcopy(REPLICA)
    replica["status"].update(
        phase="Starting",
        ready=False,
        waiting={"reason": "CrashLoopBackOff", "until": NOW + 25, "message": "back-off 40s"},
    )
    text = describe_replica(replica, EVENTS[:1], now=NOW)
    lines = text.splitlines()
    for expected in [
        "Name:          iris-7d9f-abcde",
        "Deployment:    iris",
        "Version:       v2",
        "Revision:      7d9f0a1b2c3d4e5f",
        "Pool:          local",
        "GPUs:          <none>",
        "Port:          41234",
        "Grace period:  30s",
        "  Requests:  cpu=500m, memory=512Mi",
        "  Limits:    cpu=1, memory=1Gi",
        "Limits:  not enforced (no writable cgroup)",
        "  Readiness:  delay=0s period=5s timeout=1s success=1 failure=3",
        "  Phase:       Starting",
        "  Ready:       false",
        "  Restarts:    3",
        "  PID:         4242",
        "  Last exit:   Error (code 1), 2m ago",
    ]:
        assert expected in lines, f"{expected!r} not in:\n{text}"
    assert "  Waiting:     CrashLoopBackOff until 2027-01-15T08:00:25Z (in 25s): back-off 40s" in lines
    assert "  Started at:  2027-01-15T07:59:00Z (60s ago)" in lines
    assert "BackOff" in text


def test_describe_replica_with_enforced_limits_and_ready() -> None:
    replica = copy.deepcopy(REPLICA)
    replica["status"]["limitsEnforced"] = True
    text = describe_replica(replica, [], now=NOW)
    assert "Limits:  enforced (cgroup)" in text
    assert "  Ready:       true (since 2027-01-15T07:59:05Z (55s ago))" in text
    assert "  Waiting:     <none>" in text


def test_describe_other_kinds_shows_spec_and_status_as_yaml() -> None:
    text = describe_object(resolve("np"), NODEPOOL, [], now=NOW + 10 * 86400)
    assert text.splitlines()[0] == "Name:     gpu"
    assert "Namespace" not in text
    assert "Spec:\n  capacity:\n    cpu: '8'\n    memory: 32Gi\n    gpu: 1\n" in text
    assert "Status:  <none>" in text


def test_describe_deployment_shows_the_autoscalers_count_last_change_and_conditions() -> None:
    deployment = copy.deepcopy(DEPLOYMENT)
    deployment["spec"]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 16}
    deployment["status"]["autoscaling"] = {
        "desiredReplicas": 16,
        "lastScaleTime": NOW - 30,
        "lastRescale": "scaled iris 2→16: concurrency 31.5 in flight/replica vs target 4 (panic)",
        "conditions": [
            {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas",
             "message": "the desired replica count is more than the maximum replica count",
             "lastTransitionTime": NOW - 30},
        ],
    }  # fmt: skip
    text = describe_deployment(deployment, [], [], now=NOW)
    assert "Autoscaler:\n  Desired replicas:  16\n  Last rescale:" in text
    assert "(30s ago): scaled iris 2→16: concurrency 31.5 in flight/replica vs target 4 (panic)" in text
    assert "    ScalingLimited   True     TooManyReplicas   30s" in text

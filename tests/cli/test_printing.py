"""Tables, ages and -o json|yaml|name as `get`, `events` and `top` print them, from API-shaped dicts.

The dicts are built by hand from docs/control-plane.md: store records (`name`, `namespace`, `created`
at the top level) for replicas, YAML-shaped objects (`metadata`) for user kinds — the CLI reads both.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import yaml

from modelplane.cli.fields import timestamp
from modelplane.cli.kinds import resolve
from modelplane.cli.printing import (
    as_list,
    events_table,
    format_document,
    format_names,
    format_table,
    get_table,
    top_table,
)

NOW = 1_800_000_000.0

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "modelplane.dev/v1alpha1",
    "kind": "ModelDeployment",
    "metadata": {
        "name": "iris",
        "namespace": "default",
        "uid": "0b6c1d2e",
        "generation": 3,
        "resourceVersion": 42,
        "labels": {"team": "nlp"},
        "creationTimestamp": "2027-01-15T07:54:48Z",  # NOW - 312 s
        "deletionTimestamp": None,
    },
    "spec": {
        "model": {"uri": "./iris.joblib", "format": "sklearn", "version": "v2", "params": {}},
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi", "gpu": None}, "limits": {"cpu": "1"}},
        "nodeSelector": {"pool": "cpu"},
        "replicas": 2,
        "autoscaling": None,
        "batching": {"maxBatchSize": 8, "maxLatencyMs": 5.0},
        "concurrency": 4,
        "probes": {
            "startup": None,
            "readiness": {
                "initialDelaySeconds": 0,
                "periodSeconds": 10,
                "timeoutSeconds": 1,
                "successThreshold": 1,
                "failureThreshold": 3,
            },
            "liveness": None,
        },
        "strategy": {
            "type": "Canary",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            "canary": {
                "steps": [{"weight": 10, "pause": 30.0}, {"weight": 50, "pause": 60.0}],
                "analysis": {"maxErrorRate": 0.01, "maxP99LatencyMs": None, "minRequests": 100},
            },
            "progressDeadlineSeconds": 120,
            "autoRollback": True,
        },
        "traffic": [{"version": "v1", "weight": 90}, {"version": "v2", "weight": 10}],
    },
    "status": {
        "observedGeneration": 3,
        "replicas": 2,
        "readyReplicas": 1,
        "updatedReplicas": 2,
        "availableReplicas": 1,
        "conditions": [
            {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "1 of 2 replicas ready",
                "lastTransitionTime": NOW - 60,
            },
            {"type": "Progressing", "status": "True", "reason": "NewRevisionRolling", "message": ""},
        ],
    },
}

REPLICA: dict[str, Any] = {
    "apiVersion": "modelplane.dev/v1alpha1",
    "kind": "Replica",
    "metadata": {
        "name": "iris-7d9f-abcde",
        "namespace": "default",
        "uid": "5e6f",
        "generation": 1,
        "resourceVersion": 40,
        "labels": {"modelplane.dev/deployment": "iris"},
        "creationTimestamp": "2027-01-15T04:55:00Z",  # NOW - 3h5m
        "deletionTimestamp": None,
    },
    "spec": {
        "deployment": "iris",
        "revision": "7d9f0a1b2c3d4e5f",
        "version": "v2",
        "port": 41234,
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "probes": {"startup": None, "readiness": {"periodSeconds": 5}, "liveness": None},
        "graceSeconds": 30,
        "pool": "local",
        "gpus": [],
    },
    "status": {
        "phase": "Running",
        "ready": True,
        "started": True,
        "restarts": 3,
        "pid": 4242,
        "pidStartTime": 123456,
        "startedAt": NOW - 60,
        "readySince": NOW - 55,
        "lastExit": {"code": 1, "reason": "Error", "at": NOW - 120},
        "waiting": None,
        "message": "",
        "limitsEnforced": False,
    },
}
USAGE = {"namespace": "default", "name": "iris-7d9f-abcde", "cpuMillis": 250.4, "memoryBytes": 312 * 2**20}

NODEPOOL: dict[str, Any] = {
    "apiVersion": "modelplane.dev/v1alpha1",
    "kind": "NodePool",
    "metadata": {"name": "gpu", "labels": {}, "creationTimestamp": "2027-01-15T08:00:00Z"},
    "spec": {
        "capacity": {"cpu": "8", "memory": "32Gi", "gpu": 1},
        "labels": {"accelerator": "nvidia"},
        "taints": [{"key": "nvidia.com/gpu", "value": "", "effect": "NoSchedule"}],
    },
}

EVENTS: list[dict[str, Any]] = [
    {
        "involvedObject": {"kind": "Replica", "namespace": "default", "name": "iris-7d9f-abcde"},
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed replica:\n exit code 1",
        "count": 3,
        "firstTimestamp": "2027-01-15T07:58:00Z",
        "lastTimestamp": "2027-01-15T07:59:30Z",  # NOW - 30 s
    },
    {
        "involvedObject": {"kind": "ModelDeployment", "namespace": "default", "name": "iris"},
        "type": "Normal",
        "reason": "SuccessfulCreate",
        "message": "Created replica: iris-7d9f-abcde",
        "count": 1,
        "firstTimestamp": "2027-01-15T07:55:00Z",
        "lastTimestamp": "2027-01-15T07:55:00Z",  # NOW - 5 min
    },
]


def test_columns_are_aligned_three_spaces_apart_without_trailing_space() -> None:
    assert format_table(["NAME", "AGE"], [["a-long-name", "5s"], ["b", "12m"]]) == (
        "NAME          AGE\na-long-name   5s\nb             12m"
    )


def test_get_modeldeployments() -> None:
    other = copy.deepcopy(DEPLOYMENT)
    other["metadata"]["name"] = "sentiment"
    other["status"] = {}
    other["spec"]["model"]["version"] = "v1"
    table = get_table(resolve("md"), [DEPLOYMENT, other], now=NOW)
    assert table.splitlines() == [
        "NAME        READY   UP-TO-DATE   AVAILABLE   VERSION   AGE",
        "iris        1/2     2            1           v2        5m12s",
        "sentiment   0/2     0            0           v1        5m12s",
    ]


def test_get_modeldeployments_wide_and_all_namespaces() -> None:
    table = get_table(resolve("md"), [DEPLOYMENT], now=NOW, wide=True, all_namespaces=True)
    header, row = table.splitlines()
    assert header.split() == [
        "NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "VERSION", "AGE", "FORMAT", "POOL", "URI",
    ]  # fmt: skip
    assert row.split() == [
        "default",
        "iris",
        "1/2",
        "2",
        "1",
        "v2",
        "5m12s",
        "sklearn",
        "pool=cpu",
        "./iris.joblib",
    ]


def test_desired_replicas_come_from_status_when_autoscaled() -> None:
    scaled = copy.deepcopy(DEPLOYMENT)
    scaled["status"]["desiredReplicas"] = 6
    assert "1/6" in get_table(resolve("md"), [scaled], now=NOW)


def test_get_replicas() -> None:
    table = get_table(resolve("replicas"), [REPLICA], now=NOW)
    header, row = table.splitlines()
    assert header.split() == [
        "NAME", "DEPLOYMENT", "REVISION", "POOL", "PHASE", "READY", "RESTARTS", "PID", "PORT", "AGE",
    ]  # fmt: skip
    assert re.split(" {3,}", row) == [
        "iris-7d9f-abcde", "iris", "7d9f0a1b2c", "local", "Running", "1/1", "3 (2m ago)", "4242", "41234",
        "3h5m",
    ]  # fmt: skip


def test_get_replicas_wide_shows_gpus_and_last_exit() -> None:
    table = get_table(resolve("replicas"), [REPLICA], now=NOW, wide=True)
    header, row = table.splitlines()
    assert header.endswith("GPUS     LAST EXIT")
    assert row.endswith("<none>   Error (code 1), 2m ago")


def test_a_replica_being_deleted_shows_terminating_and_a_new_one_pending() -> None:
    deleting = copy.deepcopy(REPLICA)
    deleting["metadata"]["deletionTimestamp"] = "2027-01-15T07:59:59Z"
    fresh: dict[str, Any] = {
        "kind": "Replica",
        "name": "iris-new",
        "spec": {"deployment": "iris"},
        "status": {},
    }
    rows = get_table(resolve("replicas"), [deleting, fresh], now=NOW).splitlines()[1:]
    assert rows[0].split()[4] == "Terminating"
    assert rows[1].split() == [
        "iris-new",
        "iris",
        "-",
        "<none>",
        "Pending",
        "0/1",
        "0",
        "-",
        "-",
        "<unknown>",
    ]


def test_get_nodepools_has_no_namespace_column_even_with_all_namespaces() -> None:
    now = timestamp("2027-01-19T08:00:00Z")
    assert now is not None
    table = get_table(resolve("np"), [NODEPOOL], now=now, all_namespaces=True)
    assert table.splitlines() == [
        "NAME   CPU   MEMORY   GPU   LABELS               TAINTS                      AGE",
        "gpu    8     32Gi     1     accelerator=nvidia   nvidia.com/gpu:NoSchedule   4d",
    ]


def test_get_namespaces_and_jobs() -> None:
    namespace = {"kind": "Namespace", "metadata": {"name": "production"}, "created": NOW - 7,
                 "spec": {"quota": {"cpu": "8", "memory": "16Gi", "gpu": 2}}}  # fmt: skip
    header, row = get_table(resolve("ns"), [namespace], now=NOW).splitlines()
    assert header.split() == ["NAME", "STATUS", "QUOTA", "AGE"]
    assert row.split() == ["production", "Active", "cpu=8,memory=16Gi,gpu=2", "7s"]
    job = {"kind": "Job", "metadata": {"name": "train", "namespace": "staging"}, "created": NOW - 90,
           "spec": {"command": ["python", "train.py"], "completions": 2},
           "status": {"active": 1, "succeeded": 1, "startTime": NOW - 80}}  # fmt: skip
    header, row = get_table(resolve("jobs"), [job], now=NOW, wide=True).splitlines()
    assert header.split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "COMMAND"]
    assert row.split() == ["train", "Running", "1/2", "80s", "90s", "python", "train.py"]
    done = {**job, "status": {"succeeded": 2, "startTime": NOW - 80, "completionTime": NOW - 20,
            "conditions": [{"type": "Complete", "status": "True"}]}}  # fmt: skip
    assert get_table(resolve("jobs"), [done], now=NOW).splitlines()[1].split()[1:4] == [
        "Complete",
        "2/2",
        "60s",
    ]


def test_get_namespaces_shows_a_deleted_one_as_terminating_at_once() -> None:
    deleted = {"name": "old", "deletionTimestamp": "2027-01-15T07:59:59Z"}
    namespace = {"kind": "Namespace", "metadata": deleted, "created": NOW - 7, "status": {"phase": "Active"}}
    assert get_table(resolve("ns"), [namespace], now=NOW).splitlines()[1].split() == [
        "old", "Terminating", "<none>", "7s",
    ]  # fmt: skip


def test_nothing_to_list() -> None:
    assert get_table(resolve("md"), [], now=NOW) == "No resources found."
    assert events_table([], now=NOW) == "No events found."


def test_events_oldest_first_with_counts() -> None:
    lines = events_table(EVENTS, now=NOW).splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", "COUNT"]
    assert re.split(" {3,}", lines[1]) == [
        "5m", "Normal", "SuccessfulCreate", "modeldeployment/iris", "Created replica: iris-7d9f-abcde", "1",
    ]  # fmt: skip
    assert re.split(" {3,}", lines[2]) == [
        "30s", "Warning", "BackOff", "replica/iris-7d9f-abcde",
        "Back-off restarting failed replica: exit code 1", "3",
    ]  # fmt: skip
    everywhere = events_table(EVENTS, now=NOW, all_namespaces=True).splitlines()
    assert everywhere[0].startswith("NAMESPACE   LAST SEEN")
    assert everywhere[1].startswith("default     5m ")


def test_events_of_cluster_wide_objects_and_older_shapes() -> None:
    pool = {"involvedObject": {"kind": "NodePool", "name": "gpu"}, "reason": "Detected", "lastSeen": NOW - 2}
    flat = {"kind": "ModelDeployment", "name": "x", "namespace": "staging", "message": "m", "time": NOW - 1}
    lines = events_table([pool, flat], now=NOW, all_namespaces=True).splitlines()
    assert re.split(" {3,}", lines[1]) == ["-", "2s", "Normal", "Detected", "nodepool/gpu", "-", "1"]
    assert re.split(" {3,}", lines[2]) == ["staging", "1s", "Normal", "-", "modeldeployment/x", "m", "1"]


def test_get_events_prints_the_events_table() -> None:
    assert get_table(resolve("ev"), EVENTS, now=NOW) == events_table(EVENTS, now=NOW)


def test_top_shows_usage_and_router_traffic_and_dashes_for_the_rest() -> None:
    idle = copy.deepcopy(REPLICA)
    idle["metadata"]["name"] = "iris-other"
    table = top_table(
        [REPLICA, idle],
        usage={("default", "iris-7d9f-abcde"): USAGE},
        traffic={("default", "iris-7d9f-abcde"): (3.0, 41.26)},
    )
    assert table.splitlines() == [
        "NAME              DEPLOYMENT   CPU    MEMORY   INFLIGHT   REQ/S",
        "iris-7d9f-abcde   iris         250m   312Mi    3          41.3",
        "iris-other        iris         -      -        -          -",
    ]


def test_json_and_yaml_print_objects_as_the_api_returns_them() -> None:
    single = json.loads(format_document(DEPLOYMENT, "json"))
    assert single == DEPLOYMENT
    listed = json.loads(format_document(as_list([DEPLOYMENT, REPLICA]), "json"))
    assert listed == {"apiVersion": "v1", "kind": "List", "items": [DEPLOYMENT, REPLICA]}
    as_yaml = format_document(as_list([REPLICA]), "yaml")
    assert yaml.safe_load(as_yaml) == {"apiVersion": "v1", "kind": "List", "items": [REPLICA]}
    assert as_yaml.startswith("apiVersion: v1\nkind: List\nitems:\n")


def test_names() -> None:
    assert format_names(resolve("md"), [DEPLOYMENT]) == "modeldeployment.modelplane.dev/iris"
    assert format_names(resolve("rep"), [REPLICA]) == "replica.modelplane.dev/iris-7d9f-abcde"


def test_get_autoscalers_prints_like_kubectl_get_hpa() -> None:

    item = {
        "kind": "Autoscaler",
        "metadata": {"name": "sentiment", "namespace": "default", "creationTimestamp": 0.0},
        "spec": {
            "scaleTargetRef": {"kind": "ModelDeployment", "name": "sentiment"},
            "minReplicas": 2,
            "maxReplicas": 20,
        },
        "status": {
            "currentReplicas": 8,
            "desiredReplicas": 16,
            "currentMetrics": [
                {"type": "concurrency", "current": 31.5, "target": 4, "unit": "in flight", "panicking": True},
                {"type": "cpu", "current": None, "target": 70, "unit": "% of request", "panicking": False},
            ],
        },
    }
    info = resolve("hpa")
    table = get_table(info, [item], now=120.0, wide=True).splitlines()
    assert table[0].split() == [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
        "DESIRED",
        "PANIC",
    ]
    assert "concurrency: 31.5/4, cpu: <unknown>/70%" in table[1]
    assert table[1].split()[-5:] == ["20", "8", "2m", "16", "concurrency"]

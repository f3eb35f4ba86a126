"""Job: batch/v1 defaults and validation."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.spec import Job, RestartPolicy
from tests.spec._docs import API, only_error, valid


def job(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {"command": ["python", "train.py"], **(spec or {})},
    }


def test_batch_v1_defaults() -> None:
    obj = valid(job())
    assert isinstance(obj, Job)
    spec = obj.spec
    assert (spec.completions, spec.parallelism, spec.backoff_limit) == (1, 1, 6)
    assert spec.active_deadline_seconds is None
    assert spec.ttl_seconds_after_finished is None
    assert spec.restart_policy is RestartPolicy.NEVER
    assert spec.termination_grace_period_seconds == 30


def test_design_example_resources_default_requests_from_gpu_limits() -> None:
    spec = valid(job({"resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"gpu": 1}}})).spec
    assert spec.resources.requests.gpu == 1
    assert spec.resources.requests.cpu_millis == 1000


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"command": []}, "spec.command"),
        ({"completions": 0}, "spec.completions"),
        ({"backoffLimit": -1}, "spec.backoffLimit"),
        ({"activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds"),
        ({"restartPolicy": "Always"}, "spec.restartPolicy"),
        ({"command": ["sleep", 10]}, "spec.command[1]"),
    ],
)
def test_job_validation(spec: dict[str, Any], path: str) -> None:
    assert only_error(job(spec)).path == path


def test_numbers_in_commands_must_be_quoted() -> None:
    error = only_error(job({"command": ["sleep", 10]}))
    assert 'Quote it: "10"' in error.message

"""Every number a spec holds is bounded, so what is stored can always be served back (an integer over 64
bits used to be stored and then fail every list, get and watch of its kind): Kubernetes' int32 where
Kubernetes has the field, `MAX_REPLICAS` for replica counts, finite floats, bounded model params."""

from __future__ import annotations

import types
import typing

import pytest
from pydantic import BaseModel

from modelplane.spec import KINDS, load_text
from modelplane.spec.bounds import INT32_MAX, MAX_COMPLETIONS, MAX_PARAMS_BYTES, MAX_REPLICAS
from modelplane.spec.messages import _strip

HUGE = 100000000000000000000000  # 1e23 written as an integer: more than 64 bits
NOEXECUTE = "{key: a, operator: Exists, effect: NoExecute"
CANARY = "strategy: {type: Canary, canary: {steps: [{weight: 10}], analysis:"

DEPLOYMENT = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: big}
spec:
  model: {format: simulated}
"""
JOB = """\
apiVersion: modelplane.dev/v1alpha1
kind: Job
metadata: {name: big}
spec:
  command: [python, train.py]
"""


def _numeric_fields() -> list[tuple[str, typing.Any]]:
    found: list[tuple[str, typing.Any]] = []
    seen: set[type[BaseModel]] = set()

    def visit(annotation: typing.Any, where: str, info: typing.Any) -> None:
        if "parse_gpu" in repr(annotation):
            return  # GPU counts: a quantity, bounded by its parser (test_quantities)
        annotation = _strip(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            walk(annotation)
        elif origin in (list, dict):
            visit(typing.get_args(annotation)[-1], where + "[]", info)
        elif origin in (typing.Union, types.UnionType):
            for member in typing.get_args(annotation):
                visit(member, where, info)
        elif annotation is int:
            found.append((where, info))

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            visit(info.annotation, f"{model.__name__}.{name}", info)

    for kind in KINDS.values():
        walk(kind)
    return found


def test_every_integer_field_of_every_kind_has_an_upper_bound() -> None:
    def upper(info: typing.Any) -> int | None:
        bounds = [getattr(m, "le", None) or getattr(m, "lt", None) for m in info.metadata]
        return min((b for b in bounds if b is not None), default=None)

    fields = _numeric_fields()
    assert len(fields) > 20
    unbounded = [where for where, info in fields if upper(info) is None or upper(info) > INT32_MAX]
    assert unbounded == []


@pytest.mark.parametrize(
    ("document", "field", "line", "bound"),
    [
        (DEPLOYMENT, "terminationGracePeriodSeconds", HUGE, INT32_MAX),
        (DEPLOYMENT, "replicas", MAX_REPLICAS + 1, MAX_REPLICAS),
        (DEPLOYMENT, "minReadySeconds", 2**31, INT32_MAX),
        (DEPLOYMENT, "revisionHistoryLimit", HUGE, INT32_MAX),
        (DEPLOYMENT, "concurrency", HUGE, INT32_MAX),
        (JOB, "completions", MAX_COMPLETIONS + 1, MAX_COMPLETIONS),
        (JOB, "parallelism", MAX_REPLICAS + 1, MAX_REPLICAS),
        (JOB, "activeDeadlineSeconds", HUGE, INT32_MAX),
        (JOB, "backoffLimit", HUGE, INT32_MAX),
        (JOB, "ttlSecondsAfterFinished", HUGE, INT32_MAX),
    ],
)
def test_a_number_above_its_bound_is_refused_naming_the_field(
    document: str, field: str, line: int, bound: int
) -> None:
    result = load_text(document + f"  {field}: {line}\n", file="big.yaml")
    assert not result.objects
    (error,) = result.errors
    assert error.path == f"spec.{field}"
    assert str(error).startswith(
        f"big.yaml:6: {'Job' if 'Job' in document else 'ModelDeployment'}/big: spec."
    )
    assert f"must be ≤ {bound:,}" in error.message and f"got {line}" in error.message
    assert "use a smaller number" in error.message.lower()


@pytest.mark.parametrize(
    "fragment",
    [
        "autoscaling: {maxReplicas: 100000000000000000000000}",
        "autoscaling: {minReplicas: 20000, maxReplicas: 30000}",
        "strategy: {rollingUpdate: {maxSurge: 100000000000000000000000}}",
        "disruptionBudget: {minAvailable: 100000000000000000000000}",
        "probes: {readiness: {periodSeconds: 100000000000000000000000}}",
        "batching: {maxBatchSize: 100000000000000000000000}",
        "batching: {maxLatencyMs: .inf}",
        f"tolerations: [{NOEXECUTE}, tolerationSeconds: {HUGE}}}]",
        f"{CANARY} {{minRequests: {HUGE}}}}}}}",
        "model: {format: simulated, params: {n: 100000000000000000000000}}",
        "model: {format: simulated, params: {x: .inf}}",  # stored as null, or NaN != NaN: each
        "model: {format: simulated, params: {x: [.nan]}}",  # apply of the same file was a change
        "model: {format: simulated, params: {n: " + "[" * 34 + "1" + "]" * 34 + "}}",
        "replicas: " + "9" * 5000,
    ],
)
def test_other_unbounded_numbers_are_refused(fragment: str) -> None:
    result = load_text(DEPLOYMENT + f"  {fragment}\n", file="big.yaml")
    assert not result.objects, fragment
    assert result.errors and all(str(error).startswith("big.yaml:6: ") for error in result.errors)


def test_numbers_at_their_bounds_are_accepted() -> None:
    text = DEPLOYMENT + (
        f"  replicas: {MAX_REPLICAS}\n  terminationGracePeriodSeconds: {INT32_MAX}\n"
        f"  model: {{format: simulated, params: {{n: {2**63 - 1}, nested: [[[1]]]}}}}\n"
    )
    result = load_text(text.replace("  model: {format: simulated}\n", "", 1))
    assert result.ok, result.errors


def _with_params(weights: int) -> str:
    """DEPLOYMENT whose `model.params` is `{weights: [1, 1, …]}`: 2 × weights + 13 bytes as JSON."""
    ones = ", ".join("1" for _ in range(weights))
    model = f"  model:\n    format: simulated\n    params: {{weights: [{ones}]}}\n"
    return DEPLOYMENT.replace("  model: {format: simulated}\n", model)


def test_params_over_64_kib_as_json_are_refused_saying_to_use_a_file() -> None:
    result = load_text(_with_params(MAX_PARAMS_BYTES // 2), file="big.yaml")  # 65,549 bytes
    assert not result.objects
    (error,) = result.errors
    assert error.path == "spec.model.params"
    assert str(error).startswith("big.yaml:7: ModelDeployment/big: spec.model.params: ")
    assert "65,549 bytes" in error.message and f"{MAX_PARAMS_BYTES:,}" in error.message
    assert "in a file" in error.message


def test_params_up_to_64_kib_as_json_are_accepted() -> None:
    result = load_text(_with_params((MAX_PARAMS_BYTES - 13) // 2))  # 65,535 bytes
    assert result.ok, result.errors


@pytest.mark.parametrize(
    ("latency", "accepted"),
    [("0", True), ("5", True), ("60000", True), ("60000.5", False), ("1.0e+300", False)],
)
def test_batching_latency_is_at_most_the_routers_request_timeout(latency: str, accepted: bool) -> None:
    result = load_text(DEPLOYMENT + f"  batching: {{maxLatencyMs: {latency}}}\n", file="big.yaml")
    assert result.ok is accepted, result.errors
    if not accepted:
        (error,) = result.errors
        assert error.path == "spec.batching.maxLatencyMs"
        assert str(error).startswith("big.yaml:6: ModelDeployment/big: spec.batching.maxLatencyMs: ")
        assert "must be ≤ 60,000 (" in error.message and "request timeout" in error.message

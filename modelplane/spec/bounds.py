"""The largest numbers a spec may hold, and why: every integer field has an upper bound, so whatever is
stored can be served back (JSON encoders stop at 64 bits) and no controller does arithmetic on a typo.

- `INT32_MAX` for every count and `*Seconds` field that Kubernetes types as int32 (replicas,
  minReadySeconds, probe fields, HPA fields, Job backoffLimit, ttlSecondsAfterFinished, IntOrString
  counts). Kubernetes types `terminationGracePeriodSeconds`, Job `activeDeadlineSeconds` and
  `tolerationSeconds` as int64; modelplane caps them at int32 too (68 years), a difference no real
  spec meets.
- `MAX_REPLICAS` (10,000) for replica counts (`replicas`, autoscaling `minReplicas`/`maxReplicas`, Job
  `parallelism`): the scale modelplane's control plane is built and measured for (bench/scale.py
  reconciles 10,000 replicas); locally each replica is a process with its own port, so a bigger count
  is a typo, not a plan. Kubernetes' own Job validation uses the same 10,000 for the parallelism of
  jobs with many completions.
- `MAX_COMPLETIONS` (100,000) for Job `completions`: Kubernetes' `completionsSoftLimit`, which
  Kubernetes applies to Indexed Jobs only; modelplane's Jobs are NonIndexed and still bounded, because
  `status.countedReplicas` names every finished replica and is written whole on each change (a
  difference from Kubernetes, documented in docs/spec.md).
- `MAX_BATCH_LATENCY_MS` (60,000) for `batching.maxLatencyMs`: the router's request timeout (60 s); a
  longer wait for a batch to fill left a lone request hanging until the client gave up.
- `model.params`: integers within int64, finite floats, nesting at most `MAX_PARAMS_DEPTH` levels,
  at most `MAX_PARAMS_BYTES` (64 KiB) as JSON: params are stored with the object, sent on every list,
  get and watch, and validated on every apply; bigger data belongs in a file the model loads.
"""

from __future__ import annotations

import math
from typing import Any, Final

import pydantic_core

INT32_MAX: Final = 2**31 - 1
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_REPLICAS: Final = 10_000
MAX_COMPLETIONS: Final = 100_000
MAX_PARAMS_DEPTH: Final = 32
MAX_PARAMS_BYTES: Final = 64 * 1024
MAX_BATCH_LATENCY_MS: Final = 60_000
MAX_DIGITS: Final = 40
"""Longest integer (in digits) the YAML loader builds; longer ones are refused at their line."""

REASONS: Final = {
    INT32_MAX: "the largest 32-bit integer, as Kubernetes stores this field",
    MAX_REPLICAS: "modelplane's limit on replicas: the scale the control plane is built for",
    MAX_COMPLETIONS: "modelplane's limit on a Job's completions (Kubernetes' limit for indexed Jobs)",
    MAX_BATCH_LATENCY_MS: "the router's request timeout: a request never waits longer for its answer",
}
"""Why each bound is what it is, for error messages."""


def check_params_size(params: dict[str, Any]) -> None:
    """Raise ValueError when `params` (already checked by `check_params`) exceed `MAX_PARAMS_BYTES` as
    JSON, the form in which they are stored and served."""
    try:
        size = len(pydantic_core.to_json(params))
    except ValueError:
        return  # nothing JSON can hold: refused by the field's own validation, or dumped as text
    if size > MAX_PARAMS_BYTES:
        raise ValueError(
            f"params are {size:,} bytes as JSON, more than the {MAX_PARAMS_BYTES:,} (64 KiB) a spec may "
            "hold; put large data (weights, vocabularies, tables) in a file the model loads, and pass its "
            "path in params."
        )


def check_params(value: Any, *, depth: int = 0) -> None:
    """Raise ValueError when free-form `params` nest too deep or hold an integer beyond int64."""
    if depth > MAX_PARAMS_DEPTH:
        raise ValueError(
            f"params nest more than {MAX_PARAMS_DEPTH} levels deep; flatten them (a loader's settings "
            "need a few levels)."
        )
    if isinstance(value, dict):
        for item in value.values():
            check_params(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_params(item, depth=depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(
            f"params hold {value}, beyond a 64-bit integer (at most {INT64_MAX:,}); use a smaller "
            "number, or quote it to pass it as text."
        )
    elif isinstance(value, float) and not math.isfinite(value):
        # JSON has no inf or NaN (stored as null), and NaN != NaN made every re-apply a change
        raise ValueError(f"params hold {value}; write a finite number, or quote it to pass it as text.")

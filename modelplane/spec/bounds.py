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
- `MAX_COMPLETIONS` (100,000) for Job `completions`: Kubernetes' `completionsSoftLimit` and its limit on
  indexed jobs.
- `model.params`: integers within int64, finite floats, nesting at most `MAX_PARAMS_DEPTH` levels.
"""

from __future__ import annotations

import math
from typing import Any, Final

INT32_MAX: Final = 2**31 - 1
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_REPLICAS: Final = 10_000
MAX_COMPLETIONS: Final = 100_000
MAX_PARAMS_DEPTH: Final = 32
MAX_DIGITS: Final = 40
"""Longest integer (in digits) the YAML loader builds; longer ones are refused at their line."""

REASONS: Final = {
    INT32_MAX: "the largest 32-bit integer, as Kubernetes stores this field",
    MAX_REPLICAS: "modelplane's limit on replicas: the scale the control plane is built for",
    MAX_COMPLETIONS: "Kubernetes' limit on a Job's completions",
}
"""Why each bound is what it is, for error messages."""


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

"""The report of a load test: one JSON document (format in docs/loadtest.md), built from the plan and
what the runner recorded. Pure apart from `write_json`.

Percentiles of the whole run come from the recorder's log histogram (within 1%); those of each second
are exact. Rates are per second of the run's duration (`offered / duration`), not of the drain after it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson

from modelplane.loadtest.recording import Histogram
from modelplane.loadtest.running import Outcome, Plan

FORMAT = "modelplane.dev/loadtest/v1"
PERCENTILES = (50, 90, 99, 99.9)


def build_report(plan: Plan, outcome: Outcome, *, router: str) -> dict[str, Any]:
    recorder = outcome.recorder
    duration = plan.profile.duration
    targets = []
    for index, target in enumerate(plan.targets):
        histogram = recorder.histograms[index]
        targets.append(
            {
                "namespace": target.namespace,
                "name": target.name,
                "share": target.share,
                "path": target.path,
                "profile": plan.share_of(index).as_json(),
                "totals": {
                    "offered": recorder.offered[index],
                    "served": recorder.served[index],
                    "errors": recorder.errors[index],
                    "errorsByKind": dict(sorted(recorder.error_kinds[index].items())),
                    "offeredPerSecond": _round(recorder.offered[index] / duration),
                    "servedPerSecond": _round(recorder.served[index] / duration),
                    "latencyMs": latency_summary(histogram),
                },
                "seconds": [row.as_json() for row in recorder.rows[index]],
            }
        )
    started = dt.datetime.fromtimestamp(outcome.started_at, dt.UTC)
    return {
        "format": FORMAT,
        "startedAt": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "router": router,
        "mode": "closed" if plan.closed else "open",
        "arrivals": None if plan.closed else ("poisson" if plan.poisson else "constant"),
        "latencyFrom": "send" if plan.closed else "intended",
        "profile": plan.profile.as_json(),
        "duration": duration,
        "timeout": plan.timeout,
        "seed": plan.seed,
        "targets": targets,
        "generator": {
            "wallSeconds": _round(outcome.wall_s),
            "cpuSeconds": _round(outcome.cpu_s),
            "notSent": outcome.not_sent,
            "sendLagMs": latency_summary(outcome.send_lag),
        },
        "replicaErrors": outcome.replica_errors,
    }


def latency_summary(histogram: Histogram) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for q in PERCENTILES:
        value = histogram.percentile(q)
        out[f"p{q:g}".replace(".", "")] = _ms(value)
    out["mean"] = _ms(histogram.mean())
    out["max"] = _ms(histogram.max if histogram.total else None)
    return out


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _round(value: float) -> float:
    return round(value, 3)

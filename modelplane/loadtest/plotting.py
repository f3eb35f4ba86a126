"""The PNG of a load-test report: one row of panels per deployment, time (s) on every x axis.

    req/s        offered vs served, errors
    latency      p50 and p99 of each second (ms, log scale)
    replicas     ready and desired, read from the control plane once a second

Reads only the JSON report (report.py), so a saved report can be plotted again. matplotlib is
imported when a plot is drawn (it takes ~0.5 s), with the Agg backend: no display is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelplane.loadtest.errors import PlotUnavailable


def plot(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable(
            "the plot needs matplotlib, which is not installed here; `pip install matplotlib` "
            "(or reinstall modelplane), or pass --no-plot. The JSON report was written."
        ) from None
    targets = report["targets"]
    figure, axes = plt.subplots(
        len(targets), 3, figsize=(15, 3.2 * len(targets)), squeeze=False, constrained_layout=True
    )
    mode = "clients" if report["mode"] == "closed" else "req/s"
    figure.suptitle(
        f"modelplane loadtest {report['startedAt']}: {report['mode']} loop, "
        f"profile {report['profile']['shape']}, latency from the {report['latencyFrom']} time"
    )
    for row, target in zip(axes, targets, strict=True):
        seconds = target["seconds"]
        t = [s["t"] + 1 for s in seconds]  # a second's row is drawn at its end
        label = (
            target["name"] if target["namespace"] == "default" else f"{target['namespace']}/{target['name']}"
        )
        rate, latency, replicas = row
        rate.plot(t, [s["offered"] for s in seconds], label="offered" if mode == "req/s" else "sent")
        rate.plot(t, [s["served"] for s in seconds], label="served")
        rate.plot(t, [s["errors"] for s in seconds], label="errors", color="tab:red")
        rate.set_title(f"{label}: req/s")
        rate.set_ylim(bottom=0)
        rate.legend(loc="upper left", fontsize="small")
        for key, name in (("p50Ms", "p50"), ("p99Ms", "p99")):
            points = [(x, s[key]) for x, s in zip(t, seconds, strict=True) if s[key] is not None]
            if points:
                latency.plot(*zip(*points, strict=True), label=name)
        latency.set_title(f"{label}: latency (ms)")
        if any(s["p99Ms"] for s in seconds):
            latency.set_yscale("log")
        latency.legend(loc="upper left", fontsize="small")
        for key, name in (("readyReplicas", "ready"), ("desiredReplicas", "desired")):
            points = [(x, s[key]) for x, s in zip(t, seconds, strict=True) if s[key] is not None]
            if points:
                replicas.step(*zip(*points, strict=True), where="post", label=name)
        replicas.set_title(f"{label}: replicas")
        replicas.set_ylim(bottom=0)
        if replicas.lines:
            replicas.legend(loc="upper left", fontsize="small")
        else:
            replicas.text(0.5, 0.5, "not read", ha="center", va="center", transform=replicas.transAxes)
        for ax in row:
            ax.set_xlabel("s")
            ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)

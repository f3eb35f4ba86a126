"""The model server's /metrics text: names, labels, order and values for a known sequence of updates.

`metrics_golden.txt` was rendered by the prometheus_client metric objects the server used before its
per-request counts became plain numbers folded in at scrape time; the scrape must not change.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from modelplane.server.metrics import FOLD_AT, ServerMetrics

GOLDEN = Path(__file__).with_name("metrics_golden.txt")
CREATED = re.compile(r"(_created\{[^}]*\}) (\S+)")


def _updates(metrics: ServerMetrics) -> None:
    iris = metrics.for_model("iris", "v1")
    echo = metrics.for_model("echo", None)
    iris.load_time.set(0.25)
    iris.ready.set(1)
    for seconds in (0.0, 0.001, 0.0010001, 0.003, 0.7, 12.0):  # on, just past and between bounds
        iris.latency.observe(seconds)
        iris.queue_time.observe(seconds / 2)
    iris.count(200)
    echo.count(200)
    iris.count(400)
    iris.count(200)
    echo.count(499)
    echo.latency.observe(0.02)
    for rows, seconds in ((1, 0.0002), (3, 0.004), (64, 0.05), (1024, 0.3), (2000, 11.0)):
        iris.observe_batch(rows, seconds)
    echo.inflight.inc()
    echo.inflight.inc()
    echo.inflight.dec()
    iris.inflight.inc()
    echo.ready.set(0)


def test_scrape_matches_the_prometheus_client_rendering() -> None:
    metrics = ServerMetrics()
    before = time.time()
    _updates(metrics)
    text = metrics.render().decode()
    created = [float(value) for _, value in CREATED.findall(text)]
    assert len(created) == 12  # 4 request counters, 4 histograms x 2 models
    assert all(before - 1 <= value <= time.time() + 1 for value in created)
    assert CREATED.sub(r"\1 CREATED", text) == GOLDEN.read_text()


def test_two_servers_in_one_process_count_apart() -> None:
    first, second = ServerMetrics(), ServerMetrics()
    first.for_model("m", None).count(200)
    second.for_model("m", None).count(500)
    assert 'status="200"' in first.render().decode() and 'status="500"' not in first.render().decode()
    assert 'status="500"' in second.render().decode() and 'status="200"' not in second.render().decode()


def test_observations_are_folded_at_the_bound_and_at_the_scrape() -> None:
    metrics = ServerMetrics()
    model = metrics.for_model("m", None)
    for _ in range(3 * FOLD_AT):
        model.latency.observe(0.002)
        model.queue_time.observe(0.0)
        model.count(200)
    assert len(model.latency.pending) < FOLD_AT and len(model.queue_time.pending) < FOLD_AT
    text = metrics.render().decode()
    assert (
        'modelplane_server_request_duration_seconds_bucket{le="0.0025",model="m",version=""} 3072.0' in text
    )
    assert 'modelplane_server_request_duration_seconds_sum{model="m",version=""} 6.14' in text
    assert not model.latency.pending

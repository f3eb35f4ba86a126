"""The router's report: deltas since the last accepted report, time-averaged levels from the exact
integrals, zeros for the table's versions, and a document the control plane accepts; a push that
fails keeps the counts for the next one."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from modelplane.metrics import parse_report
from modelplane.net.client import ConnectionPool
from modelplane.router.metrics import VersionStats
from modelplane.router.phases import Phase, transition
from modelplane.router.queueing import Gate
from modelplane.router.reporting import Marks, Reporter, build_report
from modelplane.router.table import parse_table
from tests.cli.test_objects import free_port

TABLE = parse_table(
    orjson.dumps(
        {
            "resourceVersion": 1,
            "deployments": [
                {
                    "namespace": "default",
                    "name": "m",
                    "traffic": [{"version": "v1", "weight": 50}, {"version": "v2", "weight": 50}],
                    "endpoints": [],
                }
            ],
        }
    ),
    source="test",
)


def test_deltas_levels_and_zeros_for_the_tables_versions() -> None:
    stats, gate = VersionStats(("default", "m", "v1")), Gate[object](concurrency=None)
    marks = build_report([stats], {("default", "m"): gate}, TABLE, since=Marks(0.0), now=0.0)[1]
    transition(Phase.ROUTING, Phase.IN_FLIGHT, gauges=stats, slots=gate, replica="m-1", request="r", now=0.5)
    transition(Phase.IN_FLIGHT, Phase.DONE, gauges=stats, slots=gate, replica="m-1", request="r", now=1.5)
    stats.observe(200, 1.0)
    transition(Phase.ROUTING, Phase.IN_FLIGHT, gauges=stats, slots=gate, replica="m-1", request="r", now=1.8)
    report, marks = build_report([stats], {("default", "m"): gate}, TABLE, since=marks, now=2.0)
    parsed = parse_report(orjson.dumps(report))  # what the router sends, the control plane accepts
    v1, v2 = parsed.versions
    assert parsed.interval_s == 2.0
    assert (v1.version, v1.requests, v1.latency[10]) == ("v1", 1, 1)  # 1.0 s: bucket (0.5, 1.0]
    assert v1.inflight == pytest.approx((1.0 + 0.2) / 2.0)  # in flight 0.5..1.5 and 1.8..2.0
    assert (v2.version, v2.requests, v2.inflight) == ("v2", 0, 0.0)  # in the table, no traffic yet
    (replica,) = parsed.replicas
    assert (replica.replica, replica.requests) == ("m-1", 1)
    assert replica.inflight == pytest.approx(0.6)
    report, _ = build_report([stats], {("default", "m"): gate}, TABLE, since=marks, now=3.0)
    parsed = parse_report(orjson.dumps(report))
    assert parsed.versions[0].requests == 0
    assert parsed.versions[0].inflight == pytest.approx(1.0)


def test_a_failed_push_keeps_its_counts_for_the_next_one() -> None:
    async def scenario() -> None:
        stats = VersionStats(("default", "m", "v1"))
        clock = [10.0]
        pool = ConnectionPool(connect_timeout=0.5)
        reporter = Reporter(
            f"http://127.0.0.1:{free_port()}",  # nobody listens
            stats=lambda: [stats],
            gates=dict,
            table=lambda: None,
            pool=pool,
            clock=lambda: clock[0],
        )
        reporter.marks = Marks(10.0)
        stats.observe(200, 0.01)
        clock[0] = 11.0
        assert not await reporter.push_once()
        assert reporter.failed == 1 and reporter.marks.at == 10.0  # the next report starts at 10 again
        await pool.close()

    asyncio.run(scenario())

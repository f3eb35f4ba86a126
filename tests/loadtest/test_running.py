"""The runner in-process against an asyncio echo on the same loop: what it measures and counts."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import uvloop

from modelplane.loadtest.profiles import make_profile
from modelplane.loadtest.running import Outcome, Plan, Target, run

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


class Echo(asyncio.Protocol):
    """Answers every request (one per segment: the runner sends small bodies) with a 200 at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        for _ in range(data.count(b"POST ")):
            self.transport.write(ANSWER)


async def against_echo(rate: float, duration: float) -> Outcome:
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    plan = Plan(
        targets=(Target("default", "echo", 1.0, b"{}"),),
        profile=make_profile("constant", rate=rate, duration=duration),
        address=f"127.0.0.1:{port}",
        timeout=5,
    )
    try:
        return await run(plan)
    finally:
        server.close()


def test_latencies_are_not_rounded_to_the_loops_millisecond() -> None:
    # uvloop's loop.time() advances in whole milliseconds: latencies read from it came out 0 or 1 ms
    # (bench/loadtest.py showed p50 0.00 ms); a loopback round trip takes tens of microseconds, not 0.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        outcome = runner.run(against_echo(rate=300, duration=1))
    histogram = outcome.recorder.histograms[0]
    assert histogram.total == 300
    assert outcome.recorder.errors == [0]
    lowest = int(np.flatnonzero(histogram.counts)[0])
    assert lowest > 0, "some latencies were 0: read from a millisecond clock"
    p50 = histogram.percentile(50)
    assert p50 is not None and p50 > 5e-6

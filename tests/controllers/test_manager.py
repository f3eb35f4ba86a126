"""The controller manager: a pass runs on a store change, when it asked (requeue_after), and on resync.

Real asyncio, real time, but short: each test waits for a condition with a deadline, never a sleep,
and the resync period is made long (60 s) so that a pass seen within a second came from the trigger
under test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from modelplane.controllers import manager
from modelplane.controllers.manager import Changes, next_wait, run_controller

LONG = 60.0


@pytest.mark.parametrize(
    ("requeue_after", "resync", "elapsed", "expected"),
    [
        (None, 5.0, 0.0, 5.0),  # nothing asked: the resync
        (None, 5.0, 1.0, 4.0),  # periods count from the start of the pass
        (2.0, 5.0, 0.5, 1.5),  # asked sooner than the resync
        (9.0, 5.0, 0.0, 5.0),  # the resync comes first anyway
        (0.5, 5.0, 2.0, 0.0),  # overdue: at once
    ],
)
def test_next_wait(requeue_after: float | None, resync: float, elapsed: float, expected: float) -> None:
    assert next_wait(requeue_after, resync=resync, elapsed=elapsed) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("requeue_after", "elapsed", "expected"),
    [
        (None, 0.01, 4.99),  # a short pass: the resync as it is
        (None, 0.5, 49.5),  # a long pass: resynced so that resyncs take 1% of the time
        (2.0, 0.5, 1.5),  # what the pass asked for comes first all the same
    ],
)
def test_next_wait_stretches_the_resync_of_a_long_pass(
    requeue_after: float | None, elapsed: float, expected: float
) -> None:
    """1,000 deployments take ~0.5 s a pass: resynced every 5 s with nothing changed, they held the
    one event loop that long every 5 s."""
    wait = next_wait(requeue_after, resync=5.0, elapsed=elapsed, resync_share=0.01)
    assert wait == pytest.approx(expected)


async def _until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def _run(scenario: Callable[[Changes, asyncio.Event], Awaitable[None]]) -> None:
    async def main() -> None:
        changes, stop = Changes(), asyncio.Event()
        await asyncio.wait_for(scenario(changes, stop), timeout=10)

    asyncio.run(main())


def test_a_change_runs_a_pass_at_once_not_at_the_next_period() -> None:
    passes: list[float] = []

    async def step() -> float | None:
        passes.append(time.monotonic())
        return None

    async def scenario(changes: Changes, stop: asyncio.Event) -> None:
        task = asyncio.create_task(run_controller("t", step, changes=changes, stop=stop, resync=LONG))
        await _until(lambda: len(passes) == 1)
        fired = time.monotonic()
        changes.fire()
        await _until(lambda: len(passes) == 2)
        assert passes[1] - fired < 1.0
        stop.set()
        await task

    _run(scenario)


def test_a_pass_runs_again_when_it_asked_to() -> None:
    passes: list[float] = []

    async def step() -> float | None:
        passes.append(time.monotonic())
        return 0.05 if len(passes) == 1 else None

    async def scenario(changes: Changes, stop: asyncio.Event) -> None:
        task = asyncio.create_task(run_controller("t", step, changes=changes, stop=stop, resync=LONG))
        await _until(lambda: len(passes) == 2)
        assert 0.04 < passes[1] - passes[0] < 1.0
        stop.set()
        await task
        assert len(passes) == 2

    _run(scenario)


def test_a_change_during_a_pass_is_not_missed() -> None:
    passes = 0

    async def step() -> float | None:
        nonlocal passes
        passes += 1
        if passes == 1:
            changes.fire()  # e.g. the API wrote while this pass read
        return None

    changes = Changes()

    async def scenario(_: Changes, stop: asyncio.Event) -> None:
        task = asyncio.create_task(run_controller("t", step, changes=changes, stop=stop, resync=LONG))
        await _until(lambda: passes == 2)
        stop.set()
        await task

    _run(scenario)


def test_a_failing_pass_is_logged_and_retried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(manager, "ERROR_RETRY_S", 0.01)
    passes = 0

    async def step() -> float | None:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise RuntimeError("broken")
        return None

    async def scenario(changes: Changes, stop: asyncio.Event) -> None:
        task = asyncio.create_task(run_controller("t", step, changes=changes, stop=stop, resync=LONG))
        await _until(lambda: passes == 2)
        stop.set()
        await task

    _run(scenario)
    assert "controller t: a pass failed" in caplog.text


def test_stop_ends_the_loop_while_it_waits() -> None:
    async def step() -> float | None:
        return None

    async def scenario(changes: Changes, stop: asyncio.Event) -> None:
        task = asyncio.create_task(run_controller("t", step, changes=changes, stop=stop, resync=LONG))
        await asyncio.sleep(0)  # let it start its first pass and wait
        stop.set()
        await asyncio.wait_for(task, timeout=1.0)

    _run(scenario)


def test_every_waiting_loop_wakes_on_one_change() -> None:
    counts = {"a": 0, "b": 0}

    def step_of(name: str) -> Callable[[], Awaitable[float | None]]:
        async def step() -> float | None:
            counts[name] += 1
            return None

        return step

    async def scenario(changes: Changes, stop: asyncio.Event) -> None:
        tasks = [
            asyncio.create_task(run_controller(n, step_of(n), changes=changes, stop=stop, resync=LONG))
            for n in counts
        ]
        await _until(lambda: counts == {"a": 1, "b": 1})
        changes.fire()
        await _until(lambda: counts == {"a": 2, "b": 2})
        stop.set()
        await asyncio.gather(*tasks)

    _run(scenario)


def test_under_a_stream_of_changes_a_long_pass_rests_as_long_as_it_took() -> None:
    starts: list[float] = []
    ends: list[float] = []
    changes = Changes()

    async def step() -> float | None:
        starts.append(time.monotonic())
        time.sleep(0.05)  # a pass that holds the event loop (the pass under test, not a wait)
        changes.fire()  # something changes during every pass
        ends.append(time.monotonic())
        return None

    async def scenario(_: Changes, stop: asyncio.Event) -> None:
        task = asyncio.create_task(run_controller("t", step, changes=changes, stop=stop, resync=LONG))
        await _until(lambda: len(starts) == 4)
        stop.set()
        await task

    _run(scenario)
    rests = [start - end for end, start in zip(ends, starts[1:], strict=False)]
    assert all(rest >= 0.045 for rest in rests), rests

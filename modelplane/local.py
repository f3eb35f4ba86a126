"""The local control plane: the composition root that wires store, API, controllers, scheduler and a
replica runtime into one asyncio process on this machine (what `modelplane up` starts).

It sits above every layer it wires and below the CLI; a Kubernetes operator would be a sibling
entry point composing the same layers differently.

Loops (each supervised: an iteration that raises is logged loudly and the loop goes on):
- deployments, on every store change, when a deployment asked (requeue_after), and every 5 s:
  Replica objects from ModelDeployments;
- jobs, on every change and every 0.5 s: Replica objects from Jobs, their completions, failures,
  deadlines and TTLs;
- namespaces, on every change and every 0.5 s: phase Active / Terminating; a deleted one is emptied,
  then removed;
- scheduling, on every change and every 0.5 s: Pending replicas onto pools;
- autoscaler, every 1 s: each autoscaled deployment's count from its metrics
  (controllers/autoscaling.py); scrape, every 1 s: the custom metrics' series from the replicas
  (runtime/scraping.py);
- node (the kubelet), every 0.1 s: the runtime's replicas, probes, restarts, draining, status;
- notify, every 0.05 s: wakes long polls (watch, endpoints) and the controllers when the
  resourceVersion moved.

Shutdown has an order, so nothing reads the store after it closed and the router keeps learning
until the replicas are gone: (1) the controllers and the scheduler stop, so nothing new is created;
(2) on `POST /api/v1/down` (what `modelplane down` sends) every replica is drained, all at once,
while the node and notify loops still run; (3) the node and notify loops stop; (4) the HTTP server
stops accepting, parked long polls are answered at once and open connections get a short grace;
(5) the store closes. SIGTERM/SIGINT skip (2): replicas keep serving and the next start re-adopts
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from modelplane.api import auth
from modelplane.api.autoscalers import AutoscalersApi
from modelplane.api.routes import Hub, render_error
from modelplane.controllers import deployments, jobs, namespaces
from modelplane.controllers.autoscaling import SYNC_S, Autoscaler
from modelplane.controllers.manager import Changes, run_controller
from modelplane.controllers.scheduling import Scheduling
from modelplane.metrics import MetricsStore
from modelplane.net.http import HttpServer
from modelplane.runtime import NodeAgent, ProcessRuntime, ReplicaRuntime, SimulatedRuntime
from modelplane.runtime.scraping import SCRAPE_S, Scraper
from modelplane.scheduler import ScoringStrategy
from modelplane.store import Store, private_dir

log = logging.getLogger("modelplane.controlplane")

MAX_BODY = 8 * 1024 * 1024
CLOSE_GRACE_S = 2.0
"""How long open API connections may take to finish once the control plane stops."""
SLOW_PASS_S = 1.0
"""A loop pass longer than this is logged as a warning (it delays every other loop)."""
DEPLOYMENTS_RESYNC_S = 5.0
DEPLOYMENTS_RESYNC_SHARE = 0.01
"""The deployment controller runs on changes and on its requeue_after; this resync is a safety net,
every 5 s or, when a pass takes longer than 50 ms, rarely enough that resyncs take 1% of the time: at
1,000 deployments a pass is ~0.5 s, and a resync every 5 s held the event loop that long every 5 s
with nothing changed (list p99 of 10,000 replicas ~0.9 s in bench/scale.py)."""


class RuntimeKind(StrEnum):
    PROCESSES = "processes"
    SIMULATED = "simulated"


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 8090
    seed: int | None = None
    strategy: ScoringStrategy = ScoringStrategy.LEAST_ALLOCATED
    runtime: RuntimeKind = RuntimeKind.PROCESSES
    """`simulated`: replicas without processes (scale benchmarks); see runtime/simulated.py."""


async def _every(period: float, name: str, step: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run `step` every `period` seconds until `stop`; a failing step is logged, never fatal."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            await step()
        except Exception:
            log.exception("loop %s failed; it goes on", name)
        elapsed = time.perf_counter() - started
        if elapsed > SLOW_PASS_S:
            log.warning("loop %s: one pass took %.2f s (period %.2f s)", name, elapsed, period)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(period - elapsed, 0.0))


def _runtime(settings: Settings, rng: random.Random) -> ReplicaRuntime:
    if settings.runtime is RuntimeKind.SIMULATED:
        return SimulatedRuntime()
    return ProcessRuntime(state_dir=settings.state_dir, rng=rng)


async def run(settings: Settings, *, on_listening: Callable[[int], None]) -> int:
    state_dir = settings.state_dir
    private_dir(state_dir)  # objects, events, logs, token: nothing other users may read
    token: str | None = None
    if not auth.is_loopback(settings.host):
        token = auth.read_token(state_dir)
        if token is None:
            log.error(
                "refusing to listen on %s without a token: create one with `modelplane up` or write a secret "
                "to %s (mode 0600)",
                settings.host,
                state_dir / auth.TOKEN_FILE,
            )
            return 1
    store = Store(state_dir)
    try:
        return await _serve(settings, store, token=token, on_listening=on_listening)
    finally:
        store.close()  # last: every loop and every answer that reads it has ended


async def _serve(
    settings: Settings, store: Store, *, token: str | None, on_listening: Callable[[int], None]
) -> int:
    state_dir = settings.state_dir
    hub = Hub()
    stop = asyncio.Event()
    down_requested = asyncio.Event()
    rng = random.Random(settings.seed)

    def on_down() -> None:
        down_requested.set()
        stop.set()

    node = NodeAgent(store, runtime=_runtime(settings, rng))
    metrics = MetricsStore()  # the routers' request metrics, 1 s buckets (metrics/store.py)
    scraper = Scraper()  # custom metrics from the replicas' own /metrics (runtime/scraping.py)
    autoscaler = Autoscaler(store, metrics=metrics, usage=node.usage, custom=lambda: scraper.readings)
    api = AutoscalersApi(
        store,
        hub=hub,
        state_dir=state_dir,
        token=token,
        on_down=on_down,
        readings=node.usage,
        metrics=metrics,
        autoscalers=autoscaler.items,
    )
    http = HttpServer(api, render_error=render_error, max_body=MAX_BODY)
    scheduling = Scheduling(store, rng=rng, strategy=settings.strategy)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await node.adopt(now=time.time())
    on_listening(await http.listen(settings.host, settings.port))

    async def reconcile_deployments() -> float | None:
        return deployments.reconcile_all(store, now=time.time(), rng=rng, logs_dir=state_dir / "logs")

    async def reconcile_jobs() -> float | None:
        now = time.time()
        for job in store.list("Job"):
            try:  # one broken Job never stops the others
                jobs.reconcile(store, job, now=now, rng=rng, logs_dir=state_dir / "logs")
            except Exception:
                log.exception("job %s/%s: reconcile failed", job.namespace, job.name)
        return None

    async def reconcile_namespaces() -> float | None:
        namespaces.run_once(store, now=time.time())
        return None

    async def schedule() -> float | None:
        scheduling.run_once(now=time.time())
        return None

    async def autoscale() -> None:
        autoscaler.run_once(now=time.time())

    async def scrape() -> None:
        await scraper.scrape(autoscaler.scrape_targets(), now=time.time())

    async def tick_node() -> None:
        await node.tick(now=time.time())

    last_rv = -1
    changes = Changes()

    async def notify() -> None:
        nonlocal last_rv
        rv = store.current_rv()
        if rv != last_rv:
            last_rv = rv
            hub.notify()
            changes.fire()

    stop_node = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(_every(0.1, "node", tick_node, stop_node))
        group.create_task(_every(0.05, "notify", notify, stop_node))
        async with asyncio.TaskGroup() as controllers:
            # each controller runs on a store change, when it asked to (requeue_after), and on a resync
            # (controllers/manager.py); jobs, namespaces and scheduling keep the 0.5 s period as their
            # resync, for their deadlines and TTLs
            for name, step, resync, share in (
                ("deployments", reconcile_deployments, DEPLOYMENTS_RESYNC_S, DEPLOYMENTS_RESYNC_SHARE),
                ("jobs", reconcile_jobs, 0.5, None),
                ("namespaces", reconcile_namespaces, 0.5, None),
                ("scheduling", schedule, 0.5, None),
            ):
                controllers.create_task(
                    run_controller(name, step, changes=changes, stop=stop, resync=resync, resync_share=share)
                )
            controllers.create_task(_every(SYNC_S, "autoscaler", autoscale, stop))
            controllers.create_task(_every(SCRAPE_S, "scrape", scrape, stop))
        try:
            if down_requested.is_set():
                started = time.monotonic()
                log.info("down: draining every replica")
                await node.stop_all(now=time.time())
                log.info("down: every replica stopped in %.1f s", time.monotonic() - started)
        finally:
            stop_node.set()
    await node.close()
    await scraper.close()
    http.drain()
    hub.notify()  # parked long polls answer now, while the store is still open
    await http.wait_closed(CLOSE_GRACE_S)
    return 0

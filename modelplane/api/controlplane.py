"""The control-plane process: store + API + controllers + scheduler + runtime, in one asyncio loop.

Loops (each supervised: an iteration that raises is logged loudly and the loop goes on):
- deployments, every 0.5 s and on every store change: Replica objects from ModelDeployments;
- jobs, every 0.5 s: Replica objects from Jobs, their completions, failures, deadlines and TTLs;
- namespaces, every 0.5 s: phase Active / Terminating; a deleted one is emptied, then removed;
- scheduling, every 0.5 s: Pending replicas onto pools;
- node (the kubelet), every 0.1 s: processes, probes, restarts, draining, status;
- notify, every 0.05 s: wakes long polls (watch, endpoints) when the resourceVersion moved.

SIGTERM/SIGINT stop the control plane only: replicas keep serving, and the next start re-adopts them.
`POST /api/v1/down` (what `modelplane down` sends) drains and stops every replica first.
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
from pathlib import Path

from modelplane.api import auth
from modelplane.api.routes import Api, Hub, render_error
from modelplane.controllers import deployments, jobs, namespaces
from modelplane.controllers.node import NodeAgent
from modelplane.controllers.scheduling import Scheduling
from modelplane.net.http import HttpServer
from modelplane.scheduler import ScoringStrategy
from modelplane.store import Store

log = logging.getLogger("modelplane.controlplane")

MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 8090
    seed: int | None = None
    strategy: ScoringStrategy = ScoringStrategy.LEAST_ALLOCATED


async def _every(period: float, name: str, step: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run `step` every `period` seconds until `stop`; a failing step is logged, never fatal."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            await step()
        except Exception:
            log.exception("loop %s failed; it goes on", name)
        elapsed = time.perf_counter() - started
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(period - elapsed, 0.0))


async def run(settings: Settings, *, on_listening: Callable[[int], None]) -> int:
    state_dir = settings.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
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
    hub = Hub()
    stop = asyncio.Event()
    down_requested = asyncio.Event()
    rng = random.Random(settings.seed)

    def on_down() -> None:
        down_requested.set()
        stop.set()

    api = Api(store, hub=hub, state_dir=state_dir, token=token, on_down=on_down)
    http = HttpServer(api, render_error=render_error, max_body=MAX_BODY)
    node = NodeAgent(store, state_dir=state_dir)
    scheduling = Scheduling(store, rng=rng, strategy=settings.strategy)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await node.adopt(now=time.time())
    on_listening(await http.listen(settings.host, settings.port))

    async def reconcile_deployments() -> None:
        now = time.time()
        for deployment in store.list("ModelDeployment"):
            try:  # one broken deployment never stops the others from being reconciled
                deployments.reconcile(store, deployment, now=now, rng=rng, logs_dir=state_dir / "logs")
            except Exception:
                log.exception("deployment %s/%s: reconcile failed", deployment.namespace, deployment.name)

    async def reconcile_jobs() -> None:
        now = time.time()
        for job in store.list("Job"):
            try:  # one broken Job never stops the others
                jobs.reconcile(store, job, now=now, rng=rng, logs_dir=state_dir / "logs")
            except Exception:
                log.exception("job %s/%s: reconcile failed", job.namespace, job.name)

    async def reconcile_namespaces() -> None:
        namespaces.run_once(store, now=time.time())

    async def schedule() -> None:
        scheduling.run_once(now=time.time())

    async def tick_node() -> None:
        await node.tick(now=time.time())

    last_rv = -1

    async def notify() -> None:
        nonlocal last_rv
        rv = store.current_rv()
        if rv != last_rv:
            last_rv = rv
            hub.notify()

    async with asyncio.TaskGroup() as group:
        group.create_task(_every(0.5, "deployments", reconcile_deployments, stop))
        group.create_task(_every(0.5, "jobs", reconcile_jobs, stop))
        group.create_task(_every(0.5, "namespaces", reconcile_namespaces, stop))
        group.create_task(_every(0.5, "scheduling", schedule, stop))
        group.create_task(_every(0.1, "node", tick_node, stop))
        group.create_task(_every(0.05, "notify", notify, stop))
    if down_requested.is_set():
        log.info("down: draining every replica")
        await node.stop_all(now=time.time())
    await node.close()
    http.drain()
    await http.wait_closed(5.0)
    store.close()
    return 0

"""The proxy on one event loop before a fake pool: what happens to requests already admitted when
replicas go away or come back, to a deployment that wants 0 replicas, and to an attempt withdrawn
under a waiting client. No processes or sockets: each upstream answer is set by the test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import orjson

from modelplane.net.client import UpstreamResponse
from modelplane.net.http import Deferred, Request, Response
from modelplane.router.proxy import Proxy
from modelplane.router.table import EndpointsTable

INFER = "/v2/models/m/infer"


class FakePool:
    """Records every attempt; the test answers or cancels its future."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, asyncio.Future[UpstreamResponse]]] = []

    def request(
        self, address: str, method: str, path: str, *, body: bytes = b"", content_type: bytes | None = None
    ) -> asyncio.Future[UpstreamResponse]:
        future: asyncio.Future[UpstreamResponse] = asyncio.get_running_loop().create_future()
        self.sent.append((address, future))
        return future

    def cancel(self, address: str, future: asyncio.Future[UpstreamResponse]) -> None:
        future.cancel()

    def retain(self, addresses: Iterable[str]) -> None:
        pass

    def pending(self, address: str) -> list[asyncio.Future[UpstreamResponse]]:
        return [f for a, f in self.sent if a == address and not f.done()]


def table(
    endpoints: dict[str, tuple[str, bool]],
    *,
    traffic: dict[str, int] | None = None,
    concurrency: int | None = 1,
    replicas: int | None = None,
) -> EndpointsTable:
    """Deployment default/m; `endpoints` maps replica -> (version, ready); its address is `replica:1`."""
    return EndpointsTable.model_validate(
        {
            "deployments": [
                {
                    "name": "m",
                    "concurrency": concurrency,
                    "replicas": replicas,
                    "traffic": [{"version": v, "weight": w} for v, w in (traffic or {}).items()],
                    "endpoints": [
                        {"replica": r, "version": v, "address": f"{r}:1", "ready": ready}
                        for r, (v, ready) in endpoints.items()
                    ],
                }
            ]
        }
    )


def send(proxy: Proxy, path: str = INFER) -> asyncio.Future[Any]:
    deferred = proxy.handle(Request("POST", path, "", b"{}", b"application/json", {}))
    assert isinstance(deferred, Deferred)
    return deferred.future


def answer(future: asyncio.Future[Any]) -> tuple[int, Any]:
    response = future.result()
    assert isinstance(response, Response)
    return response.status, orjson.loads(response.body)


def ok(future: asyncio.Future[UpstreamResponse]) -> None:
    future.set_result(UpstreamResponse(200, {b"content-type": b"application/json"}, b'{"ok": true}'))


async def settle() -> None:
    """Let the done callbacks of set futures run."""
    for _ in range(3):
        await asyncio.sleep(0)


def run(main: Callable[[FakePool], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main(FakePool()))


def test_queued_requests_moved_to_a_version_with_fewer_replicas_are_not_refused_for_capacity() -> None:
    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool)
        v2 = {f"b{i}": ("v2", True) for i in range(3)}
        proxy.update(table({"a": ("v1", True), **v2}, traffic={"v1": 0, "v2": 100}))
        pinned = send(proxy, "/v2/models/m/versions/v1/infer")  # a's one slot
        busy = [send(proxy) for _ in range(3)]  # one per v2 replica
        queued = [send(proxy) for _ in range(8)]  # the queue: 2 × 4 replicas × concurrency 1
        assert not any(f.done() for f in queued) and len(pool.pending("a:1")) == 1

        # every v2 replica goes unready and traffic moves to v1, which has 1 replica: a new request's
        # queue capacity is 2 there, but the 8 queued ones were admitted already and must all wait
        gone = {r: ("v2", False) for r in v2}
        proxy.update(table({"a": ("v1", True), **gone}, traffic={"v1": 100, "v2": 0}))
        assert not any(f.done() for f in queued)
        assert proxy.metrics.stats("default", "m", "v1").queued == 8
        assert proxy.metrics.stats("default", "m", "v2").queued == 0

        refused = send(proxy)  # a new one does find the queue full
        assert answer(refused)[0] == 503 and "at capacity" in answer(refused)[1]["error"]

        for _ in range(9):  # the pinned one, then the 8 moved ones, one at a time on a
            (attempt,) = pool.pending("a:1")
            ok(attempt)
            await settle()
        assert [answer(f)[0] for f in [pinned, *queued]] == [200] * 9
        for attempt in pool.pending("b0:1") + pool.pending("b1:1") + pool.pending("b2:1"):
            ok(attempt)
        await settle()
        assert [answer(f)[0] for f in busy] == [200] * 3

    run(main)


def test_held_requests_released_past_the_queue_capacity_all_wait_for_a_slot() -> None:
    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool)
        proxy.update(table({"a": ("v1", False)}))
        held = [send(proxy) for _ in range(5)]
        assert proxy.metrics.stats("default", "m", "").held == 5
        proxy.update(table({"a": ("v1", True)}))  # 1 slot, a queue of 2 for new requests
        assert not any(f.done() for f in held)
        assert proxy.metrics.stats("default", "m", "v1").queued == 4
        for _ in range(5):
            (attempt,) = pool.pending("a:1")
            ok(attempt)
            await settle()
        assert [answer(f)[0] for f in held] == [200] * 5

    run(main)


def test_a_deployment_that_wants_0_replicas_answers_503_at_once_instead_of_holding() -> None:
    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool)
        proxy.update(table({"a": ("v1", False)}, replicas=0))
        for path, which in [
            (INFER, "default/m"),
            ("/v2/models/m/versions/v1/infer", "version 'v1' of default/m"),
        ]:
            future = send(proxy, path)
            assert future.done()
            message = f"no ready replicas for {which}: it wants 0 replicas (scaled to 0, or being deleted)."
            assert answer(future) == (503, {"error": message})
        assert proxy.metrics.stats("default", "m", "").held == 0

    run(main)


def test_held_requests_get_503_at_once_when_a_table_says_the_deployment_wants_0_replicas() -> None:
    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool)
        proxy.update(table({"a": ("v1", False)}, replicas=1))
        held = [send(proxy), send(proxy, "/v2/models/m/versions/v1/infer")]
        assert not any(f.done() for f in held)
        proxy.update(table({"a": ("v1", False)}, replicas=0))  # scaled to 0: no replica will come
        assert all(f.done() for f in held)
        assert [answer(f)[0] for f in held] == [503, 503]
        assert "wants 0 replicas" in answer(held[0])[1]["error"]
        assert proxy.metrics.stats("default", "m", "").held == 0
        assert proxy.metrics.stats("default", "m", "v1").held == 0

    run(main)


def test_an_attempt_cancelled_while_its_client_waits_is_answered_502_naming_the_replica() -> None:
    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool)
        proxy.update(table({"a": ("v1", True)}))
        future = send(proxy)
        (attempt,) = pool.pending("a:1")
        attempt.cancel()  # not the client leaving: something else withdrew it
        await settle()
        status, payload = answer(future)
        assert status == 502 and payload["error"].startswith("replica a of default/m (a:1) failed")
        assert proxy.metrics.stats("default", "m", "v1").inflight == 0

    run(main)

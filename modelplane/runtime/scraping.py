"""Custom metrics: the Prometheus series autoscaled deployments name (`{type: custom, series: …}`),
scraped from their ready replicas' own /metrics (as Prometheus and the prometheus-adapter feed the
HPA's Pods metrics), kept in memory, latest reading per replica and series.

Every `SCRAPE_S` (1 s) each ready replica of a deployment with a custom metric is asked once for its
/metrics, over a keep-alive connection, within `TIMEOUT_S`; an answer is bounded (`MAX_ANSWER_BYTES`)
and parsed with prometheus-client's parser (never by hand). A series absent from an answer, an answer
that is not Prometheus text, or a replica that does not answer give no reading (the autoscaler then
reports the metric unavailable and never scales down on it); readings of replicas gone are dropped.
The samples of the series whose labels include the metric's `labels` are summed per replica.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from prometheus_client.parser import text_string_to_metric_families

from modelplane.net.client import ConnectionPool, UpstreamError

log = logging.getLogger("modelplane.scraping")

SCRAPE_S: Final = 1.0
TIMEOUT_S: Final = 1.0
MAX_ANSWER_BYTES: Final = 4 * 1024 * 1024

Labels = tuple[tuple[str, str], ...]
ReadingKey = tuple[str, str, str, Labels]
"""namespace, replica, series, label filter (sorted)"""


@dataclass(frozen=True, slots=True)
class Wanted:
    """One series to read from one replica."""

    namespace: str
    replica: str
    address: str
    series: str
    labels: Labels = ()


@dataclass(frozen=True, slots=True)
class Reading:
    value: float
    at: float


def series_value(text: str, series: str, labels: Mapping[str, str]) -> float | None:
    """The sum of the samples named `series` whose labels include `labels`; None when there is none
    (or the text is not Prometheus exposition format)."""
    total, found = 0.0, False
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name != series:
                    continue
                if any(sample.labels.get(k) != v for k, v in labels.items()):
                    continue
                if not math.isfinite(sample.value):
                    continue
                total += sample.value
                found = True
    except (ValueError, TypeError, IndexError):
        return None
    return total if found else None


class Scraper:
    """The latest custom-metric readings; `scrape(wanted, now)` takes a round of them."""

    def __init__(self) -> None:
        self.readings: dict[ReadingKey, Reading] = {}
        self._pool = ConnectionPool(
            max_per_address=1, connect_timeout=TIMEOUT_S, response_timeout=TIMEOUT_S,
            max_response_bytes=MAX_ANSWER_BYTES,
        )  # fmt: skip

    async def scrape(self, wanted: Iterable[Wanted], *, now: float) -> None:
        by_address: dict[str, list[Wanted]] = {}
        for item in wanted:
            by_address.setdefault(item.address, []).append(item)
        keep = {(w.namespace, w.replica, w.series, w.labels) for items in by_address.values() for w in items}
        for key in set(self.readings) - keep:
            del self.readings[key]
        self._pool.retain(by_address)
        answers = await asyncio.gather(*(self._get(address) for address in by_address))
        for items, text in zip(by_address.values(), answers, strict=True):
            for item in items:
                key = (item.namespace, item.replica, item.series, item.labels)
                value = series_value(text, item.series, dict(item.labels)) if text is not None else None
                if value is None:
                    self.readings.pop(key, None)
                else:
                    self.readings[key] = Reading(value, now)

    async def _get(self, address: str) -> str | None:
        try:
            answer = await self._pool.request(address, "GET", "/metrics")
        except UpstreamError as error:
            log.debug("scrape %s: %s", address, error)
            return None
        if answer.status != 200:
            return None
        return answer.body.decode("utf-8", errors="replace")

    async def close(self) -> None:
        await self._pool.close()

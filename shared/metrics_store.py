"""The Redis reads and writes behind ``GET /metrics``: one scrape's round trip and the job
census's bookkeeping (``api/metrics.py`` and ``api/census.py`` hold the logic and the metric
families; the key names are ``shared.metric_keys``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis

from shared.job import F
from shared.keys import Keys
from shared.metric_keys import SUM_FIELD, MetricKeys


@dataclass(frozen=True, slots=True)
class ScrapeReads:
    """Everything one scrape reads, from one pipelined round trip."""

    queue_lengths: list[int]  #: per queue, the sum of its lists
    unacked: int  #: messages delivered and not yet acknowledged, all queues
    webhooks_due: int
    counters: dict[str, str]  #: the workers' counters hash
    extraction: dict[str, str]  #: the workers' extraction histogram hash
    census: dict[str, str]  #: the last published census


class MetricsStore:
    """Scrape reads and the census's state, for one deployment's keys."""

    def __init__(self, client: redis.Redis, keys: Keys, mk: MetricKeys) -> None:
        self.r = client
        self.keys = keys
        self.mk = mk

    # ------------------------------------------------------------------- scrape
    def scrape(self, queues: list[list[str]]) -> ScrapeReads:
        """``queues``: for each queue, the broker lists that hold its messages."""
        pipe = self.r.pipeline(transaction=False)
        for lists in queues:
            for key in lists:
                pipe.llen(key)
        pipe.hlen(self.keys.broker_prefix + "unacked")
        pipe.zcard(self.keys.webhooks_due)
        pipe.hgetall(self.mk.counters)
        pipe.hgetall(self.mk.extraction)
        pipe.hgetall(self.mk.census)
        out = pipe.execute()
        lengths, i = [], 0
        for lists in queues:
            lengths.append(sum(out[i:i + len(lists)]))
            i += len(lists)
        unacked, due, counters, extraction, census = out[i:]
        return ScrapeReads(lengths, int(unacked), int(due), counters, extraction, census)

    # ------------------------------------------------------------------- census
    def census_lock(self, px: int) -> bool:
        """Takes the step lock for ``px`` ms unless another process holds it."""
        return bool(self.r.set(self.mk.census_lock, "1", nx=True, px=px))

    def census_work(self) -> dict[str, str]:
        """The census in progress: its cursor, start time and tallies so far."""
        return cast(dict[str, str], self.r.hgetall(self.mk.census_work))

    def scan_jobs(self, cursor: int, pattern: str, count: int) -> tuple[int, list[Any]]:
        """One SCAN step over job hashes matching ``pattern``."""
        cursor, found = self.r.scan(cursor, match=pattern, count=count, _type="HASH")
        return int(cursor), list(found)

    def status_fields(self, job_keys: list[Any]) -> list[tuple[str | None, str | None]]:
        """(status, expires_at) of each job hash, in one round trip; (None, None) when gone."""
        if not job_keys:
            return []
        pipe = self.r.pipeline(transaction=False)
        for key in job_keys:
            pipe.hmget(key, F.STATUS, F.EXPIRES_AT)
        return [(status, expires) for status, expires in pipe.execute()]

    def save_census_work(self, work: Mapping[str, int]) -> None:
        """Replaces the census in progress (cursor, start, tallies) in one transaction."""
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.mk.census_work)
        pipe.hset(self.mk.census_work, mapping=cast(Any, dict(work)))
        pipe.execute()

    def publish_census(self, values: Mapping[str, int]) -> None:
        """Publishes a finished census and clears the work in progress, atomically."""
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.mk.census, self.mk.census_work)
        pipe.hset(self.mk.census, mapping=cast(Any, dict(values)))
        pipe.execute()

    # ------------------------------------------------------------------- workers
    def add_worker_sums(
        self, counters: Mapping[str, int], extraction: Mapping[str, int],
        seconds: float | None,
    ) -> None:
        """Adds one worker process's buffered sums in one round trip (``worker/metrics.py``):
        counter deltas, extraction histogram deltas and, with ``seconds``, the time sum."""
        pipe = self.r.pipeline(transaction=False)
        for name, n in counters.items():
            pipe.hincrby(self.mk.counters, name, n)
        for name, n in extraction.items():
            pipe.hincrby(self.mk.extraction, name, n)
        if seconds is not None:
            pipe.hincrbyfloat(self.mk.extraction, SUM_FIELD, seconds)
        pipe.execute()

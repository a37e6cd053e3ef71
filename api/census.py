"""Jobs by effective status for ``/metrics``: a bounded, incremental census over Redis.

Why a census and not counters: a job's effective status changes without any write when
``expires_at`` passes, and a job disappears by TTL at the end of its grace period, so
per-status counters kept on writes would drift; only the job hashes know the truth. Reading
all of them on every scrape (a full SCAN) would cost O(keys) per scrape per Prometheus
replica, which a large deployment cannot afford.

So the count is a rolling census. Each scrape may run one *step*, at most once per
``STEP_INTERVAL_SECONDS`` across all API processes (a ``SET NX PX`` lock), and a step spends
at most ``STEP_BUDGET_SECONDS`` of SCAN + HMGET work, resuming from the cursor the previous
step saved. When the cursor wraps to 0, the tallies are published and the next census
starts. A scrape always reports the last published census plus its completion time
(``jobgrid_jobs_census_timestamp_seconds``), so staleness is visible. A deployment whose
keys fit in one step's budget (about 9,000 keys measured on a 2-core machine) gets a fresh
census every step; a larger one gets one every ``keys / per-step`` steps (see
docs/operations.md for the arithmetic). Redis spends about 1 % of its time on it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from shared.jobview import effective_status
from shared.keys import Keys
from shared.metric_keys import MetricKeys
from shared.status import JobStatus

STEP_INTERVAL_SECONDS = 5.0
STEP_BUDGET_SECONDS = 0.05
SCAN_COUNT = 1000
UUID_LEN = 36
AT_FIELD = "_completed_at_ms"
DURATION_FIELD = "_duration_ms"
STARTED_FIELD = "_started_at_ms"
CURSOR_FIELD = "_cursor"


def job_pattern(keys: Keys) -> str:
    """``{p}:job:`` followed by exactly 36 characters: job hashes, never their sub-keys."""
    return keys.job("?" * UUID_LEN)


def maybe_step(r: redis.Redis, keys: Keys, mk: MetricKeys) -> bool:
    """Runs one census step if no API process ran one in the last interval."""
    if not r.set(mk.census_lock, "1", nx=True, px=int(STEP_INTERVAL_SECONDS * 1000)):
        return False
    step(r, keys, mk)
    return True


def step(r: redis.Redis, keys: Keys, mk: MetricKeys, budget: float = STEP_BUDGET_SECONDS) -> None:
    """Advances the census by about ``budget`` seconds of work; publishes it when done."""
    work: dict[str, str] = r.hgetall(mk.census_work)  # type: ignore[assignment]
    cursor = int(work.get(CURSOR_FIELD, 0))
    started = int(work.get(STARTED_FIELD) or time.time() * 1000)
    tally: Counter[str] = Counter({k: int(v) for k, v in work.items() if not k.startswith("_")})
    deadline = time.monotonic() + budget
    pattern = job_pattern(keys)
    while True:
        cursor, found = r.scan(cursor, match=pattern, count=SCAN_COUNT, _type="HASH")
        tally.update(_statuses(r, found))
        if cursor == 0:
            _publish(r, mk, tally, started)
            return
        if time.monotonic() >= deadline:
            break
    pipe = r.pipeline(transaction=True)
    pipe.delete(mk.census_work)
    saved: dict[str, int] = {CURSOR_FIELD: cursor, STARTED_FIELD: started, **dict(tally)}
    pipe.hset(mk.census_work, mapping=saved)  # type: ignore[arg-type]
    pipe.execute()


def _statuses(r: redis.Redis, job_keys: list[Any]) -> Iterator[str]:
    """The effective status of each job hash (gone or malformed ones are skipped)."""
    if not job_keys:
        return
    pipe = r.pipeline(transaction=False)
    for key in job_keys:
        pipe.hmget(key, "status", "expires_at")
    now = int(time.time() * 1000)
    for status, expires in pipe.execute():
        if status is None:
            continue
        try:
            yield effective_status({"status": status, "expires_at": expires or ""}, now).value
        except ValueError:
            continue


def _publish(r: redis.Redis, mk: MetricKeys, tally: Counter[str], started: int) -> None:
    now = int(time.time() * 1000)
    values: dict[str, int] = {s.value: tally.get(s.value, 0) for s in JobStatus}
    values[AT_FIELD] = now
    values[DURATION_FIELD] = max(0, now - started)
    pipe = r.pipeline(transaction=True)
    pipe.delete(mk.census, mk.census_work)
    pipe.hset(mk.census, mapping=values)  # type: ignore[arg-type]
    pipe.execute()


def families(published: dict[str, str]) -> Iterator[Metric]:
    """``jobgrid_jobs{status}`` from the last published census (absent before the first)."""
    at = int(published.get(AT_FIELD, 0))
    stamp = GaugeMetricFamily("jobgrid_jobs_census_timestamp_seconds",
                              "When the census behind jobgrid_jobs completed (0: not yet).",
                              value=at / 1000)
    yield stamp
    if not at:
        return
    jobs = GaugeMetricFamily("jobgrid_jobs", "Jobs by effective status, from the last census "
                             "of the job records (expired ones stay until their grace "
                             "period ends).", labels=["status"])
    for s in JobStatus:
        jobs.add_metric([s.value], int(published.get(s.value, 0)))
    yield jobs
    yield GaugeMetricFamily("jobgrid_jobs_census_duration_seconds",
                            "Wall time the last census took from its first step to its last.",
                            value=int(published.get(DURATION_FIELD, 0)) / 1000)

"""Celery tasks: decode arguments, call ``worker.pipeline``, declare retries. Nothing else.

Redis outages inside a task are waited out in-process (the broker is the same Redis, so a
Celery retry could not be sent either); once Redis answers again the run is noted as a
``redis_unavailable`` retry and started over, which every phase tolerates.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import redis

from shared import queues as q
from shared.fleet_store import FleetStore
from worker import runtime
from worker.celery_app import app
from worker.dispatch import CeleryDispatcher
from worker.pipeline import Ctx, RetryLater, run_extract, run_finalize, run_parse, run_validate

log = logging.getLogger("jobgrid.worker")
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError)
OUTAGE_BUDGET_SECONDS = 300.0


@cache
def _dispatcher() -> CeleryDispatcher:
    """One per process: what it derives from the settings never changes."""
    return CeleryDispatcher(app, runtime.settings())


def _ctx(job_id: str, org: str, priority: str = "normal") -> Ctx:
    return Ctx(runtime.store(), _dispatcher(), job_id, org, priority)


def _backoff(attempt: int) -> float:
    s = runtime.settings()
    delay = min(s.retry_backoff_max, s.retry_backoff_base * (2 ** attempt))
    return float(delay * random.uniform(0.5, 1.5))


def _through_outage(job_id: str, org: str, task_key: str, step: Callable[[], str]) -> str:
    """Runs ``step``, waiting out a Redis outage and then running it again.

    The run after an outage starts only once ``note_failure`` went through: begin_task.lua
    counts an un-noted second run as a crash (``worker_lost``, towards the crash cap), so
    running ``step`` while the note still fails would misreport the outage.
    """
    waited, attempt = 0.0, 0
    while True:
        try:
            return step()
        except REDIS_ERRORS as e:
            error: Exception = e
        while True:  # wait until Redis answers again, then note the retry
            if waited >= OUTAGE_BUDGET_SECONDS:
                raise error
            pause = min(5.0, 0.2 * (2 ** attempt))
            log.warning("job %s %s: Redis unavailable (%s); retrying in %.1fs",
                        job_id, task_key, error.__class__.__name__, pause)
            time.sleep(pause)
            waited, attempt = waited + pause, attempt + 1
            try:
                runtime.store().note_failure(job_id, org, task_key, "redis_unavailable")
                break
            except REDIS_ERRORS as e:
                error = e


@app.task(name=q.T_VALIDATE, acks_late=True)
def validate(job_id: str, org: str) -> str:
    return _through_outage(job_id, org, "validate", lambda: run_validate(_ctx(job_id, org)))


@app.task(name=q.T_PARSE, acks_late=True)
def parse(job_id: str, org: str) -> str:
    return _through_outage(job_id, org, "parse", lambda: run_parse(_ctx(job_id, org)))


#: Pitfall 2 (docs/pitfalls.md): a document's run (parse and extraction) must end well within
#: the broker's visibility_timeout (3600 s), or the message is delivered again while it still
#: runs. At the soft limit the document stops and gets a ``document_timeout`` row (raised so
#: that no parser can swallow it: ``worker/docwatch.py``); at the hard limit the
#: pool process is killed and the run counts as lost (crash cap).
SOFT_LIMIT = runtime.settings().document_soft_time_limit
HARD_LIMIT = SOFT_LIMIT + 30


@app.task(name=q.T_EXTRACT, bind=True, acks_late=True, max_retries=None,
          soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT)
def extract_document(
    self: Any, job_id: str, org: str, index: int, priority: str = "normal"
) -> str:
    retries: int = self.request.retries
    may_retry = retries < runtime.settings().transient_retry_max
    try:
        return _through_outage(
            job_id, org, f"d:{index}",
            lambda: run_extract(_ctx(job_id, org, priority), runtime.extractor(), index,
                                may_retry),
        )
    except RetryLater as e:
        raise self.retry(countdown=_backoff(retries), exc=e) from e


@app.task(name=q.T_FINALIZE, acks_late=True)
def finalize(job_id: str, org: str) -> str:
    return _through_outage(job_id, org, "finalize", lambda: run_finalize(_ctx(job_id, org)))


@app.task(name=q.T_PING, acks_late=False)
def ping(reply_key: str) -> str:
    """Proves a worker consumes (pitfall 9 in docs/pitfalls.md): writes to a key the health
    check waits on."""
    store = runtime.store()
    FleetStore(store.r, store.keys).answer_ping(reply_key, str(time.time()))
    return "pong"

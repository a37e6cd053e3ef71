"""The housekeeping thread of every worker: webhook retries, job expiry, the stall watchdog.

Three duties that must happen at a time rather than in answer to a message, run by one daemon
thread in each worker's main process (Celery beat is not part of this deployment):

- **webhook retries**: send one ``jobgrid.deliver_webhook`` task per delivery whose time has
  come in the due set (``sweep_deliveries``; the delivery itself is ``worker.webhooks``);
- **job expiry**: emit ``job.expired`` for every job whose ``expires_at`` passed
  (``sweep_expiries``, over the deadlines the job store registers, ``shared.expiry``);
- **stall watchdog**: re-send the next step of a job that stopped moving
  (``worker.watchdog.rescue_stalled``), less often than the sweeps.

Several workers may run it at once: due deliveries and deadlines are claimed atomically for
a lease (``webhook_claim.lua``), and the watchdog locks each job it rescues. The thread
starts on Celery's ``worker_ready`` and stops on ``worker_shutdown``, with its own Redis
client: nothing is shared with the pool processes forked before it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown

from shared.clock import now_ms
from shared.expiry import expiry_job
from shared.job import F
from shared.redis_client import redis_from_settings
from shared.settings import Settings
from shared.store import JobStore
from shared.webhooks import JOB_EXPIRED, WebhookStore, emit_job_event
from worker import runtime
from worker.celery_app import app
from worker.dispatch import CeleryDispatcher
from worker.loops import PeriodicThread
from worker.watchdog import rescue_stalled
from worker.webhook_tasks import send_deliveries

log = logging.getLogger("jobgrid.housekeeping")

#: most deliveries (or deadlines) claimed per pass
SWEEP_BATCH = 500

#: sends one delivery task per (delivery id, attempts already made)
Sender = Callable[[list[tuple[str, int]]], None]


def lease_seconds(settings: Settings) -> int:
    """How long a claimed delivery or expiry stays claimed before it is swept again.

    Capped below half the broker's ``visibility_timeout``: a task message lost with its
    worker is then re-sent by the housekeeping before the broker would redeliver it anyway.
    """
    return max(1, min(settings.webhook_lease_seconds, settings.visibility_timeout // 2))


def sweep_deliveries(store: JobStore, send: Sender, now: int) -> int:
    """Sends a task for every due pending delivery; drops closed or expired ones."""
    whs = WebhookStore(store.r, store.settings)
    ids = whs.claim_due(now, lease_seconds(store.settings) * 1000, SWEEP_BATCH)
    if not ids:
        return 0
    todo: list[tuple[str, int]] = []
    closed: list[str] = []
    for d_id, (status, count) in zip(ids, whs.attempt_states(ids), strict=True):
        if status == "pending":
            todo.append((d_id, count))
        else:
            closed.append(d_id)
    whs.drop_due(*closed)
    if todo:
        send(todo)
    return len(todo)


def sweep_expiries(store: JobStore, now: int) -> int:
    """Emits ``job.expired`` for every job whose deadline passed; returns how many emitted."""
    emitted = 0
    lease_ms = lease_seconds(store.settings) * 1000
    leased_score = now + lease_ms
    for member in store.claim_expiries(now, lease_ms, SWEEP_BATCH):
        org, job_id = expiry_job(member)
        h = store.read_job(job_id)
        expires = int(h.get(F.EXPIRES_AT) or 0) if h else 0
        if expires > now:  # retried since: wait for the new deadline
            store.defer_expiry(member, expires)
            continue
        if h is not None:
            emitted += 1 if emit_job_event(store, job_id, org, JOB_EXPIRED) else 0
        store.release_expiry(member, leased_score)
    return emitted


class HousekeepingLoop:
    """A daemon thread that sweeps every ``webhook_sweep_interval_seconds``.

    One runs in each worker process (started on ``worker_ready``); several at once are safe
    because claims are atomic. The thread, its stop and its error logging are
    ``worker.loops.PeriodicThread``'s: trouble is logged once per streak (a Redis outage
    without a traceback) and the loop carries on; the first pass comes one interval after
    the start, when the worker is consuming.
    """

    def __init__(
        self, store: JobStore, send: Sender, watchdog: Callable[[int], int] | None = None
    ) -> None:
        self.store = store
        self.send = send
        self.interval = store.settings.webhook_sweep_interval_seconds
        # the stalled-job watchdog (worker/watchdog.py) rides on the same thread, less often
        self.watchdog = watchdog
        self.watchdog_every_ms = int(max(1.0, store.settings.stall_seconds / 4) * 1000)
        self._watchdog_due = 0
        self._loop = PeriodicThread("jobgrid-housekeeping", self.interval,
                                      self.run_once, log, quiet=(redis.RedisError,))

    def run_once(self, now: int | None = None) -> tuple[int, int]:
        """(deliveries sent, expiries emitted) for one pass."""
        now = now if now is not None else now_ms()
        if self.watchdog is not None and now >= self._watchdog_due:
            self._watchdog_due = now + self.watchdog_every_ms
            self.watchdog(now)
        return sweep_deliveries(self.store, self.send, now), sweep_expiries(self.store, now)

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)


# ---------------------------------------------------------------------- Celery wiring
_running: HousekeepingLoop | None = None


def start_housekeeping(**_: Any) -> None:
    """Starts this process's housekeeping thread once (connected to ``worker_ready``)."""
    global _running
    if _running is None:
        s = runtime.settings()
        store = JobStore(redis_from_settings(s), s)
        dispatch = CeleryDispatcher(app, s)
        _running = HousekeepingLoop(store, send_deliveries,
                                    watchdog=lambda now: rescue_stalled(store, dispatch, now))
        _running.start()
        log.info("housekeeping started (every %.2f s)", _running.interval)


def stop_housekeeping(**_: Any) -> None:
    """Stops it on warm shutdown (connected to ``worker_shutdown``)."""
    global _running
    if _running is not None:
        _running.stop()
        _running = None


worker_ready.connect(start_housekeeping, weak=False)
worker_shutdown.connect(stop_housekeeping, weak=False)

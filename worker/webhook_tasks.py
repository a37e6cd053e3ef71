"""Celery side of webhooks: the delivery task and the sweeper thread. Logic: ``worker.webhooks``.

The sweeper is a daemon thread in each worker's main process, started on ``worker_ready``
(Celery beat is not part of this deployment). It claims due deliveries and expiry deadlines
atomically in Redis, so any number of workers may run one. It uses its own Redis client:
nothing is shared with the pool processes forked before it starts.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from shared import queues as q
from shared.redis_client import redis_from_settings
from shared.store import JobStore
from worker import runtime
from worker.celery_app import app
from worker.dispatch import CeleryDispatcher
from worker.watchdog import rescue_stalled
from worker.webhooks import Sweeper, deliver

log = logging.getLogger("jobgrid.webhooks")

#: a hard stop well above one attempt's socket timeout (a receiver that trickles bytes)
_TIME_LIMIT = int(runtime.settings().webhook_timeout_seconds * 3) + 30
_sweeper: Sweeper | None = None


@app.task(
    name=q.T_DELIVER_WEBHOOK, acks_late=True, time_limit=_TIME_LIMIT,
)
def deliver_webhook(delivery_id: str, attempts: int) -> str:
    """One attempt of one delivery; the next one is scheduled in Redis, never by Celery."""
    return deliver(runtime.store(), str(delivery_id), int(attempts))


def send_deliveries(todo: list[tuple[str, int]]) -> None:
    """Sends one task per due delivery over a single producer connection."""
    with app.producer_or_acquire() as producer:
        for delivery_id, attempts in todo:
            app.send_task(q.T_DELIVER_WEBHOOK, args=[delivery_id, attempts],
                          queue=q.WEBHOOKS, producer=producer)


def start_sweeper(**_: Any) -> None:
    """Starts this process's sweeper once (connected to ``worker_ready``)."""
    global _sweeper
    if _sweeper is None:
        s = runtime.settings()
        store = JobStore(redis_from_settings(s), s)
        dispatch = CeleryDispatcher(app, s)
        _sweeper = Sweeper(store, send_deliveries,
                           watchdog=lambda now: rescue_stalled(store, dispatch, now))
        _sweeper.start()
        log.info("webhook sweeper started (every %.2f s)", _sweeper.interval)


def stop_sweeper(**_: Any) -> None:
    """Stops it on warm shutdown (connected to ``worker_shutdown``)."""
    global _sweeper
    if _sweeper is not None:
        _sweeper.stop()
        _sweeper = None


worker_ready.connect(start_sweeper, weak=False)
worker_shutdown.connect(stop_sweeper, weak=False)

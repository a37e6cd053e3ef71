"""Celery side of webhook delivery: the delivery task and its sender. Logic: ``worker.webhooks``.

The sender is what the housekeeping thread (``worker.housekeeping``) calls with the
deliveries it claimed: one task each, with no countdown, since retry delays wait in Redis.
"""

from __future__ import annotations

from shared import queues as q
from worker import runtime
from worker.celery_app import app
from worker.webhooks import deliver

#: a hard stop well above one attempt's socket timeout (a receiver that trickles bytes)
_TIME_LIMIT = int(runtime.settings().webhook_timeout_seconds * 3) + 30


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

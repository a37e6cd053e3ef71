"""Celery queue and task names, known to both the API (which enqueues) and the workers."""

from __future__ import annotations

from shared.status import Priority

CONTROL = "control"
EXTRACT = "extract"
EXTRACT_HIGH = "extract.high"
EXTRACT_LOW = "extract.low"
WEBHOOKS = "webhooks"

EXTRACT_QUEUES = [EXTRACT_HIGH, EXTRACT, EXTRACT_LOW]
ALL_QUEUES = [CONTROL, *EXTRACT_QUEUES, WEBHOOKS]

# task names (stable strings: they travel in broker messages)
T_VALIDATE = "jobgrid.validate"
T_PARSE = "jobgrid.parse"
T_EXTRACT = "jobgrid.extract_document"
T_FINALIZE = "jobgrid.finalize"
T_DELIVER_WEBHOOK = "jobgrid.deliver_webhook"
T_PING = "jobgrid.ping"

EXTRACT_QUEUE_BY_PRIORITY = {
    Priority.HIGH: EXTRACT_HIGH,
    Priority.NORMAL: EXTRACT,
    Priority.LOW: EXTRACT_LOW,
}


def extract_queue(priority: str) -> str:
    return EXTRACT_QUEUE_BY_PRIORITY.get(Priority(priority), EXTRACT)

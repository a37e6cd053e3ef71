"""Sends Celery tasks from the API, failing fast when the broker is down.

The shared Celery config keeps retrying the broker forever (right for workers, which must
survive a Redis restart). A web request cannot wait that long: here a send tries the
connection twice with no back-off, and any broker error becomes 503 ``unavailable``.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from kombu.exceptions import OperationalError

from shared import queues
from shared.celery_config import make_celery
from shared.errors import Unavailable
from shared.settings import Settings

log = logging.getLogger("jobgrid.api.enqueue")

_FAST_FAIL: dict[str, Any] = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    redis.ConnectionError,
    redis.TimeoutError,
    ConnectionError,
    TimeoutError,
)


class Enqueuer:
    """A sending-only Celery app for the two tasks the API starts."""

    def __init__(self, settings: Settings) -> None:
        self.app = make_celery(settings, name="jobgrid-api")
        options = dict(self.app.conf.broker_transport_options or {})
        self.app.conf.broker_transport_options = {**options, **_FAST_FAIL}

    def send(self, task: str, job_id: str, org: str) -> None:
        """Enqueues ``task(job_id, org)`` on the control queue, or raises 503."""
        try:
            self.app.send_task(task, args=[job_id, org], queue=queues.CONTROL,
                               retry=True, retry_policy=_FAST_FAIL)
        except BROKER_ERRORS as e:
            log.warning("enqueue of %s for job %s failed: %s", task, job_id, e)
            raise Unavailable("the job queue cannot be reached; try again shortly") from e

    def validate(self, job_id: str, org: str) -> None:
        """Starts a new job at phase 0."""
        self.send(queues.T_VALIDATE, job_id, org)

    def parse(self, job_id: str, org: str) -> None:
        """Restarts a retried job at phase 1 (its documents were validated before)."""
        self.send(queues.T_PARSE, job_id, org)

"""Enqueues the next phase's tasks. Messages carry ids only; documents stay in Redis."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from celery import Celery

from shared import queues as q
from shared.broker_messages import extract_envelope
from shared.keys import Keys
from shared.settings import Settings


class Dispatcher(Protocol):
    def validate(self, job_id: str, org: str) -> None: ...
    def parse(self, job_id: str, org: str) -> None: ...
    def finalize(self, job_id: str, org: str) -> None: ...
    def extract(self, job_id: str, org: str, indexes: Iterable[int], priority: str) -> int: ...
    def extract_push(self, job_id: str, org: str, priority: str) -> tuple[str, str] | None: ...


class CeleryDispatcher:
    """Sends through one producer connection, so a large fan-out does not check a
    connection out of the pool once per document."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        # the recording script can push a message only into the Redis it runs in
        self._same_redis = settings.effective_broker_url == settings.redis_url
        self._broker_prefix = Keys(settings.key_prefix).broker_prefix

    def extract_push(self, job_id: str, org: str, priority: str) -> tuple[str, str] | None:
        """(kombu's queue list, envelope) for ``record_document.lua`` to send the next
        document itself (``shared.broker_messages``); None when the broker is elsewhere."""
        if not self._same_redis:
            return None
        return (self._broker_prefix + q.extract_queue(priority),
                extract_envelope(job_id, org, priority))

    def validate(self, job_id: str, org: str) -> None:
        self.app.send_task(q.T_VALIDATE, args=[job_id, org], queue=q.CONTROL)

    def parse(self, job_id: str, org: str) -> None:
        self.app.send_task(q.T_PARSE, args=[job_id, org], queue=q.CONTROL)

    def finalize(self, job_id: str, org: str) -> None:
        self.app.send_task(q.T_FINALIZE, args=[job_id, org], queue=q.CONTROL)

    def extract(self, job_id: str, org: str, indexes: Iterable[int], priority: str) -> int:
        queue = q.extract_queue(priority)
        sent = 0
        with self.app.producer_or_acquire() as producer:
            for i in indexes:
                self.app.send_task(q.T_EXTRACT, args=[job_id, org, i, priority], queue=queue,
                                   producer=producer)
                sent += 1
        return sent

"""Enqueues the next phase's tasks. Messages carry ids only; documents stay in Redis."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from celery import Celery

from shared import queues as q


class Dispatcher(Protocol):
    def validate(self, job_id: str, org: str) -> None: ...
    def parse(self, job_id: str, org: str) -> None: ...
    def finalize(self, job_id: str, org: str) -> None: ...
    def extract(self, job_id: str, org: str, indexes: Iterable[int], priority: str) -> int: ...


class CeleryDispatcher:
    """Sends through one producer connection, so a large fan-out does not check a
    connection out of the pool once per document."""

    def __init__(self, app: Celery) -> None:
        self.app = app

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

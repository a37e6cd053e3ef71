"""The Celery app that ``celery -A worker.celery_app worker`` runs.

Configuration lives in ``shared.celery_config`` (the API sends with the same settings);
this module only adds the task modules and the worker-side signal hooks.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_init, worker_process_shutdown

from shared.celery_config import make_celery
from shared.settings import get_settings

app = make_celery(get_settings(), name="jobgrid-worker")
app.conf.include = ["worker.tasks", "worker.webhook_tasks"]


@worker_init.connect
def _check_extractor(**_: Any) -> None:
    """Load the configured extractor before consuming anything: a broken plug-in must stop
    the worker at start, not fail (and ack) every task it takes."""
    from worker.runtime import load_extractor

    load_extractor(get_settings().extractor)


@worker_init.connect
def _check_redis_version(**_: Any) -> None:
    """Refuse a Redis older than the oldest supported version, naming both, before consuming.
    SystemExit, because Celery logs and swallows a receiver's ordinary exceptions."""
    from shared.redis_client import RedisVersionError, redis_from_settings

    try:
        redis_from_settings(get_settings()).close()
    except RedisVersionError as e:
        raise SystemExit(f"error: {e}") from None


def _flush_metrics(**_: object) -> None:
    """A pool process's last second of buffered counts, written before it exits."""
    from worker import metrics

    metrics.flush()


worker_process_shutdown.connect(_flush_metrics, weak=False)

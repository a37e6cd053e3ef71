"""The Celery app that ``celery -A worker.celery_app worker`` runs.

Configuration lives in ``shared.celery_config`` (the API sends with the same settings);
this module only adds the task modules and the worker-side signal hooks.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_init, worker_process_shutdown, worker_ready, worker_shutdown

from shared.celery_config import make_celery
from shared.settings import get_settings

app = make_celery(get_settings(), name="jobgrid-worker")
app.conf.include = ["worker.tasks", "worker.webhook_tasks", "worker.housekeeping"]


@worker_init.connect
def _check_extractor(**_: Any) -> None:
    """Load the configured extractor before consuming anything: a broken plug-in must stop
    the worker at start, not fail (and ack) every task it takes. SystemExit, because Celery
    logs and swallows a receiver's ordinary exceptions: the worker used to start anyway and
    say nothing at its default log level."""
    from worker.runtime import load_extractor

    name = get_settings().extractor
    try:
        load_extractor(name)
    except Exception as e:  # any failure of an import or a constructor: stop, naming it
        raise SystemExit(f"error: JOBGRID_EXTRACTOR={name!r} cannot be loaded: "
                         f"{type(e).__name__}: {e}") from None


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


def _stop_cancel_watch(**_: object) -> None:
    """A pool process's cancel watcher (``worker/docwatch.py``) ends before the process."""
    from worker import docwatch

    docwatch.stop()


worker_process_shutdown.connect(_stop_cancel_watch, weak=False)


_keeper: Any = None


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    """Starts this node's heartbeat and housekeeping thread (``worker/fleet.py``) once the
    consumer is ready: its channel is where the held delivery tags are read from."""
    global _keeper
    if _keeper is not None or sender is None:
        return
    import redis

    from shared.redis_client import redis_from_settings
    from shared.store import JobStore
    from worker.dispatch import CeleryDispatcher
    from worker.fleet import Housekeeper, NodeKeeper, held_tags, kombu_restorer

    s = get_settings()
    store = JobStore(redis_from_settings(s), s)
    broker = store.r if s.effective_broker_url == s.redis_url else redis.Redis.from_url(
        s.effective_broker_url, decode_responses=True,
        socket_timeout=s.redis_socket_timeout, socket_connect_timeout=s.redis_socket_timeout)
    keeper = Housekeeper(store, broker, CeleryDispatcher(app, s), kombu_restorer(app))
    _keeper = NodeKeeper(str(sender.hostname), store, lambda: held_tags(sender), keeper)
    _keeper.start()


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    global _keeper
    if _keeper is not None:
        _keeper.stop()
        _keeper = None

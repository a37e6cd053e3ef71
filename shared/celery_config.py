"""Celery configuration shared by the worker app and the API's sending-only app.

The settings here are the answers to ``docs/pitfalls.md``: acks_late with
reject_on_worker_lost (1), a visibility_timeout longer than any task or countdown (2),
prefetch 1 (8), explicit routes to separate queues (8), and every broker key under our prefix.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue  # type: ignore[attr-defined]

from shared import kombu_fixes
from shared import queues as q
from shared.keys import Keys
from shared.settings import Settings


def restore_options(visibility_timeout: int) -> dict[str, int]:
    """How soon a message unacked by a dead worker goes back on its queue (pitfalls 1 and 2 in
    docs/pitfalls.md).

    kombu's Redis transport re-queues an unacked message once it is older than
    ``visibility_timeout``, but only when a sweep (``restore_visible``) runs: in a worker every
    ``unacked_restore_interval`` s (default 10), scanning on every ``unacked_restore_throttle``-th
    call only (default 10), i.e. every ~100 s - longer than the visibility timeout itself when
    that is short. We scan on every sweep, at a quarter of the timeout (1-10 s), so a lost
    message runs again at most ~1.25 x ``visibility_timeout`` after its delivery. The sweep
    mutex of a worker killed mid-sweep expires within about one timeout (kombu: 300 s).
    """
    return {
        "unacked_restore_interval": max(1, min(10, visibility_timeout // 4)),
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": max(5, min(300, visibility_timeout)),
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.effective_broker_url,
        "broker_transport_options": {
            "global_keyprefix": Keys(settings.key_prefix).broker_prefix,
            "visibility_timeout": settings.visibility_timeout,
            **restore_options(settings.visibility_timeout),
            "socket_timeout": settings.redis_socket_timeout,
            "socket_connect_timeout": settings.redis_socket_timeout,
            "retry_on_timeout": True,
            "health_check_interval": 10,
            # consume a worker's queues strictly in the declared order (task_queues below):
            # control first, then extract.high > extract > extract.low, then webhooks
            "queue_order_strategy": "priority",
        },
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_channel_error_retry": True,
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_enable_remote_control": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": q.CONTROL,
        "task_create_missing_queues": True,
        "task_queues": [
            Queue(name, routing_key=name)  # type: ignore[no-untyped-call]
            for name in q.ALL_QUEUES
        ],
        "task_routes": {
            q.T_VALIDATE: {"queue": q.CONTROL},
            q.T_PARSE: {"queue": q.CONTROL},
            q.T_FINALIZE: {"queue": q.CONTROL},
            q.T_EXTRACT: {"queue": q.EXTRACT},  # overridden per job priority at send time
            q.T_DELIVER_WEBHOOK: {"queue": q.WEBHOOKS},
            q.T_PING: {"queue": q.CONTROL},
        },
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
    }


def make_celery(settings: Settings, name: str = "jobgrid") -> Celery:
    kombu_fixes.apply()
    app = Celery(name)
    app.conf.update(celery_config(settings))
    return app

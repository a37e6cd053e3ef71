"""A health check that proves a worker *consumes* tasks, not just that its process lives.

Pitfall 9 (docs/pitfalls.md): after a Redis blip a worker can keep its PID, and even answer
``celery inspect ping`` (a broadcast over pub/sub, served by another channel), while no longer
taking tasks off its queues (celery/celery#8030, #10302). So the check sends a real task,
``jobgrid.ping``, through the same broker and queue as the work, and waits for the reply
key the task writes. A ``True`` means some worker consuming ``queue`` ran a task within
``timeout``.

The ping carries ``expires``: if nobody takes it in time, a worker that comes back later
discards it instead of running a stale check.
"""

from __future__ import annotations

import secrets
import time

import redis
from kombu.exceptions import OperationalError

from shared import queues as q
from shared.celery_config import make_celery
from shared.fleet_store import FleetStore
from shared.keys import Keys
from shared.redis_client import redis_from_settings
from shared.settings import Settings

_SEND_FAST_FAIL = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                   "interval_max": 0.2}
_POLL_SECONDS = 0.05


def reply_key(settings: Settings, token: str) -> str:
    """Where ``jobgrid.ping`` answers (a string with a 60 s TTL, under the app prefix)."""
    return Keys(settings.key_prefix).health_reply(token)


def check_consuming(settings: Settings, timeout: float = 10.0, queue: str = q.CONTROL) -> bool:
    """True when a worker consuming ``queue`` ran a ping task within ``timeout`` seconds.

    False (never an exception) when the broker or Redis cannot be reached, or nobody answered.
    Give a ``timeout`` longer than the longest task on ``queue``: with prefetch 1 a busy
    worker takes the ping only after its current task.
    """
    key = reply_key(settings, secrets.token_hex(12))
    client = redis_from_settings(settings)
    replies = FleetStore(client, Keys(settings.key_prefix))
    app = make_celery(settings, name="jobgrid-health")
    deadline = time.monotonic() + timeout
    try:
        app.send_task(q.T_PING, args=[key], queue=queue, expires=timeout,
                      retry=True, retry_policy=_SEND_FAST_FAIL)
        while True:
            if replies.take_reply(key):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_SECONDS)
    except (redis.RedisError, OperationalError, OSError):
        return False
    finally:
        app.close()
        client.close()

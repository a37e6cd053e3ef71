"""The peer baseline: a bare Celery app on the same broker settings with a no-op task.

``celery -A bare_celery worker`` (bench/ on PYTHONPATH). The task only INCRs a counter so the
benchmark can see when all of them ran: the least tracking any job system can do.
"""

from __future__ import annotations

import redis

from shared.celery_config import make_celery
from shared.settings import get_settings

settings = get_settings()
app = make_celery(settings, name="bare")
_client: redis.Redis | None = None


@app.task(name="bare.noop", acks_late=True)
def noop(counter_key: str) -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.redis_url)
    _client.incr(counter_key)

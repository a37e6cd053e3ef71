"""A workaround for a kombu 5.7 Redis-transport bug that kills a worker on a Redis blip.

When the broker connection drops while the worker holds an unacknowledged message (its ack
failed because Redis was down), Celery closes the connection; closing the channel calls
``restore_unacked_once()``, which builds a new connection pool from
``Channel.connection.client`` - already ``None`` at that point. The ``AttributeError`` is
not one of the connection errors Celery ignores during that cleanup, so the worker logs
"Unrecoverable error" and exits instead of reconnecting (seen in
``tests/faults/test_redis_blip.py``; the same cleanup path as celery/kombu#970).

Restoring cannot succeed anyway while Redis is unreachable; the message stays in kombu's
``unacked`` hash and is put back by the visibility sweep (``restore_options`` in
``shared/celery_config.py``). So the fix makes that call fail the way a lost connection
fails - with ``redis.ConnectionError``, which the cleanup ignores - and the worker goes on
to reconnect.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis

_original = kombu_redis.Channel._connparams


def _connparams(self: Any, asynchronous: bool = False) -> Any:
    if getattr(self.connection, "client", None) is None:
        raise redis.ConnectionError("the broker connection is already closed")
    return _original(self, asynchronous=asynchronous)  # type: ignore[no-untyped-call]


def apply() -> None:
    """Idempotent: installs the guard on kombu's Redis channel once per process."""
    if kombu_redis.Channel._connparams is not _connparams:
        kombu_redis.Channel._connparams = _connparams  # type: ignore[method-assign]

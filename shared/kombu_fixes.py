"""Two fixes to kombu 5.7's Redis transport: a bug that kills a worker on a Redis blip, and a
client object built for every broker operation.

**1. A worker killed by a blip.** When the broker connection drops while the worker holds an
unacknowledged message (its ack failed because Redis was down), Celery closes the
connection; closing the channel calls ``restore_unacked_once()``, which builds a new
connection pool from ``Channel.connection.client`` - already ``None`` at that point. The
``AttributeError`` is not one of the connection errors Celery ignores during that cleanup,
so the worker logs "Unrecoverable error" and exits instead of reconnecting (seen in
``tests/faults/test_redis_blip.py``; the same cleanup path as celery/kombu#970).

Restoring cannot succeed anyway while Redis is unreachable; the message stays in kombu's
``unacked`` hash and is put back by the visibility sweep (``restore_options`` in
``shared/celery_config.py``). So the fix makes that call fail the way a lost connection
fails - with ``redis.ConnectionError``, which the cleanup ignores - and the worker goes on
to reconnect.

**2. A Redis client per operation.** ``Channel.conn_or_acquire()`` without a client builds a
new ``redis.Redis`` (with our ``global_keyprefix``, kombu's ``PrefixedStrictRedis``) on the
channel's pool for every call: every message fetched (the ``unacked`` bookkeeping), every
ack, every publish. Building one fills a fresh table of about 200 response callbacks, which
was about a fifth of a worker node's main process CPU in a profile of a 200-PDF job (py-spy:
``PrefixedStrictRedis.__init__`` and ``CaseInsensitiveDict``), CPU taken from the pool
processes on a small machine. The client holds no connection of its own (each command takes
one from the pool and gives it back, which is also what makes it safe to share between
threads), so the channel keeps one per pool and builds a new one only when kombu replaced
the pool (after a connection error).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

_original = kombu_redis.Channel._connparams


def _connparams(self: Any, asynchronous: bool = False) -> Any:
    if getattr(self.connection, "client", None) is None:
        raise redis.ConnectionError("the broker connection is already closed")
    return _original(self, asynchronous=asynchronous)  # type: ignore[no-untyped-call]


_CLIENT = "_jobgrid_client"


@contextmanager
def _conn_or_acquire(self: Any, client: Any = None) -> Iterator[Any]:
    """kombu's ``Channel.conn_or_acquire``, with the client kept per channel and pool."""
    if client:
        yield client
        return
    pool = self.pool  # kombu's property: builds a new pool after _disconnect_pools
    cached = self.__dict__.get(_CLIENT)
    if cached is None or cached.connection_pool is not pool:
        cached = self._create_client()
        self.__dict__[_CLIENT] = cached
    yield cached


def apply() -> None:
    """Idempotent: installs both fixes on kombu's Redis channel once per process."""
    if kombu_redis.Channel._connparams is not _connparams:
        kombu_redis.Channel._connparams = _connparams  # type: ignore[method-assign]
    if kombu_redis.Channel.conn_or_acquire is not _conn_or_acquire:
        kombu_redis.Channel.conn_or_acquire = _conn_or_acquire  # type: ignore[method-assign]

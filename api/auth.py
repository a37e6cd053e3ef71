"""API-key authentication with an in-process cache, so the status hot path costs no Redis trip.

A key arrives as ``Api-Key: <key>``, ``Authorization: Bearer <key>`` or ``?access_token=<key>``
(the last one for browser EventSource and links). The cache maps the key's SHA-256 id, never
the clear key, to its organization for ``api_key_cache_seconds``; unknown keys are cached too
so a client hammering with a bad key does not hammer Redis. A revoked key therefore stops
working within one cache period. Clear keys are never logged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis
from flask import Request, g

from shared.apikeys import key_id, resolve_key
from shared.errors import Unauthorized
from shared.settings import Settings

MAX_CACHED_KEYS = 10_000
MAX_KEY_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id (for rate limits and logs) and its organization."""

    key_id: str
    org: str


def extract_key(req: Request) -> str | None:
    """The API key from the first of the three accepted places that holds one."""
    key = req.headers.get("Api-Key", "").strip()
    if key:
        return key
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return req.args.get("access_token", "").strip() or None


class KeyCache:
    """A bounded TTL map of key id -> Principal (or None for a known-bad key); thread-safe."""

    def __init__(self, ttl: float, max_entries: int = MAX_CACHED_KEYS) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def get(self, kid: str) -> tuple[bool, Principal | None]:
        """(hit, principal); a hit with None means the key is known to be invalid."""
        entry = self._entries.get(kid)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, kid: str, principal: Principal | None) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[kid] = (time.monotonic() + self.ttl, principal)


class Authenticator:
    """Resolves keys against the configured ones and Redis, through the cache."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.configured = settings.configured_api_keys()
        self.cache = KeyCache(settings.api_key_cache_seconds)

    def authenticate(self, key: str | None) -> Principal:
        """The caller, or 401 for a missing or unknown key."""
        if not key:
            raise Unauthorized(
                "missing API key: send 'Api-Key: <key>', 'Authorization: Bearer <key>' "
                "or '?access_token=<key>'"
            )
        if len(key) > MAX_KEY_LENGTH:
            raise Unauthorized("unknown API key")
        kid = key_id(key)
        hit, principal = self.cache.get(kid)
        if not hit:
            principal = self._resolve(key, kid)
            self.cache.put(kid, principal)
        if principal is None:
            raise Unauthorized("unknown API key")
        return principal

    def cached(self, key: str) -> Principal | None:
        """The caller if the cache already knows the key as valid, else None (without
        touching Redis): the status fast path (``api.hotpath``) hands every other case to
        ``authenticate`` through Flask."""
        if len(key) > MAX_KEY_LENGTH:
            return None
        return self.cache.get(key_id(key))[1]

    def _resolve(self, key: str, kid: str) -> Principal | None:
        found = resolve_key(self.redis, self.settings, key, self.configured)
        return Principal(kid, found[1]) if found else None


def current_principal() -> Principal:
    """The caller of the current /v1 request (set by the gate in ``api.middleware``)."""
    principal: Principal = g.principal
    return principal

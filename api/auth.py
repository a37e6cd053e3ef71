"""API-key authentication with an in-process cache, so the status hot path costs no Redis trip.

A key arrives as ``Api-Key: <key>``, ``Authorization: Bearer <key>`` or ``?access_token=<key>``
(the last one for browser EventSource and links). The cache maps the key's SHA-256 id, never
the clear key, to its organization for ``api_key_cache_seconds``; unknown keys are cached too
so a client hammering with a bad key does not hammer Redis, in a cache of their own so a
flood of made-up keys cannot push valid keys out. A revoked key therefore stops working
within one cache period. Clear keys are never logged.

Failed authentications (an unknown or unreadable key) are counted per client address
(:class:`FailureLimiter`, in-process): past ``auth_failure_limit`` in a window the address
gets 429 ``rate_limited`` with ``Retry-After`` before any key lookup, for requests without a
key too, so a flood of random keys costs at most that many Redis lookups per address and
window. A request without a key is not counted itself: it costs no lookup, and logged-out
dashboard pages make them. A key already cached as
valid still works from such an address (a NAT shared with a misbehaving client).

A key is printable ASCII (what ``jobgrid keys create`` makes). granian hands a header value
holding other bytes to the app as an empty string, so a present but empty ``Api-Key`` or
``Authorization`` header is reported as an unknown key, not as a missing one.
"""

from __future__ import annotations

import ipaddress
import math
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from flask import Request, g, has_request_context, request

from shared.apikeys import key_id, resolve_key
from shared.errors import RateLimited, Unauthorized
from shared.settings import Settings

MAX_CACHED_KEYS = 10_000
#: Unknown keys remembered (in their own cache, so they never evict valid ones).
MAX_CACHED_UNKNOWN = 1_000
#: Client addresses whose failures are counted at once; the oldest are forgotten first.
MAX_TRACKED_ADDRESSES = 10_000
MAX_KEY_LENGTH = 512
_KEY_SHAPE = re.compile(r"[\x21-\x7e]+")
UNKNOWN_KEY = "unknown API key"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id (for rate limits and logs) and its organization."""

    key_id: str
    org: str


def pick_key(api_key: str | None, authorization: str | None,
             access_token: str | None = None) -> str | None:
    """The key from the first of the three accepted places that holds one: ``Api-Key``,
    ``Authorization: Bearer``, ``?access_token=`` (None for a place that is absent).

    None when no place is present at all (a missing key); ``""`` when one is present but
    holds nothing readable (an unknown key: granian passes a non-ASCII header value as
    ``""``). Requests are read through :func:`request_key`.
    """
    present = False
    if api_key is not None:
        key = api_key.strip()
        if key:
            return key
        present = True
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        present = present or not authorization.strip()
    if access_token is not None:
        token = access_token.strip()
        if token:
            return token
        present = True
    return "" if present else None


def request_key(environ: Mapping[str, Any], access_token: str | None = None) -> str | None:
    """The API key of a request from its WSGI environ (:func:`pick_key`), Flask-free.

    The one reader of the key headers for the status fast path (``api.hotpath``, which never
    sees a query string, so no ``access_token``) and for Flask (:func:`extract_key`, which
    passes the parsed ``?access_token=``), so both read a request the same way.
    """
    return pick_key(environ.get("HTTP_API_KEY"), environ.get("HTTP_AUTHORIZATION"),
                    access_token)


def extract_key(req: Request) -> str | None:
    """The API key of a Flask request: its headers and ``?access_token=``."""
    return request_key(req.environ, req.args.get("access_token"))


def client_address(addr: str | None) -> str:
    """Who failed authentication: the client's IP address, an IPv6 one as its /64 (one
    host usually holds a whole /64, so counting single addresses would not hold it back)."""
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return addr or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class FailureLimiter:
    """Failed authentications per client address in fixed windows (one process; thread-safe).

    In memory on purpose: the point is that refusing a flood costs no Redis call. With N API
    processes an address gets at most N x ``limit`` failures per window.
    """

    def __init__(self, limit: int, window_seconds: int,
                 max_addresses: int = MAX_TRACKED_ADDRESSES) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_addresses = max_addresses
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def retry_after(self, addr: str, now: float | None = None) -> int | None:
        """Seconds until ``addr`` may try again, or None when it is under the limit."""
        now = time.time() if now is None else now
        number = int(now // self.window)
        entry = self._counts.get(addr)
        if entry is None or entry[0] != number or entry[1] < self.limit:
            return None
        return max(1, math.ceil((number + 1) * self.window - now))

    def record(self, addr: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        number = int(now // self.window)
        with self._lock:
            entry = self._counts.pop(addr, None)
            count = entry[1] + 1 if entry is not None and entry[0] == number else 1
            if len(self._counts) >= self.max_addresses:
                self._forget(number)
            self._counts[addr] = (number, count)

    def _forget(self, number: int) -> None:
        """Drops the entries of past windows, else the oldest one (under the lock)."""
        stale = [a for a, (n, _) in self._counts.items() if n != number]
        for a in stale:
            del self._counts[a]
        if len(self._counts) >= self.max_addresses:
            self._counts.pop(next(iter(self._counts)))


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
        self.unknown = KeyCache(settings.api_key_cache_seconds, MAX_CACHED_UNKNOWN)
        self.failures = FailureLimiter(settings.auth_failure_limit,
                                       settings.auth_failure_window_seconds)

    def authenticate(self, key: str | None, client: str | None = None) -> Principal:
        """The caller; 401 for a missing or unknown key; 429 when the client's address
        failed too often (``client`` defaults to the current request's address)."""
        readable = key is not None and len(key) <= MAX_KEY_LENGTH and \
            _KEY_SHAPE.fullmatch(key) is not None
        kid = key_id(key) if readable and key is not None else ""
        if kid:
            principal = self.cache.get(kid)[1]
            if principal is not None:
                return principal
        addr = client_address(client if client is not None else
                              request.remote_addr if has_request_context() else None)
        wait = self.failures.retry_after(addr)
        if wait is not None:
            raise RateLimited(
                f"too many failed authentications from this address; retry in {wait} s",
                retry_after=wait)
        if key is None:  # not counted: it costs no lookup, and logged-out dashboard pages
            # ask without a key; refused above once the address is over its limit
            raise Unauthorized(
                "missing API key: send 'Api-Key: <key>', 'Authorization: Bearer <key>' "
                "or '?access_token=<key>'"
            )
        principal = self._lookup(key, kid) if kid else None
        if principal is None:
            self.failures.record(addr)
            raise Unauthorized(UNKNOWN_KEY if readable else
                               f"{UNKNOWN_KEY}: a key is printable ASCII, at most "
                               f"{MAX_KEY_LENGTH} characters")
        return principal

    def _lookup(self, key: str, kid: str) -> Principal | None:
        """Through the caches; a miss costs one Redis lookup and is cached either way."""
        if self.unknown.get(kid)[0]:
            return None
        principal = self._resolve(key, kid)
        (self.cache if principal is not None else self.unknown).put(kid, principal)
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

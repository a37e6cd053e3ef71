"""API keys: stored only as SHA-256 digests, one organization each.

A key is ``jg_<random>``; its id (the digest) is what Redis holds and what logs may show.
Keys configured by ``JOBGRID_API_KEYS`` are resolved in-process and never written to Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import redis

from shared.clock import iso_ms, now_ms
from shared.keys import Keys
from shared.settings import Settings


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(
    r: redis.Redis, settings: Settings, org: str, name: str | None = None
) -> str:
    """Returns the clear key once; only its digest is stored."""
    key = "jg_" + secrets.token_urlsafe(32)
    kid = key_id(key)
    keys = Keys(settings.key_prefix)
    pipe = r.pipeline(transaction=True)
    pipe.hset(keys.api_key(kid), mapping={
        "org": org, "name": name or "", "created_at": str(now_ms()), "revoked": "0",
    })
    pipe.sadd(keys.org_keys(org), kid)
    pipe.execute()
    return key


def list_api_keys(r: redis.Redis, settings: Settings, org: str) -> list[dict[str, Any]]:
    keys = Keys(settings.key_prefix)
    ids = sorted(str(k) for k in r.smembers(keys.org_keys(org)))
    pipe = r.pipeline(transaction=False)
    for kid in ids:
        pipe.hgetall(keys.api_key(kid))
    out = []
    for kid, h in zip(ids, pipe.execute(), strict=True):
        if h:
            out.append({"id": kid[:16], "org": h["org"], "name": h.get("name") or None,
                        "created_at": iso_ms(int(h["created_at"])),
                        "revoked": h.get("revoked") == "1"})
    return out


def revoke_api_key(r: redis.Redis, settings: Settings, kid: str) -> bool:
    """Revokes by id or by a unique id prefix (``keys list`` shows 16 characters)."""
    keys = Keys(settings.key_prefix)
    if len(kid) < 64:
        matches = [k.rsplit(":", 1)[-1] for k in
                   r.scan_iter(match=f"{keys.prefix}:apikey:{kid}*", count=1000)]
        if len(matches) != 1:
            return False
        kid = matches[0]
    if not r.exists(keys.api_key(kid)):
        return False
    r.hset(keys.api_key(kid), "revoked", "1")
    return True


def resolve_key(
    r: redis.Redis, settings: Settings, key: str, configured: dict[str, str]
) -> tuple[str, str] | None:
    """(key id, org) for a valid key, else None. Constant-time against configured keys."""
    kid = key_id(key)
    found: str | None = None
    for clear, org in configured.items():
        if hmac.compare_digest(key_id(clear), kid):
            found = org
    if found:
        return kid, found
    h = r.hmget(Keys(settings.key_prefix).api_key(kid), "org", "revoked")
    if h[0] and h[1] != "1":
        return kid, str(h[0])
    return None

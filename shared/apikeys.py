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


class KeyField:
    """Field names of an API key's hash (``{p}:apikey:{sha256}``)."""

    ORG = "org"
    NAME = "name"  #: "" when none was given
    CREATED_AT = "created_at"  #: epoch ms
    REVOKED = "revoked"  #: "1" once revoked


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
        KeyField.ORG: org, KeyField.NAME: name or "", KeyField.CREATED_AT: str(now_ms()),
        KeyField.REVOKED: "0",
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
            out.append({"id": kid[:16], "org": h[KeyField.ORG],
                        "name": h.get(KeyField.NAME) or None,
                        "created_at": iso_ms(int(h[KeyField.CREATED_AT])),
                        "revoked": h.get(KeyField.REVOKED) == "1"})
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
    r.hset(keys.api_key(kid), KeyField.REVOKED, "1")
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
    h = r.hmget(Keys(settings.key_prefix).api_key(kid), KeyField.ORG, KeyField.REVOKED)
    if h[0] and h[1] != "1":
        return kid, str(h[0])
    return None

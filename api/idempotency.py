"""``Idempotency-Key`` for submissions: the same key and body within the TTL give the same job.

The claim (``shared.idempotency.IdempotencyStore``) sets ``keys.idempotency(org,
sha256(key))`` to ``"<body digest>:<job id>"`` with the TTL unless it is held, in one atomic
step. It is made before the job is written, so two concurrent requests with one key cannot
both create a job. The body digest is taken over the decoded JSON with sorted keys, so
whitespace or key order does not make "the same body" different.
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
    store = svc.idempotency
    c = Claim(store.key(org, key), body_digest(data))
    previous = store.claim(c.redis_key, f"{c.digest}:{job_id}",
                           svc.settings.idempotency_ttl_seconds)
    if previous is None:
        return c, None
    digest, _, earlier_job = previous.partition(":")
    if digest != c.digest:
        raise Conflict(f"{HEADER} was already used with a different request body")
    return c, earlier_job


"""Where document bodies live between submit and expiry.

Task messages carry ids only; the bodies sit behind this small interface so a deployment
with large PDFs can move them to object storage without touching the pipeline. The Redis
implementation writes inside the submit transaction, so a rejected submission leaves nothing.
An S3-compatible implementation (planned, see docs/scaling.md) would upload before the
transaction, delete on failure, and rely on a bucket lifecycle rule for expiry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

import orjson
import redis
from redis.client import Pipeline

from shared.keys import Keys


class DocumentStore(Protocol):
    def stage(self, pipe: Pipeline, job_id: str, docs: Mapping[int, dict[str, Any]],
              expires_at_ms: int) -> None:
        """Adds the documents to the submit transaction (or uploads them before it)."""

    def load(self, job_id: str, indexes: list[int]) -> dict[int, dict[str, Any]]:
        """The documents still stored, by index (expired ones are left out)."""


class RedisDocumentStore:
    """One hash per job: index -> document JSON, expiring at the job's ``expires_at``."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.keys = keys

    def stage(self, pipe: Pipeline, job_id: str, docs: Mapping[int, dict[str, Any]],
              expires_at_ms: int) -> None:
        key = self.keys.job_keys(job_id).docs
        body = {str(i): orjson.dumps(d).decode() for i, d in docs.items()}
        pipe.hset(key, mapping=cast(Any, body))
        pipe.pexpireat(key, expires_at_ms)

    def load(self, job_id: str, indexes: list[int]) -> dict[int, dict[str, Any]]:
        if not indexes:
            return {}
        raw = self.r.hmget(self.keys.job_keys(job_id).docs, [str(i) for i in indexes])
        return {i: orjson.loads(v) for i, v in zip(indexes, raw, strict=True) if v}

"""Stored extraction schemas in Redis: one string per schema and one index per organization.

The routes (``api/routes/schemas.py``) and submission (``api/submit.py``) go through this
store, so the keys and the quota rule live in one place. Values are the schema's JSON exactly
as stored (``SchemaOut``); decoding stays with the callers, which know the rules it was
stored under.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import redis

from shared.keys import Keys
from shared.scripts import scripts_for

#: Concurrent writers of one schema retry their optimistic update this many times.
UPDATE_ATTEMPTS = 5


class SchemaBusy(Exception):
    """Other writers kept changing the schema during every attempt of an update."""


class SchemaStore:
    """An organization's stored schemas (``{p}:schema:{org}:{id}``, ``{p}:org:{org}:schemas``)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.keys = keys

    def get(self, org: str, schema_id: str) -> str | None:
        """The stored JSON, or None (unknown, deleted, or another organization's)."""
        raw = self.r.get(self.keys.schema(org, schema_id))
        return str(raw) if raw else None

    def create(self, org: str, schema_id: str, doc: str, created_ms: int, quota: int) -> bool:
        """Stores a new schema unless the organization already holds ``quota`` of them."""
        stored = scripts_for(self.r).schema_create(
            keys=[self.keys.org_schemas(org), self.keys.schema(org, schema_id)],
            args=[quota, schema_id, doc, created_ms])
        return bool(stored)

    def page(self, org: str, after: tuple[int, str] | None, limit: int) \
            -> tuple[list[str], tuple[int, str] | None]:
        """Up to ``limit`` schemas strictly after the ``(created ms, id)`` position, oldest
        first: their JSON, and the position of the page's last entry when more follow (else
        None). The index holds at most the quota, so it is read whole; the schemas themselves
        only for the page."""
        entries = cast(list[tuple[Any, float]],
                       self.r.zrange(self.keys.org_schemas(org), 0, -1, withscores=True))
        index = [(int(score), str(i)) for i, score in entries]
        rest = [e for e in index if after is None or e > after]
        page = rest[:limit]
        raws = self.r.mget([self.keys.schema(org, i) for _, i in page]) if page else []
        return [str(raw) for raw in raws if raw], page[-1] if len(rest) > limit else None

    def replace(self, org: str, schema_id: str, change: Callable[[str], str],
                attempts: int = UPDATE_ATTEMPTS) -> str | None:
        """Optimistic update: ``change(current JSON) -> new JSON`` under WATCH, retried when
        another writer got in between. None when the schema is gone; ``SchemaBusy`` when
        every attempt lost its race."""
        key = self.keys.schema(org, schema_id)
        for _ in range(attempts):
            with self.r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    if not raw:
                        return None
                    new = change(str(raw))
                    pipe.multi()
                    pipe.set(key, new)
                    pipe.execute()
                except redis.WatchError:
                    continue
            return new
        raise SchemaBusy(schema_id)

    def delete(self, org: str, schema_id: str) -> bool:
        """Removes the schema and its index entry; False when it was already gone."""
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.keys.schema(org, schema_id))
        pipe.zrem(self.keys.org_schemas(org), schema_id)
        deleted, _ = pipe.execute()
        return bool(deleted)

"""An organization's job indexes in Redis, read page by page for ``GET /v1/jobs``.

Two sorted sets index an organization's jobs: ``org_jobs`` (score = created ms, written at
submit) and ``org_updated`` (score = last change ms, written by every job write). Cursor
encoding, filters and page assembly are the API's (``api/listing.py``); this store answers
by-score ranges and drops purged jobs from both sets.
"""

from __future__ import annotations

from typing import Any

import redis

from shared.keys import Keys

#: One index entry: (job id, score in ms).
Entry = tuple[str, int]


def _range(pipe: Any, key: str, desc: bool, near: str | int, exclusive: bool,
           n: int | None) -> None:
    """Queues a by-score range from ``near`` (left out when ``exclusive``) onwards."""
    bound = f"({near}" if exclusive else near
    page = {"start": 0, "num": n} if n is not None else {}
    if desc:
        pipe.zrevrangebyscore(key, bound, "-inf", withscores=True, **page)
    else:
        pipe.zrangebyscore(key, bound, "+inf", withscores=True, **page)


def _entries(raw: list[tuple[str, float]]) -> list[Entry]:
    return [(m, int(s)) for m, s in raw]


class ListingStore:
    """By-score reads of one organization's job indexes."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.keys = keys

    def index(self, org: str, by_updated: bool) -> str:
        """The index to walk: by last change (``updated_since``) or by creation."""
        return self.keys.org_updated(org) if by_updated else self.keys.org_jobs(org)

    def first(self, key: str, desc: bool, near: str | int, n: int) -> list[Entry]:
        """Up to ``n`` entries from ``near`` (included) onwards, in listing order."""
        pipe = self.r.pipeline(transaction=False)
        _range(pipe, key, desc, near, False, n)
        return _entries(pipe.execute()[0])

    def after(self, key: str, desc: bool, score: int, n: int) -> tuple[list[Entry], list[Entry]]:
        """In one round trip: every entry with exactly ``score`` (ties, for the caller to cut
        at its cursor's id) and up to ``n`` entries strictly beyond it."""
        pipe = self.r.pipeline(transaction=False)
        if desc:
            pipe.zrevrangebyscore(key, score, score, withscores=True)
        else:
            pipe.zrangebyscore(key, score, score, withscores=True)
        _range(pipe, key, desc, score, True, n)
        ties, rest = pipe.execute()
        return _entries(ties), _entries(rest)

    def forget(self, org: str, job_ids: list[str]) -> None:
        """Drops purged jobs from both of the organization's indexes (lazily, on reads)."""
        if job_ids:
            pipe = self.r.pipeline(transaction=False)
            pipe.zrem(self.keys.org_jobs(org), *job_ids)
            pipe.zrem(self.keys.org_updated(org), *job_ids)
            pipe.execute()

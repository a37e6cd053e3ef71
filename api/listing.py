"""``GET /v1/jobs``: an organization's jobs, newest first or (with ``updated_since``) by last
change, oldest first, with opaque cursors.

Two sorted sets index an organization's jobs: ``org_jobs`` (score = created ms) and
``org_updated`` (score = last change ms). A cursor is base64url of ``"<mode>:<score>:<id>"``
(mode ``c`` or ``u``): the position of the last job of the page, so a page starts strictly
after it even when several jobs share a millisecond. Jobs whose hash is gone (purged) are
skipped and removed from both sets on the way. The ``status`` filter uses the effective
status (``expired`` once ``expires_at`` passed), which only the hash knows, so pages are
filled by scanning; one request examines at most ``SCAN_BUDGET`` jobs and may then return a
short page with ``has_more`` true.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from api.http import is_job_id
from api.services import Services
from shared.clock import now_ms
from shared.errors import ValidationFailed
from shared.job import F, effective_status
from shared.jobview import job_payload
from shared.status import JobStatus

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
SCAN_BUDGET = 1000
CREATED, UPDATED = "c", "u"


@dataclass(frozen=True, slots=True)
class Cursor:
    mode: str
    score: int
    job_id: str

    def encode(self) -> str:
        raw = f"{self.mode}:{self.score}:{self.job_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int
    status: JobStatus | None
    since_ms: int | None
    cursor: Cursor | None

    @property
    def mode(self) -> str:
        return UPDATED if self.since_ms is not None else CREATED


def decode_cursor(value: str) -> Cursor:
    """The cursor, or 400 when it was not made by this API."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        mode, score, job_id = raw.split(":")
        cursor = Cursor(mode, int(score), job_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise ValidationFailed("cursor is not valid; pass next_cursor unchanged") from e
    if mode not in (CREATED, UPDATED) or not is_job_id(job_id):
        raise ValidationFailed("cursor is not valid; pass next_cursor unchanged")
    return cursor


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def parse_status(value: str | None) -> JobStatus | None:
    if value is None:
        return None
    try:
        return JobStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in JobStatus)
        raise ValidationFailed(f"status must be one of {allowed}") from None


def parse_since(value: str | None) -> int | None:
    """Epoch ms from Unix seconds (``1705420800`` or ``1705420800.5``) or ISO 8601."""
    if value is None:
        return None
    text = value.strip()
    try:
        return int(float(text) * 1000)
    except (ValueError, OverflowError):
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            "updated_since must be ISO 8601 (2024-09-14T10:32:00Z) or Unix seconds"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def parse_query(args: MultiDict[str, str]) -> ListQuery:
    q = ListQuery(parse_limit(args.get("limit")), parse_status(args.get("status")),
                  parse_since(args.get("updated_since")), None)
    raw_cursor = args.get("cursor")
    if raw_cursor:
        cursor = decode_cursor(raw_cursor)
        if cursor.mode != q.mode:
            raise ValidationFailed("cursor belongs to a listing with different parameters")
        q = ListQuery(q.limit, q.status, q.since_ms, cursor)
    return q


@dataclass(slots=True)
class _Scan:
    """What one listing request found: matching jobs with their positions, and where it stopped."""

    matches: list[tuple[dict[str, str], list[str], Cursor]]
    last_examined: Cursor | None = None
    examined: int = 0
    exhausted: bool = False


def _fetch(svc: Services, key: str, q: ListQuery, after: Cursor | None,
           n: int) -> list[tuple[str, int]]:
    """The next ``n`` (or a few more, on score ties) ids after ``after``, in listing order."""
    desc = q.mode == CREATED
    if after is None:
        near: str | int = "+inf" if desc or q.since_ms is None else q.since_ms
        return svc.listing.first(key, desc, near, n)
    ties, rest = svc.listing.after(key, desc, after.score, n)
    later = [(m, s) for m, s in ties if (m < after.job_id if desc else m > after.job_id)]
    return later + rest


def _scan(svc: Services, org: str, key: str, q: ListQuery, now: int) -> _Scan:
    """Walks the index from the cursor until one match more than ``limit`` (so ``has_more``
    is exact), the end, or the scan budget; two round trips per batch."""
    scan = _Scan(matches=[])
    after, purged = q.cursor, []
    while len(scan.matches) <= q.limit and scan.examined < SCAN_BUDGET:
        batch = _fetch(svc, key, q, after, q.limit + 1)
        if not batch:
            scan.exhausted = True
            break
        loaded = svc.store.read_full_many([b[0] for b in batch])
        for (job_id, score), (h, timeline) in zip(batch, loaded, strict=True):
            scan.examined += 1
            scan.last_examined = after = Cursor(q.mode, score, job_id)
            if not h:
                purged.append(job_id)
            elif h.get(F.ORG) == org and (q.status is None
                                          or effective_status(h, now) is q.status):
                scan.matches.append((h, timeline, after))
                if len(scan.matches) > q.limit:
                    break
    svc.listing.forget(org, purged)
    return scan


def list_jobs(svc: Services, org: str, q: ListQuery) -> dict[str, Any]:
    """The list object of the contract for one page."""
    key = svc.listing.index(org, by_updated=q.mode == UPDATED)
    now = now_ms()
    scan = _scan(svc, org, key, q, now)
    page = scan.matches[: q.limit]
    data = [job_payload(h, tl, now, svc.settings.base_url) for h, tl, _ in page]
    next_cursor: Cursor | None = None
    if len(scan.matches) > q.limit:
        next_cursor = page[-1][2]
    elif not scan.exhausted and scan.examined >= SCAN_BUDGET:
        next_cursor = scan.last_examined
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": next_cursor is not None,
        "next_cursor": next_cursor.encode() if next_cursor else None,
    }


"""Turns a job's Redis hash into the contract's payloads.

Status, progress, expiry, the ETA and ``waiting_for`` are derived here on read, so the hot
path costs one HGETALL and nothing is stored twice. Whether a job is waiting is decided here
only (``quiet_at``): the API's ETag, long polls and event streams, the dashboard and
``jobgrid watch`` all take it from these payloads. Payloads are plain dicts shaped exactly like
``JobStatusOut`` / ``JobOut`` (a unit test holds them to the models) because building a
pydantic model per poll costs more than the rest of the request.
"""

from __future__ import annotations

import math
from typing import Any, Final

import orjson

from shared.clock import iso_ms, unix_s
from shared.job import F, _int, _opt_ms
from shared.job import effective_status as effective_status  # re-exported for its readers
from shared.status import TERMINAL, JobStatus, WaitingFor

# Field names of the job hash (``shared.job.F``) bound as module globals: the status payload
# is built on every poll, and a global costs one lookup where ``F.NAME`` costs two.
_ATTEMPT_COUNT: Final = F.ATTEMPT_COUNT
_CANCELLED: Final = F.CANCELLED
_COMPLETED_AT: Final = F.COMPLETED_AT
_COMPLETED_DOCUMENTS: Final = F.COMPLETED_DOCUMENTS
_CREATED_AT: Final = F.CREATED_AT
_CURRENT_PHASE: Final = F.CURRENT_PHASE
_DOCUMENT_COUNT: Final = F.DOCUMENT_COUNT
_EMPTY: Final = F.EMPTY
_ENDPOINT: Final = F.ENDPOINT
_ERROR_CODE: Final = F.ERROR_CODE
_ERROR_MESSAGE: Final = F.ERROR_MESSAGE
_EXEC_PROCESSED_BASE: Final = F.EXEC_PROCESSED_BASE
_EXEC_STARTED_AT: Final = F.EXEC_STARTED_AT
_EXPIRES_AT: Final = F.EXPIRES_AT
_FAILED_DOCUMENTS: Final = F.FAILED_DOCUMENTS
_FILLED: Final = F.FILLED
_ID: Final = F.ID
_LAST_ATTEMPT_AT: Final = F.LAST_ATTEMPT_AT
_LAST_FAILURE_CODE: Final = F.LAST_FAILURE_CODE
_METADATA: Final = F.METADATA
_NAME: Final = F.NAME
_NEEDS_REVIEW: Final = F.NEEDS_REVIEW
_ORG: Final = F.ORG
_PRIORITY: Final = F.PRIORITY
_PROCESSED: Final = F.PROCESSED
_SCHEMA_ID: Final = F.SCHEMA_ID
_SCHEMA_NAME: Final = F.SCHEMA_NAME
_STARTED_AT: Final = F.STARTED_AT
_TOTAL_CELLS: Final = F.TOTAL_CELLS
_UPDATED_AT: Final = F.UPDATED_AT
_VERSION: Final = F.VERSION
_WARNINGS: Final = F.WARNINGS


def grid_stats(h: dict[str, str]) -> dict[str, Any]:
    total = _int(h, _TOTAL_CELLS)
    filled = _int(h, _FILLED)
    empty = _int(h, _EMPTY)
    return {
        "total_cells": total,
        "filled": filled,
        "empty": empty,
        "fill_rate": round(filled / total, 4) if total else 0.0,
    }


def progress(h: dict[str, str], status: JobStatus) -> int:
    n = _int(h, _DOCUMENT_COUNT)
    if status is JobStatus.COMPLETED:
        return 100
    if not n:
        return 0
    return min(100, (_int(h, _PROCESSED) * 100) // n)


#: With nothing recorded for this many times the average gap between documents (and at
#: least STALE_MIN_MS), the job counts as stopped moving: it waits for something (a lost
#: worker node's rescue, a backlog), so the estimate is withdrawn (an old rate would only
#: repeat a stale figure) and ``waiting_for`` says what it waits for.
STALE_GAPS = 4
STALE_MIN_MS = 10_000
#: The failure code the rescue of a lost worker node writes (``worker/fleet.py``).
WORKER_LOST = "worker_lost"


def quiet_at(h: dict[str, str], status: JobStatus) -> int | None:
    """The last moment (Unix ms) the job still counts as moving if nothing is recorded before
    then: from the next millisecond on it has stopped. None when that cannot happen before
    the next write.

    The one staleness rule, behind both the withdrawn ETA and ``waiting_for``, and the
    deadline the long poll and the event stream wake at, since time alone changes what the
    job shows then. Stopped means: more than ``max(STALE_MIN_MS, STALE_GAPS * elapsed /
    done)`` since the last write, where ``elapsed`` runs from the start of the current
    execution to now. Solved for now (in integers, so no rounding moves the boundary), that
    is a fixed moment once ``done`` exceeds STALE_GAPS; with STALE_GAPS documents or fewer
    the average gap grows as fast as the pause and the rule never fires (too little is known
    to call a pause unusual). Terminal jobs and executions with nothing done yet have no
    rate to compare against.
    """
    if status in TERMINAL:
        return None
    start = _int(h, _EXEC_STARTED_AT)
    done = _int(h, _PROCESSED) - _int(h, _EXEC_PROCESSED_BASE)
    if not start or done <= STALE_GAPS:
        return None
    last = max(_int(h, _UPDATED_AT), start)
    # now - last > STALE_GAPS * (now - start) / done  <=>  now > (done*last - GAPS*start) /
    # (done - GAPS); for an integer now, "> x" and "> floor(x)" are the same test
    return max(last + STALE_MIN_MS,
               (done * last - STALE_GAPS * start) // (done - STALE_GAPS))


def is_quiet(h: dict[str, str], status: JobStatus, now: int) -> bool:
    """True once the job has stopped moving (``quiet_at`` has passed)."""
    at = quiet_at(h, status)
    return at is not None and now > at


def waiting_for(h: dict[str, str], status: JobStatus, now: int) -> str | None:
    """``waiting_for`` of both payloads: null while the job moves (or is terminal); once it
    has stopped moving, ``rescue`` when its last failure is a lost worker node (its documents
    are being re-sent) and ``workers`` otherwise (a backlog ahead of it, or no worker
    consuming). Decided here once so the dashboard and ``jobgrid watch`` only show it."""
    if not is_quiet(h, status, now):
        return None
    if h.get(_LAST_FAILURE_CODE) == WORKER_LOST:
        return WaitingFor.RESCUE.value
    return WaitingFor.WORKERS.value


def eta_seconds(h: dict[str, str], status: JobStatus, now: int) -> int | None:
    """Remaining documents over the observed rate since execution started; null while
    nothing is known, and null again once the job has stopped moving (``is_quiet``).

    The rate is measured up to ``now``, so a pause already makes the figure grow; once the
    job has stopped moving it becomes null (and ``waiting_for`` says why), rather than a
    number that is no longer an estimate of anything.
    """
    if status in TERMINAL:
        return None
    start = _int(h, _EXEC_STARTED_AT)
    done = _int(h, _PROCESSED) - _int(h, _EXEC_PROCESSED_BASE)
    remaining = _int(h, _DOCUMENT_COUNT) - _int(h, _PROCESSED)
    if not start or done < 1 or now <= start or is_quiet(h, status, now):
        return None
    rate = done / ((now - start) / 1000)
    return max(0, math.ceil(remaining / rate)) if rate > 0 else None


def _error(h: dict[str, str], status: JobStatus) -> dict[str, str] | None:
    if status is JobStatus.FAILED and h.get(_ERROR_CODE):
        return {"code": h[_ERROR_CODE], "message": h.get(_ERROR_MESSAGE, "")}
    return None


def _completed_at(h: dict[str, str], status: JobStatus) -> int | None:
    if status is JobStatus.EXPIRED and not h.get(_COMPLETED_AT):
        return _int(h, _EXPIRES_AT)
    return _opt_ms(h, _COMPLETED_AT) if status in TERMINAL else None


def status_payload(h: dict[str, str], now: int) -> dict[str, Any]:
    """``GET /v1/jobs/{id}/status``: integer Unix seconds.

    ``warnings`` is a list here as in the full job (``[]`` when there are none), so a
    client reads it the same way from both; ``needs_review`` counts completed documents
    whose required fields were left empty; ``waiting_for`` is the full job's (null, or
    what a job that stopped moving waits for), so a poller learns it without the full job.
    """
    st = effective_status(h, now)
    return status_payload_for(h, now, st, waiting_for(h, st, now))


def status_payload_for(h: dict[str, str], now: int, st: JobStatus,
                       waiting: str | None) -> dict[str, Any]:
    """:func:`status_payload` with the effective status and ``waiting_for`` the caller has
    already worked out for the ETag (the status hot path), so they are not derived twice."""
    warnings = orjson.loads(h.get(_WARNINGS) or "[]")
    return {
        "id": h[_ID],
        "object": "job",
        "status": st.value,
        "endpoint": h[_ENDPOINT],
        "error": _error(h, st),
        "warnings": warnings,
        "created_at": unix_s(_int(h, _CREATED_AT)),
        "started_at": unix_s(_opt_ms(h, _STARTED_AT)),
        "completed_at": unix_s(_completed_at(h, st)),
        "expires_at": unix_s(_int(h, _EXPIRES_AT)),
        "organization_id": h[_ORG],
        "metadata": orjson.loads(h.get(_METADATA) or "{}"),
        "cancelled": h.get(_CANCELLED) == "1",
        "attempt_count": _int(h, _ATTEMPT_COUNT),
        "last_attempt_at": unix_s(_opt_ms(h, _LAST_ATTEMPT_AT)),
        "last_failure_code": h.get(_LAST_FAILURE_CODE) or None,
        "waiting_for": waiting,
        "version": _int(h, _VERSION),
        "progress": progress(h, st),
        "current_phase": h.get(_CURRENT_PHASE) or None,
        "document_count": _int(h, _DOCUMENT_COUNT),
        "completed_documents": _int(h, _COMPLETED_DOCUMENTS),
        "grid_stats": grid_stats(h),
        "needs_review": _int(h, _NEEDS_REVIEW),
    }


def parse_timeline(entries: list[str]) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        status, phase, at = e.split("|")
        out.append({"status": status, "phase": phase or None, "at": iso_ms(int(at))})
    return out


def job_links(job_id: str, status: JobStatus, base_url: str) -> dict[str, str]:
    p = f"/v1/jobs/{job_id}"
    links = {
        "self": p,
        "status": f"{p}/status",
        "results": f"{p}/results",
        "events": f"{p}/events",
        "dashboard": f"{base_url.rstrip('/')}/dashboard/jobs/{job_id}",
    }
    if status not in TERMINAL:
        links["cancel"] = f"{p}/cancel"
    return links


def job_payload(
    h: dict[str, str], timeline: list[str] | None, now: int, base_url: str
) -> dict[str, Any]:
    """``GET /v1/jobs/{id}``: ISO 8601 times, links, timeline."""
    st = effective_status(h, now)
    tl = parse_timeline(timeline or [])
    if st is JobStatus.EXPIRED and (not tl or tl[-1]["status"] != "expired"):
        tl.append({"status": "expired", "phase": h.get(_CURRENT_PHASE) or None,
                   "at": iso_ms(_int(h, _EXPIRES_AT))})
    return {
        "id": h[_ID],
        "object": "job",
        "name": h.get(_NAME) or None,
        "status": st.value,
        "endpoint": h[_ENDPOINT],
        "progress": progress(h, st),
        "estimated_seconds_remaining": eta_seconds(h, st, now),
        "waiting_for": waiting_for(h, st, now),
        "schema": {"id": h.get(_SCHEMA_ID) or None, "name": h.get(_SCHEMA_NAME, "")},
        "document_count": _int(h, _DOCUMENT_COUNT),
        "completed_documents": _int(h, _COMPLETED_DOCUMENTS),
        "failed_documents": _int(h, _FAILED_DOCUMENTS),
        "grid_stats": grid_stats(h),
        "current_phase": h.get(_CURRENT_PHASE) or None,
        "error": _error(h, st),
        "warnings": orjson.loads(h.get(_WARNINGS) or "[]"),
        "attempt_count": _int(h, _ATTEMPT_COUNT),
        "last_attempt_at": iso_ms(_opt_ms(h, _LAST_ATTEMPT_AT)),
        "last_failure_code": h.get(_LAST_FAILURE_CODE) or None,
        "cancelled": h.get(_CANCELLED) == "1",
        "organization_id": h[_ORG],
        "metadata": orjson.loads(h.get(_METADATA) or "{}"),
        "priority": h.get(_PRIORITY, "normal"),
        "version": _int(h, _VERSION),
        "created_at": iso_ms(_int(h, _CREATED_AT)),
        "started_at": iso_ms(_opt_ms(h, _STARTED_AT)),
        "updated_at": iso_ms(_int(h, _UPDATED_AT)),
        "completed_at": iso_ms(_completed_at(h, st)),
        "expires_at": iso_ms(_int(h, _EXPIRES_AT)),
        "timeline": tl,
        "links": job_links(h[_ID], st, base_url),
        "needs_review": _int(h, _NEEDS_REVIEW),
    }

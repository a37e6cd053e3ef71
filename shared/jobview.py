"""Turns a job's Redis hash into the contract's payloads.

Status, progress, expiry and the ETA are derived here on read, so the hot path costs one
HGETALL and nothing is stored twice. Payloads are plain dicts shaped exactly like
``JobStatusOut`` / ``JobOut`` (a unit test holds them to the models) because building a
pydantic model per poll costs more than the rest of the request.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from shared.clock import iso_ms, unix_s
from shared.status import TERMINAL, JobStatus


def _int(h: dict[str, str], name: str) -> int:
    v = h.get(name, "")
    return int(v) if v else 0


def _opt_ms(h: dict[str, str], name: str) -> int | None:
    v = h.get(name, "")
    return int(v) if v else None


def effective_status(h: dict[str, str], now: int) -> JobStatus:
    """The stored status, or ``expired`` once ``expires_at`` has passed."""
    exp = _int(h, "expires_at")
    if exp and now >= exp:
        return JobStatus.EXPIRED
    return JobStatus(h["status"])


def grid_stats(h: dict[str, str]) -> dict[str, Any]:
    total = _int(h, "total_cells")
    filled = _int(h, "filled")
    empty = _int(h, "empty")
    return {
        "total_cells": total,
        "filled": filled,
        "empty": empty,
        "fill_rate": round(filled / total, 4) if total else 0.0,
    }


def progress(h: dict[str, str], status: JobStatus) -> int:
    n = _int(h, "document_count")
    if status is JobStatus.COMPLETED:
        return 100
    if not n:
        return 0
    return min(100, (_int(h, "processed") * 100) // n)


#: With nothing recorded for this many times the average gap between documents (and at
#: least STALE_MIN_MS), the estimate is withdrawn: the job waits for something (a lost
#: worker node's rescue, a backlog), and an old rate would only repeat a stale figure.
STALE_GAPS = 4
STALE_MIN_MS = 10_000


def eta_seconds(h: dict[str, str], status: JobStatus, now: int) -> int | None:
    """Remaining documents over the observed rate since execution started; null while
    nothing is known, and null again once the job has stopped moving for a while.

    The rate is measured up to ``now``, so a pause already makes the figure grow; past
    STALE_GAPS average gaps without a recorded document it becomes null (the dashboard and
    ``jobgrid watch`` then say the job is waiting), rather than a number that is no longer
    an estimate of anything.
    """
    if status in TERMINAL:
        return None
    start = _int(h, "exec_started_at")
    done = _int(h, "processed") - _int(h, "exec_processed_base")
    remaining = _int(h, "document_count") - _int(h, "processed")
    if not start or done < 1 or now <= start:
        return None
    elapsed = now - start
    last = max(_int(h, "updated_at"), start)
    if now - last > max(STALE_MIN_MS, STALE_GAPS * elapsed / done):
        return None
    rate = done / (elapsed / 1000)
    return max(0, math.ceil(remaining / rate)) if rate > 0 else None


def _error(h: dict[str, str], status: JobStatus) -> dict[str, str] | None:
    if status is JobStatus.FAILED and h.get("error_code"):
        return {"code": h["error_code"], "message": h.get("error_message", "")}
    return None


def _completed_at(h: dict[str, str], status: JobStatus) -> int | None:
    if status is JobStatus.EXPIRED and not h.get("completed_at"):
        return _int(h, "expires_at")
    return _opt_ms(h, "completed_at") if status in TERMINAL else None


def status_payload(h: dict[str, str], now: int) -> dict[str, Any]:
    """``GET /v1/jobs/{id}/status``: integer Unix seconds.

    ``warnings`` is a list here as in the full job (``[]`` when there are none), so a
    client reads it the same way from both; ``needs_review`` counts completed documents
    whose required fields were left empty.
    """
    st = effective_status(h, now)
    warnings = orjson.loads(h.get("warnings") or "[]")
    return {
        "id": h["id"],
        "object": "job",
        "status": st.value,
        "endpoint": h["endpoint"],
        "error": _error(h, st),
        "warnings": warnings,
        "created_at": unix_s(_int(h, "created_at")),
        "started_at": unix_s(_opt_ms(h, "started_at")),
        "completed_at": unix_s(_completed_at(h, st)),
        "expires_at": unix_s(_int(h, "expires_at")),
        "organization_id": h["org"],
        "metadata": orjson.loads(h.get("metadata") or "{}"),
        "cancelled": h.get("cancelled") == "1",
        "attempt_count": _int(h, "attempt_count"),
        "last_attempt_at": unix_s(_opt_ms(h, "last_attempt_at")),
        "last_failure_code": h.get("last_failure_code") or None,
        "version": _int(h, "version"),
        "progress": progress(h, st),
        "current_phase": h.get("current_phase") or None,
        "document_count": _int(h, "document_count"),
        "completed_documents": _int(h, "completed_documents"),
        "grid_stats": grid_stats(h),
        "needs_review": _int(h, "needs_review"),
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
        tl.append({"status": "expired", "phase": h.get("current_phase") or None,
                   "at": iso_ms(_int(h, "expires_at"))})
    return {
        "id": h["id"],
        "object": "job",
        "name": h.get("name") or None,
        "status": st.value,
        "endpoint": h["endpoint"],
        "progress": progress(h, st),
        "estimated_seconds_remaining": eta_seconds(h, st, now),
        "schema": {"id": h.get("schema_id") or None, "name": h.get("schema_name", "")},
        "document_count": _int(h, "document_count"),
        "completed_documents": _int(h, "completed_documents"),
        "failed_documents": _int(h, "failed_documents"),
        "grid_stats": grid_stats(h),
        "current_phase": h.get("current_phase") or None,
        "error": _error(h, st),
        "warnings": orjson.loads(h.get("warnings") or "[]"),
        "attempt_count": _int(h, "attempt_count"),
        "last_attempt_at": iso_ms(_opt_ms(h, "last_attempt_at")),
        "last_failure_code": h.get("last_failure_code") or None,
        "cancelled": h.get("cancelled") == "1",
        "organization_id": h["org"],
        "metadata": orjson.loads(h.get("metadata") or "{}"),
        "priority": h.get("priority", "normal"),
        "version": _int(h, "version"),
        "created_at": iso_ms(_int(h, "created_at")),
        "started_at": iso_ms(_opt_ms(h, "started_at")),
        "updated_at": iso_ms(_int(h, "updated_at")),
        "completed_at": iso_ms(_completed_at(h, st)),
        "expires_at": iso_ms(_int(h, "expires_at")),
        "timeline": tl,
        "links": job_links(h["id"], st, base_url),
        "needs_review": _int(h, "needs_review"),
    }

"""The polling endpoints: ``GET /v1/jobs/{id}/status`` (the hot path) and bulk status.

Each answers with exactly one Redis round trip: ``status_read.lua`` counts the request in the
caller's rate window and returns the job hashes in the same call, and the caller's identity
comes from the in-process key cache. No pydantic model is built here; the payload is a plain
dict serialized by orjson. Long polling (``?wait=&version=``) and ``/events`` will live in this
blueprint too, on top of an ``api/pubsub.py`` listener.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from api import ratelimit
from api.auth import Principal, current_principal
from api.http import is_job_id, json_response
from api.lookup import not_found
from api.services import services
from shared.clock import now_ms
from shared.errors import ValidationFailed
from shared.jobview import effective_status, status_payload
from shared.settings import Settings
from shared.status import TERMINAL, JobStatus

bp = Blueprint("status", __name__)

MAX_BULK_IDS = 100


def read_hashes(principal: Principal, job_ids: list[str]) -> list[dict[str, str]]:
    """Counts the request and reads the jobs' hashes in one Lua call; raises 429 over limit."""
    svc = services()
    window = ratelimit.current_window()
    res = svc.store.scripts.status_read(
        keys=[ratelimit.rate_key(principal, window), *(svc.keys.job(j) for j in job_ids)],
        args=[svc.settings.rate_limit_window_seconds],
    )
    ratelimit.apply_count(int(res[0]), window)
    return [dict(zip(flat[::2], flat[1::2], strict=True)) for flat in res[1:]]


def poll_after(status: JobStatus, settings: Settings) -> str | None:
    """Seconds until the next useful poll: none once terminal, shorter while running."""
    if status in TERMINAL:
        return None
    seconds = (settings.poll_after_seconds if status is JobStatus.IN_PROGRESS
               else settings.poll_after_queued_seconds)
    return f"{seconds:g}"


def make_etag(h: dict[str, str], status: JobStatus) -> str:
    """Version plus effective status: expiry changes the status without a new version."""
    return f'"{h.get("version", "0")}-{status.value}"'


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


@bp.get("/v1/jobs/<job_id>/status")
@ratelimit.self_counted
def job_status(job_id: str) -> Response:
    principal = current_principal()
    if not is_job_id(job_id):
        ratelimit.count_request(principal)
        raise ValidationFailed(f"job id '{job_id[:80]}' is not a UUID")
    job_id = job_id.lower()
    h = read_hashes(principal, [job_id])[0]
    if h.get("org") != principal.org:
        raise not_found(job_id)
    now = now_ms()
    status = effective_status(h, now)
    headers = {"ETag": make_etag(h, status), "Cache-Control": "no-cache"}
    hint = poll_after(status, services().settings)
    if hint is not None:
        headers["X-Poll-After"] = hint
    if etag_matches(request.headers.get("If-None-Match"), headers["ETag"]):
        return Response(status=304, headers=headers)
    return json_response(status_payload(h, now), 200, headers)


def parse_ids(raw: str | None) -> list[str]:
    """The asked ids, deduplicated in order; 400 when absent, above 100, or not UUIDs."""
    asked = [p.strip() for p in (raw or "").split(",") if p.strip()]
    if not asked:
        raise ValidationFailed("ids is required: a comma-separated list of job ids")
    if len(asked) > MAX_BULK_IDS:
        raise ValidationFailed(f"ids holds {len(asked)} ids; at most {MAX_BULK_IDS} per request")
    bad = [a for a in asked if not is_job_id(a)]
    if bad:
        raise ValidationFailed(f"ids holds a value that is not a UUID: '{bad[0][:80]}'")
    return list(dict.fromkeys(a.lower() for a in asked))


@bp.get("/v1/jobs/status")
@ratelimit.self_counted
def bulk_status() -> Response:
    principal = current_principal()
    try:
        ids = parse_ids(request.args.get("ids"))
    except ValidationFailed:
        ratelimit.count_request(principal)
        raise
    now = now_ms()
    data: list[dict[str, Any]] = []
    missing: list[str] = []
    for job_id, h in zip(ids, read_hashes(principal, ids), strict=True):
        if h.get("org") == principal.org:
            data.append(status_payload(h, now))
        else:
            missing.append(job_id)
    return json_response({"object": "list", "data": data, "missing": missing}, 200,
                         {"Cache-Control": "no-cache"})

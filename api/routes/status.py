"""The polling endpoints: ``GET /v1/jobs/{id}/status`` (the hot path, and long polls) and bulk.

Each answers with exactly one counted Redis round trip: ``status_read.lua`` counts the request
in the caller's rate window and returns the job hashes in the same call, and the caller's
identity comes from the in-process key cache. No pydantic model is built here; the payload is a
plain dict serialized by orjson.

In front of Flask, the WSGI stack built by ``api.app.create_app`` holds
:class:`api.hotpath.StatusFastPath`: it answers the common poll (key in a header and cached,
no query string) with the same gate (``api.ratelimit.count_and_read``) and the same answer
(``api.conditional.status_answer``) as the view below, without Flask's per-request machinery.
Everything else (first request of a key, ``?access_token=``, long polls, errors) comes here.

Long poll (``?wait=<s>&version=<n>``): the request registers with the process's ChangeFeed
*before* its counted read, then sleeps until a worker publishes a change of the job (no busy
loop), re-reading through :class:`api.pubsub.SharedReads`. It answers as soon as the version
exceeds ``n`` (default: the version it first read), the job is terminal, an ``If-None-Match``
sent with it no longer matches (:func:`stale_tag`), or time alone changed its ``waiting_for``
(the wait also ends at the moment ``shared.jobview.quiet_at`` names), else with the
unchanged job when the wait ends. Under the production server (granian) a waiting
request holds one thread of a pool sized for ``max_held_requests`` of them plus the poll threads
(``api.server``), so it never takes a thread that ordinary polls need.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import MultiDict

from api import ratelimit
from api.auth import Principal, current_principal
from api.conditional import etag_matches, make_etag, poll_after, status_answer
from api.http import is_job_id, json_response
from api.lookup import not_found
from api.pubsub import Push, Watch, push_for
from api.services import services
from shared.clock import now_ms
from shared.errors import ValidationFailed
from shared.job import F, effective_status
from shared.jobview import quiet_at, status_payload, waiting_for
from shared.scripts import Scripts
from shared.status import TERMINAL

__all__ = ["bp", "etag_matches", "make_etag", "poll_after", "read_hashes"]

bp = Blueprint("status", __name__)

STATUS_RULE = "/v1/jobs/<job_id>/status"
MAX_BULK_IDS = 100


def read_hashes(principal: Principal, job_ids: list[str],
                scripts: Scripts | None = None) -> list[dict[str, str]]:
    """Counts the request and reads the jobs' hashes in one Lua call; raises 429 over limit
    (``api.ratelimit.count_and_read``, the gate the status fast path uses too)."""
    return ratelimit.admit(ratelimit.count_and_read(services(), principal, job_ids, scripts))


@dataclass(frozen=True, slots=True)
class LongPoll:
    """``?wait=`` seconds (0 to ``long_poll_max_seconds``) and the ``?version=`` to beat."""

    wait: float
    version: int | None


def _number(args: MultiDict[str, str], name: str) -> float | None:
    raw = args.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValidationFailed(f"query parameter '{name}' must be a non-negative number")
    return value


def parse_long_poll(args: MultiDict[str, str], max_wait: int) -> LongPoll | None:
    """The long-poll parameters, None without ``wait``; 400 for bad values."""
    wait = _number(args, "wait")
    version = _number(args, "version")
    if version is not None and not version.is_integer():
        raise ValidationFailed("query parameter 'version' must be a non-negative integer")
    if wait is None:
        return None
    if wait > max_wait:
        raise ValidationFailed(f"query parameter 'wait' must be at most {max_wait} seconds")
    return LongPoll(wait, None if version is None else int(version))


@bp.get(STATUS_RULE)
@ratelimit.self_counted
def job_status(job_id: str) -> Response:
    principal = current_principal()
    try:
        if not is_job_id(job_id):
            raise ValidationFailed(f"job id '{job_id[:80]}' is not a UUID")
        poll = parse_long_poll(request.args, services().settings.long_poll_max_seconds)
    except ValidationFailed:
        ratelimit.count_request(principal)
        raise
    job_id = job_id.lower()
    if poll is not None:
        return long_poll(principal, job_id, poll)
    h = read_hashes(principal, [job_id])[0]
    if h.get(F.ORG) != principal.org:
        raise not_found(job_id)
    settings = services().settings
    return status_answer(h, request.headers.get("If-None-Match"), settings, now_ms()).response()


def long_poll(principal: Principal, job_id: str, poll: LongPoll) -> Response:
    settings = services().settings
    push = push_for(current_app, settings)
    # before the read: no change can slip between
    with push.feed.watch(job_id, (principal.org, principal.key_id)) as watch:
        h = read_hashes(principal, [job_id], push.scripts)[0]
        if h.get(F.ORG) != principal.org:
            raise not_found(job_id)
        if stale_tag(h, request.headers.get("If-None-Match"), now_ms()):
            # the client holds another state than this one (say, before the job went quiet
            # at the same version): it learns of it now, not when the wait runs out
            return status_answer(h, None, settings, now_ms()).response()
        target = poll.version if poll.version is not None else int(h.get(F.VERSION) or 0)
        h = wait_for_change(push, watch, h, target, time.monotonic() + poll.wait)
        if h.get(F.ORG) != principal.org:
            raise not_found(job_id)  # purged while we waited
    return status_answer(h, request.headers.get("If-None-Match"), settings, now_ms()).response()


def stale_tag(h: dict[str, str], if_none_match: str | None, now: int) -> bool:
    """True when the long poll's ``If-None-Match`` names another state of the job than the
    current one. ``version`` alone cannot say so: ``waiting_for`` and expiry change with time,
    at the same version, and a client that saw the job before such a change would otherwise
    wait out its whole ``wait`` for a write."""
    if not if_none_match:
        return False
    status = effective_status(h, now)
    return not etag_matches(if_none_match, make_etag(h.get(F.VERSION, "0"), status,
                                                     waiting_for(h, status, now)))


def seconds_to_time_change(h: dict[str, str], now: int) -> float:
    """How long until time alone changes what the job shows (inf if nothing will): expiry
    turns it ``expired``, a pause turns ``waiting_for`` on (``shared.jobview.quiet_at``).
    Long polls and event streams wake then, as a write would wake them."""
    until: list[float] = []
    exp = int(h.get(F.EXPIRES_AT) or 0)
    if exp:
        until.append((exp - now) / 1000 + 0.001)
    quiet = quiet_at(h, effective_status(h, now))
    if quiet is not None and now <= quiet:
        until.append((quiet + 1 - now) / 1000)  # quiet from the next millisecond on
    return max(0.0, min(until, default=math.inf))


def wait_for_change(push: Push, watch: Watch, h: dict[str, str], target: int,
                    deadline: float) -> dict[str, str]:
    """The job once its version exceeds ``target``, it is terminal or its ``waiting_for``
    differs from the one it started with, else at ``deadline``."""
    now = now_ms()
    shown = waiting_for(h, effective_status(h, now), now)
    while True:
        now = now_ms()
        status = effective_status(h, now)
        if int(h.get(F.VERSION) or 0) > target or status in TERMINAL or \
                waiting_for(h, status, now) != shown:
            return h
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return h
        if watch.wait(min(remaining, seconds_to_time_change(h, now))):
            h = push.reads.read(watch.job_id, watch.woken_at)
            if not h:
                return h


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
        if h.get(F.ORG) == principal.org:
            data.append(status_payload(h, now))
        else:
            missing.append(job_id)
    return json_response({"object": "list", "data": data, "missing": missing}, 200,
                         {"Cache-Control": "no-cache"})

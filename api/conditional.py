"""Conditional polling, shared by every view that shows a job: ETag, If-None-Match, X-Poll-After.

One implementation for the status view, the status fast path (``api.hotpath``), the full job
view and long polls, so a client's cached ETag means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from flask import Response

from api.http import JSON_MIMETYPE
from shared.job import F, effective_status
from shared.jobview import status_payload_for, waiting_for
from shared.settings import Settings
from shared.status import TERMINAL, JobStatus


def poll_after(status: JobStatus, settings: Settings) -> str | None:
    """Seconds until the next useful poll: none once terminal, shorter while running."""
    if status in TERMINAL:
        return None
    seconds = (settings.poll_after_seconds if status is JobStatus.IN_PROGRESS
               else settings.poll_after_queued_seconds)
    return f"{seconds:g}"


def make_etag(version: str | int, status: JobStatus, waiting: str | None) -> str:
    """Version plus what time alone changes without a new version: the effective status
    (expiry) and ``waiting_for`` (a pause), so a job that goes quiet is no stale 304."""
    if waiting is None:
        return f'"{version}-{status.value}"'
    return f'"{version}-{status.value}-{waiting}"'


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def job_headers(version: str | int, status: JobStatus, waiting: str | None,
                settings: Settings) -> list[tuple[str, str]]:
    """ETag, Cache-Control and (while not terminal) X-Poll-After for one state of a job."""
    headers = [("ETag", make_etag(version, status, waiting)), ("Cache-Control", "no-cache")]
    hint = poll_after(status, settings)
    if hint is not None:
        headers.append(("X-Poll-After", hint))
    return headers


@dataclass(frozen=True, slots=True)
class Answer:
    """A status answer before any framework touches it: 200 with a body, or 304 without."""

    code: int
    headers: list[tuple[str, str]]
    body: bytes

    def response(self) -> Response:
        if self.code == 304:
            return Response(status=304, headers=self.headers)
        return Response(self.body, status=self.code, headers=self.headers,
                        mimetype=JSON_MIMETYPE)


def status_answer(h: dict[str, str], if_none_match: str | None, settings: Settings,
                  now: int) -> Answer:
    """``GET /v1/jobs/{id}/status`` for the job hash ``h``: 304 when the ETag still matches."""
    status = effective_status(h, now)
    waiting = waiting_for(h, status, now)
    headers = job_headers(h.get(F.VERSION, "0"), status, waiting, settings)
    if etag_matches(if_none_match, headers[0][1]):
        return Answer(304, headers, b"")
    return Answer(200, headers, orjson.dumps(status_payload_for(h, now, status, waiting)))

"""The results cursor: an opaque token for a position in a job's completion order.

A finished row's position is the job version of the write that recorded it (versions only
grow, one per write), so "rows after position p" is a range read of the job's rows zset.
The token is base64url (no padding) of ``"r1:<job id>:<position>"``: it names its job, so a
token from another job is refused instead of silently skipping or repeating rows.
"""

from __future__ import annotations

import base64
import binascii
import re

from flask import request

from shared.errors import ValidationFailed

#: Rows per page without ``?limit=``, and the most one page may hold.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_TOKEN = re.compile(r"r1:([0-9a-f-]{36}):(0|[1-9][0-9]{0,17})")


def encode(job_id: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"r1:{job_id}:{position}".encode()).decode().rstrip("=")


def decode(token: str, job_id: str) -> int:
    """The position in ``token``, or 400 ``validation_error``: malformed or another job's.
    (:func:`check_position` refuses a position past what the job has written.)"""
    raw = token.strip()
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    m = _TOKEN.fullmatch(text) if raw.isascii() else None
    if m is None:
        raise ValidationFailed("cursor is not a results cursor of this API; pass next_cursor "
                               "unchanged, or leave 'after' out to start from the first row")
    if m.group(1) != job_id:
        raise ValidationFailed(f"cursor belongs to another job, not to {job_id}")
    return int(m.group(2))


def check_position(position: int, version: int) -> None:
    """400 for a position this job never reached (its version is past every row's)."""
    if position > version:
        raise ValidationFailed("cursor points past the last change of this job")


def parse_limit(raw: str | None) -> int:
    """``?limit=``: an integer from 1 to ``MAX_LIMIT`` (``DEFAULT_LIMIT`` when absent)."""
    if raw is None:
        return DEFAULT_LIMIT
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(value)


def wants_cursor() -> bool:
    """True when the request asks for a cursor page (``limit`` or ``after`` given)."""
    return "limit" in request.args or "after" in request.args

"""Fixed-window rate limit per API key, counted in Redis so every API process shares it.

The counter for a key lives at ``keys.rate(key_id, window_number)`` where the window number
is ``floor(unix_time / window_seconds)``; it expires one second after its window. Every count
goes through one gate, :func:`count_and_read`: one ``status_read.lua`` call that counts the
request and reads the given job hashes in the same round trip. Most /v1 requests are counted
by ``count_request`` (the gate with no job keys); the status views are marked
``@self_counted`` and pass their job ids, so polling costs exactly one round trip. The gate is
Flask-free: the status fast path (``api.hotpath``) calls it directly, the Flask views through
:func:`admit`, so both count, refuse and report a request alike.

Every /v1 response carries the ``X-RateLimit-*`` headers from ``g.rate``; requests that were
never counted (missing or unknown key, Redis down) report the full limit for the current
window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, g

from api.auth import Principal
from api.services import Services, services
from shared.errors import RateLimited
from shared.scripts import Scripts

F = TypeVar("F", bound=Callable[..., Any])
_SELF_COUNTED = "_jobgrid_self_counted"


@dataclass(frozen=True, slots=True)
class Window:
    """The current fixed window: its number (part of the key) and its end in Unix seconds."""

    number: int
    reset: int


@dataclass(frozen=True, slots=True)
class RateState:
    """What the X-RateLimit-* headers report for this request."""

    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def window_at(seconds: int, now: float) -> Window:
    """The fixed window of length ``seconds`` that ``now`` falls in."""
    number = int(now // seconds)
    return Window(number, (number + 1) * seconds)


def current_window(now: float | None = None) -> Window:
    """The window that ``now`` falls in, for the app's window length."""
    return window_at(services().settings.rate_limit_window_seconds,
                     time.time() if now is None else now)


def rate_state(count: int, window: Window, limit: int) -> RateState:
    return RateState(limit, max(0, limit - count), window.reset)


def refusal(window: Window, limit: int, seconds: int) -> RateLimited:
    """The 429 for a request counted above ``limit`` in ``window``."""
    retry_after = max(1, math.ceil(window.reset - time.time()))
    return RateLimited(
        f"rate limit of {limit} requests per {seconds} s reached; retry in {retry_after} s",
        retry_after=retry_after,
    )


@dataclass(frozen=True, slots=True)
class Counted:
    """A request counted in its window, and the job hashes read in the same Lua call.

    ``refusal`` is the 429 to answer when the count is above the limit (the hashes were read
    anyway and must not be shown); ``rate`` is what ``X-RateLimit-*`` reports either way.
    """

    rate: RateState
    refusal: RateLimited | None
    hashes: list[dict[str, str]]


def count_and_read(svc: Services, principal: Principal, job_ids: Sequence[str] = (),
                   scripts: Scripts | None = None) -> Counted:
    """Counts one request of ``principal`` and reads ``job_ids``' hashes: one round trip.

    The one gate for every counted request, Flask-free so the status fast path and the
    Flask views share it. ``scripts`` lets long polls and streams use their own client; an
    absent job reads as ``{}``.
    """
    settings = svc.settings
    seconds = settings.rate_limit_window_seconds
    limit = settings.rate_limit_requests
    window = window_at(seconds, time.time())
    res = (scripts or svc.store.scripts).status_read(
        keys=[svc.keys.rate(principal.key_id, window.number), *map(svc.keys.job, job_ids)],
        args=[seconds],
    )
    count = int(res[0])
    return Counted(rate_state(count, window, limit),
                   refusal(window, limit, seconds) if count > limit else None,
                   [dict(zip(flat[::2], flat[1::2], strict=True)) for flat in res[1:]])


def admit(counted: Counted) -> list[dict[str, str]]:
    """For a Flask view: records the count on ``g`` (for the response's ``X-RateLimit-*``
    headers) and raises the 429 above the limit; else the hashes read with the count."""
    g.rate = counted.rate
    if counted.refusal is not None:
        raise counted.refusal
    return counted.hashes


def count_request(principal: Principal) -> None:
    """Counts one request against the caller's window (one Redis round trip); 429 above."""
    admit(count_and_read(services(), principal))


def rate_headers() -> dict[str, str]:
    """The headers for the current response; the full limit when the request was not counted."""
    state: RateState | None = g.get("rate")
    if state is None:
        limit = services().settings.rate_limit_requests
        state = RateState(limit, limit, current_window().reset)
    return state.headers()


def self_counted(view: F) -> F:
    """Marks a view that counts its own request (inside its single Redis call)."""
    setattr(view, _SELF_COUNTED, True)
    return view


def is_self_counted(app: Flask, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint or "")
    return bool(getattr(view, _SELF_COUNTED, False))

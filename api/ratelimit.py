"""Fixed-window rate limit per API key, counted in Redis so every API process shares it.

The counter for a key lives at ``keys.rate(key_id, window_number)`` where the window number
is ``floor(unix_time / window_seconds)``; it expires one second after its window. Most /v1
requests are counted by ``count_request`` (one INCR through ``status_read.lua`` with no job
keys); the status views are marked ``@self_counted`` and count inside the same Lua call that
reads the job, so polling costs exactly one round trip.

Every /v1 response carries the ``X-RateLimit-*`` headers from ``g.rate``; requests that were
never counted (missing or unknown key, Redis down) report the full limit for the current
window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, g

from api.auth import Principal
from api.services import services
from shared.errors import RateLimited

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


def rate_key(principal: Principal, window: Window) -> str:
    return services().keys.rate(principal.key_id, window.number)


def rate_state(count: int, window: Window, limit: int) -> RateState:
    return RateState(limit, max(0, limit - count), window.reset)


def refusal(window: Window, limit: int, seconds: int) -> RateLimited:
    """The 429 for a request counted above ``limit`` in ``window``."""
    retry_after = max(1, math.ceil(window.reset - time.time()))
    return RateLimited(
        f"rate limit of {limit} requests per {seconds} s reached; retry in {retry_after} s",
        retry_after=retry_after,
    )


def apply_count(count: int, window: Window) -> None:
    """Records the request's place in its window on ``g`` and refuses it above the limit."""
    settings = services().settings
    limit = settings.rate_limit_requests
    g.rate = rate_state(count, window, limit)
    if count > limit:
        raise refusal(window, limit, settings.rate_limit_window_seconds)


def count_request(principal: Principal) -> None:
    """Counts one request against the caller's window (one Redis round trip)."""
    svc = services()
    window = current_window()
    res = svc.store.scripts.status_read(
        keys=[rate_key(principal, window)], args=[svc.settings.rate_limit_window_seconds]
    )
    apply_count(int(res[0]), window)


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

"""Follow a job to its end by polling ``/status``, the way the contract asks clients to.

Each poll sends the last ``ETag`` (an unchanged job costs a bodiless 304) and the next poll
waits what ``X-Poll-After`` says. ``429``/``503`` answers are waited out (``Retry-After``) and
brief connection failures retried, so a watcher survives an API restart or a Redis blip.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from jobgrid.client import JSON, TERMINAL_STATUSES, ApiError, Client, ConnectionFailed

MIN_INTERVAL = 0.05
MAX_INTERVAL = 10.0
#: A running job unchanged for this long is shown as waiting (for a rescue, after a lost
#: worker node): the server withdraws its estimate after a comparable pause.
STALL_SECONDS = 10.0


def _waiting(status: JSON) -> JSON:
    """The payload shown for a job that stopped moving: its phase says what it waits for."""
    what = "waiting for rescue" if status.get("last_failure_code") == "worker_lost" \
        else "waiting"
    return {**status, "current_phase": f"{status.get('current_phase') or '-'} ({what})"}


class WatchInterrupted(Exception):
    """Raised when ``should_stop`` turned true before the job reached a terminal status."""


def _clamp(seconds: float) -> float:
    return min(MAX_INTERVAL, max(MIN_INTERVAL, seconds))


def watch_job(
    client: Client,
    job_id: str,
    on_update: Callable[[JSON], None],
    *,
    default_interval: float = 1.0,
    max_connection_failures: int = 30,
    sleep: Callable[[float], object] = time.sleep,
    should_stop: Callable[[], bool] | None = None,
) -> JSON:
    """Poll until the job is terminal; call ``on_update`` with every new status payload.

    Returns the last status payload. Raises ApiError for errors that waiting cannot fix
    (404, 401, ...) and ConnectionFailed after ``max_connection_failures`` in a row.
    """
    etag: str | None = None
    last: JSON | None = None
    failures = 0
    changed_at = time.monotonic()
    while True:
        if should_stop and should_stop():
            raise WatchInterrupted(job_id)
        try:
            resp = client.status(job_id, etag=etag)
        except ApiError as e:
            if e.status not in (429, 503):
                raise
            sleep(_clamp(e.retry_after or default_interval))
            continue
        except ConnectionFailed:
            failures += 1
            if failures >= max_connection_failures:
                raise
            sleep(1.0)
            continue
        failures = 0
        if resp.data is not None:
            last = resp.data
            etag = resp.etag
            changed_at = time.monotonic()
            on_update(last)
        elif last is not None and last.get("status") == "in_progress" and \
                changed_at and time.monotonic() - changed_at >= STALL_SECONDS:
            changed_at = 0.0  # once per pause
            on_update(_waiting(last))
        if last is not None and last.get("status") in TERMINAL_STATUSES:
            return last
        sleep(_clamp(resp.poll_after if resp.poll_after is not None else default_interval))

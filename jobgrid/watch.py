"""Follow a job to its end: server-sent events first, long poll when a stream is not possible.

Why this order: a poll loop that sleeps ``X-Poll-After`` (2 s while queued) reports a job that
took 0.13 s one to two seconds late. The event stream (``GET /v1/jobs/{id}/events``) sends the
current state at once and then every change as it happens, so the terminal status arrives
within milliseconds of being written. Where a stream cannot be had (a proxy that buffers or
refuses ``text/event-stream``, the server's cap on held requests answering 503, a stream cut
mid-way), the watcher falls back to the long poll (``/status?wait=30&version=<n>``), which also
answers as soon as the job changes. A server without long polls (400 on ``wait``) gets plain
polls that honour ``X-Poll-After``.

Every path sends what it knows (``Last-Event-ID``, ``version``, ``If-None-Match``), so nothing
is reported twice; ``429``/``503`` are waited out (``Retry-After``) and brief connection
failures retried, so a watcher survives an API restart or a Redis blip.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from jobgrid.client import JSON, TERMINAL_STATUSES, ApiError, Client, ConnectionFailed, EventStream

MIN_INTERVAL = 0.05
MAX_INTERVAL = 10.0
#: Seconds one long poll may wait (the server's maximum is 60 by default).
LONG_POLL_SECONDS = 30
#: With ``should_stop`` (demo's Ctrl-C), long polls this short so a stop is seen quickly.
INTERRUPTIBLE_POLL_SECONDS = 2
#: Stream reconnections after a cut before falling back to long polls.
MAX_STREAM_RECONNECTS = 3


class WatchInterrupted(Exception):
    """Raised when ``should_stop`` turned true before the job reached a terminal status."""


def _clamp(seconds: float) -> float:
    return min(MAX_INTERVAL, max(MIN_INTERVAL, seconds))


class _Tracker:
    """The last payload seen; calls ``on_update`` only for news: a higher version, or a
    different status or ``waiting_for`` (time alone changes those: expiry, a pause). Whether a
    job waits is the server's call (``waiting_for``); the stream and the long poll bring it
    when it changes, so the watcher keeps no clock of its own."""

    def __init__(self, on_update: Callable[[JSON], None]) -> None:
        self.on_update = on_update
        self.last: JSON | None = None

    @property
    def version(self) -> int | None:
        if self.last is None:
            return None
        v = self.last.get("version")
        return int(v) if isinstance(v, int) else None

    def see(self, payload: JSON) -> bool:
        """Record ``payload``; True when the job is terminal."""
        old = self.last
        new_version = payload.get("version")
        if old is None or payload.get("status") != old.get("status") or (
                isinstance(new_version, int) and new_version > (self.version or -1)) or (
                new_version == old.get("version") and
                payload.get("waiting_for") != old.get("waiting_for")):
            self.last = payload
            self.on_update(payload)
        return self.terminal

    @property
    def terminal(self) -> bool:
        return self.last is not None and self.last.get("status") in TERMINAL_STATUSES


def _read_stream(stream: EventStream, out: queue.Queue[JSON | BaseException | None]) -> None:
    """Reader thread: every status event into ``out``, then None (end) or the error."""
    try:
        for payload in stream:
            out.put(payload)
        out.put(None)
    except BaseException as e:  # noqa: BLE001 - handed to the watching thread
        out.put(e)


def _follow_events(
    client: Client,
    job_id: str,
    tracker: _Tracker,
    should_stop: Callable[[], bool] | None,
) -> bool:
    """Follow the event stream; True once terminal, False to fall back to long polls.

    The stream is read on a daemon thread so that the watching thread can notice
    ``should_stop`` within a fraction of a second, and close the stream when it does.
    """
    reconnects = 0
    while True:
        try:
            stream = client.events(job_id, last_event_id=tracker.version)
        except ApiError as e:
            if e.status in (401, 403):
                raise  # a key problem: /status would answer the same
            # anything else (404 from a server or proxy without the route, 406, 429, 503):
            # the polls below report it themselves if it concerns the job
            return False
        except ConnectionFailed:
            return False
        if stream is None:  # 204: terminal, and we have its last version
            return tracker.terminal
        out: queue.Queue[JSON | BaseException | None] = queue.Queue()
        reader = threading.Thread(target=_read_stream, args=(stream, out), daemon=True,
                                  name=f"jobgrid-sse-{job_id[:8]}")
        reader.start()
        try:
            while True:
                try:
                    item = out.get(timeout=0.2)
                except queue.Empty:
                    if should_stop and should_stop():
                        raise WatchInterrupted(job_id) from None
                    continue
                if isinstance(item, BaseException) or item is None:
                    break
                if tracker.see(item):
                    return True
        finally:
            stream.close()
        reconnects += 1  # the stream ended before the terminal event: cut, or Redis blip
        if reconnects > MAX_STREAM_RECONNECTS:
            return False


def _poll(
    client: Client,
    job_id: str,
    tracker: _Tracker,
    *,
    default_interval: float,
    max_connection_failures: int,
    sleep: Callable[[float], object],
    should_stop: Callable[[], bool] | None,
) -> JSON:
    """Long polls (or, if the server refuses ``wait``, plain polls) until terminal."""
    etag: str | None = None
    failures = 0
    long_poll = True
    wait_seconds = INTERRUPTIBLE_POLL_SECONDS if should_stop else LONG_POLL_SECONDS
    while True:
        if should_stop and should_stop():
            raise WatchInterrupted(job_id)
        try:
            if long_poll:
                resp = client.status(job_id, etag=etag, wait=wait_seconds,
                                     version=tracker.version)
            else:
                resp = client.status(job_id, etag=etag)
        except ApiError as e:
            if e.status == 400 and long_poll:
                long_poll = False  # an older server: no ?wait=
                continue
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
            etag = resp.etag
            tracker.see(resp.data)
        if tracker.terminal:
            assert tracker.last is not None
            return tracker.last
        if not long_poll:
            sleep(_clamp(resp.poll_after if resp.poll_after is not None else default_interval))


def watch_job(
    client: Client,
    job_id: str,
    on_update: Callable[[JSON], None],
    *,
    default_interval: float = 1.0,
    max_connection_failures: int = 30,
    sleep: Callable[[float], object] = time.sleep,
    should_stop: Callable[[], bool] | None = None,
    events: bool = True,
) -> JSON:
    """Follow the job until it is terminal; call ``on_update`` with every new status payload.

    Returns the last status payload. Raises ApiError for errors that waiting cannot fix
    (404, 401, ...), ConnectionFailed after ``max_connection_failures`` in a row, and
    WatchInterrupted once ``should_stop`` is true. ``events=False`` skips the stream.
    """
    tracker = _Tracker(on_update)
    if events and _follow_events(client, job_id, tracker, should_stop):
        assert tracker.last is not None
        return tracker.last
    return _poll(client, job_id, tracker, default_interval=default_interval,
                 max_connection_failures=max_connection_failures, sleep=sleep,
                 should_stop=should_stop)

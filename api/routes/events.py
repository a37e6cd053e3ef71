"""``GET /v1/jobs/{id}/events``: server-sent events, so a client is told of changes instead of
polling for them.

The stream sends one ``status`` event (``id:`` = the job's version, ``data:`` = the status
payload) on connect and one on every change, a comment line every ``sse_heartbeat_seconds``
(so proxies and the server notice a dead client), and ends after the terminal event. Time
alone is a change too: expiry (the status turns ``expired``) and a pause (``waiting_for``
turns on, ``shared.jobview.quiet_at``) each send an event with the same version as id.

* Resume: ``Last-Event-ID`` (EventSource sends it when it reconnects) equal to the current
  version means the client is up to date, so that event is not sent again (unless the job is
  waiting: the pause came at the same version, so the client may not have seen it); for a
  terminal job the answer is then ``204``, the one status that tells EventSource to stop
  reconnecting.
* Before the stream starts, the request is a normal ``/v1`` request: a bad id is 400, another
  organization's job 404, the rate limit applies, all as JSON. The connection counts once
  against the rate limit, in the same Redis call as the first read; events cost nothing more.
* One ChangeFeed subscription per process wakes the stream; re-reads are shared between all
  streams of the same job (``api.pubsub``). Under the production server (granian) a stream holds
  one thread of a pool sized for ``max_held_requests`` streams plus the poll threads; past
  that cap a new stream is 503 (``api.pubsub``), so polls always find a thread.
* If Redis goes away mid-stream the stream just ends (logged, no stack trace); EventSource
  reconnects and resumes with ``Last-Event-ID``.
* ``?rows=true`` adds a ``row`` event per finished row (the results cursor's row shape, in
  completion order) before the ``status`` event of the version that recorded it. Every
  event's id is then a results cursor (``api.rowcursor``): a row's is its own position, a
  status event's is the job version it shows, so ``Last-Event-ID`` resumes rows and status
  alike, with no row sent twice. ``?after=<cursor>`` starts after rows the client has.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack

import orjson
import redis
from flask import Blueprint, Response, current_app, request

from api import grid, ratelimit, rowcursor
from api.auth import current_principal
from api.http import is_job_id, query_flag
from api.lookup import not_found
from api.pubsub import Push, Watch, push_for
from api.routes.status import read_hashes, seconds_to_time_change
from api.services import services
from shared.clock import now_ms
from shared.errors import ValidationFailed
from shared.job import F, effective_status
from shared.jobview import status_payload, waiting_for
from shared.status import TERMINAL, JobStatus
from shared.store import JobStore

bp = Blueprint("events", __name__)
log = logging.getLogger("jobgrid.api.events")

#: Milliseconds EventSource waits before reconnecting after the stream ends.
RECONNECT_MS = 2000
HEARTBEAT = b": heartbeat\n\n"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def parse_last_event_id(raw: str | None) -> int | None:
    """The version the client saw last; anything but a non-negative integer means none."""
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() else None


def status_event(h: dict[str, str], now: int, rows: RowFeed | None = None) -> bytes:
    payload = status_payload(h, now)
    event_id = rowcursor.encode(payload["id"], payload["version"]).encode() if rows \
        else b"%d" % payload["version"]
    return b"id: %s\nevent: status\ndata: %s\n\n" % (event_id, orjson.dumps(payload))


class RowFeed:
    """The ``row`` events of one stream: rows finished after the last one sent, read up to the
    version of the status about to be sent (so its id never moves the client backwards)."""

    PAGE = 500

    def __init__(self, store: JobStore, job_id: str, fields: list[str]) -> None:
        self.store = store
        self.job_id = job_id
        self.fields = fields

    def events(self, after: int, until: int) -> Iterator[bytes]:
        while after < until:
            page, more = self.store.rows_after(self.job_id, after, self.PAGE, until)
            for r in page:
                row = grid.finished_row(orjson.loads(r.raw), self.fields, False, r.reruns)
                yield b"id: %s\nevent: row\ndata: %s\n\n" % (
                    rowcursor.encode(self.job_id, r.position).encode(), orjson.dumps(row))
            if not more or not page:
                return
            after = page[-1].position


class EventStream:
    """The response body: an iterable whose ``close()`` (called by the WSGI server when the
    client goes away, or when the response is dropped unsent) always unregisters the watch."""

    def __init__(self, push: Push, watch: Watch, stack: ExitStack, h: dict[str, str],
                 last_id: int | None, rows: RowFeed | None = None) -> None:
        self.push = push
        self.watch = watch
        self.stack = stack
        self.h = h
        self.last_id = last_id
        self.rows = rows
        self.heartbeat = push.settings.sse_heartbeat_seconds

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield b"retry: %d\n\n" % RECONNECT_MS
            yield from self._events()
        except redis.RedisError as e:
            log.warning("event stream of job %s ended: Redis unavailable (%s)",
                        self.watch.job_id, type(e).__name__)
        finally:
            self.close()

    def close(self) -> None:
        self.stack.close()

    def _events(self) -> Iterator[bytes]:
        """One event per new (version, effective status, waiting_for): expiry changes the
        status alone, a pause changes ``waiting_for`` alone (same version, so same id)."""
        h = self.h
        sent: tuple[int, JobStatus | None, str | None] = (
            -1 if self.last_id is None else self.last_id, None, None)
        while True:
            now = now_ms()
            status = effective_status(h, now)
            state = (int(h.get(F.VERSION) or 0), status, waiting_for(h, status, now))
            if sent[1] is None and state[0] == sent[0] and state[2] is None:
                # resumed at the current version: the client has it. Not while the job waits:
                # the pause changed it at the same version (same id), and the client may have
                # seen the version only before that; once more is harmless, missing it is not
                sent = state
            elif state != sent:
                if self.rows is not None:
                    yield from self.rows.events(max(sent[0], 0), state[0])
                yield status_event(h, now, self.rows)
                sent = state
            if status in TERMINAL:
                return
            yield from self._wait(seconds_to_time_change(h, now))
            h = self.push.reads.read(self.watch.job_id, self.watch.woken_at)
            if not h:
                return  # purged: nothing more will happen

    def _wait(self, until_change: float) -> Iterator[bytes]:
        """Heartbeats until a wake-up, or until time alone changes what the job shows
        (expiry, a pause: ``seconds_to_time_change``)."""
        change_at = time.monotonic() + until_change
        while True:
            timeout = min(self.heartbeat, change_at - time.monotonic())
            if self.watch.wait(timeout) or time.monotonic() >= change_at:
                return
            yield HEARTBEAT


@bp.get("/v1/jobs/<job_id>/events")
@ratelimit.self_counted
def job_events(job_id: str) -> Response:
    principal = current_principal()
    if not is_job_id(job_id):
        ratelimit.count_request(principal)
        raise ValidationFailed(f"job id '{job_id[:80]}' is not a UUID")
    job_id = job_id.lower()
    push = push_for(current_app, services().settings)
    stack = ExitStack()
    try:
        watch = stack.enter_context(push.feed.watch(  # before the read
            job_id, (principal.org, principal.key_id)))
        h = read_hashes(principal, [job_id], push.scripts)[0]
        if h.get(F.ORG) != principal.org:
            raise not_found(job_id)
        with_rows = query_flag("rows")  # checked once the request is counted
        last_id = resume_position(job_id) if with_rows else \
            parse_last_event_id(request.headers.get("Last-Event-ID"))
        if with_rows and last_id is not None:
            rowcursor.check_position(last_id, int(h.get(F.VERSION) or 0))
        if last_id is not None and last_id >= int(h.get(F.VERSION) or 0) and \
                effective_status(h, now_ms()) in TERMINAL:
            stack.close()
            return Response(status=204, headers=STREAM_HEADERS)
        rows = row_feed(job_id) if with_rows else None
    except BaseException:
        stack.close()
        raise
    stream = EventStream(push, watch, stack, h, last_id, rows)
    return Response(stream, mimetype="text/event-stream", headers=STREAM_HEADERS)


def resume_position(job_id: str) -> int | None:
    """Where a ``?rows=true`` stream starts: after ``Last-Event-ID`` when it is a cursor of
    this job (EventSource reconnecting: it wins over the URL's ``after``), else after
    ``?after=`` (400 when malformed or another job's), else from the first row."""
    last = request.headers.get("Last-Event-ID")
    if last:
        try:
            return rowcursor.decode(last, job_id)
        except ValidationFailed:
            pass  # a stale or foreign id from the browser: start from ?after= or the top
    after = request.args.get("after")
    if after is None:
        return None
    if not after.strip():
        raise ValidationFailed("after must be a cursor (next_cursor of a results page)")
    return rowcursor.decode(after, job_id)


def row_feed(job_id: str) -> RowFeed:
    svc = services()
    schema = svc.store.load_schema(job_id)
    return RowFeed(svc.store, job_id, [f.name for f in schema.fields] if schema else [])

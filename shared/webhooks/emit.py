"""Event emission for job transitions: Redis only, exactly once per transition.

Emission writes the event and its deliveries and marks them due, without a broker message.
That keeps it callable from the API (cancel) as well as from workers (finalize, the expiry
sweep), and lets the workers' housekeeping thread (``worker.housekeeping``) be the only place
that turns due deliveries into Celery tasks, so no retry delay ever becomes a Celery
countdown (the Redis transport would deliver a task held past its visibility timeout a
second time; see ``docs/webhooks.md``).

Exactly once per transition: ``webhook_emit.lua`` (``WebhookStore.add_event``) sets the field
``<event>:<transition>`` of the job's ``emitted`` hash with HSETNX in the same script that
creates the deliveries. The transition marker is the job's ``completed_at`` (``expires_at``
for ``job.expired``), which every emitter of the same transition reads alike.
``attempt_count`` would not do: a redelivered finalize bumps it, so the second emitter would
see another value and emit a duplicate.
"""

from __future__ import annotations

import time

import orjson

from shared.clock import now_ms
from shared.job import F
from shared.jobview import effective_status, status_payload
from shared.status import TERMINAL, JobStatus
from shared.store import JobStore
from shared.webhooks.models import (
    EVENT_STATUS,
    EVENTS,
    JOB_EXPIRED,
    JOB_PROGRESS,
    STATUS_EVENT,
    Webhook,
    new_id,
)
from shared.webhooks.store import WebhookStore


def transition_marker(h: dict[str, str], event_type: str) -> str:
    """What tells one transition of the job from another (see the module docstring)."""
    if event_type == JOB_EXPIRED:
        return h.get(F.EXPIRES_AT, "")
    if event_type == JOB_PROGRESS:
        return h.get(F.VERSION, "")
    return h.get(F.COMPLETED_AT, "")


def status_matches(h: dict[str, str], event_type: str, now: int) -> bool:
    """True when the job currently shows the state the event announces."""
    status = effective_status(h, now)
    if event_type == JOB_PROGRESS:
        return status not in TERMINAL
    return EVENT_STATUS.get(event_type) is status


def event_body(event_id: str, event_type: str, h: dict[str, str], now: int) -> bytes:
    """The exact bytes sent (and signed) on every attempt of every delivery of the event."""
    return orjson.dumps({"id": event_id, "type": event_type, "created_at": now // 1000,
                         "data": status_payload(h, now)})


def _emit(whs: WebhookStore, h: dict[str, str], event_type: str, hooks: list[Webhook],
          now: int) -> int:
    event_id = new_id("evt")
    emitted_until = int(h.get(F.PURGE_AT) or now + whs.settings.retention_seconds * 1000)
    return whs.add_event(
        h[F.ID], h[F.ORG], event_type, f"{event_type}:{transition_marker(h, event_type)}",
        event_id, event_body(event_id, event_type, h, now), hooks,
        emitted_until=emitted_until, now=now)


def emit_job_event(store: JobStore, job_id: str, org: str, event_type: str) -> int:
    """Emits ``event_type`` for the job's current transition to every subscribed webhook.

    Call it after a transition succeeded; calling it again (a second finalize, a redelivered
    task, a racing process) emits nothing. It does nothing when the job does not show the
    announced state any more (a retry got in between) or no webhook wants the event.
    Returns the number of deliveries created. Redis errors propagate to the caller.
    """
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    h = store.read_job(job_id)
    if h is None or h.get(F.ORG) != org:
        return 0
    return _emit_for_hash(store, h, event_type, now_ms())


def _emit_for_hash(store: JobStore, h: dict[str, str], event_type: str, now: int) -> int:
    if not status_matches(h, event_type, now):
        return 0
    whs = WebhookStore(store.r, store.settings)
    hooks = whs.subscribers(h[F.ORG], event_type)
    return _emit(whs, h, event_type, hooks, now) if hooks else 0


def emit_terminal_event(store: JobStore, job_id: str, org: str) -> int:
    """The terminal event of the job's current status (``job.completed`` for a completed job
    ...), or nothing while it is not terminal. Safe to call again: see ``emit_job_event``."""
    h = store.read_job(job_id)
    if h is None or h.get(F.ORG) != org:
        return 0
    now = now_ms()
    event_type = STATUS_EVENT.get(effective_status(h, now))
    return _emit_for_hash(store, h, event_type, now) if event_type else 0


def emit_for_status(store: JobStore, job_id: str, org: str, status: JobStatus | str) -> int:
    """``emit_job_event`` for the event a terminal status announces (0 for other statuses)."""
    event_type = STATUS_EVENT.get(JobStatus(status))
    return emit_job_event(store, job_id, org, event_type) if event_type else 0


#: (client, prefix, org) -> (monotonic time looked up, has a job.progress subscriber)
_PROGRESS_SUBSCRIBED: dict[tuple[int, str, str], tuple[float, bool]] = {}
PROGRESS_LOOKUP_SECONDS = 5.0


def _wants_progress(store: JobStore, org: str) -> bool:
    """Whether the org has a ``job.progress`` webhook, looked up at most every 5 s per
    process: most organizations have none, and this runs once per document."""
    now = time.monotonic()
    key = (id(store.r), store.keys.prefix, org)
    hit = _PROGRESS_SUBSCRIBED.get(key)
    if hit is not None and now - hit[0] < PROGRESS_LOOKUP_SECONDS:
        return hit[1]
    wants = bool(WebhookStore(store.r, store.settings).subscribers(org, JOB_PROGRESS))
    if len(_PROGRESS_SUBSCRIBED) > 10_000:
        _PROGRESS_SUBSCRIBED.clear()
    _PROGRESS_SUBSCRIBED[key] = (now, wants)
    return wants


def emit_progress(store: JobStore, job_id: str, org: str) -> int:
    """A ``job.progress`` event, at most one per job per ``webhook_progress_interval_seconds``.

    Free for an organization without a ``job.progress`` webhook (a cached look-up, so a new
    subscription is seen within 5 s); otherwise one ``SET NX`` per call, and only the caller
    that opens the gate reads the webhooks.
    """
    if not _wants_progress(store, org):
        return 0
    gate_ms = int(store.settings.webhook_progress_interval_seconds * 1000)
    if not WebhookStore(store.r, store.settings).open_progress_gate(job_id, gate_ms):
        return 0
    return emit_job_event(store, job_id, org, JOB_PROGRESS)

"""Re-sends the next step of a job that stopped moving: the last line of defence against a
lost broker message. The first lines are in ``worker/fleet.py``: the rescue of what a lost
worker node held and the lost-message audit, both within seconds; this watchdog catches
whatever they miss, after ``JOBGRID_STALL_SECONDS``.

Acks-late, reject-on-worker-lost and the visibility sweep bring back every message a worker
held when it died - except one the Redis transport had already popped (``BRPOP``) but not
yet written to its ``unacked`` hash when the worker was SIGKILLed. That message is gone, and
without this watchdog its job would stay ``in_progress`` forever (seen once in
``tests/faults/test_worker_kill.py`` under load).

Every pass (from the worker's sweeper thread) reads the running jobs; a job whose record has
not changed for ``JOBGRID_STALL_SECONDS`` gets its current step sent again: validate, parse,
finalize, or - in phase 2 - a fresh fan-out window of its unfinished documents. Duplicates
are harmless (the done set, the transition guards), so a false alarm - a job merely waiting
behind a long backlog - costs at most one window of extra messages per stall period. A
per-job lock keeps several workers from rescuing the same job at once.
"""

from __future__ import annotations

import logging

from shared.clock import now_ms
from shared.job import F
from shared.status import TERMINAL, JobStatus, Phase
from shared.store import JobStore
from worker.dispatch import Dispatcher

log = logging.getLogger("jobgrid.worker.watchdog")

_FIELDS = (F.STATUS, F.CURRENT_PHASE, F.UPDATED_AT, F.EXPIRES_AT, F.FANOUT_DONE, F.PROCESSED,
           F.DOCUMENT_COUNT, F.PRIORITY)


def rescue_stalled(store: JobStore, dispatch: Dispatcher, now: int | None = None) -> int:
    """One pass; returns how many jobs had a step re-sent."""
    now = now if now is not None else now_ms()
    stall_ms = int(store.settings.stall_seconds * 1000)
    running = store.running_before(now - stall_ms)
    if not running:
        return 0
    records = store.job_fields_many([job_id for _, _, job_id in running], _FIELDS)
    rescued = 0
    for (member, org, job_id), h in zip(running, records, strict=True):
        if _finished(h, now):
            store.forget_running(member)
        elif (now - int(h[F.UPDATED_AT] or 0) >= stall_ms
              and store.take_rescue_lock(job_id, stall_ms)):
            step = _resend(store, dispatch, job_id, org, h)
            log.warning("job %s made no progress for %.0f s; re-sent %s", job_id,
                        (now - int(h[F.UPDATED_AT] or 0)) / 1000, step)
            rescued += 1
    return rescued


def _finished(h: dict[str, str | None], now: int) -> bool:
    if not h[F.STATUS] or h[F.STATUS] in TERMINAL:
        return True
    return bool(h[F.EXPIRES_AT]) and now >= int(h[F.EXPIRES_AT] or 0)


def _resend(
    store: JobStore, dispatch: Dispatcher, job_id: str, org: str, h: dict[str, str | None]
) -> str:
    status, phase = h[F.STATUS], h[F.CURRENT_PHASE]
    if status == JobStatus.VALIDATING:
        dispatch.validate(job_id, org)
        return "validate"
    if status == JobStatus.QUEUED or phase == Phase.PARSE or (
            phase == Phase.EXECUTE and h[F.FANOUT_DONE] != "1"):
        dispatch.parse(job_id, org)
        return "parse"
    if phase == Phase.FINALIZE or h[F.PROCESSED] == h[F.DOCUMENT_COUNT]:
        dispatch.finalize(job_id, org)
        return "finalize"
    pending = store.pending_indexes(job_id, int(h[F.DOCUMENT_COUNT] or 0))
    first = store.start_fanout(job_id, pending, store.settings.fanout_window)
    dispatch.extract(job_id, org, first, h[F.PRIORITY] or "normal")
    return f"{len(first)} of {len(pending)} unfinished documents"

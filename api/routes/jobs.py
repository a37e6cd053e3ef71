"""Job lifecycle endpoints: submit, read, list, cancel, retry."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, request

from api import idempotency, listing
from api.auth import current_principal
from api.conditional import etag_matches, job_headers
from api.http import json_response, parse_job_id, parse_json_object, read_body, validate_model
from api.lookup import full_job, not_found, owned_job
from api.services import Services, services
from api.submit import submit
from shared.clock import now_ms
from shared.errors import Conflict, Unavailable, Unprocessable
from shared.job import F, RetryOutcome, TransitionOutcome
from shared.jobview import effective_status
from shared.models import RetryRequest
from shared.status import JobStatus, Phase
from shared.webhooks import JOB_CANCELLED, emit_job_event

bp = Blueprint("jobs", __name__)
log = logging.getLogger("jobgrid.api.jobs")

CANCELLABLE = (JobStatus.VALIDATING, JobStatus.QUEUED, JobStatus.IN_PROGRESS)


def location(job_id: str) -> dict[str, str]:
    return {"Location": f"/v1/jobs/{job_id}"}


@bp.post("/v1/jobs")
def submit_job() -> Response:
    """202 with the new job; 200 with the earlier one for a repeated Idempotency-Key."""
    svc = services()
    key = idempotency.read_key(request)
    raw = read_body(request, svc.settings.max_request_bytes)
    done = submit(svc, current_principal().org, raw, key)
    return json_response(done.payload, done.status, location(done.job_id))


@bp.get("/v1/jobs")
def list_jobs() -> Response:
    query = listing.parse_query(request.args)
    return json_response(listing.list_jobs(services(), current_principal().org, query))


@bp.get("/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    """The full job, with the status view's ETag (``"<version>-<effective status>"``, plus
    ``-<waiting_for>`` while set) and poll hint, so a dashboard can poll it conditionally
    too (304 with no body)."""
    svc = services()
    job = full_job(svc, parse_job_id(job_id), current_principal().org)
    headers = job_headers(job["version"], JobStatus(job["status"]), job["waiting_for"],
                          svc.settings)
    if etag_matches(request.headers.get("If-None-Match"), headers[0][1]):
        return Response(status=304, headers=headers)
    return json_response(job, 200, dict(headers))


@bp.post("/v1/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    """Sets the cancel flag; workers check it before each document. 409 once terminal."""
    svc, org, job_id = services(), current_principal().org, parse_job_id(job_id)
    h = owned_job(svc, job_id, org)
    t = svc.store.transition(job_id, org, CANCELLABLE, status=JobStatus.CANCELLED,
                             extra={F.CANCELLED: "1"}).result
    if t.outcome is TransitionOutcome.GONE:
        raise not_found(job_id)
    if t.outcome is TransitionOutcome.REFUSED:
        current = t.status or ""
        # the stored status of an expired job is still the one it ended in: say expired
        state = {**h, F.STATUS: current}
        known = current in {str(v) for v in JobStatus}
        shown = effective_status(state, now_ms()) if known else current
        raise Conflict(f"job {job_id} is already {shown}; only validating, queued or "
                       "in_progress jobs can be cancelled")
    try:
        emit_job_event(svc.store, job_id, org, JOB_CANCELLED)
    except redis.RedisError as e:  # the cancel happened; a lost event must not turn it into a 503
        log.error("job %s cancelled, but its webhook event could not be queued: %s", job_id, e)
    return json_response(full_job(svc, job_id, org))


def retry_options(svc: Services) -> RetryRequest:
    """The optional body: none (or ``{}``) keeps the contract's retry; ``{"only": "failed"}``
    re-runs only the failed rows and accepts a completed job too."""
    raw = read_body(request, svc.settings.max_request_bytes)
    if not raw.strip():
        return RetryRequest()
    return validate_model(RetryRequest, parse_json_object(raw))


@bp.post("/v1/jobs/<job_id>/retry")
def retry_job(job_id: str) -> Response:
    """202 like a submission: the job is queued again under the same id."""
    svc, org, job_id = services(), current_principal().org, parse_job_id(job_id)
    options = retry_options(svc)
    owned_job(svc, job_id, org)
    res = svc.store.retry(job_id, org, Phase.PARSE, options.only or "")
    if res.outcome is RetryOutcome.DATA_EXPIRED:
        raise Unprocessable(f"the documents of job {job_id} expired and were deleted; "
                            "submit the batch again")
    if res.outcome is RetryOutcome.REFUSED:
        detail = res.status or ""
        if detail == "gone":
            raise not_found(job_id)
        if detail == "no_failed_rows":
            raise Conflict(f"job {job_id} is completed and has no failed rows to retry")
        if options.only:
            raise Conflict(f"job {job_id} is {detail}; only completed (with failed rows), "
                           "failed, cancelled or expired jobs can be retried")
        hint = ' (send {"only": "failed"} to re-run its failed rows)' \
            if detail == "completed" else ""
        raise Conflict(f"job {job_id} is {detail}; only failed, cancelled or expired jobs "
                       f"can be retried{hint}")
    try:
        svc.enqueuer.parse(job_id, org)
    except Unavailable:
        fail_unqueued(svc, job_id, org)
        raise
    return json_response(full_job(svc, job_id, org), 202, location(job_id))


def fail_unqueued(svc: Services, job_id: str, org: str) -> None:
    """A retried job that could not be enqueued would sit in ``queued`` forever: mark it
    failed (best effort) so the client can retry again once the broker is back."""
    try:
        svc.store.transition(job_id, org, (JobStatus.QUEUED,), status=JobStatus.FAILED,
                             extra={F.ERROR_CODE: "enqueue_failed",
                                    F.ERROR_MESSAGE: "the job queue could not be reached"})
    except redis.RedisError as e:
        log.error("could not mark job %s failed after a failed enqueue: %s", job_id, e)

"""``POST /v1/jobs``: checks, the idempotency claim, the write and the enqueue, in that order.

Limits are enforced before anything is written: the document count on the raw body (so an
oversized batch is not validated document by document), the decoded size of each document
after validation. A submission that fails after the job was written (broker down) deletes
every key it created and frees its Idempotency-Key: a rejected request leaves nothing behind.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import ValidationError

from api import idempotency
from api.http import parse_json_object, validate_model, validation_message
from api.lookup import full_job
from api.services import Services
from shared.clock import now_ms
from shared.errors import Conflict, NotFound, PayloadTooLarge, Unprocessable, ValidationFailed
from shared.jobview import job_payload
from shared.models import (
    MAX_SCHEMA_BYTES,
    STORED,
    JobCreate,
    SchemaIn,
    SchemaOut,
    schema_problem,
    schema_size,
)
from shared.settings import Settings
from shared.webhooks import unregister_expiry

log = logging.getLogger("jobgrid.api.submit")


@dataclass(frozen=True, slots=True)
class Submitted:
    """The answer to a submission: 202 for a new job, 200 for an idempotent replay."""

    status: int
    job_id: str
    payload: dict[str, Any]


def check_batch(data: dict[str, Any], settings: Settings) -> None:
    docs = data.get("documents")
    if isinstance(docs, list) and len(docs) > settings.max_documents:
        raise PayloadTooLarge(
            f"the batch holds {len(docs)} documents; the limit is {settings.max_documents}"
        )


def check_documents(req: JobCreate, settings: Settings) -> None:
    if not req.documents:
        raise Unprocessable("documents is empty; a job needs at least one document")
    limit = settings.max_document_bytes
    for i, doc in enumerate(req.documents):
        if doc.size() > limit:
            raise PayloadTooLarge(
                f"documents.{i} ('{doc.filename}') is {doc.size()} bytes decoded; "
                f"the limit is {limit}"
            )


def check_schema(schema: SchemaIn, where: str = "schema") -> None:
    """The rules a schema must meet where it enters the API (stored or inline): at least one
    field (422), ``values`` only on enum fields (400), at most ``MAX_SCHEMA_BYTES`` (413)."""
    if not schema.fields:
        raise Unprocessable("the schema has no fields; give at least one field to extract")
    problem = schema_problem(schema)
    if problem is not None:
        raise ValidationFailed(f"{where}.{problem}" if where else problem)
    size = schema_size(schema)
    if size > MAX_SCHEMA_BYTES:
        raise PayloadTooLarge(f"the schema is {size} bytes as JSON; the limit is "
                              f"{MAX_SCHEMA_BYTES} bytes")


def resolve_schema(svc: Services, org: str, req: JobCreate) -> tuple[SchemaIn, str | None]:
    """The inline schema, or the organization's stored one named by ``schema_id`` (else 422)."""
    schema, schema_id = req.schema_, None
    if schema is not None:
        check_schema(schema)
    else:
        raw = svc.redis.get(svc.keys.schema(org, req.schema_id or ""))
        if not raw:
            raise Unprocessable(f"schema_id '{req.schema_id}' does not name a schema of "
                                "this organization")
        stored = SchemaOut.model_validate_json(raw, context=STORED)
        try:  # stored under older rules (say, a pattern RE2 cannot run): not runnable now
            schema = SchemaIn.model_validate(stored.model_dump(include={"name", "fields"}))
        except ValidationError as e:
            raise Unprocessable(f"schema_id '{stored.id}' no longer passes the schema rules "
                                f"({validation_message(e)}); update it with PUT "
                                f"/v1/schemas/{stored.id}") from e
        schema_id = stored.id
    if not schema.fields:
        raise Unprocessable("the schema has no fields; give at least one field to extract")
    return schema, schema_id


def current_job(svc: Services, job_id: str, org: str) -> dict[str, Any] | None:
    """The full job object, or None when it does not exist for ``org``."""
    try:
        return full_job(svc, job_id, org)
    except NotFound:
        return None


def submit(svc: Services, org: str, raw: bytes, idem_key: str | None) -> Submitted:
    """Every check first, then the idempotency claim, then the write and the enqueue; a
    failure after the write removes the job again so a rejected request leaves nothing."""
    data = parse_json_object(raw)
    check_batch(data, svc.settings)
    req = validate_model(JobCreate, data)
    check_documents(req, svc.settings)
    schema, schema_id = resolve_schema(svc, org, req)
    job_id = str(uuid.uuid4())
    claim = None
    if idem_key is not None:
        claim, earlier = idempotency.claim(svc, org, idem_key, data, job_id)
        if earlier is not None:
            return replay(svc, org, earlier)
    try:
        record = svc.store.create_job(job_id, org, req, schema, schema_id)
        svc.enqueuer.validate(job_id, org)
    except Exception:
        discard(svc, job_id, org, claim)
        raise
    payload = current_job(svc, job_id, org)
    if payload is None:  # only if purged within milliseconds: answer with what was written
        payload = job_payload(record, [], now_ms(), svc.settings.base_url)
    return Submitted(202, job_id, payload)


def replay(svc: Services, org: str, job_id: str) -> Submitted:
    """The job an earlier request with the same key and body created (200)."""
    payload = current_job(svc, job_id, org)
    if payload is None:
        raise Conflict(f"a request with this {idempotency.HEADER} is still being processed; "
                       "retry shortly")
    return Submitted(200, job_id, payload)


def discard(svc: Services, job_id: str, org: str, claim: idempotency.Claim | None) -> None:
    """Best effort: removes a job that was written but could not be enqueued."""
    k = svc.store.job_keys(job_id)
    try:
        pipe = svc.redis.pipeline(transaction=True)
        pipe.unlink(*k.record_keys(), *k.data_keys())
        pipe.zrem(svc.keys.org_jobs(org), job_id)
        pipe.zrem(svc.keys.org_updated(org), job_id)
        unregister_expiry(pipe, svc.keys, org, job_id)
        pipe.zrem(svc.keys.running, f"{org}|{job_id}")
        if claim is not None:
            pipe.delete(claim.redis_key)
        pipe.execute()
    except redis.RedisError as e:
        log.error("could not discard rejected job %s: %s", job_id, e)

"""``GET /v1/jobs/{id}/results``: the grid as JSON, CSV or JSON Lines, partial while running."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, request

from api import grid
from api.auth import current_principal
from api.http import json_response, parse_job_id, query_flag
from api.lookup import not_found
from api.services import Services, services
from shared.clock import iso_ms, now_ms
from shared.errors import NotFound, ValidationFailed
from shared.jobview import effective_status
from shared.status import JobStatus

bp = Blueprint("results", __name__)

FORMATS = ("json", "csv", "jsonl")


def load(svc: Services, job_id: str, org: str) -> tuple[dict[str, str], dict[str, Any],
                                                         dict[int, dict[str, Any]]]:
    """Job hash, schema object and recorded rows in one round trip (404 when not available)."""
    k = svc.keys.job_keys(job_id)
    pipe = svc.redis.pipeline(transaction=False)
    pipe.hgetall(k.job)
    pipe.get(k.schema)
    pipe.exists(k.docs)
    pipe.hgetall(k.results)
    h, schema_raw, docs_exist, rows = pipe.execute()
    if not h or h.get("org") != org:
        raise not_found(job_id)
    if not docs_exist or not schema_raw or effective_status(h, now_ms()) is JobStatus.EXPIRED:
        expired = iso_ms(int(h["expires_at"])) if h.get("expires_at") else "its expiry"
        raise NotFound(f"the results of job {job_id} expired at {expired} and were deleted")
    schema = schema_object(svc, org, h, orjson.loads(schema_raw))
    return h, schema, {int(i): orjson.loads(v) for i, v in rows.items()}


def schema_object(svc: Services, org: str, h: dict[str, str],
                  snapshot: dict[str, Any]) -> dict[str, Any]:
    """The job's schema snapshot; for a stored schema, the stored object (with its id) while
    it still holds the fields the job ran with (not after a ``PUT`` or ``DELETE``)."""
    schema_id = h.get("schema_id")
    if schema_id:
        stored = svc.redis.get(svc.keys.schema(org, schema_id))
        if stored:
            out: dict[str, Any] = orjson.loads(stored)
            if out.get("name") == snapshot["name"] and out.get("fields") == snapshot["fields"]:
                return out
    return {"name": snapshot["name"], "fields": snapshot["fields"]}


def parse_format() -> str:
    fmt = request.args.get("format", "json").strip().lower()
    if fmt not in FORMATS:
        raise ValidationFailed(f"format must be one of {', '.join(FORMATS)}")
    return fmt


@bp.get("/v1/jobs/<job_id>/results")
def job_results(job_id: str) -> Response:
    svc, org, job_id = services(), current_principal().org, parse_job_id(job_id)
    fmt, detail = parse_format(), query_flag("detail")
    h, schema, recorded = load(svc, job_id, org)
    fields = [f["name"] for f in schema["fields"]]
    count = int(h.get("document_count") or 0)
    names = svc.store.document_names(job_id) if len(recorded) < count else {}
    rows = grid.build_rows(fields, count, recorded, names, detail)
    if fmt == "csv":
        return Response(grid.to_csv(fields, rows), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="jobgrid-{job_id}.csv"'})
    if fmt == "jsonl":
        return Response(grid.to_jsonl(rows), mimetype="application/x-ndjson")
    return json_response({
        "job_id": job_id,
        "job_status": effective_status(h, now_ms()).value,
        "schema": schema,
        "total_rows": count,
        "rows": rows,
    })

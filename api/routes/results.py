"""``GET /v1/jobs/{id}/results``: the grid as JSON, CSV or JSON Lines, partial while running;
with ``?limit=``/``?after=`` one cursor page of finished rows, in completion order."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

import orjson
from flask import Blueprint, Response, request

from api import grid, rowcursor
from api.auth import current_principal
from api.http import json_response, parse_job_id, query_flag
from api.lookup import not_found
from api.services import Services, services
from shared.clock import iso_ms, now_ms
from shared.errors import NotFound, ValidationFailed
from shared.job import F, effective_status
from shared.status import JobStatus

bp = Blueprint("results", __name__)

FORMATS = ("json", "csv", "jsonl")


class Availability(Enum):
    """Whether a job's results can be served (``availability``)."""

    AVAILABLE = "available"
    ABSENT = "absent"  #: unknown job, or another organization's: a plain 404
    EXPIRED = "expired"  #: the job's data is gone: a 404 that says when it went


def availability(h: Mapping[str, str], org: str, schema_raw: str | None, docs_exist: bool,
                 now: int) -> Availability:
    """The one rule for when results are available, used by this route, its cursor pages and
    the dashboard's grid: the job is ``org``'s, its documents and schema snapshot still exist
    and it has not expired (expiry is derived on read, before the sweep deletes the keys)."""
    if not h or h.get(F.ORG) != org:
        return Availability.ABSENT
    if not docs_exist or not schema_raw or effective_status(h, now) is JobStatus.EXPIRED:
        return Availability.EXPIRED
    return Availability.AVAILABLE


def load(svc: Services, job_id: str, org: str) -> tuple[dict[str, str], dict[str, Any],
                                                         dict[int, dict[str, Any]]]:
    """Job hash, schema object and recorded rows in one round trip (404 when not available)."""
    read = svc.store.results_read(job_id, all_rows=True)
    h = read.job
    check_available(job_id, org, h, read.schema, read.docs_exist)
    schema = schema_object(svc, org, h, orjson.loads(read.schema or "{}"))
    return h, schema, {int(i): orjson.loads(v) for i, v in read.rows.items()}


def check_available(job_id: str, org: str, h: dict[str, str], schema_raw: str | None,
                    docs_exist: bool) -> None:
    """404 for an unknown or foreign job, and once the job's data expired."""
    state = availability(h, org, schema_raw, docs_exist, now_ms())
    if state is Availability.ABSENT:
        raise not_found(job_id)
    if state is Availability.EXPIRED:
        expired = iso_ms(int(h[F.EXPIRES_AT])) if h.get(F.EXPIRES_AT) else "its expiry"
        raise NotFound(f"the results of job {job_id} expired at {expired} and were deleted")


def schema_object(svc: Services, org: str, h: dict[str, str],
                  snapshot: dict[str, Any]) -> dict[str, Any]:
    """The job's schema snapshot; for a stored schema, the stored object (with its id) while
    it still holds the fields the job ran with (not after a ``PUT`` or ``DELETE``)."""
    schema_id = h.get(F.SCHEMA_ID)
    if schema_id:
        stored = svc.schemas.get(org, schema_id)
        if stored:
            out: dict[str, Any] = orjson.loads(stored)
            if out.get("name") == snapshot["name"] and out.get("fields") == snapshot["fields"]:
                return out
    return {"name": snapshot["name"], "fields": snapshot["fields"]}


def unprocessed_status(h: dict[str, str]) -> str:
    """What a row that never ran shows: ``cancelled`` once its job was cancelled (it will
    not run unless the job is retried), else ``pending``."""
    return "cancelled" if effective_status(h, now_ms()) is JobStatus.CANCELLED else "pending"


def parse_format() -> str:
    fmt = request.args.get("format", "json").strip().lower()
    if fmt not in FORMATS:
        raise ValidationFailed(f"format must be one of {', '.join(FORMATS)}")
    return fmt


@bp.get("/v1/jobs/<job_id>/results")
def job_results(job_id: str) -> Response:
    svc, org, job_id = services(), current_principal().org, parse_job_id(job_id)
    fmt, detail = parse_format(), query_flag("detail")
    if rowcursor.wants_cursor():
        return cursor_page(svc, org, job_id, fmt, detail)
    h, schema, recorded = load(svc, job_id, org)
    fields = [f["name"] for f in schema["fields"]]
    count = int(h.get(F.DOCUMENT_COUNT) or 0)
    names = svc.store.document_names(job_id) if len(recorded) < count else {}
    rows = grid.build_rows(fields, count, recorded, names, detail, unprocessed_status(h))
    if fmt == "csv":
        return Response(grid.to_csv(schema["fields"], rows, detail), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 f'attachment; filename="jobgrid-{job_id}.csv"'})
    if fmt == "jsonl":
        return Response(grid.to_jsonl(rows), mimetype="application/x-ndjson")
    return json_response({
        "job_id": job_id,
        "job_status": effective_status(h, now_ms()).value,
        "schema": schema,
        "total_rows": count,
        "rows": rows,
    })


def cursor_page(svc: Services, org: str, job_id: str, fmt: str, detail: bool) -> Response:
    """One page of finished rows after ``?after=`` (from the first finished row without it).

    ``next_cursor`` is the position after the page's last row, or ``after`` itself for an
    empty page, so a client keeps polling with it; ``job_status`` is read before the rows,
    so a terminal status with ``has_more: false`` means the client has seen every row.
    """
    if fmt == "csv":
        raise ValidationFailed("a CSV is always the whole grid: leave out 'limit' and 'after', "
                               "or page with format=json or jsonl")
    limit = rowcursor.parse_limit(request.args.get("limit"))
    after_raw = request.args.get("after")
    if after_raw is not None and not after_raw.strip():
        raise ValidationFailed("after must be a cursor (next_cursor of an earlier page)")
    after = rowcursor.decode(after_raw, job_id) if after_raw else 0
    page = svc.store.row_page(job_id, after, limit)
    h = page.job
    check_available(job_id, org, h, page.schema, page.docs_exist)
    rowcursor.check_position(after, int(h.get(F.VERSION) or 0))
    schema = schema_object(svc, org, h, orjson.loads(page.schema or "{}"))
    fields = [f["name"] for f in schema["fields"]]
    rows = [grid.finished_row(orjson.loads(r.raw), fields, detail, r.reruns)
            for r in page.rows]
    position = page.rows[-1].position if page.rows else after
    next_cursor = rowcursor.encode(job_id, position)
    status = effective_status(h, now_ms()).value
    if fmt == "jsonl":
        return Response(grid.to_jsonl(rows), mimetype="application/x-ndjson", headers={
            "X-Next-Cursor": next_cursor, "X-Has-More": "true" if page.has_more else "false",
            "X-Job-Status": status})
    return json_response({
        "job_id": job_id,
        "job_status": status,
        "schema": schema,
        "total_rows": int(h.get(F.DOCUMENT_COUNT) or 0),
        "rows": rows,
        "next_cursor": next_cursor,
        "has_more": page.has_more,
    })

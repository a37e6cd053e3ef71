"""One page of a job's results grid, shaped for the dashboard's table, and its CSV.

The page reads only the rows it shows (HMGET of one page of indexes), so a job of 10,000
documents costs the same per refresh as one of 100. Each cell carries a CSS class that makes
the grid readable at a glance: filled, empty (greyed, a dash), low confidence (highlighted),
or pending (the document has not been processed yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from api import grid
from api.routes.results import Availability, availability, load, unprocessed_status
from api.services import Services
from shared.clock import now_ms
from shared.job import F

PAGE_SIZE = 100
#: Below this a filled cell is highlighted for review. The built-in extractor scores a value
#: found next to its label at ~0.95 and drops below 0.8 when layout or disagreement blur it.
LOW_CONFIDENCE = 0.8


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Row:
    index: int
    filename: str
    status: str
    error: str
    cells: list[Cell]


@dataclass(frozen=True, slots=True)
class GridPage:
    """What the table shows; ``available`` is False once the job's data expired."""

    available: bool
    fields: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    total: int = 0

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE


def display(value: Any) -> str:
    """A value as a person reads it: money as ``12.50 EUR``, other non-strings as JSON."""
    if isinstance(value, dict) and {"amount", "currency"} <= value.keys():
        return f"{value['amount']} {value['currency']}"
    return grid.csv_cell(value)


def make_cell(value: Any, confidence: float, row_status: str,
              detail: dict[str, Any] | None = None) -> Cell:
    if value is None:
        if row_status == "cancelled":  # styled like pending: no value was looked for
            return Cell("—", "pending", "not processed: the job was cancelled")
        css = "pending" if row_status == "pending" else "empty"
        return Cell("—", css, "not processed yet" if css == "pending" else "no value found")
    title = f"confidence {confidence:.2f}" + provenance(detail)
    return Cell(display(value), "low" if confidence < LOW_CONFIDENCE else "filled", title)


def provenance(detail: dict[str, Any] | None) -> str:
    """Where a value came from, for the cell's hover text: ``· label "Total Due" · page 2 ·
    line 14 · chars 310-318`` or ``· rule letterhead``."""
    if not detail:
        return ""
    parts = []
    if detail.get("rule"):
        parts.append(f"rule {detail['rule']}")
    elif detail.get("label"):
        method = detail.get("method") or "label"
        parts.append(f"{'label' if method == 'label' else method + ' label'} "
                     f"\"{detail['label']}\"")
    if detail.get("page"):
        parts.append(f"page {detail['page']}")
    if detail.get("line"):
        parts.append(f"line {detail['line']}")
    if detail.get("start") is not None and detail.get("end") is not None:
        parts.append(f"chars {detail['start']}-{detail['end']}")
    return "".join(f" · {p}" for p in parts)


def make_row(raw: dict[str, Any], fields: list[str]) -> Row:
    row = grid.normalize_row(raw, fields, detail=True)
    error = row.get("error") or {}
    detail = row.get("detail") or {}
    return Row(index=int(row["document"]["index"]), filename=str(row["document"]["filename"]),
               status=str(row["status"]), error=str(error.get("message", "")),
               cells=[make_cell(row["values"][f], row["confidence"][f], row["status"],
                                detail.get(f)) for f in fields])


def load_page(svc: Services, job_id: str, org: str, page: int) -> GridPage:
    """The rows of ``page`` (1-based, clamped), in one round trip; unavailable if expired."""
    read = svc.store.results_read(job_id, all_rows=False)
    h = read.job
    if availability(h, org, read.schema, read.docs_exist, now_ms()) is not Availability.AVAILABLE:
        return GridPage(available=False)
    fields = [f["name"] for f in orjson.loads(read.schema or "{}")["fields"]]
    total = int(h.get(F.DOCUMENT_COUNT) or 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    indexes = [str(i) for i in range((page - 1) * PAGE_SIZE, min(total, page * PAGE_SIZE))]
    rows: list[Row] = []
    unprocessed = unprocessed_status(h)
    if indexes:
        recorded, names = svc.store.rows_at(job_id, indexes)
        for i, raw, name in zip(indexes, recorded, names, strict=True):
            data = orjson.loads(raw) if raw else grid.pending_row(int(i), name or "", fields,
                                                                   unprocessed)
            rows.append(make_row(data, fields))
    return GridPage(True, fields, rows, page, pages, total)


def csv_body(svc: Services, job_id: str, org: str) -> str:
    """The same CSV as ``GET /v1/jobs/{id}/results?format=csv`` (404 once expired): currency
    fields as amount and currency columns, every cell neutralized against formulas."""
    h, schema, recorded = load(svc, job_id, org)
    fields = [f["name"] for f in schema["fields"]]
    count = int(h.get(F.DOCUMENT_COUNT) or 0)
    names = svc.store.document_names(job_id) if len(recorded) < count else {}
    rows = grid.build_rows(fields, count, recorded, names, False, unprocessed_status(h))
    return grid.to_csv(schema["fields"], rows)

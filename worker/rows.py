"""Result rows as the results endpoint serves them (``detail`` is stripped unless asked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.models import FieldSpec
from worker.extraction import Cell


def completed_row(
    index: int, filename: str, fields: Sequence[FieldSpec], cells: Mapping[str, Cell]
) -> tuple[dict[str, Any], int]:
    """The row and its number of filled cells.

    A required field left empty puts its name in ``needs_review``: record_document.lua then
    counts the document in the job's ``needs_review`` figure and adds a ``required_missing``
    warning (the key is left out when nothing is missing, so most rows carry no extra key).
    """
    values: dict[str, Any] = {}
    confidence: dict[str, float] = {}
    detail: dict[str, dict[str, Any] | None] = {}
    filled = 0
    for f in fields:
        cell = cells.get(f.name)
        if cell is None or cell.value is None:
            values[f.name], confidence[f.name], detail[f.name] = None, 0.0, None
            continue
        filled += 1
        values[f.name] = cell.value
        confidence[f.name] = round(cell.confidence, 4)
        detail[f.name] = {"label": cell.label, "line": cell.line, "text": cell.text,
                          "raw": cell.raw, "page": cell.page, "start": cell.start,
                          "end": cell.end, "method": cell.method, "rule": cell.rule}
    row: dict[str, Any] = {
        "document": {"index": index, "filename": filename},
        "status": "completed",
        "values": values,
        "confidence": confidence,
        "error": None,
        "detail": detail,
    }
    missing = [f.name for f in fields if f.required and values[f.name] in (None, "")]
    if missing:
        row["needs_review"] = missing
    return row, filled


def failed_row(
    index: int, filename: str, fields: Sequence[FieldSpec], code: str, message: str
) -> dict[str, Any]:
    return {
        "document": {"index": index, "filename": filename},
        "status": "failed",
        "values": {f.name: None for f in fields},
        "confidence": {f.name: 0.0 for f in fields},
        "error": {"code": code, "message": message},
        "detail": {f.name: None for f in fields},
    }

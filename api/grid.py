"""The results grid: rows from the workers' results hash, pending rows for the rest, and the
three wire formats (JSON, CSV, JSON Lines).

Workers write one JSON row per finished document; a document not recorded yet is shown as
``pending`` with every value null and confidence 0.0, so a client always gets one row per
document in index order. Rows are normalized to the schema's fields, so a CSV has a stable
column set even if a worker wrote an extra or missing key.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

CSV_FIXED_COLUMNS = ("index", "filename", "status")


def pending_row(index: int, filename: str, fields: list[str]) -> dict[str, Any]:
    return {
        "document": {"index": index, "filename": filename},
        "status": "pending",
        "values": dict.fromkeys(fields),
        "confidence": dict.fromkeys(fields, 0.0),
        "error": None,
        "detail": dict.fromkeys(fields),
    }


def normalize_row(raw: dict[str, Any], fields: list[str], detail: bool) -> dict[str, Any]:
    """The row with exactly the schema's fields, and ``detail`` only when asked for."""
    values = raw.get("values") or {}
    confidence = raw.get("confidence") or {}
    row: dict[str, Any] = {
        "document": raw["document"],
        "status": raw.get("status", "completed"),
        "values": {f: values.get(f) for f in fields},
        "confidence": {f: float(confidence.get(f) or 0.0) for f in fields},
        "error": raw.get("error"),
    }
    if detail:
        cells = raw.get("detail") or {}
        row["detail"] = {f: cells.get(f) for f in fields}
    return row


def build_rows(fields: list[str], count: int, recorded: dict[int, dict[str, Any]],
               names: dict[int, str], detail: bool) -> list[dict[str, Any]]:
    """One row per document index ``0..count-1``: recorded ones as written, others pending."""
    rows = []
    for i in range(count):
        raw = recorded.get(i) or pending_row(i, names.get(i, ""), fields)
        rows.append(normalize_row(raw, fields, detail))
    return rows


def csv_cell(value: Any) -> str:
    """Strings as they are, null as empty, everything else as compact JSON (true, 12.5, {...})."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def to_csv(fields: list[str], rows: list[dict[str, Any]]) -> str:
    """Columns ``index, filename, status`` then one per schema field, in schema order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*CSV_FIXED_COLUMNS, *fields])
    for row in rows:
        doc = row["document"]
        writer.writerow([doc["index"], doc["filename"], row["status"],
                         *(csv_cell(row["values"].get(f)) for f in fields)])
    return out.getvalue()


def to_jsonl(rows: list[dict[str, Any]]) -> bytes:
    """One row object per line, each line ending in a newline."""
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)

"""The results grid: rows from the workers' results hash, pending rows for the rest, and the
three wire formats (JSON, CSV, JSON Lines).

Workers write one JSON row per finished document; a document not recorded yet is shown as
``pending`` with every value null and confidence 0.0 (``cancelled`` once its job was
cancelled: it will not run unless the job is retried), so a client always gets one row per
document in index order. Rows are normalized to the schema's fields, so a CSV has a stable
column set even if a worker wrote an extra or missing key.

A row has one definition, ``shared.models.ResultRow`` (the OpenAPI schema and the workers'
rows are held to it by ``tests/unit/test_result_rows.py``). The rows here are plain dicts
keyed by that model's field names, taken from the model below, because validating a model
per row would cost more than the rest of a 10,000-row response; a field added to the model
stops this module at import until the grid learns it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from shared.models import ResultRow

CSV_FIXED_COLUMNS = ("index", "filename", "status")
#: Columns a ``?detail=true`` CSV ends with.
CSV_DETAIL_COLUMNS = ("error.code", "error.message", "needs_review")

FieldLike = str | Mapping[str, Any]

#: The row's keys: exactly ``ResultRow``'s fields, in its order (an unpacking, so the model
#: and this module cannot drift apart).
(DOCUMENT, STATUS, VALUES, CONFIDENCE, ERROR, DETAIL, NEEDS_REVIEW,
 RERUN) = ResultRow.model_fields


def pending_row(index: int, filename: str, fields: list[str],
                status: str = "pending") -> dict[str, Any]:
    return {
        DOCUMENT: {"index": index, "filename": filename},
        STATUS: status,
        VALUES: dict.fromkeys(fields),
        CONFIDENCE: dict.fromkeys(fields, 0.0),
        ERROR: None,
        DETAIL: dict.fromkeys(fields),
    }


def normalize_row(raw: dict[str, Any], fields: list[str], detail: bool) -> dict[str, Any]:
    """The row with exactly the schema's fields; ``detail`` (where each value was found) and
    ``needs_review`` (required fields left empty) only when asked for."""
    values = raw.get(VALUES) or {}
    confidence = raw.get(CONFIDENCE) or {}
    row: dict[str, Any] = {
        DOCUMENT: raw[DOCUMENT],
        STATUS: raw.get(STATUS, "completed"),
        VALUES: {f: values.get(f) for f in fields},
        CONFIDENCE: {f: float(confidence.get(f) or 0.0) for f in fields},
        ERROR: raw.get(ERROR),
    }
    if detail:
        cells = raw.get(DETAIL) or {}
        row[DETAIL] = {f: cells.get(f) for f in fields}
        row[NEEDS_REVIEW] = list(raw.get(NEEDS_REVIEW) or [])
    return row


def build_rows(fields: list[str], count: int, recorded: dict[int, dict[str, Any]],
               names: dict[int, str], detail: bool,
               unprocessed: str = "pending") -> list[dict[str, Any]]:
    """One row per document index ``0..count-1``: recorded ones as written, the others
    ``unprocessed`` (``pending``, or ``cancelled`` for a cancelled job)."""
    rows = []
    for i in range(count):
        raw = recorded.get(i) or pending_row(i, names.get(i, ""), fields, unprocessed)
        rows.append(normalize_row(raw, fields, detail))
    return rows


def finished_row(raw: dict[str, Any], fields: list[str], detail: bool,
                 reruns: int) -> dict[str, Any]:
    """A row as the results cursor and ``row`` events serve it: the same shape as a full
    view's row plus ``rerun`` (true when a retry re-ran it: its earlier values are void)."""
    row = normalize_row(raw, fields, detail)
    row[RERUN] = reruns > 0
    return row


# ------------------------------------------------------------------------------ CSV
#: A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
#: A real number keeps its sign: it is data, not a formula.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: Cells holding one of these are quoted: "," and ";" (the separator in some locales) could
#: otherwise start a new cell whose content escapes the neutralization above.
_QUOTE = re.compile(r'[",;\r\n\t]')


def neutralize(text: str) -> str:
    """Defuses spreadsheet formula injection as OWASP recommends: a cell that starts with
    ``= + - @`` TAB, CR or LF gets a leading ``'`` so it is shown as text, never evaluated.
    Numbers such as ``-12.5`` or ``+3`` are left as they are."""
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_cell(value: Any) -> str:
    """Strings as they are, null as empty, everything else as compact JSON (true, 12.5, {...})."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _spec(field: FieldLike) -> tuple[str, str]:
    if isinstance(field, str):
        return field, "string"
    return str(field["name"]), str(field.get("type") or "string")


def _money(value: Any) -> tuple[Any, Any]:
    """(amount, currency) of a currency cell; a bare number is an amount without currency."""
    if isinstance(value, Mapping):
        return value.get("amount"), value.get("currency")
    return value, None


def csv_columns(fields: Sequence[FieldLike], detail: bool = False) -> list[str]:
    """``index, filename, status``, then per field in schema order its column (two for a
    currency field: ``<name>.amount``, ``<name>.currency``) and, with ``detail``, its
    ``<name>.confidence``; with ``detail`` the row's error code, message and the required
    fields left empty close the line."""
    out = list(CSV_FIXED_COLUMNS)
    for field in fields:
        name, kind = _spec(field)
        out += [f"{name}.amount", f"{name}.currency"] if kind == "currency" else [name]
        if detail:
            out.append(f"{name}.confidence")
    if detail:
        out += CSV_DETAIL_COLUMNS
    return out


def csv_record(row: dict[str, Any], fields: Sequence[FieldLike], detail: bool) -> list[str]:
    doc = row[DOCUMENT]
    out = [str(doc["index"]), csv_cell(doc["filename"]), csv_cell(row[STATUS])]
    for field in fields:
        name, kind = _spec(field)
        value = row[VALUES].get(name)
        if kind == "currency":
            out += [csv_cell(part) for part in _money(value)]
        else:
            out.append(csv_cell(value))
        if detail:
            out.append(csv_cell(row[CONFIDENCE].get(name)))
    if detail:
        error = row.get(ERROR) or {}
        out += [csv_cell(error.get("code")), csv_cell(error.get("message")),
                " ".join(row.get(NEEDS_REVIEW) or [])]
    return out


def _csv_line(cells: list[str]) -> str:
    quoted = []
    for cell in cells:
        cell = neutralize(cell)
        quoted.append('"' + cell.replace('"', '""') + '"' if _QUOTE.search(cell) else cell)
    return ",".join(quoted) + "\r\n"


def to_csv(fields: Sequence[FieldLike], rows: list[dict[str, Any]],
           detail: bool = False) -> str:
    """RFC 4180 CSV (CRLF) of the rows, every cell neutralized against formula injection.

    ``fields`` are the schema's field objects (a currency field becomes two columns) or
    bare names (typed as strings)."""
    out = io.StringIO()
    out.write(_csv_line(csv_columns(fields, detail)))
    for row in rows:
        out.write(_csv_line(csv_record(row, fields, detail)))
    return out.getvalue()


def to_jsonl(rows: list[dict[str, Any]]) -> bytes:
    """One row object per line, each line ending in a newline."""
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)

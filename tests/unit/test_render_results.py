"""The CLI's result views: nothing cut off at normal widths, money with its currency's
decimals, the record view for many fields, ``--detail`` extras, and one line per followed row."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from jobgrid import render

LONG = "Königlich Bayerische Staatsbrauerei Weihenstephan GmbH & Co. KG, Freising"


def results(fields: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"job_id": "j1", "job_status": "completed", "total_rows": len(rows),
            "schema": {"name": "S", "fields": [{"name": f} for f in fields]}, "rows": rows}


def row(i: int, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"document": {"index": i, "filename": f"invoice-{i}.pdf"}, "status": "completed",
            "values": values, "confidence": {k: 0.5 for k in values}, "error": None, **extra}


def show(renderable: Any, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, highlight=False).print(renderable)
    return out.getvalue()


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (351.5, "USD", "351.50 USD"), (1200, "JPY", "1200 JPY"), (12.5, "KWD", "12.500 KWD"),
    (3, "eur", "3.00 EUR"), (7.125, None, "7.12"), ("n/a", "EUR", "n/a EUR"),
])
def test_money_uses_its_currency_decimals(amount: Any, currency: Any, text: str) -> None:
    assert render.format_value({"amount": amount, "currency": currency}) == text


def test_long_values_wrap_instead_of_being_cut_at_normal_widths() -> None:
    grid = results(["vendor", "total"], [row(0, {"vendor": LONG,
                                                  "total": {"amount": 5, "currency": "EUR"}})])
    text = show(render.results_view(grid, 100), 100)
    assert "…" not in text
    assert all(word in text for word in LONG.split()) and "5.00 EUR" in text
    narrow = show(render.results_view(grid, 60), 60)  # wraps (or transposes), never cuts
    assert "…" not in narrow and all(word in narrow for word in LONG.split())


def test_many_fields_switch_to_one_block_per_document() -> None:
    fields = [f"field_number_{i}" for i in range(14)]
    grid = results(fields, [row(0, {f: f"value {i}" for i, f in enumerate(fields)})])
    view = render.results_view(grid, 100)
    assert not isinstance(view, type(render.results_table(grid)))
    text = show(view, 100)
    assert all(f"{f}" in text for f in fields) and "value 13" in text and "…" not in text


def test_detail_shows_confidence_errors_and_review() -> None:
    failed = {"document": {"index": 1, "filename": "b.pdf"}, "status": "failed",
              "values": {"total": None}, "confidence": {}, "error":
              {"code": "corrupt_document", "message": "xref table broken"}}
    grid = results(["total"], [row(0, {"total": 12.5}, needs_review=["po"]), failed])
    text = show(render.results_view(grid, 120, detail=True), 120)
    assert "12.5 (0.50)" in text and "xref table broken" in text and "review: po" in text
    plain = show(render.results_view(grid, 120), 120)
    assert "(0.50)" not in plain and "xref table broken" not in plain


def test_cancelled_rows_are_labelled() -> None:
    grid = results(["total"], [{"document": {"index": 0, "filename": "a.txt"},
                                "status": "cancelled", "values": {"total": None},
                                "confidence": {}, "error": None}])
    assert "[cancelled]" in show(render.results_view(grid, 100), 100)


def test_row_line_marks_reruns() -> None:
    line = render.row_line(row(3, {"total": {"amount": 2, "currency": "USD"}}, rerun=True),
                           ["total"])
    assert line.plain == "#3 invoice-3.pdf (re-run)  total=2.00 USD"

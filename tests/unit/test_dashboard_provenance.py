"""The dashboard's cell hover text carries the cell's provenance."""

from __future__ import annotations

from api.dashboard_grid import LOW_CONFIDENCE, make_cell, make_row, provenance


def test_hover_names_label_page_line_and_offsets() -> None:
    detail = {"label": "Total Due", "line": 14, "page": 2, "start": 310, "end": 318,
              "method": "lexicon", "rule": None, "raw": "$1,200.00", "text": "x"}
    cell = make_cell({"amount": 1200.0, "currency": "USD"}, 0.97, "completed", detail)
    assert cell.title == ('confidence 0.97 · lexicon label "Total Due" · page 2 · line 14 · '
                          "chars 310-318")
    assert cell.css == "filled"


def test_hover_names_the_rule_of_an_unlabelled_value() -> None:
    detail = {"label": None, "line": 1, "start": 0, "end": 9, "method": "rule",
              "rule": "letterhead", "page": None}
    assert provenance(detail) == " · rule letterhead · line 1 · chars 0-9"
    low = make_cell("Acme", LOW_CONFIDENCE - 0.01, "completed", detail)
    assert low.css == "low" and low.title.endswith("rule letterhead · line 1 · chars 0-9")


def test_rows_without_detail_keep_the_plain_hover() -> None:
    row = make_row({"document": {"index": 0, "filename": "a.txt"}, "status": "completed",
                    "values": {"x": "v", "y": None}, "confidence": {"x": 0.9, "y": 0.0}},
                   ["x", "y"])
    assert row.cells[0].title == "confidence 0.90" and row.cells[1].css == "empty"
    assert provenance(None) == "" and provenance({}) == ""

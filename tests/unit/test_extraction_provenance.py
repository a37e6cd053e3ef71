"""Provenance: every filled cell of every sample set points back at the text it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.models import FieldSpec, ResultRow, SchemaIn
from shared.status import FieldType
from worker.extraction import ParsedDocument, get_extractor, parse_document
from worker.rows import completed_row

ROOT = Path(__file__).resolve().parents[2]
SETS = sorted(p.parent for p in (ROOT / "samples").rglob("ground_truth.json"))
METHODS = {"label", "lexicon", "fuzzy", "rule"}


def test_every_sample_set_is_checked() -> None:
    names = {p.relative_to(ROOT / "samples").as_posix() for p in SETS}
    assert {"invoices", "holdout", "unseen", "claims", "forms", "generated/tuning",
            "generated/heldout", "kinds", "everyday"} <= names


@pytest.mark.parametrize("folder", SETS, ids=lambda p: p.relative_to(ROOT / "samples").as_posix())
def test_offsets_round_trip_for_every_filled_cell(folder: Path) -> None:
    schema = SchemaIn.model_validate(json.loads((folder / "schema.json").read_text()))
    truth = json.loads((folder / "ground_truth.json").read_text())
    extractor = get_extractor("builtin")
    filled = 0
    for name in sorted(truth):
        data = (folder / name).read_bytes()
        doc = parse_document(name, None, data)
        doc = ParsedDocument.from_dict(json.loads(json.dumps(doc.to_dict())))  # as stored
        for field, cell in extractor.extract(doc, schema.fields).items():
            if not cell.filled:
                continue
            filled += 1
            where = f"{name}/{field}"
            assert cell.start is not None and cell.end is not None, where
            assert doc.text[cell.start : cell.end] == cell.raw, where
            assert cell.line == doc.text.count("\n", 0, cell.start) + 1, where
            assert cell.text == doc.lines[cell.line - 1], where
            assert cell.method in METHODS, where
            assert (cell.rule is not None) == (cell.method == "rule"), where
            assert (cell.label is None) == (cell.method == "rule"), where
            if doc.kind == "pdf":
                assert doc.pages is not None and cell.page is not None, where
                assert 1 <= cell.page <= doc.pages, where
            else:
                assert cell.page is None, where
    assert filled > 0


def test_pdf_page_of_a_value_on_the_second_page() -> None:
    folder = ROOT / "samples" / "generated" / "heldout"
    schema = SchemaIn.model_validate(json.loads((folder / "schema.json").read_text()))
    for path in sorted(folder.glob("*.pdf")):
        doc = parse_document(path.name, "application/pdf", path.read_bytes())
        if doc.pages and doc.pages > 1:
            cells = get_extractor("builtin").extract(doc, schema.fields)
            pages = {c.page for c in cells.values() if c.filled}
            assert pages == {1, 2} or pages == {1}
            assert doc.page_lines is not None and doc.page_lines[0] == 1
            second = doc.page_lines[1]
            assert all(c.page == (2 if c.line is not None and c.line >= second else 1)
                       for c in cells.values() if c.filled)
            return
    pytest.fail("no two-page PDF among the generated samples")


def test_result_rows_carry_provenance_to_the_api_model() -> None:
    doc = ParsedDocument("ACME SUPPLIES LTD\n12 High St\n\nInvoice No: A-1\nPAID\nTotal: $5",
                         "text")
    fields = [FieldSpec(name="invoice_number"), FieldSpec(name="vendor"),
              FieldSpec(name="paid", type=FieldType.BOOLEAN),
              FieldSpec(name="total", type=FieldType.CURRENCY)]
    cells = get_extractor("builtin").extract(doc, fields)
    row, filled = completed_row(0, "a.txt", fields, cells)
    assert filled == 4
    model = ResultRow.model_validate(row)
    assert model.detail is not None
    number = model.detail["invoice_number"]
    assert number is not None and number.method == "label" and number.label == "Invoice No"
    assert number.start is not None and number.end is not None
    assert doc.text[number.start : number.end] == "A-1"
    stamp = model.detail["paid"]
    assert stamp is not None and stamp.method == "rule" and stamp.rule == "paid_stamp"
    vendor = model.detail["vendor"]
    assert vendor is not None and vendor.rule == "letterhead_legal_form"
    assert row["values"]["vendor"] == "ACME SUPPLIES LTD"

"""The built-in extractor: layouts, label variants, traps, emptiness and confidence."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from shared.models import FieldSpec, SchemaIn
from shared.status import FieldType
from worker.extraction import Cell, Extractor, ParsedDocument, get_extractor, parse_document
from worker.extraction.builtin import BuiltinExtractor

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
STRING, NUMBER, DATE = FieldType.STRING, FieldType.NUMBER, FieldType.DATE
CURRENCY, BOOLEAN, INTEGER = FieldType.CURRENCY, FieldType.BOOLEAN, FieldType.INTEGER


def spec(name: str, kind: FieldType = STRING, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=kind, **kw)


def extract(text: str, fields: Sequence[FieldSpec], kind: str = "text") -> dict[str, Cell]:
    return BuiltinExtractor().extract(ParsedDocument(text=text, kind=kind), fields)


def values(text: str, fields: Sequence[FieldSpec]) -> dict[str, Any]:
    return {name: cell.value for name, cell in extract(text, fields).items()}


# ------------------------------------------------------------------------------ layouts
@pytest.mark.parametrize(
    "text",
    [
        "Invoice Number: INV-1",
        "Invoice Number : INV-1",
        "Invoice Number:INV-1",
        "Invoice Number - INV-1",
        "Invoice Number = INV-1",
        "Invoice Number ........ INV-1",
        "Invoice Number INV-1",
        "Invoice Number\tINV-1",
        "| Invoice Number | INV-1 |",
        "Invoice Number     INV-1",
        "Invoice Number:\n\nINV-1",
        "- **Invoice Number:** INV-1",
        "> Invoice Number: INV-1",
    ],
)
def test_layouts(text: str) -> None:
    assert values(text, [spec("invoice_number")]) == {"invoice_number": "INV-1"}


@pytest.mark.parametrize(
    "label",
    ["invoice_number", "invoiceNumber", "invoice-number", "Invoice Number", "INVOICE NUMBER",
     "invoice number", "InvoiceNumber", "Invoice  Number"],
)
def test_name_variants_all_match(label: str) -> None:
    assert values(f"{label}: A-7", [spec("invoice_number")]) == {"invoice_number": "A-7"}


def test_aliases_match_and_description_does_not() -> None:
    field = spec("invoice_number", aliases=["Invoice #", "Bill No"],
                 description="Reference printed at the top")
    assert values("Bill No: B-1", [field]) == {"invoice_number": "B-1"}
    assert values("Invoice #INV-9", [field]) == {"invoice_number": "INV-9"}
    assert values("Reference printed at the top: X-1", [field]) == {"invoice_number": None}


def test_compact_forms_tolerate_split_words() -> None:
    assert values("E-mail: a@b.io\nP.O. Number: 77", [spec("email", FieldType.EMAIL),
                                                    spec("po_number")]) == {
        "email": "a@b.io", "po_number": "77"}


# ------------------------------------------------------------------------------ traps
def test_total_does_not_take_subtotal_or_total_tax() -> None:
    text = "Subtotal: $100.00\nTotal Tax: $8.00\nTotal: $108.00"
    assert values(text, [spec("total", CURRENCY)]) == {
        "total": {"amount": 108.0, "currency": "USD"}}


def test_total_without_its_own_line_stays_empty() -> None:
    text = "Subtotal: 100.00\nTotal Tax: 8.00\nTotals are in USD"
    assert values(text, [spec("total", NUMBER), spec("subtotal", NUMBER)]) == {
        "total": None, "subtotal": 100.0}


def test_longest_label_wins_in_label_value_lines() -> None:
    fields = [spec("paid", BOOLEAN), spec("payment_method", aliases=["Paid By"])]
    assert values("Paid By Card\nPaid yes", fields) == {"paid": True, "payment_method": "Card"}


def test_space_layout_does_not_take_prose_for_strings() -> None:
    assert values("Vendor agrees to deliver on time", [spec("vendor")]) == {"vendor": None}


def test_exact_name_beats_alias() -> None:
    field = spec("invoice_date", DATE, aliases=["Date"])
    text = "Date: 2024-01-01\nInvoice Date: 2024-02-02"
    assert values(text, [field]) == {"invoice_date": "2024-02-02"}


def test_earlier_line_wins_between_equal_candidates() -> None:
    assert values("Total: €5\nTotal: €6", [spec("total", CURRENCY)]) == {
        "total": {"amount": 5.0, "currency": "EUR"}}


def test_invalid_first_candidate_falls_through_to_the_next() -> None:
    text = "Due Date: upon receipt\nDue Date: 2024-03-01"
    assert values(text, [spec("due_date", DATE)]) == {"due_date": "2024-03-01"}


def test_invalid_values_leave_cells_empty() -> None:
    text = "Total: 1,250.00\nDate: 2024-13-01\nPaid: partially\nItems: several\nEmail: n/a"
    fields = [spec("total", CURRENCY), spec("date", DATE), spec("paid", BOOLEAN),
              spec("items", INTEGER), spec("email", FieldType.EMAIL)]
    assert all(v is None for v in values(text, fields).values())


def test_label_currency_resolves_bare_amounts() -> None:
    cells = extract("TOTAL (EUR): 2.178,00", [spec("total", CURRENCY)])
    assert cells["total"].value == {"amount": 2178.0, "currency": "EUR"}
    exact = extract("TOTAL: 2.178,00 EUR", [spec("total", CURRENCY)])["total"]
    assert cells["total"].confidence < exact.confidence  # a lenient reading


def test_several_pairs_on_one_line() -> None:
    text = "Invoice Number: QL-1 Invoice Date: 2024-04-11 Due Date: 2024-05-11\n" \
           "Items: 3 · Paid: No · Payment Method: Card"
    fields = [spec("invoice_number"), spec("invoice_date", DATE), spec("due_date", DATE),
              spec("items", INTEGER), spec("paid", BOOLEAN), spec("payment_method")]
    assert values(text, fields) == {
        "invoice_number": "QL-1", "invoice_date": "2024-04-11", "due_date": "2024-05-11",
        "items": 3, "paid": False, "payment_method": "Card"}


def test_unknown_inner_label_makes_string_values_untrusted() -> None:
    assert values("Vendor: Acme Corp Ref: 99", [spec("vendor")]) == {"vendor": None}


# ------------------------------------------------------------------------------ tables
def test_pipe_and_tab_tables() -> None:
    text = "| Invoice No | INV-1 |\n|---|---|\n| Total | | $5.00 |\nPaid\tyes"
    fields = [spec("invoice_no"), spec("total", CURRENCY), spec("paid", BOOLEAN)]
    assert values(text, fields) == {
        "invoice_no": "INV-1", "total": {"amount": 5.0, "currency": "USD"}, "paid": True}


def test_header_row_above_a_data_row() -> None:
    text = "Invoice No     Invoice Date     Due Date\nHS-77          30.04.2024       30.05.2024"
    fields = [spec("invoice_no"), spec("invoice_date", DATE), spec("due_date", DATE)]
    assert values(text, fields) == {
        "invoice_no": "HS-77", "invoice_date": "2024-04-30", "due_date": "2024-05-30"}


def test_line_item_rows_are_not_headers_of_each_other() -> None:
    text = "Item | Qty | Price\nWidget | 2 | 5.00\nGadget | 3 | 7.00"
    assert values(text, [spec("widget")]) == {"widget": None}


def test_markdown_and_html_tables_end_to_end() -> None:
    md = parse_document("a.md", "text/markdown",
                        b"| Field | Value |\n|---|---|\n| Grand Total | $9.50 |\n")
    html = parse_document("a.html", None,
                          b"<table><tr><th>Grand Total</th><td>$9.50</td></tr></table>")
    field = [spec("total", CURRENCY, aliases=["Grand Total"])]
    expected = {"amount": 9.5, "currency": "USD"}
    assert BuiltinExtractor().extract(md, field)["total"].value == expected
    assert BuiltinExtractor().extract(html, field)["total"].value == expected


# ------------------------------------------------------------------------------ next line
def test_next_line_value_but_not_a_following_label() -> None:
    fields = [spec("vendor"), spec("email", FieldType.EMAIL)]
    assert values("Vendor:\nEmail: a@b.io", fields) == {"vendor": None, "email": "a@b.io"}
    assert values("Vendor:\n\nAcme GmbH\nEmail: a@b.io", fields) == {
        "vendor": "Acme GmbH", "email": "a@b.io"}


def test_heading_layout() -> None:
    assert values("Balance Due\n$1,750.00", [spec("balance_due", CURRENCY)]) == {
        "balance_due": {"amount": 1750.0, "currency": "USD"}}


# ------------------------------------------------------------------------------ dates
def test_document_date_order_is_used_for_ambiguous_dates() -> None:
    text = "Date: 22/08/2024\nDue: 05/09/2024"
    assert values(text, [spec("date", DATE), spec("due", DATE)]) == {
        "date": "2024-08-22", "due": "2024-09-05"}


# ------------------------------------------------------------------------------ cells
def test_every_field_gets_a_cell_and_missing_fields_are_empty() -> None:
    fields = [spec("invoice_number"), spec("po_number"), spec("total", CURRENCY)]
    cells = extract("Invoice Number: INV-1\nnothing else", fields)
    assert list(cells) == ["invoice_number", "po_number", "total"]
    assert cells["po_number"] == Cell() and cells["total"].to_dict() == {
        "value": None, "confidence": 0.0, "label": None, "line": None, "text": None,
        "raw": None, "page": None, "start": None, "end": None, "method": None, "rule": None}


def test_cell_provenance() -> None:
    cell = extract("Header\nInvoice No: INV-1", [spec("invoice_no")])["invoice_no"]
    assert (cell.label, cell.line, cell.text, cell.raw) == (
        "Invoice No", 2, "Invoice No: INV-1", "INV-1")
    assert json.loads(json.dumps(cell.to_dict()))["value"] == "INV-1"


def test_confidence_orders_match_quality() -> None:
    fields = [spec("total", CURRENCY, aliases=["Amount Due"])]
    exact = extract("Total: $5.00", fields)["total"].confidence
    alias = extract("Amount Due: $5.00", fields)["total"].confidence
    loose = extract("Total $5.00", fields)["total"].confidence
    heading = extract("Total\n$5.00", fields)["total"].confidence
    assert exact >= 0.95 and 1.0 >= exact > alias > loose > heading > 0.0


def test_disagreeing_candidates_lower_confidence() -> None:
    fields = [spec("total", CURRENCY)]
    single = extract("Total: $5.00", fields)["total"].confidence
    torn = extract("Total: $5.00\nTotal: $6.00", fields)["total"].confidence
    assert torn < single


def test_confidence_is_in_range_on_all_samples() -> None:
    folder = SAMPLES / "invoices"
    schema = SchemaIn.model_validate(json.loads((folder / "schema.json").read_text()))
    extractor = get_extractor("builtin")
    for path in sorted(folder.glob("inv-*")):
        doc = parse_document(path.name, None, path.read_bytes())
        cells = extractor.extract(doc, schema.fields)
        assert set(cells) == {f.name for f in schema.fields}
        for cell in cells.values():
            assert 0.0 <= cell.confidence <= 1.0
            assert (cell.value is None) == (cell.confidence == 0.0)
            if cell.value is not None:
                assert cell.line is not None and cell.text is not None
                assert cell.text == doc.lines[cell.line - 1]


# ------------------------------------------------------------------------------ registry
def test_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    extractor = get_extractor("builtin")
    assert isinstance(extractor, Extractor) and extractor.name == "builtin"
    assert get_extractor(" BUILTIN ").name == "builtin"
    with pytest.raises(ValueError, match="JOBGRID_EXTRACTOR"):
        get_extractor("nope")
    from shared.settings import get_settings

    monkeypatch.setenv("JOBGRID_EXTRACTOR", "builtin")
    get_settings.cache_clear()
    try:
        assert get_extractor().name == "builtin"
    finally:
        get_settings.cache_clear()


def test_fast_on_a_large_document() -> None:
    import time

    fields = [spec(f"field_{i}", list(FieldType)[i % 7], aliases=[f"Alias {i}"])
              for i in range(100)]
    lines = [f"Field {i % 150}: value {i} | Alias {i % 90}: 12.5 | more: text here"
             for i in range(3000)]
    started = time.perf_counter()
    cells = extract("\n".join(lines), fields)
    assert time.perf_counter() - started < 5.0
    assert len(cells) == 100

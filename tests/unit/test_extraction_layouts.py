"""Layout rules added for general forms, each with the refusals that keep precision.

Rows of several label/value pairs (HTML, Markdown), a label followed by a short qualifier for
strongly-typed fields (``Email for statements``), check box items with trailing words and
`` · `` as a cell separator.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction import Cell, ParsedDocument, parse_document
from worker.extraction.builtin import BuiltinExtractor
from worker.extraction.labels import LabelIndex
from worker.extraction.tables import format_table

STRING, NUMBER, DATE, EMAIL = FieldType.STRING, FieldType.NUMBER, FieldType.DATE, FieldType.EMAIL
CURRENCY, BOOLEAN, INTEGER = FieldType.CURRENCY, FieldType.BOOLEAN, FieldType.INTEGER


def spec(name: str, kind: FieldType = STRING, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=kind, **kw)


def extract(text: str, fields: Sequence[FieldSpec]) -> dict[str, Cell]:
    return BuiltinExtractor().extract(ParsedDocument(text=text, kind="text"), fields)


def value(text: str, field: FieldSpec) -> Any:
    return extract(text, [field])[field.name].value


def html_lines(body: str) -> list[str]:
    doc = parse_document("a.html", "text/html", f"<html><body>{body}</body></html>".encode())
    return [line for line in doc.lines if line]


def md_lines(text: str) -> list[str]:
    doc = parse_document("a.md", "text/markdown", text.encode())
    return [line for line in doc.lines if line]


# ------------------------------------------------------------------ rows of several pairs
def test_html_row_of_label_value_pairs_gives_one_line_per_pair() -> None:
    row = ("<table><tr><td><b>Agreement #</b></td><td>HSS-20417</td>"
           "<td><b>Date signed</b></td><td>14/10/2024</td></tr>"
           "<tr><td><b>Ship to</b></td><td colspan=\"3\">Depot 3, 120 Harbor Road</td></tr>"
           "</table>")
    assert html_lines(row) == ["Agreement #: HSS-20417", "Date signed: 14/10/2024",
                               "Ship to: Depot 3, 120 Harbor Road"]


def test_markdown_row_of_pairs_without_and_with_a_pair_header() -> None:
    assert md_lines("| Agreement # | HSS-20417 | Date signed | 14/10/2024 |") == [
        "Agreement #: HSS-20417", "Date signed: 14/10/2024"]
    table = ("| Vendor | Helix GmbH | Carrier | DHL Express |\n| --- | --- | --- | --- |\n"
             "| Contact email | a@helix.example | Rush order | Yes |")
    assert md_lines(table) == ["Vendor: Helix GmbH", "Carrier: DHL Express",
                               "Contact email: a@helix.example", "Rush order: Yes"]


def test_header_over_one_row_of_values_is_still_read_across() -> None:
    table = ("| PO Number | PO Date | Payment Terms | Deliver By |\n| --- | --- | --- | --- |\n"
             "| NL-7731 | 12 March 2025 | Prepaid | 26 March 2025 |")
    assert md_lines(table) == ["PO Number: NL-7731", "PO Date: 12 March 2025",
                               "Payment Terms: Prepaid", "Deliver By: 26 March 2025"]
    html = ("<table><tr><th>PO</th><th>Date</th><th>Vendor</th><th>Terms</th></tr>"
            "<tr><td>M-1</td><td>Feb 4, 2025</td><td>Linen Ltd</td><td>Net 15</td></tr></table>")
    assert html_lines(html) == ["PO: M-1", "Date: Feb 4, 2025", "Vendor: Linen Ltd",
                                "Terms: Net 15"]


@pytest.mark.parametrize(
    ("rows", "header"),
    [
        # a line-item header is a header, never two pairs
        ([["Item", "Qty", "Price", "Amount"], ["Desk", "2", "$5", "$10"],
          ["Chair", "4", "$2", "$8"]], True),
        # a label cell with a digit, an odd width, an empty value cell
        ([["GV-200", "Gate valve", "6", "$410"]], False),
        ([["Vendor", "Helix", "Carrier"]], False),
        ([["Vendor", "", "Carrier", "DHL"]], False),
        # a value cell that is not clearly a value keeps the across reading
        ([["Name", "Department", "Location", "Start"], ["Ann", "Sales", "Berlin", "May"]], True),
    ],
)
def test_rows_that_are_not_pairs(rows: list[list[str]], header: bool) -> None:
    lines = format_table(rows, header=header)
    assert not any(line.startswith(("Item:", "Price:", "GV-200:", "Vendor: Helix", "Name: Dep"))
                   for line in lines)


def test_pair_rows_fill_fields_end_to_end() -> None:
    doc = parse_document("a.html", "text/html", (
        b"<table><tr><td>PO #</td><td>CW-88213</td><td>Issue date</td><td>2025-01-17</td></tr>"
        b"<tr><td>Full name</td><td>Priya Raman</td><td>Manager</td><td>Tom Eckert</td></tr>"
        b"</table>"))
    fields = [spec("po_number"), spec("issue_date", DATE), spec("full_name")]
    cells = BuiltinExtractor().extract(doc, fields)
    assert cells["po_number"].value == "CW-88213"
    assert cells["issue_date"].value == "2025-01-17"
    assert cells["full_name"].value == "Priya Raman"  # not "Priya Raman | Manager | ..."


# ------------------------------------------------------------------ label + qualifier
@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("Email for statements: owner@x.example", spec("contact_email", EMAIL,
                                                       aliases=["Email"]), "owner@x.example"),
        ("Contact email for HR questions: hr@x.example",
         spec("contact_email", EMAIL, aliases=["Contact Email"]), "hr@x.example"),
        ("Email (primary): a@x.example", spec("contact_email", EMAIL, aliases=["Email"]),
         "a@x.example"),
        ("Delivery date for lot 2: 2025-01-02", spec("delivery_date", DATE), "2025-01-02"),
        ("Order total for this PO   $40.00", spec("order_total", CURRENCY),
         {"amount": 40.0, "currency": "USD"}),
    ],
)
def test_label_with_a_qualifier_for_strongly_typed_fields(
    text: str, field: FieldSpec, expected: Any
) -> None:
    cell = extract(text, [field])[field.name]
    assert cell.value == expected
    if "for" in text:  # a qualified label scores below the same label alone
        value = re.split(r":\s*|\s{3,}", text, maxsplit=1)[1]
        alone = extract(f"{text.split(' for ', 1)[0]}: {value}", [field])[field.name]
        assert alone.value == expected and cell.confidence < alone.confidence


@pytest.mark.parametrize(
    ("text", "field"),
    [
        # plain strings, numbers, integers, booleans: the qualifier may change the meaning
        ("Customer for billing: Foo Ltd", spec("customer")),
        ("Discount for early payment: 5", spec("discount", NUMBER)),
        ("Term for renewals: 12", spec("term", INTEGER)),
        ("Paid for shipping: yes", spec("paid", BOOLEAN)),
        # a one-word date or currency label names too little to qualify
        ("Total for shipping: $5.00", spec("total", CURRENCY)),
        ("Date for payment: 2025-01-01", spec("date", DATE)),
        # no marked label end, a qualifier that does not start with a qualifier word,
        # a qualifier too long
        ("Email for statements owner@x.example", spec("email", EMAIL)),
        ("Email sent: owner@x.example", spec("email", EMAIL)),
        ("Email for all the statements of the year: owner@x.example", spec("email", EMAIL)),
    ],
)
def test_label_with_a_qualifier_refusals(text: str, field: FieldSpec) -> None:
    assert value(text, field) is None


def test_an_exact_label_beats_a_qualified_one() -> None:
    text = "Email for complaints: c@x.example\nEmail: main@x.example"
    assert value(text, spec("email", EMAIL)) == "main@x.example"


def test_qualified_label_is_marked() -> None:
    index = LabelIndex([spec("email", EMAIL), spec("customer")])
    match = index.match("Email for statements")
    assert match is not None and match.qualified and match.field == "email"
    assert index.match("Customer for billing") is None


# ------------------------------------------------------------------ check boxes
@pytest.mark.parametrize(
    ("text", "expected"),
    [("☑ Automatic renewal at end of minimum term", True), ("☐ Automatic renewal", False),
     ("[x] Automatic renewal", True), ("☐ Automatic renewal at end of minimum term", None),
     ("☑ Automatic renewal not offered", None), ("☑ Automatically renewing offers", None)],
)
def test_check_box_items_for_a_boolean(text: str, expected: bool | None) -> None:
    field = spec("auto_renew", BOOLEAN, aliases=["Automatic Renewal"])
    assert value(text, field) is expected


# ------------------------------------------------------------------ middle dot
def test_spaced_middle_dot_separates_cells() -> None:
    field = spec("claim_number", aliases=["Claim reference"])
    assert value("Claim reference NSI-2024-90211 · submitted 12 Nov 2024", field) == (
        "NSI-2024-90211")
    cells = extract("Invoice No: A-1 · Date: 2024-01-02",
                    [spec("invoice_no"), spec("date", DATE)])
    assert cells["invoice_no"].value == "A-1" and cells["date"].value == "2024-01-02"
    # an unspaced dot is part of the value
    assert value("Ref: A·1", spec("ref")) == "A·1"

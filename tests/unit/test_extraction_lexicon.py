"""Lexicon roles, document kinds, enum synonyms, judgment rules and unlabelled values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction import Cell, ParsedDocument
from worker.extraction.builtin import BuiltinExtractor
from worker.extraction.lexicon import bind_roles, detect_kind, enum_from_phrase, load

STRING, NUMBER, INTEGER = FieldType.STRING, FieldType.NUMBER, FieldType.INTEGER
BOOLEAN, DATE, EMAIL = FieldType.BOOLEAN, FieldType.DATE, FieldType.EMAIL
CURRENCY, ENUM = FieldType.CURRENCY, FieldType.ENUM
METHODS = ["card", "bank_transfer", "cash", "check", "paypal", "direct_debit"]


def spec(name: str, kind: FieldType = STRING, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=kind, **kw)


INVOICE = [
    spec("invoice_number", aliases=["Invoice No"]), spec("po_number", aliases=["PO Number"]),
    spec("vendor", aliases=["Supplier"]), spec("customer_email", EMAIL, aliases=["Email"]),
    spec("invoice_date", DATE), spec("due_date", DATE), spec("tax_rate", NUMBER),
    spec("tax_amount", NUMBER), spec("subtotal", NUMBER), spec("total", CURRENCY),
    spec("item_count", INTEGER), spec("paid", BOOLEAN),
    spec("payment_method", ENUM, values=METHODS),
]


def extract(text: str, fields: list[FieldSpec] = INVOICE) -> dict[str, Cell]:
    return BuiltinExtractor().extract(ParsedDocument(text=text, kind="text"), fields)


def values(text: str, fields: list[FieldSpec] = INVOICE) -> dict[str, Any]:
    return {k: c.value for k, c in extract(text, fields).items() if c.filled}


# ------------------------------------------------------------------------------ roles
def test_fields_bind_to_roles_by_their_own_labels() -> None:
    roles = bind_roles(INVOICE)
    assert roles["invoice_number"] == "invoice_number" and roles["po_number"] == "po_number"
    assert roles["tax_rate"] == "tax_rate" and roles["tax_amount"] == "tax_amount"
    # a field no role knows stays unbound, and so does a type the role does not allow
    assert bind_roles([spec("favourite_colour")]) == {}
    assert bind_roles([spec("total", DATE)]) == {}


def test_a_role_claimed_equally_by_two_fields_binds_neither() -> None:
    # the field named like the role wins it
    assert bind_roles([spec("vendor"), spec("vendor_name", aliases=["Vendor"])]) == {
        "vendor": "vendor"}
    assert bind_roles([spec("seller"), spec("supplier")]) == {}


def test_the_lexicon_is_data() -> None:
    lex = load()
    assert len(lex.roles) >= 30 and "receipt" in lex.kinds and "card" in lex.enum_values


@pytest.mark.parametrize(
    ("text", "kind"),
    [("ACME LTD\nRECEIPT\nTotal: 5", "receipt"), ("Acme\nPurchase Order\nPO: 1", "purchase_order"),
     ("Acme\nStatement of Account\n", "statement"), ("Acme\nTax Invoice\n", "invoice"),
     ("Acme\nThank you for your purchase!\nCash tendered 5.00", "receipt"),
     ("Hello world\nnothing here", None)],
)
def test_document_kind(text: str, kind: str | None) -> None:
    assert detect_kind(text.split("\n")) == kind


# ------------------------------------------------------------------------------ wordings
@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [("Bill Number: B-77", "invoice_number", "B-77"),
     ("Our Invoice No.: F-73514", "invoice_number", "F-73514"),
     ("Remit To: Harbor Coffee GmbH", "vendor", "Harbor Coffee GmbH"),
     ("Date of Issue: 10 January 2025", "invoice_date", "2025-01-10"),
     ("Payable By: 2025-01-25", "due_date", "2025-01-25"),
     ("Taxable Amount: 1,842.68", "subtotal", 1842.68),
     ("Amount Payable: GBP 1,999.31", "total", {"amount": 1999.31, "currency": "GBP"}),
     ("Total Items: 4", "item_count", 4),
     ("Payment Status: Paid in full", "paid", True),
     ("Status: PAID", "paid", True),
     ("Invoice Numbr: Q-12", "invoice_number", "Q-12")],  # rapidfuzz: one letter missing
)
def test_lexicon_and_fuzzy_labels(text: str, field: str, expected: Any) -> None:
    assert values(text).get(field) == expected


def test_kind_specific_labels_need_the_kind() -> None:
    assert values("INVOICE\n\nReceipt No.: R-1\nTotal: $5.00").get("invoice_number") is None
    assert values("SALES RECEIPT\n\nReceipt No.: R-1\nTotal: $5.00")["invoice_number"] == "R-1"


# ------------------------------------------------------------------------------ enums
@pytest.mark.parametrize(
    ("phrase", "expected"),
    [("Mastercard ending 5521", "card"), ("SEPA direct debit", "direct_debit"),
     ("American Express", "card"), ("Wire transfer", "bank_transfer"), ("Cheque", "check"),
     ("Direct debit (card)", "direct_debit"), ("card or cash", None), ("Bitcoin", None)],
)
def test_enum_phrases(phrase: str, expected: str | None) -> None:
    assert enum_from_phrase(phrase, METHODS) == expected


def test_an_enum_phrase_outside_the_schema_values_names_nothing() -> None:
    assert enum_from_phrase("Direct debit (card)", ["card", "cash"]) is None


def test_schema_value_aliases() -> None:
    field = spec("terms", ENUM, values=["due_on_receipt", "net_30"],
                 value_aliases={"net_30": ["thirty days end of month"]})
    assert values("Terms: thirty days end of month", [field]) == {"terms": "net_30"}
    assert values("Terms: due upon receipt", [field]) == {"terms": "due_on_receipt"}


def test_value_aliases_are_validated() -> None:
    with pytest.raises(ValidationError, match="enum fields"):
        spec("x", value_aliases={"a": ["b"]})
    with pytest.raises(ValidationError, match="not in 'values'"):
        spec("x", ENUM, values=["a"], value_aliases={"b": ["c"]})


# ------------------------------------------------------------------------------ judgment
def test_a_rate_in_the_tax_label_is_a_rate_and_the_value_an_amount() -> None:
    got = values("Subtotal      104.56\nTax 9%        9.41\nTotal         $113.97")
    assert got["tax_amount"] == 9.41 and got["tax_rate"] == 9.0
    got = values("VAT (20%): 12.00")
    assert got["tax_amount"] == 12.0 and got["tax_rate"] == 20.0


def test_a_rate_is_never_an_amount_and_a_discount_rate_is_no_tax_rate() -> None:
    got = values("Tax: 9%\nDiscount 10%: 5.00")
    assert "tax_amount" not in got and "tax_rate" not in got


def test_a_po_number_is_not_an_invoice_number() -> None:
    got = values("PURCHASE ORDER\n\nPO Number: PO-7\nOrder No: 55")
    assert got.get("po_number") == "PO-7" and "invoice_number" not in got


def test_the_vendors_email_is_not_the_customers() -> None:
    text = ("Acme Supplies Ltd\n1 Main St\nEmail: billing@acme.example\n\nInvoice No: A-1\n"
            "Questions? Contact help@acme.example.")
    assert "customer_email" not in values(text)


def test_a_receipt_is_paid() -> None:
    got = values("Corner Cafe Ltd\nReceipt\n\nLatte   3.50\nTotal   $3.50\nPaid with Visa.")
    assert got["paid"] is True and got["payment_method"] == "card"


# ------------------------------------------------------------------------------ unlabelled
def test_unlabelled_values() -> None:
    text = "\n".join([
        "NORTHWIND TRADERS LTD", "12 Harbour Road", "Leeds LS1 4AB", "",
        "Invoice", "", "Invoice No: N-1", "", "Bill To:", "  Contoso", "  ap@contoso.example",
        "", "Description        Qty     Price", "Widget             2       5.00",
        "Gadget             1       7.00", "", "Total: $17.00", "", "*** PAID ***", "",
        "Your payment is due on 14 March 2025, thank you."])
    cells = extract(text)
    assert cells["vendor"].value == "NORTHWIND TRADERS LTD"
    assert cells["customer_email"].value == "ap@contoso.example"
    assert cells["item_count"].value == 2 and cells["paid"].value is True
    assert cells["due_date"].value == "2025-03-14"
    assert {cells[f].rule for f in ("vendor", "customer_email", "item_count", "paid",
                                    "due_date")} == {
        "letterhead_legal_form", "address_block_email", "item_rows", "paid_stamp",
        "due_sentence"}
    assert all(cells[f].confidence < cells["invoice_number"].confidence
               for f in ("vendor", "item_count", "due_date"))


@pytest.mark.parametrize(
    ("text", "field"),
    [("Acme Ltd\n1 Main St\n\n*** PAID ***\nTotal: $5\n*** UNPAID ***", "paid"),
     ("Acme\nReceipt\n\n2024-05-01 10:00\n2024-05-02 11:00\nTotal: $5", "invoice_date"),
     ("Acme\n\nBill To:\n a@x.example\n b@y.example\n\nTotal: $5", "customer_email"),
     ("Acme\n\nItem   Qty   Price\nA   1   2.00\n\nItem   Qty   Price\nB   1   3.00\n",
      "item_count")],
)
def test_unlabelled_ties_stay_empty(text: str, field: str) -> None:
    assert extract(text)[field].value is None


def test_a_one_row_item_table_read_across_is_one_item() -> None:
    text = "Acme Ltd\nReceipt\n\nDescription: Latte\nQty: 2\nAmount: 7.00\n\nTotal: $7.00"
    cell = extract(text)["item_count"]
    assert cell.value == 1 and cell.rule == "item_rows"
    twice = text + "\n\nDescription: Bagel\nQty: 1\nAmount: 2.00"
    assert extract(twice)["item_count"].value is None


def test_a_label_joined_by_excl_is_one_label() -> None:
    """``Amount excl. VAT`` is the net amount; ``VAT`` after ``excl.`` names no tax."""
    got = values("Amount excl. VAT: 981.33\nTax Levied: 98.13")
    assert got.get("subtotal") == 981.33 and got.get("tax_amount") != 981.33

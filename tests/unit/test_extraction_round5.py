"""Fifth round of issue 16: title-line numbers, a place beside the date, balances that say
whether a document is paid, a stamp before a dash, and rates in ``incl. 19% MwSt.`` labels.

Every mechanism is tested with the cases it must read and the ones it must leave empty (a
precision guard): the documents are small, written from general knowledge."""

from __future__ import annotations

from typing import Any

import pytest

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction import ParsedDocument
from worker.extraction.builtin import BuiltinExtractor

STRING, NUMBER, DATE, BOOLEAN = (FieldType.STRING, FieldType.NUMBER, FieldType.DATE,
                                 FieldType.BOOLEAN)


def value(text: str, name: str, kind: FieldType) -> Any:
    field = FieldSpec(name=name, type=kind)
    return BuiltinExtractor().extract(ParsedDocument(text=text, kind="text"), [field])[name].value


# ------------------------------------------------------------------- title-line numbers
@pytest.mark.parametrize(
    ("text", "expected"),
    [("INVOICE INV-2041\n\nAcme Ltd\nTotal: 10.00", "INV-2041"),
     ("          INVOICE INV-2041\n\nAcme Ltd", "INV-2041"),
     ("# Fee note no. FN-5521\n\nGreen Ltd", "FN-5521"),
     ("Acme Ltd\nTax Invoice #10442\n\nTotal: 5.00", "10442"),
     ("Invoice 2041 / 2025\n\nAcme Ltd", "2041 / 2025"),
     ("RECEIPT No. 000842\nCafe Luna", "000842")],
)
def test_title_line_number(text: str, expected: str) -> None:
    assert value(text, "invoice_number", STRING) == expected


@pytest.mark.parametrize(
    "text",
    ["INVOICE 2025\n\nAcme Ltd",  # a year is no number
     "Invoice 12/03/2025\n\nAcme Ltd",  # nor a date
     "INVOICE INV-1\nINVOICE INV-2\n",  # two different title numbers tie
     "STATEMENT OF ACCOUNT\nStatement no. ST-5521\n",  # a statement's is no invoice number
     "Invoice INV-7 for the March works",  # the line goes on: prose
     "INVOICE\n\nReceipt No.: R-1\nTotal: $5.00",  # a label line, for the label rules
     "A\nB\nC\nD\nE\nF\nG\nINVOICE INV-9"],  # not near the top
)
def test_title_line_number_refusals(text: str) -> None:
    assert value(text, "invoice_number", STRING) is None


# --------------------------------------------------------------------- place and date
@pytest.mark.parametrize(
    ("text", "expected"),
    [("Hartley Joinery\nBristol, 3 March 2025\n\nDear Sir,", "2025-03-03"),
     ("HOTEL DU LAC\nGeneve, 04.06.2025\n", "2025-06-04"),
     ("ACME\nSan Francisco, March 5, 2025\n", "2025-03-05"),
     ("Firma\nMuenchen, den 15.05.2025\n", "2025-05-15")],
)
def test_place_beside_the_date(text: str, expected: str) -> None:
    assert value(text, "invoice_date", DATE) == expected


@pytest.mark.parametrize(
    "text",
    ["ACME\nLondon, 3 March 2025\nParis, 4 March 2025\n",  # two dates tie
     "ACME\nRoom 12, 3 nights\n",  # not a date
     "ACME\nDelivered to 14 Mill Lane, 3 March 2025\n"],  # a digit: an address, no place
)
def test_place_beside_the_date_refusals(text: str) -> None:
    assert value(text, "invoice_date", DATE) is None


# ---------------------------------------------------------------------- paid balances
@pytest.mark.parametrize(
    ("text", "expected"),
    [("Total: 264.00\nBalance due: 0.00", True),
     ("Total 264.00\nAmount due   $0.00", True),
     ("| Total | 264.00 |\n| Balance | 0.00 |", True),
     ("Total: 1,268.90\nAmount paid: 1,268.90", True),
     ("ACME GMBH\n\nTotal 178.50\n\nOVERDUE - please pay immediately.", False),
     ("ACME\n\nTotal 10.00\n\nPAID - thank you", True)],
)
def test_paid_from_the_totals_block(text: str, expected: bool) -> None:
    assert value(text, "paid", BOOLEAN) is expected


@pytest.mark.parametrize(
    "text",
    ["Total: 120.00\nAmount due: 120.00",  # every invoice states what is due: no verdict
     "Total: 120.00\nBalance due: 120.00",
     "Total: 120.00\nAmount paid: 50.00",  # a part payment: not paid, not said unpaid
     "Total: 120.00\nTotal: 130.00\nAmount paid: 120.00",  # which total: unclear
     "Total: EUR 178.50\nOutstanding balance: EUR 178.50",  # a total's label, no verdict
     "Total: 0.00\nBalance due: 0.00",  # nothing was owed: no verdict
     "ACME\n\nTotal 10.00\n\nOverdue fees - see terms"],  # a stamp is upper-case
)
def test_paid_from_the_totals_block_refusals(text: str) -> None:
    assert value(text, "paid", BOOLEAN) is None


# --------------------------------------------------------------------- rates in labels
@pytest.mark.parametrize(
    ("text", "expected_rate", "expected_amount"),
    [("Subtotal 100.00\nVAT 3.8% included   3.80", 3.8, 3.8),
     ("Subtotal 150.00\nincl. 19% VAT   28.50", 19.0, 28.5),
     ("Net 1,730.00\nVAT @ 20%   346.00", 20.0, 346.0),
     ("Subtotal 240.00\nGST (10%)   24.00", 10.0, 24.0)],
)
def test_rate_in_a_tax_label(text: str, expected_rate: float, expected_amount: float) -> None:
    assert value(text, "tax_rate", NUMBER) == expected_rate
    assert value(text, "tax_amount", NUMBER) == expected_amount


def test_discount_rate_is_no_tax_rate() -> None:
    assert value("Subtotal 100.00\nDiscount 10%   10.00", "tax_rate", NUMBER) is None


# ------------------------------------------------------------------------ yes/no values
@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [("Paid: \u2717", "paid", False),
     ("Paid: \u2718", "paid", False),
     ("Paid: \u2714", "paid", True),
     ("Paid: x", "paid", True),  # a plain x is a ticked box, not a ballot X
     ("Police report: Report no. 123", "police_report_filed", True),
     ("Police report: Ref CR/2025/0441", "police_report_filed", True),
     ("Police report: Yes - see attached", "police_report_filed", True),
     ("Police report: not filed", "police_report_filed", False)],
)
def test_yes_no_values(text: str, name: str, expected: bool) -> None:
    assert value(text, name, BOOLEAN) is expected


@pytest.mark.parametrize(
    ("text", "name"),
    [("Paid: Ref 123", "paid"),  # a number answers a record question only
     ("Police report: pending", "police_report_filed"),
     ("Police report: Report 2025", "police_report_filed")],  # no number word, no digit id
)
def test_yes_no_value_refusals(text: str, name: str) -> None:
    assert value(text, name, BOOLEAN) is None

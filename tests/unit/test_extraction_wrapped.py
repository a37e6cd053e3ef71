"""Fourth round of everyday documents: wrapped sentences, date wordings and relative due
dates, the mail header as an e-mailed invoice's date, and check box renderings; each
mechanism with its precision guard (a tie or a doubt leaves the cell empty)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction import Cell, ParsedDocument
from worker.extraction.builtin import BuiltinExtractor
from worker.extraction.unlabelled import Context, relative_due
from worker.extraction.values import checked_option
from worker.extraction.wrapped import continues, passages

STRING, NUMBER, DATE, EMAIL = FieldType.STRING, FieldType.NUMBER, FieldType.DATE, FieldType.EMAIL
CURRENCY, BOOLEAN, ENUM = FieldType.CURRENCY, FieldType.BOOLEAN, FieldType.ENUM
METHODS = ["card", "bank_transfer", "direct_debit", "cash", "paypal", "check"]


def spec(name: str, kind: FieldType = STRING, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=kind, **kw)


FIELDS = [
    spec("invoice_number", aliases=["Invoice No", "Bill Number"]),
    spec("customer_email", EMAIL, aliases=["Email", "Billing Email"]),
    spec("invoice_date", DATE, aliases=["Date", "Issue Date"]),
    spec("due_date", DATE, aliases=["Payment Due", "Due By"]),
    spec("tax_amount", NUMBER, aliases=["VAT", "Sales Tax"]),
    spec("total", CURRENCY, aliases=["Amount Due", "Grand Total"]),
    spec("paid", BOOLEAN, aliases=["Payment Status"]),
    spec("payment_method", ENUM, aliases=["Payment Method"], values=METHODS),
]
CLAIM = [
    spec("date_of_loss", DATE, aliases=["Date of Loss"]),
    spec("police_report_filed", BOOLEAN, aliases=["Police Report"]),
    spec("persons_injured", FieldType.INTEGER, aliases=["Injuries"]),
]


def extract(text: str, fields: list[FieldSpec] = FIELDS) -> dict[str, Cell]:
    return BuiltinExtractor().extract(ParsedDocument(text=text, kind="text"), fields)


def values(text: str, fields: list[FieldSpec] = FIELDS) -> dict[str, Any]:
    cells = extract(text, fields)
    for cell in cells.values():  # provenance: every filled cell points at its raw text
        if cell.filled and cell.start is not None:
            assert text[cell.start : cell.end] == cell.raw
    return {k: c.value for k, c in cells.items() if c.filled}


# ---------------------------------------------------------------------------- joining
@pytest.mark.parametrize(("line", "nxt", "joined"), [
    ("Please settle this invoice by bank transfer no later than", "12 May 2025.", True),
    ("Your payment will be collected by Direct Debit", "on 9 July 2025.", True),
    ("We will collect the amount from your account, ", "Thank you.", True),
    ("Thank you for your business.", "the rest", False),  # a full stop ends it
    ("Invoice number", "BWE-25-0412", False),  # a label above its value is no sentence
    ("Please pay the amount by", "Total: 5.00", False),  # a label line starts afresh
    ("Please pay the amount by", "- 12 May 2025", False),  # a bullet starts afresh
    ("Consultation fee for the visit", "45.00", False),  # nothing says it goes on
    ("Window cleaning for the office        60.00", "and more", False),  # a column gap
    ("vendor Pinecrest Veterinary Clinic", "email owner@x.example", False),  # no prose word
    ("the total of this invoice 210.00", "due now", False),  # a value ends the line
    ("The balance must be paid in full by 12", "May 2025.", True),  # a date split
    ("The loss was reported to us on March 14,", "2025 by the tenant.", True),
])
def test_continues(line: str, nxt: str, joined: bool) -> None:
    assert continues(line, nxt) is joined


def test_passages_cover_every_line_once_and_locate_the_original_characters() -> None:
    lines = ["Invoice", "Please settle this invoice by bank transfer no later than",
             "   12 May 2025, quoting the invoice number.", "Total: 5.00"]
    found = passages(lines)
    assert [p.first for p in found] == [0, 1, 3]
    joined = found[1]
    assert joined.text.endswith("than 12 May 2025, quoting the invoice number.")
    start = joined.text.index("than 12")
    line, col, raw = joined.locate(start, start + len("than 12 May 2025"), lines)
    assert (line, col) == (1, lines[1].index("than"))
    assert raw == "than\n   12 May 2025"
    line, col, raw = joined.locate(joined.text.index("12 May"), joined.text.index(","), lines)
    assert (line, col, raw) == (2, 3, "12 May 2025")


def test_passages_join_at_most_four_lines() -> None:
    lines = ["and the words go on and"] * 9
    assert [p.first for p in passages(lines)] == [0, 4, 8]


def test_wrapped_due_date_is_read_and_located() -> None:
    text = ("INVOICE\nInvoice No: BWE-1\n\nPlease settle this invoice by bank transfer no "
            "later than\n12 May 2025, quoting the invoice number.\n")
    cells = extract(text)
    assert cells["due_date"].value == "2025-05-12"
    assert cells["due_date"].raw == "12 May 2025"
    assert text[cells["due_date"].start : cells["due_date"].end] == "12 May 2025"
    assert cells["payment_method"].value == "bank_transfer"


def test_a_date_split_over_two_lines_keeps_its_line_break_in_raw() -> None:
    text = ("Invoice\nInvoice No: A-1\nThe balance must be paid in full by 12\n"
            "May 2025 at the latest.\n")
    cell = extract(text)["due_date"]
    assert cell.value == "2025-05-12"
    assert cell.raw == "12\nMay 2025"
    assert text[cell.start : cell.end] == cell.raw


def test_a_wrapped_choice_of_methods_names_none() -> None:
    text = ("Invoice\nInvoice No: A-1\nPayment can be made by bank transfer to the account\n"
            "shown below or by cheque payable to Sparkle Ltd.\n")
    assert "payment_method" not in values(text)


def test_wrapped_paid_sentence_and_method() -> None:
    text = ("Membership Receipt\nReceipt number: PF-1\n\nPaid on 1 June 2025 with your Visa "
            "debit card\nending 4410. Thank you for training with us.\n")
    got = values(text)
    assert got["paid"] is True and got["payment_method"] == "card"


def test_wrapped_loss_sentence() -> None:
    text = ("Claim form\n\nThe washing machine hose in the kitchen burst on\n"
            "Saturday 1 November 2025 while we were away.\n")
    assert values(text, CLAIM)["date_of_loss"] == "2025-11-01"


# ---------------------------------------------------------------------------- due dates
@pytest.mark.parametrize(("sentence", "due"), [
    ("Please settle this invoice by bank transfer no later than 12 May 2025.", "2025-05-12"),
    ("The invoice must be paid in full by 12 May 2025.", "2025-05-12"),
    ("Please pay the balance on or before 12 May 2025.", "2025-05-12"),
    ("Your payment of £114.60 will be collected by Direct Debit on 9 July 2025.", "2025-07-09"),
    ("We will collect the amount from your account on or after 14 May 2025.", "2025-05-14"),
    ("Your payment was collected on 9 July 2025.", None),  # a record, not a due date
    ("Payment by card on 9 July 2025.", None),  # how it was paid, not when it is due
])
def test_due_sentences(sentence: str, due: str | None) -> None:
    assert values(f"Invoice\nInvoice No: A-1\n\n{sentence}\n").get("due_date") == due


@pytest.mark.parametrize(("label", "field"), [
    ("Invoiced", "invoice_date"), ("Date invoiced", "invoice_date"),
    ("Billed on", "invoice_date"), ("Payable by", "due_date"), ("Settle by", "due_date"),
    ("Payment due on", "due_date"), ("Payment must be received by", "due_date"),
    ("Latest payment date", "due_date"),
])
def test_date_wordings(label: str, field: str) -> None:
    got = values(f"Invoice\nInvoice No: A-1\n{label}\n3 March 2025\n")
    assert got.get(field) == "2025-03-03"


@pytest.mark.parametrize("line", [
    "Service period: 1-31 March 2025", "Date: 01/03/2025 to 31/03/2025",
    "Period: 01/03/2025 to 31/03/2025", "Date: 1 - 31 March 2025",
])
def test_a_date_range_never_fills_a_single_date(line: str) -> None:
    got = values(f"Invoice\nInvoice No: A-1\n{line}\nTotal: 5.00 EUR\n")
    assert "invoice_date" not in got and "due_date" not in got


# ---------------------------------------------------------------------------- relative due
@pytest.mark.parametrize(("term", "due"), [
    ("Terms: Net 30.", "2025-04-02"),
    ("Net 30 days.", "2025-04-02"),
    ("Payment is due within 14 days.", "2025-03-17"),
    ("This invoice is payable within 14 days of the invoice date.", "2025-03-17"),
    ("Payable within 14 days of receipt of goods.", None),  # another anchor
    ("Net 30.00", None),  # a net amount, not terms
    ("Terms: Net 30. Payment is due within 14 days.", None),  # two terms: a tie
])
def test_relative_due_from_a_labelled_issue_date(term: str, due: str | None) -> None:
    text = f"Invoice\nInvoice No: A-1\nInvoice date: 3 March 2025\n\n{term}\n"
    assert values(text).get("due_date") == due


def test_relative_due_needs_a_certain_issue_date() -> None:
    bare = "Invoice\nInvoice No: A-1\n3 March 2025\n\nTerms: Net 30\n"  # a bare date line
    got = values(bare)
    assert got["invoice_date"] == "2025-03-03" and "due_date" not in got


def test_a_stated_due_date_wins_over_the_term() -> None:
    text = ("Invoice\nInvoice No: A-1\nInvoice date: 3 March 2025\nDue date: 10 March 2025\n"
            "Terms: Net 30\n")
    assert values(text)["due_date"] == "2025-03-10"


def test_relative_due_reports_the_days() -> None:
    hit = relative_due(Context.of(["Invoice", "Terms: Net 45"]))
    assert hit is not None and hit.value == 45 and hit.raw == "Net 45"


# ---------------------------------------------------------------------------- mail date
MAIL = """From: Lena Hart Design <studio@lenahart.example>
To: marketing@quillbrook.example
Date: Tue, 8 Apr 2025 09:14:22 +0100
Subject: {subject}

Hi Tom,

Please find below my invoice for the artwork.

Invoice LH-2025-017
Total                               EUR 1,200.00
{body}
Payment is due within 30 days.
"""


def test_an_emailed_invoice_takes_its_date_from_the_header() -> None:
    cells = extract(MAIL.format(subject="Invoice LH-2025-017", body=""))
    assert cells["invoice_date"].value == "2025-04-08"
    assert cells["invoice_date"].rule == "mail_issue_date"
    assert cells["due_date"].value == "2025-05-08"  # the header date is certain


def test_a_date_in_the_body_wins_over_the_header() -> None:
    got = values(MAIL.format(subject="Invoice LH-2025-017", body="Invoice date: 2 April 2025"))
    assert got["invoice_date"] == "2025-04-02"


@pytest.mark.parametrize("subject", ["Reminder: invoice LH-2025-017",
                                     "Re: Invoice LH-2025-017", "Overdue invoice LH-2025-017"])
def test_a_reminder_or_reply_is_not_dated_by_its_header(subject: str) -> None:
    got = values(MAIL.format(subject=subject, body=""))
    assert "invoice_date" not in got and "due_date" not in got


# ---------------------------------------------------------------------------- check boxes
@pytest.mark.parametrize(("value", "option"), [
    ("[x] Yes [ ] No", "Yes"), ("Yes [X]   No [ ]", "Yes"), ("Yes [ ] No [X]", "No"),
    ("(x) Yes ( ) No", "Yes"), ("( ) Cash (x) Card", "Card"), ("Yes [x] No [x]", ""),
    ("[x]", None), ("Yes / No", None), ("5 (x) 3", None),
])
def test_checked_option(value: str, option: str | None) -> None:
    assert checked_option(value) == option


@pytest.mark.parametrize(("text", "expected"), [
    ("Invoice\nPaid: Yes [X]   No [ ]\n", {"paid": True}),
    ("Invoice\nPaid: (x) Yes ( ) No\n", {"paid": True}),
    ("Invoice\nPaid\n☐ Yes  ☑ No\n", {"paid": False}),
    ("Invoice\nPaid: Yes / No\n", {}),  # nothing marked
    ("Invoice\nPayment method: ( ) Cash (x) Card\n", {"payment_method": "card"}),
    ("Invoice\nPayment method:   Cash [ ]   Card [x]   Cheque [ ]\n", {"payment_method": "card"}),
])
def test_check_box_renderings(text: str, expected: dict[str, Any]) -> None:
    got = values(text)
    assert {k: got.get(k) for k in expected} == expected
    if not expected:
        assert "paid" not in got


@pytest.mark.parametrize(("text", "expected"), [
    ("Claim form\nPolice report filed\nYes [ ]   No [X]\n", False),  # a question, answered
    ("Claim form\nPolice report filed\n[x] Yes   [ ] No\n", True),
    ("Claim form\n(x) Police report filed\n", True),
    ("Claim form\nPolice report: N/A\n", None),
])
def test_police_report_check_boxes(text: str, expected: bool | None) -> None:
    assert values(text, CLAIM).get("police_report_filed") is expected


def test_injuries_none_is_zero() -> None:
    assert values("Claim form\nInjuries: none\n", CLAIM)["persons_injured"] == 0


# ---------------------------------------------------------------------------- lexicon
@pytest.mark.parametrize(("line", "field", "value"), [
    ("Fee note no.: HG/2025/3391", "invoice_number", "HG/2025/3391"),
    ("Balance to pay: £114.60", "total", {"amount": 114.6, "currency": "GBP"}),
    ("VAT included (20%): 18.67", "tax_amount", 18.67),
])
def test_new_label_wordings(line: str, field: str, value: Any) -> None:
    assert values(f"Invoice\n{line}\n").get(field) == value


# ---------------------------------------------------------------------------- paid wordings
@pytest.mark.parametrize(("value", "paid"), [
    ("Completed", True), ("Received", True), ("Cleared", True), ("Paid 12/03/2025", True),
    ("Paid on 12 March 2025", True), ("Paid via card", True), ("Awaiting settlement", False),
    ("Not yet paid", False), ("Owing", False), ("Partially paid", False), ("Pending", None),
    ("N/A", None), ("Paidout", None),
])
def test_paid_status_wordings(value: str, paid: bool | None) -> None:
    assert values(f"Invoice\nPayment status: {value}\n").get("paid") is paid


# ---------------------------------------------------------------------------- periods
PERIOD = [spec("period_start", DATE, aliases=["Period start"]),
          spec("period_end", DATE, aliases=["Period end"])]


@pytest.mark.parametrize(("value", "start", "end"), [
    ("1-31 March 2025", "2025-03-01", "2025-03-31"),
    ("01/03/2025 to 31/03/2025", "2025-03-01", "2025-03-31"),
    ("1 - 31 March 2025", "2025-03-01", "2025-03-31"),
    ("from 1 March 2025 until 31 March 2025", "2025-03-01", "2025-03-31"),
    ("2025-03-01 \u2013 2025-03-31", "2025-03-01", "2025-03-31"),
    ("31 March 2025 to 1 March 2025", None, None),  # backwards: no period
])
def test_a_field_asking_for_a_period_end_takes_that_end(value: str, start: str | None,
                                                        end: str | None) -> None:
    assert values(f"Invoice\nPeriod start: {value}\n", PERIOD).get("period_start") == start
    assert values(f"Invoice\nPeriod end: {value}\n", PERIOD).get("period_end") == end


# ---------------------------------------------------------------------------- signature
SIGNED = """From: {sender}
To: Jill Parker <jill@bloomfield.example>
Date: Tue, 8 Apr 2025 09:12:33 -0700
Subject: Invoice 1093 - website maintenance

Hi Jill, please find my invoice below.

Invoice 1093
Total: $480.00

Thanks as always,
{signature}
"""
VENDOR = [spec("vendor_name", aliases=["Supplier", "Merchant"]),
          spec("invoice_number", aliases=["Invoice No"])]


@pytest.mark.parametrize(("sender", "signature", "vendor"), [
    ("Sam Ortega <sam@ortega-webworks.example>", "Sam\n\n--\nOrtega Webworks\nSacramento, CA",
     "Ortega Webworks"),
    ("Lena Hart Design <studio@lenahart.example>",
     "Lena Hart\nLena Hart Design \u00b7 Illustration & Lettering", "Lena Hart Design"),
    ("Accounts <accounts@brightpath-it.example>", "Brightpath IT Ltd accounts team",
     "Brightpath IT Ltd"),
    ("Sam Ortega <sam@gmail.example>", "Sam\nOrtega Webworks", None),  # not the domain
    ("Sam Ortega <sam@ortega-webworks.example>",
     "Sam\nOrtega Webworks Design\nOrtega Webworks Hosting", None),  # two that differ: a tie
])
def test_signature_names_the_seller_of_an_emailed_invoice(sender: str, signature: str,
                                                           vendor: str | None) -> None:
    got = values(SIGNED.format(sender=sender, signature=signature), VENDOR)
    assert got.get("vendor_name") == vendor


def test_an_agreement_sent_by_e_mail_is_not_signed_by_the_seller() -> None:
    text = SIGNED.format(sender="Sam Ortega <sam@ortega-webworks.example>",
                         signature="Sam\nOrtega Webworks").replace(
        "Invoice 1093\nTotal: $480.00", "SERVICE AGREEMENT\nAgreement No: SA-1093")
    assert "vendor_name" not in values(text.replace("Invoice 1093 - website maintenance",
                                                    "Signed service agreement"), VENDOR)

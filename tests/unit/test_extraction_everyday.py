"""Everyday documents: the mechanisms added with ``samples/everyday`` (bills, receipts, folios,
e-mailed and bilingual invoices), each with its precision guard."""

from __future__ import annotations

from typing import Any

import pytest

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction import Cell, ParsedDocument
from worker.extraction.builtin import BuiltinExtractor
from worker.extraction.currencies import code_in_label
from worker.extraction.dateparse import parse_date_text
from worker.extraction.labels import trim_qualifiers
from worker.extraction.lexicon import detect_kind, enum_from_phrase

STRING, NUMBER, DATE, EMAIL = FieldType.STRING, FieldType.NUMBER, FieldType.DATE, FieldType.EMAIL
CURRENCY, BOOLEAN, ENUM = FieldType.CURRENCY, FieldType.BOOLEAN, FieldType.ENUM
METHODS = ["card", "bank_transfer", "direct_debit", "cash", "paypal", "check"]


def spec(name: str, kind: FieldType = STRING, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=kind, **kw)


EVERYDAY = [
    spec("invoice_number", aliases=["Invoice No", "Bill Number"]),
    spec("po_number", aliases=["PO Number", "Purchase Order"]),
    spec("vendor_name", aliases=["Supplier", "Merchant"]),
    spec("customer_email", EMAIL, aliases=["Email", "Billing Email"]),
    spec("invoice_date", DATE, aliases=["Date", "Issue Date"]),
    spec("due_date", DATE, aliases=["Payment Due", "Due By"]),
    spec("subtotal", NUMBER, aliases=["Net Amount"]),
    spec("tax_rate", NUMBER, aliases=["VAT Rate", "Tax %"]),
    spec("tax_amount", NUMBER, aliases=["VAT", "Sales Tax"]),
    spec("total", CURRENCY, aliases=["Amount Due", "Grand Total"]),
    spec("paid", BOOLEAN, aliases=["Payment Status"]),
    spec("payment_method", ENUM, aliases=["Payment Method"], values=METHODS),
]
CLAIM = [
    spec("policy_number", aliases=["Policy No"]), spec("claim_number", aliases=["Claim No"]),
    spec("insured_name", aliases=["Policyholder"]),
    spec("date_reported", DATE, aliases=["Reported On"]),
    spec("contact_email", EMAIL, aliases=["Email"]),
]


def extract(text: str, fields: list[FieldSpec] = EVERYDAY) -> dict[str, Cell]:
    return BuiltinExtractor().extract(ParsedDocument(text=text, kind="text"), fields)


def values(text: str, fields: list[FieldSpec] = EVERYDAY) -> dict[str, Any]:
    return {k: c.value for k, c in extract(text, fields).items() if c.filled}


def assert_offsets(text: str, fields: list[FieldSpec] = EVERYDAY) -> None:
    for name, cell in extract(text, fields).items():
        if cell.filled:
            assert cell.start is not None and cell.end is not None, name
            assert text[cell.start:cell.end] == cell.raw, name


# ------------------------------------------------------------------------------ dates
@pytest.mark.parametrize(
    ("raw", "iso"),
    [("12 avril 2025", "2025-04-12"), ("15 février 2025", "2025-02-15"),
     ("1er mai 2025", "2025-05-01"), ("mardi 1 avril 2025", "2025-04-01"),
     ("3. März 2025", "2025-03-03"), ("Montag, 3. März 2025", "2025-03-03"),
     ("12 de marzo de 2025", "2025-03-12"), ("1 de diciembre de 2025", "2025-12-01"),
     ("22 December 2025", "2025-12-22"),  # ``De`` of December is not Spanish ``de``
     ("9th of December 2024", "2024-12-09"), ("March 14th, 2025", "2025-03-14"),
     ("Sat, 15 Feb 2025 21:07", "2025-02-15"), ("2025/03/14", "2025-03-14")],
)
def test_dates_in_other_languages_and_forms(raw: str, iso: str) -> None:
    parsed = parse_date_text(raw)
    assert parsed is not None and parsed[0] == iso


def test_an_unknown_month_word_is_still_refused() -> None:
    assert parse_date_text("12 Brumaire 2025") is None


# ------------------------------------------------------------------------------ kinds
@pytest.mark.parametrize(
    ("lines", "kind"),
    [(["Atelier Moreau SARL", "FACTURE / INVOICE"], "invoice"),
     (["Brightwater Energy Ltd", "", "Your electricity bill"], "invoice"),
     (["Hotel Albrecht", "Guest Folio"], "invoice"),
     (["SHELL KINGSWAY", "TOTAL CAD 80.65", "THANK YOU - COME AGAIN"], "receipt")],
)
def test_everyday_titles_and_cues_name_the_kind(lines: list[str], kind: str) -> None:
    assert detect_kind(lines) == kind


# ------------------------------------------------------------------------------ paid
def test_a_sentence_that_starts_with_paid_records_a_payment() -> None:
    cells = extract("INVOICE\nTotal: EUR 549.50\n\nPaid on 7 May with Mastercard ending 5521.\n")
    assert cells["paid"].value is True and cells["paid"].rule == "paid_sentence"
    assert cells["payment_method"].value == "card"


@pytest.mark.parametrize(
    "line",
    ["This invoice must be paid by 14 March 2025.",  # an instruction, not a record
     "Payment received 06 Jan - thank you     -£118.20"],  # a ledger line for an old bill
)
def test_instructions_and_ledger_lines_are_not_paid(line: str) -> None:
    text = f"INVOICE\nInvoice No: B-1\nAmount due: £135.88\n\n{line}\n"
    assert "paid" not in values(text)


# ------------------------------------------------------------------------------ enums
def test_a_one_word_hint_loses_to_a_longer_phrase_of_another_value() -> None:
    sentence = "This amount will be collected by Direct Debit from your bank account"
    assert enum_from_phrase(sentence, METHODS) == "direct_debit"
    # two real methods still tie
    assert enum_from_phrase("Pay by cash or by bank transfer", METHODS) is None


def test_a_receipt_tender_line_names_the_method() -> None:
    receipt = ("SHELL KINGSWAY\nRECEIPT\n2025-06-07 08:14\n\nSubtotal 76.81\nTOTAL CAD 80.65\n"
               "Cash                  100.00\nChange                 19.35\n")
    got = values(receipt)
    assert got["payment_method"] == "cash"
    assert got["total"] == {"amount": 80.65, "currency": "CAD"}
    assert got["paid"] is True
    assert_offsets(receipt)
    # not on an invoice: ``Cash 100.00`` there is a line of an account, not a tender
    invoice = receipt.replace("RECEIPT", "INVOICE")
    assert "payment_method" not in values(invoice)


# ------------------------------------------------------------------------------ qualifiers
@pytest.mark.parametrize(
    ("words", "trimmed"),
    [(("of", "which", "vat"), ("vat",)), (("plus", "vat"), ("vat",)),
     (("zzgl", "mwst"), ("mwst",)), (("total", "cad"), ("total",)),
     (("total", "incl", "vat"), ("total",)),
     (("total", "excl", "vat"), ("total", "excl", "vat"))],  # excl. VAT is a subtotal
)
def test_trim_qualifiers(words: tuple[str, ...], trimmed: tuple[str, ...]) -> None:
    assert trim_qualifiers(words) == trimmed


def test_a_bare_currency_code_after_a_label_is_its_currency() -> None:
    assert code_in_label("TOTAL CAD") == "CAD"
    assert code_in_label("Total (EUR)") == "EUR"
    assert code_in_label("Total due") is None and code_in_label("Cad") is None


def test_qualified_labels_fill_their_fields() -> None:
    text = ("INVOICE\nInvoice No: R-1\nTotal excl. VAT: 100.00\nplus VAT: 20.00\n"
            "Total incl. VAT (EUR): 120.00\n")
    got = values(text)
    assert got["tax_amount"] == 20.0
    assert got["total"] == {"amount": 120.0, "currency": "EUR"}
    assert got["subtotal"] == 100.0  # ``excl. VAT`` is not trimmed: not the total


def test_one_rate_stated_in_both_halves_of_a_bilingual_label() -> None:
    text = ("RECHNUNG / INVOICE\nRechnungsnummer / Invoice No.: R-2025-0031\n"
            "Nettobetrag / Net amount:          1.000,00 €\n"
            "zzgl. 19 % MwSt. / plus 19 % VAT:      190,00 €\n"
            "Gesamtbetrag / Total:              1.190,00 €\n")
    got = values(text)
    assert got["tax_rate"] == 19.0 and got["tax_amount"] == 190.0
    assert got["subtotal"] == 1000.0 and got["total"] == {"amount": 1190.0, "currency": "EUR"}
    assert_offsets(text)  # the rate's raw text is ``19 %`` as printed
    # two different rates in one label: which one the amount is at is unclear
    mixed = text.replace("plus 19 % VAT", "plus 7 % VAT")
    assert "tax_rate" not in values(mixed)


def test_a_heading_label_may_carry_its_rate() -> None:
    text = "INVOICE\nInvoice Number\nVPS-1\nNet\n240.00\nVAT (20%)\n48.00\nAmount Due\n£288.00\n"
    got = values(text)
    assert got["tax_rate"] == 20.0 and got["tax_amount"] == 48.0
    assert_offsets(text)


# ------------------------------------------------------------------------------ layouts
def test_a_dash_ends_a_value_before_an_unknown_label() -> None:
    text = "Repair Invoice\nInvoice #: PAB-24-1187 — Insurance claim no.: CLM-88213-ON\n"
    assert values(text)["invoice_number"] == "PAB-24-1187"
    # without the printed delimiter the end of the value is a guess: a string refuses it
    messy = text.replace(" — ", " ")
    assert "invoice_number" not in values(messy)


def test_a_hash_label_in_a_later_cell() -> None:
    text = "FUEL STOP\nRECEIPT\n2025-06-07 08:14\nPump 06      Trans# 118830\nTOTAL CAD 80.65\n"
    cell = extract(text)["invoice_number"]
    assert cell.value == "118830"
    assert_offsets(text)


def test_the_letterhead_name_beside_a_title() -> None:
    text = ("NORTHWIND GARDEN SERVICES                 INVOICE\n42 Elm Row, Edinburgh\n\n"
            "Invoice No: 5512\nDate: 2025-06-02\nTotal: £599.40\n")
    cell = extract(text)["vendor_name"]
    assert cell.value == "NORTHWIND GARDEN SERVICES" and cell.rule == "letterhead"


def test_an_order_number_is_not_a_po_on_a_receipt() -> None:
    receipt = "Lumaro Home\nYour receipt\nOrder number: LMH-300471\nOrder total: £101.00\n"
    assert "po_number" not in values(receipt)
    invoice = "Lumaro Home\nINVOICE\nInvoice No: 77\nOrder number: LMH-300471\nTotal: £101.00\n"
    assert values(invoice)["po_number"] == "LMH-300471"


# ------------------------------------------------------------------------------ e-mails
MAIL = ("From: Sam Ortega <sam@ortega-webworks.example>\n"
        "To: Jill Parker <jill.parker@bloomfield.example>\n"
        "Date: Tue, 8 Apr 2025 09:12:33 -0700\n"
        "Subject: Invoice 1093 - website maintenance, March\n\n"
        "Hi Jill,\n\nPlease find below my invoice 1093 for March.\n\n"
        "  Total                             $690.00\n\n"
        "Payment is due by April 22, 2025.\n")


def test_an_invoice_email_names_its_number_and_its_customer() -> None:
    cells = extract(MAIL)
    assert cells["invoice_number"].value == "1093"
    assert cells["invoice_number"].rule == "invoice_mention"
    assert cells["customer_email"].value == "jill.parker@bloomfield.example"
    assert cells["customer_email"].rule == "recipient_email"
    assert cells["due_date"].value == "2025-04-22"
    assert_offsets(MAIL)


def test_invoice_email_guards() -> None:
    # two different invoice numbers tie
    two = MAIL.replace("my invoice 1093", "my invoice 1094")
    assert "invoice_number" not in values(two)
    # a message inside one company is not sent to a customer
    internal = MAIL.replace("jill.parker@bloomfield.example", "jill@ortega-webworks.example")
    assert "customer_email" not in values(internal)
    # an amount is not an invoice number
    assert "invoice_number" not in values(
        "INVOICE\nTotal: $5\nThe invoice 12.50 is overdue, see attached.\n")


CLAIM_MAIL = ("From: Priya Raman <priya.raman@webmail.example>\n"
              "To: claims@harbourgate.example\nSubject: New claim - stolen bicycle\n"
              "Date: Mon, 3 Nov 2025 19:42:10 +0000\n\n"
              "I would like to make a claim under my contents policy, policy no. CT-4471902.\n")


def test_a_claim_email_names_the_insured_the_policy_and_the_day_it_was_reported() -> None:
    cells = extract(CLAIM_MAIL, CLAIM)
    assert cells["insured_name"].value == "Priya Raman"
    assert cells["insured_name"].rule == "sender_name"
    assert cells["policy_number"].value == "CT-4471902"
    assert cells["date_reported"].value == "2025-11-03"
    assert cells["date_reported"].rule == "mail_date"
    assert not cells["claim_number"].filled  # ``make a claim under`` names no number
    assert_offsets(CLAIM_MAIL, CLAIM)


def test_claim_email_guards() -> None:
    # the insurer's desk writing back: its sender is not the insured
    reply = CLAIM_MAIL.replace("From: Priya Raman <priya.raman@webmail.example>",
                               "From: Claims Desk <claims@harbourgate.example>")
    got = values(reply, CLAIM)
    assert "insured_name" not in got and "date_reported" not in got
    # two policy numbers tie
    two = CLAIM_MAIL + "My other policy no. CT-9990001 is not affected.\n"
    assert "policy_number" not in values(two, CLAIM)


# ------------------------------------------------------------------------------ abbreviations
def test_abbreviated_label_words_read_as_the_word() -> None:
    text = "INVOICE\nInv. No.   0917\nNet      304.60\nVAT 13.5%    41.12\nAmt due (EUR)   345.72\n"
    got = values(text)
    assert got["invoice_number"] == "0917"
    assert got["total"] == {"amount": 345.72, "currency": "EUR"}
    assert got["tax_rate"] == 13.5 and got["tax_amount"] == 41.12


def test_a_german_till_receipt() -> None:
    text = ("FRISCHMARKT HOLZER\nBahnhofstr. 7, Regensburg\n\nBrot           3,29\n"
            "SUMME EUR     17,80\nBar           20,00\nRückgeld       2,20\n\n"
            "Bon-Nr. 4471   Kasse 2\n17.05.2025  18:22\nVielen Dank für Ihren Einkauf!\n")
    got = values(text)
    assert got["total"] == {"amount": 17.8, "currency": "EUR"}
    assert got["payment_method"] == "cash" and got["paid"] is True
    assert got["invoice_number"] == "4471" and got["invoice_date"] == "2025-05-17"
    assert_offsets(text)


@pytest.mark.parametrize(
    ("sentence", "method"),
    [("Please make checks payable to Summit Ridge Roofing LLC.", "check"),
     ("We'll collect this by Direct Debit on or just after 25/06/2025.", "direct_debit")],
)
def test_more_payment_sentences(sentence: str, method: str) -> None:
    text = f"INVOICE\nInvoice No: A-1\nTotal: $5.00\n\n{sentence}\n"
    assert values(text)["payment_method"] == method


# ------------------------------------------------------------------------------ claims
CLAIM_MORE = [*CLAIM, spec("claim_amount", CURRENCY, aliases=["Amount Claimed"]),
              spec("date_of_loss", DATE, aliases=["Loss Date"])]


@pytest.mark.parametrize("placeholder", ["(to be assigned)", "Pending", "TBC", "not yet assigned"])
def test_a_value_that_is_not_there_yet_is_empty(placeholder: str) -> None:
    assert "claim_number" not in values(f"Claim no.: {placeholder}\nPolicy no.: P-1\n", CLAIM)


def test_claim_sentences_name_amount_loss_date_policy_and_contact() -> None:
    text = ("Dear Sirs,\n\nA pipe burst in the loft on Tuesday 4 February 2025 and water came "
            "through two ceilings.\nMy home insurance policy number is AB-HOME-339120. "
            "I estimate the damage at GBP 5,200.\n"
            "Please correspond with our client directly at helen.marsh@homemail.example, "
            "copying us.\n")
    cells = extract(text, CLAIM_MORE)
    assert cells["claim_amount"].value == {"amount": 5200.0, "currency": "GBP"}
    assert cells["claim_amount"].rule == "amount_sentence"
    assert cells["date_of_loss"].value == "2025-02-04"
    assert cells["policy_number"].value == "AB-HOME-339120"
    assert cells["contact_email"].value == "helen.marsh@homemail.example"
    assert_offsets(text, CLAIM_MORE)
    # two estimates tie
    two = text + "My neighbour estimates the damage at GBP 7,000.\n"
    assert "claim_amount" not in values(two, CLAIM_MORE)


def test_a_forwarded_claim_is_read_from_the_original_message() -> None:
    text = ("From: Claims Intake <intake@alder.example>\nTo: Adjusters <adj@alder.example>\n"
            "Subject: FW: Claim - burst pipe\n\nPlease pick this up.\n\n"
            "---------- Forwarded message ----------\n"
            "From: Marcus Bell <marcus.bell@quickmail.example>\n"
            "Date: Thu, 6 Feb 2025 08:03:51 +0000\nSubject: Claim - burst pipe\n"
            "To: intake@alder.example\n\nHello,\nA pipe burst.\n")
    cells = extract(text, CLAIM)
    assert cells["insured_name"].value == "Marcus Bell"
    assert cells["contact_email"].value == "marcus.bell@quickmail.example"
    assert cells["date_reported"].value == "2025-02-06"
    assert_offsets(text, CLAIM)


CLAIM_FULL = [*CLAIM_MORE, spec("deductible", NUMBER, aliases=["Excess"]),
              spec("claim_type", ENUM, aliases=["Type of Claim"],
                   values=["auto", "property", "theft", "water_damage", "fire", "liability"])]


def test_a_claim_letter_states_date_excess_and_kind_in_prose() -> None:
    text = ("CROWNSHIELD INSURANCE\nMotor Claim Form\n\nDear Sirs,\n"
            "We write to you. On 19 September 2025 our client's car collided with a bollard.\n"
            "The policy excess is £250.\n")
    cells = extract(text, CLAIM_FULL)
    assert cells["date_of_loss"].value == "2025-09-19"
    assert cells["deductible"].value == 250.0 and cells["deductible"].rule == "excess_sentence"
    assert cells["claim_type"].value == "auto"  # the second title line names it
    assert_offsets(text, CLAIM_FULL)
    # two titles naming two kinds, two excesses: empty
    torn = text.replace("Motor Claim Form", "Motor Claim Form\nTheft Claim Form")
    assert "claim_type" not in values(torn, CLAIM_FULL)
    two = text + "The excess is £500 for young drivers.\n"
    assert "deductible" not in values(two, CLAIM_FULL)


def test_the_one_address_inside_a_labelled_value() -> None:
    text = "Claim No: C-1\nEmail: Sandra Pike, Office Manager - office@ridgeback.example\n"
    cell = extract(text, CLAIM)["contact_email"]
    assert cell.value == "office@ridgeback.example"
    assert_offsets(text, CLAIM)
    two = text.replace("office@ridgeback.example", "a@ridgeback.example / b@ridgeback.example")
    assert "contact_email" not in values(two, CLAIM)


# ------------------------------------------------------------------------------ last round
def test_pounds_or_euros_make_slash_dates_day_first() -> None:
    uk = "HOLLOWAY HARDWARE\nReceipt No: 2-118\nDate: 03/10/2025\nTotal (inc VAT)  £14.72\n"
    assert values(uk)["invoice_date"] == "2025-10-03"
    us = uk.replace("£", "$")
    assert values(us)["invoice_date"] == "2025-03-10"  # the documented US reading
    mixed = uk + "Equivalent: $18.40\n"  # both currencies: no evidence
    assert values(mixed)["invoice_date"] == "2025-03-10"


def test_a_short_title_ending_in_bill_is_an_invoice() -> None:
    assert detect_kind(["Riverside Water Authority", "Water & Sewer Bill"]) == "invoice"


def test_a_sentence_that_says_it_is_unpaid() -> None:
    text = ("INVOICE\nTotal: £1,440.00\n\n"
            "Our records show that invoice BP-2025-0931 is still unpaid.\n")
    cells = extract(text)
    assert cells["paid"].value is False
    assert cells["invoice_number"].value == "BP-2025-0931"
    both = text + "Our bank tells us the invoice has been paid in full this morning.\n"
    assert "paid" not in values(both)


def test_mail_headers_are_not_document_fields() -> None:
    text = ("From: Accounts <accounts@brightpath.example>\nTo: Ops <ops@larchmont.example>\n"
            "Date: Mon, 15 Sep 2025 10:02:11 +0100\nSubject: Reminder: invoice BP-1 is overdue\n\n"
            "Invoice BP-1 was issued on 14 August 2025.\n")
    cells = extract(text)
    assert not cells["invoice_date"].filled  # the e-mail's date is not the invoice's
    assert cells["invoice_number"].value == "BP-1"  # named in the subject
    assert cells["customer_email"].value == "ops@larchmont.example"


@pytest.mark.parametrize(
    ("sentence", "method"),
    [("Pay online, by phone, or mail a check with the stub below.", None),
     ("We'll collect this by Direct Debit on or after 25/06/2025.", "direct_debit"),
     ("Please transfer the total to IBAN DE89 3704 0044 0532 0130 00.", "bank_transfer"),
     ("Payé par CB", "card")],
)
def test_payment_choices_and_other_languages(sentence: str, method: str | None) -> None:
    text = f"INVOICE\nInvoice No: A-1\nTotal: €5.00\n\n{sentence}\n"
    assert values(text).get("payment_method") == method

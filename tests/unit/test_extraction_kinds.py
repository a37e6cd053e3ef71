"""Claim documents of several kinds: lexicon wordings, value phrasings and sentence rules.

Written with ``samples/kinds`` (hand-written from general knowledge of how claim letters,
incident reports, adjusters' reports and claim e-mails are worded), before any measurement on
``samples/claims``. Every rule is checked for its precision guard as well.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction import Cell, ParsedDocument
from worker.extraction.builtin import BuiltinExtractor
from worker.extraction.lexicon import role_phrase
from worker.extraction.values import leading_answer, number_word

STRING, NUMBER, INTEGER = FieldType.STRING, FieldType.NUMBER, FieldType.INTEGER
BOOLEAN, DATE, EMAIL = FieldType.BOOLEAN, FieldType.DATE, FieldType.EMAIL
CURRENCY, ENUM = FieldType.CURRENCY, FieldType.ENUM
KINDS = ["auto", "property", "theft", "water_damage", "fire", "liability"]


def spec(name: str, kind: FieldType = STRING, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=kind, **kw)


CLAIM = [
    spec("claim_number", aliases=["Claim No"]), spec("policy_number", aliases=["Policy No"]),
    spec("insured_name", aliases=["Policyholder"]),
    spec("date_of_loss", DATE, aliases=["Loss Date"]),
    spec("date_reported", DATE, aliases=["Reported On"]),
    spec("claim_amount", CURRENCY, aliases=["Amount Claimed"]),
    spec("deductible", NUMBER, aliases=["Excess"]),
    spec("persons_injured", INTEGER, aliases=["Injured Persons"]),
    spec("police_report_filed", BOOLEAN, aliases=["Police Report"]),
    spec("claim_type", ENUM, aliases=["Type of Claim"], values=KINDS),
    spec("contact_email", EMAIL, aliases=["Email"]),
]


def extract(text: str) -> dict[str, Cell]:
    return BuiltinExtractor().extract(ParsedDocument(text=text, kind="text"), CLAIM)


def values(text: str) -> dict[str, Any]:
    return {k: c.value for k, c in extract(text).items() if c.filled}


# ------------------------------------------------------------------------------ values
@pytest.mark.parametrize(("raw", "expected"), [
    ("Yes - crime ref CR/118", True), ("No (not required)", False), ("Yes, on 3 May", True),
    ("no", False), ("No. 4471", None), ("Norway", None), ("Yesterday", None), ("", None),
])
def test_leading_answer(raw: str, expected: bool | None) -> None:
    assert leading_answer(raw) is expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Two", 2), ("one (1)", 1), ("zero", 0), ("twelve.", 12), ("two (3)", None),
    ("thirteen", None), ("two people", None), ("", None),
])
def test_number_word(raw: str, expected: int | None) -> None:
    assert number_word(raw) == expected


def test_role_phrases_are_lexicon_data() -> None:
    assert role_phrase("persons_injured", "Nobody") == "0"
    assert role_phrase("persons_injured", "None of them") is None  # the whole value
    assert role_phrase("police_report", "Not required") == "false"
    assert role_phrase("paid", "none") is None and role_phrase(None, "none") is None


# ------------------------------------------------------------------------------ labels
@pytest.mark.parametrize(("text", "field", "expected"), [
    ("Incident occurred on: 9 March 2025", "date_of_loss", "2025-03-09"),
    ("Date and time of accident: Friday, 14 February 2025, 08:15", "date_of_loss",
     "2025-02-14"),
    ("Date first notified to insurer: February 15th, 2025", "date_reported", "2025-02-15"),
    ("Estimated cost of repairs:   £3,480.00", "claim_amount",
     {"amount": 3480.0, "currency": "GBP"}),
    ("Policy excess applicable:   £250.00", "deductible", 250.0),
    ("Number of injured persons: Two", "persons_injured", 2),
    ("Injuries reported: None", "persons_injured", 0),
    ("Was anyone hurt?   No", "persons_injured", 0),
    ("Were the police informed?   No", "police_report_filed", False),
    ("Police attended?   Yes - crime ref CR/2025/11", "police_report_filed", True),
    ("Nature of loss: Escape of water", "claim_type", "water_damage"),
    ("Contact e-mail for this claim: t.w@post.example", "contact_email", "t.w@post.example"),
])
def test_claim_wordings(text: str, field: str, expected: Any) -> None:
    assert values(text).get(field) == expected


def test_a_count_placeholder_is_zero_only_for_a_count_role() -> None:
    got = values("Injured Persons: none\nPolicy No: none\nPolice Report: none")
    assert got.get("persons_injured") == 0
    assert "policy_number" not in got and "police_report_filed" not in got


# ------------------------------------------------------------------------------ rules
def test_claim_sentences() -> None:
    cells = extract(
        "Harbourgate Insurance\nClaims Department\n\nDear Ms Raman,\n\n"
        "Thank you for notifying us of your claim on 3 November 2025.\n"
        "Your flat was broken into on Saturday 1 November 2025.\n"
        "You reported the burglary to the police.\n"
        "Nobody was injured.\n"
        "We will write to you at priya@webmail.example when the adjuster has visited.\n"
        "Questions? Contact us at help@insurer.example.\n")
    got = {k: c.value for k, c in cells.items() if c.filled}
    assert got == {"date_reported": "2025-11-03", "date_of_loss": "2025-11-01",
                   "police_report_filed": True, "persons_injured": 0,
                   "contact_email": "priya@webmail.example"}
    assert {cells[k].rule for k in got} == {"reported_sentence", "loss_sentence",
                                            "police_sentence", "injury_sentence",
                                            "sent_to_email"}


@pytest.mark.parametrize(("text", "field"), [
    ("The loss occurred on 1 May 2025.\nThe theft happened on 2 May 2025.", "date_of_loss"),
    ("Nobody was injured. Two passengers were injured.", "persons_injured"),
    ("We reported it to the police. The police were not called.", "police_report_filed"),
    ("Subject: fire and theft at the warehouse\nFrom: a@b.example\nTo: c@d.example",
     "claim_type"),
])
def test_claim_sentence_ties_stay_empty(text: str, field: str) -> None:
    assert field not in values(text)


def test_a_negated_police_sentence_is_no() -> None:
    assert values("The police were not called.")["police_report_filed"] is False
    assert values("I did not report it to the police.")["police_report_filed"] is False


def test_the_sender_of_a_claim_email_is_the_claimant() -> None:
    mail = ("From: Priya Raman <priya.raman@webmail.example>\n"
            "To: claims@insurer.example\nSubject: New claim - stolen bicycle\n\nHello,\n")
    cells = extract(mail)
    assert cells["contact_email"].value == "priya.raman@webmail.example"
    assert cells["contact_email"].rule == "sender_email"
    assert cells["claim_type"].value == "theft"
    # the insurer's desk writing back is not the claimant; nor a same-domain message
    reply = mail.replace("From: Priya Raman <priya.raman@webmail.example>",
                         "From: Claims <claims@insurer.example>")
    assert not extract(reply)["contact_email"].filled
    internal = mail.replace("claims@insurer.example", "ops@webmail.example")
    assert not extract(internal)["contact_email"].filled


def test_a_title_names_the_claim_type() -> None:
    assert values("Vehicle Incident Report\n\nClaim No: MTR-1")["claim_type"] == "auto"
    assert "claim_type" not in values("Incident Report\n\nClaim No: MTR-1")


# ------------------------------------------------------------------------------ dates
@pytest.mark.parametrize(("raw", "expected"), [
    ("the 9th of March 2025", "2025-03-09"), ("on the 3rd of May, 2024", "2024-05-03"),
    ("Sunday, the 2nd of June 2024", "2024-06-02"), ("theatre 1 May 2024", None),
])
def test_dates_written_in_words(raw: str, expected: str | None) -> None:
    from worker.extraction.dateparse import parse_date_text

    parsed = parse_date_text(raw)
    assert (parsed[0] if parsed else None) == expected


@pytest.mark.parametrize(("label", "field"), [
    ("Date of invoice", "invoice_date"), ("Billed on", "invoice_date"),
    ("Payment deadline date", "due_date"), ("Échéance", "due_date"),
    ("Cover start", "start_date"), ("Policy expiry date", "end_date"),
])
def test_date_label_wordings(label: str, field: str) -> None:
    fields = [spec("invoice_date", DATE), spec("due_date", DATE), spec("start_date", DATE),
              spec("end_date", DATE)]
    cells = BuiltinExtractor().extract(
        ParsedDocument(text=f"{label}: 14 March 2025", kind="text"), fields)
    assert {k: c.value for k, c in cells.items() if c.filled} == {field: "2025-03-14"}

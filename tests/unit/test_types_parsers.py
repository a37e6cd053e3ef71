"""Type parsers: every accepted format and, as importantly, every value that must be refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction.dateparse import infer_day_first, parse_date_text
from worker.extraction.numparse import parse_decimal
from worker.extraction.types import (
    Hints,
    field_unit,
    parse_boolean,
    parse_currency,
    parse_date,
    parse_email,
    parse_enum,
    parse_integer,
    parse_number,
    parse_scored,
    parse_string,
    parse_value,
    typed_text,
    unit_in_label,
)

PLAIN = FieldSpec(name="f")
ENUM = FieldSpec(name="method", type=FieldType.ENUM, values=["card", "bank_transfer", "Cash"])


# ------------------------------------------------------------------------------ string
@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  Acme   Corp ", "Acme Corp"), ('"Quoted Ltd"', "Quoted Ltd"), ("x", "x"),
     ("INV-1", "INV-1")],
)
def test_string_accepts_trimmed_text(raw: str, expected: str) -> None:
    assert parse_string(raw, PLAIN) == expected


@pytest.mark.parametrize("raw", ["", "   ", "N/A", "n/a", "-", "—", "TBD", "none", "...", "***"])
def test_string_refuses_blank_placeholders_and_punctuation(raw: str) -> None:
    assert parse_string(raw, PLAIN) is None


def test_string_refuses_overlong_values() -> None:
    assert parse_string("a" * 1001, PLAIN) is None


# ------------------------------------------------------------------------------ number
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234", 1234.0),
        ("1,234.56", 1234.56),
        ("1.234,56", 1234.56),
        ("1 234,56", 1234.56),
        ("1'234.56", 1234.56),
        ("1,234,567", 1234567.0),
        ("1.234.567", 1234567.0),
        ("1,234", 1234.0),
        ("99,5", 99.5),
        ("0,125", 0.125),
        ("-5", -5.0),
        ("\u22125.5", -5.5),
        ("(1,234.50)", -1234.5),
        ("12-", -12.0),
        ("+3", 3.0),
        ("8.5%", 8.5),
        ("8 %", 8.0),
        ("$1,234.50", 1234.5),
        ("USD 1,234.50", 1234.5),
        ("1.234,50 €", 1234.5),
        ("1 234,56 EUR", 1234.56),
        ("12.5 kg", 12.5),
        ("8 percent", 8.0),
    ],
)
def test_number_accepts_both_grouping_conventions(raw: str, expected: float) -> None:
    value = parse_number(raw, PLAIN)
    assert isinstance(value, float)
    assert value == pytest.approx(expected)


@pytest.mark.parametrize(
    "raw", ["12abc", "abc", "1e5", "1,23,4", "1.2.3", "1,234.567,8", "12 34", "--5", "", "one",
            "5 million", "3 to 5", "USD 5 EUR"]
)
def test_number_refuses_garbage(raw: str) -> None:
    assert parse_number(raw, PLAIN) is None


def test_single_dot_with_three_decimals_is_a_decimal_point_flagged_ambiguous() -> None:
    assert parse_decimal("1.234") == (Decimal("1.234"), True)
    assert parse_decimal("1,234") == (Decimal("1234"), True)
    assert parse_decimal("1,234.50") == (Decimal("1234.50"), False)


# ------------------------------------------------------------------------------ integer
@pytest.mark.parametrize(
    ("raw", "expected"), [("12", 12), ("1,000", 1000), ("3.00", 3), ("-4", -4)]
)
def test_integer_accepts_integral_values(raw: str, expected: int) -> None:
    value = parse_integer(raw, PLAIN)
    assert value == expected and isinstance(value, int)


@pytest.mark.parametrize(
    "raw", ["1.5", "2,5", "3.5 pcs", "x", "12abc", "$5", "3 USD", "3 of 5", "3 to 5", "5 x 3",
            "5 million", "3pcs", "8%"]
)
def test_integer_refuses_non_integral_and_decorated(raw: str) -> None:
    assert parse_integer(raw, PLAIN) is None


@pytest.mark.parametrize(("raw", "expected"), [("3 pcs", 3), ("3 items", 3), ("24 months", 24),
                                               ("1,000 units", 1000), ("12 Stk.", 12)])
def test_integer_takes_a_unit_word(raw: str, expected: int) -> None:
    assert parse_integer(raw, PLAIN) == expected


TERM = FieldSpec(name="term_months", type=FieldType.INTEGER)
NOTICE = FieldSpec(name="notice_period_days", type=FieldType.INTEGER)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [(TERM, "24 months", 24), (TERM, "24", 24), (TERM, "2 years", 24), (TERM, "1 yr", 12),
     (TERM, "36 mos.", 36), (NOTICE, "30 days", 30), (NOTICE, "2 weeks", 14)],
)
def test_time_units_agree_with_the_field_or_convert_exactly(
    field: FieldSpec, raw: str, expected: int
) -> None:
    assert parse_integer(raw, field) == expected


@pytest.mark.parametrize(
    ("field", "raw"),
    [(NOTICE, "3 months"), (TERM, "90 days"), (TERM, "18 Monate"), (TERM, "3 weeks"),
     (NOTICE, "1 year")],
)
def test_time_units_that_do_not_convert_exactly_are_refused(field: FieldSpec, raw: str) -> None:
    """A month is not a fixed number of days: guessing would give a wrong cell."""
    assert parse_integer(raw, field) is None


def test_label_unit_applies_to_a_bare_count() -> None:
    assert unit_in_label("Term (months)") == "month"
    assert unit_in_label("Term") is None and unit_in_label("Days or months") is None
    assert parse_scored(NOTICE, "3", Hints(unit="month")) is None
    assert parse_scored(TERM, "2", Hints(unit="year")) == (24, pytest.approx(0.9))
    assert parse_scored(NOTICE, "30", Hints(unit="day")) == (30, 1.0)


def test_field_unit_comes_from_the_name_or_agreeing_aliases() -> None:
    assert field_unit(TERM) == "month"
    aliased = FieldSpec(name="lead_time", type=FieldType.INTEGER,
                        aliases=["Lead time (days)", "Days to ship"])
    assert field_unit(aliased) == "day"
    torn = FieldSpec(name="duration", aliases=["Days", "Hours"])
    assert field_unit(torn) is None and field_unit(PLAIN) is None


def test_integer_keeps_precision_beyond_float() -> None:
    assert parse_integer("12345678901234567891", PLAIN) == 12345678901234567891


# ------------------------------------------------------------------------------ boolean
@pytest.mark.parametrize(
    ("raw", "expected"),
    [("yes", True), ("Y", True), ("TRUE", True), ("1", True), ("checked", True), ("x", True),
     ("[x]", True), ("✓", True), ("No", False), ("n", False), ("false", False), ("0", False),
     ("unchecked", False), ("[ ]", False)],
)
def test_boolean_words(raw: str, expected: bool) -> None:
    assert parse_boolean(raw, PLAIN) is expected


@pytest.mark.parametrize("raw", ["maybe", "partially", "2", "yes please", "", "N/A"])
def test_boolean_refuses_anything_else(raw: str) -> None:
    assert parse_boolean(raw, PLAIN) is None


# ------------------------------------------------------------------------------ date
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-09-14", "2024-09-14"),
        ("2024-09-14T10:30:00Z", "2024-09-14"),
        ("2024/09/14", "2024-09-14"),
        ("14 September 2024", "2024-09-14"),
        ("14th Sept. 2024", "2024-09-14"),
        ("Sep 14, 2024", "2024-09-14"),
        ("September 14 2024 10:30 AM", "2024-09-14"),
        ("Saturday, 14 September 2024", "2024-09-14"),
        ("14-Sep-2024", "2024-09-14"),
        ("14.09.2024", "2024-09-14"),
        ("09/14/2024", "2024-09-14"),
        ("14/09/2024", "2024-09-14"),
        ("09-14-2024", "2024-09-14"),
        ("2024-02-29", "2024-02-29"),
    ],
)
def test_date_formats_to_iso(raw: str, expected: str) -> None:
    assert parse_date(raw, PLAIN) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("03/04/2024", "2024-03-04"), ("03.04.2024", "2024-04-03"), ("03-04-2024", "2024-04-03")],
)
def test_ambiguous_numeric_dates_follow_the_separator_rule(raw: str, expected: str) -> None:
    assert parse_date(raw, PLAIN) == expected
    assert parse_date_text(raw) == (expected, True)  # flagged: lower confidence


def test_document_date_order_resolves_ambiguity() -> None:
    order = infer_day_first("Period: 01/08/2024 - 31/08/2024\nDate: 02/09/2024")
    assert order == {"/": True}
    assert parse_date_text("02/09/2024", order) == ("2024-09-02", False)
    assert infer_day_first("13/01/2024 and 01/13/2024") == {}  # conflicting evidence


@pytest.mark.parametrize(
    "raw",
    ["2024-02-30", "2023-02-29", "2024-13-01", "31/31/2024", "13/13/2024", "Smarch 3, 2024",
     "tomorrow", "upon receipt", "2024-09", "14 September", "1850-01-01"],
)
def test_date_refuses_impossible_or_partial_dates(raw: str) -> None:
    assert parse_date(raw, PLAIN) is None


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_unambiguous_renderings_round_trip(day: dt.date) -> None:
    iso = day.isoformat()
    renderings = ("%d %B %Y", "%b %d, %Y", "%Y/%m/%d", "%A, %d %b %Y")
    for text in (iso, *(day.strftime(fmt) for fmt in renderings)):
        assert parse_date(text, PLAIN) == iso


# ------------------------------------------------------------------------------ email
@pytest.mark.parametrize(
    ("raw", "expected"),
    [("ap@northwind.example", "ap@northwind.example"), ("First.Last+tag@Mail.Example.COM",
     "First.Last+tag@mail.example.com"), ("mailto:a@b.io", "a@b.io"),
     ("Jane Doe <jane@x.org>", "jane@x.org")],
)
def test_email_accepts_addresses(raw: str, expected: str) -> None:
    assert parse_email(raw, PLAIN) == expected


@pytest.mark.parametrize(
    "raw", ["not-an-email", "a@b", "@x.com", "a@@b.com", "a b@c.com", "a..b@c.com",
            "accounts(at)x.com", "a@b.c0m"]
)
def test_email_refuses_invalid_addresses(raw: str) -> None:
    assert parse_email(raw, PLAIN) is None


# ------------------------------------------------------------------------------ currency
@pytest.mark.parametrize(
    ("raw", "amount", "code"),
    [
        ("$1,234.50", 1234.5, "USD"),
        ("USD 1,234.50", 1234.5, "USD"),
        ("EUR 99", 99.0, "EUR"),
        ("99 EUR", 99.0, "EUR"),
        ("€99,00", 99.0, "EUR"),
        ("1.234,50 €", 1234.5, "EUR"),
        ("£5", 5.0, "GBP"),
        ("¥1,000", 1000.0, "JPY"),
        ("C$ 10.00", 10.0, "CAD"),
        ("CHF 1'250.00", 1250.0, "CHF"),
        ("-$5.00", -5.0, "USD"),
        ("($5.00)", -5.0, "USD"),
        ("$100 USD", 100.0, "USD"),
        ("nok 26 400,00", 26400.0, "NOK"),
    ],
)
def test_currency_needs_and_reads_an_indicator(raw: str, amount: float, code: str) -> None:
    assert parse_currency(raw, PLAIN) == {"amount": pytest.approx(amount), "currency": code}


@pytest.mark.parametrize("raw", ["99", "1,234.50", "10 XYZ", "$5 EUR", "$", "USD", "$abc", "kr 5"])
def test_currency_refuses_bare_or_conflicting_amounts(raw: str) -> None:
    assert parse_currency(raw, PLAIN) is None


def test_currency_takes_a_label_currency_only_for_bare_amounts() -> None:
    assert parse_currency("1.080,00", PLAIN, default_currency="EUR") == {
        "amount": 1080.0, "currency": "EUR"}
    assert parse_currency("$5", PLAIN, default_currency="EUR") == {"amount": 5.0, "currency": "USD"}


# ------------------------------------------------------------------------------ enum
@pytest.mark.parametrize(
    ("raw", "expected"),
    [("card", "card"), ("CARD", "card"), ("Bank Transfer", "bank_transfer"),
     ("bank-transfer", "bank_transfer"), ("cash", "Cash")],
)
def test_enum_returns_the_canonical_value(raw: str, expected: str) -> None:
    assert parse_enum(raw, ENUM) == expected


@pytest.mark.parametrize("raw", ["crypto", "wire", "card or cash", "", "bank"])
def test_enum_refuses_values_outside_the_list(raw: str) -> None:
    assert parse_enum(raw, ENUM) is None


LAW = FieldSpec(name="law", type=FieldType.ENUM,
                values=["new_york", "delaware", "england_and_wales", "card", "credit_card"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("State of Delaware", "delaware"), ("New York law", "new_york"),
     ("the laws of England and Wales", "england_and_wales"), ("Credit card", "credit_card"),
     ("Debit card", "card")],
)
def test_enum_entry_named_in_a_short_phrase(raw: str, expected: str) -> None:
    assert parse_enum(raw, LAW) == expected
    assert parse_scored(LAW, raw) == (expected, pytest.approx(0.9))  # a lenient reading


@pytest.mark.parametrize(
    "raw",
    ["Swiss law", "not Delaware", "Delaware or New York", "Direct debit (card)",
     "governed by the laws of the State of Delaware", "England"],
)
def test_enum_phrase_refusals(raw: str) -> None:
    """Negations, two entries, parenthesized qualifiers and long prose name no entry."""
    assert parse_enum(raw, LAW) is None


# ------------------------------------------------------------------------------ pattern
def test_pattern_is_a_full_match_on_the_typed_form() -> None:
    invoice = FieldSpec(name="n", pattern=r"INV-\d{4}")
    assert parse_value(invoice, " INV-1234 ") == "INV-1234"
    assert parse_value(invoice, "INV-12345") is None
    assert parse_value(invoice, "XINV-1234") is None
    amount = FieldSpec(name="a", type=FieldType.NUMBER, pattern=r"\d+")
    assert parse_value(amount, "1,234") == 1234.0  # typed text "1234" matches
    assert parse_value(amount, "12.5") is None  # typed text "12.5" does not
    date = FieldSpec(name="d", type=FieldType.DATE, pattern=r"2024-.*")
    assert parse_value(date, "14 Sep 2023") is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (1234.0, "1234"), (12.5, "12.5"), ({"amount": 5.0, "currency": "EUR"},
     "5 EUR"), ("2024-01-02", "2024-01-02"), (7, "7")],
)
def test_typed_text(value: Any, text: str) -> None:
    assert typed_text(value) == text


# ------------------------------------------------------------------------------ dispatch
def test_parse_value_dispatches_on_field_type() -> None:
    cases: list[tuple[FieldType, str, Any]] = [
        (FieldType.STRING, "abc", "abc"),
        (FieldType.NUMBER, "1,5", 1.5),
        (FieldType.INTEGER, "7", 7),
        (FieldType.BOOLEAN, "no", False),
        (FieldType.DATE, "1 Jan 2024", "2024-01-01"),
        (FieldType.EMAIL, "a@b.co", "a@b.co"),
        (FieldType.CURRENCY, "€3", {"amount": 3.0, "currency": "EUR"}),
    ]
    for kind, raw, expected in cases:
        assert parse_value(FieldSpec(name="f", type=kind), raw) == expected


def test_scored_quality_is_lower_for_lenient_readings() -> None:
    number = FieldSpec(name="n", type=FieldType.NUMBER)
    assert parse_scored(number, "1,234.50") == (1234.5, 1.0)
    clean, lenient = parse_scored(number, "1234.50"), parse_scored(number, "$1,234.50")
    assert clean is not None and lenient is not None and lenient[1] < clean[1]
    date = FieldSpec(name="d", type=FieldType.DATE)
    scored = parse_scored(date, "03/04/2024", Hints())
    assert scored is not None and scored[1] < 1.0


@settings(max_examples=80, deadline=None)
@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False))
def test_number_round_trips_in_both_conventions(value: Decimal) -> None:
    english = f"{value:,.2f}"
    european = english.replace(",", " ").replace(".", ",").replace(" ", ".")
    assert parse_number(english, PLAIN) == pytest.approx(float(value))
    assert parse_number(european, PLAIN) == pytest.approx(float(value))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_parsers_never_raise(raw: str) -> None:
    for kind in FieldType:
        spec = ENUM if kind is FieldType.ENUM else FieldSpec(name="f", type=kind)
        parse_value(spec, raw)

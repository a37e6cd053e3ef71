"""Type parsers: one raw string in, one typed JSON value out, or ``None`` (empty cell).

Each ``parse_<type>(raw, field)`` is strict: the *whole* raw string must be a value of the
type, because a wrongly filled cell costs more than an empty one. ``parse_value`` dispatches on
``field.type``; every parser then applies ``field.pattern`` (a full match on
:func:`typed_text`).
``parse_scored`` also returns a quality factor (1.0 clean, lower for lenient readings such as
an ambiguous date) that extractors fold into their confidence.

Placeholders (``N/A``, ``-``, ``none``, ``TBD``...) mean "no value" for every type.

Numbers and integers may carry a unit word (``3 pcs``, ``24 months``). A time unit must agree
with the one the field names (``term_months``, ``notice_period_days``) or the label names
(``Term (months)``): ``3 months`` for ``notice_period_days`` is refused rather than guessed,
and only exact conversions are made (years -> months, weeks -> days, days -> hours,
hours -> minutes).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal
from typing import Any

from shared.models import FieldSpec
from shared.patterns import Pattern, compile_pattern
from shared.status import FieldType
from worker.extraction.currencies import CODES, take_prefix, take_suffix
from worker.extraction.dateparse import parse_date_text
from worker.extraction.labels import labels_of, tokens
from worker.extraction.limits import MAX_VALUE_CHARS
from worker.extraction.numparse import parse_signed

LENIENT = 0.9
"""Quality of a reading that needed a guess (ambiguous marks, stripped decoration)."""

PLACEHOLDERS = frozenset(
    {"n/a", "n.a.", "na", "none", "null", "nil", "-", "--", "---", "—", "–", "tbd", "tba",
     "unknown", "?", "...", "not applicable", "not available", "not provided", "(none)",
     "(blank)", "blank"}
)
TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "checked", "x", "[x]", "☑", "☒", "✓",
                        "✔", "on", "ja", "oui", "si", "sí", "(x)", "[✓]", "[✔]", "(✓)", "(✔)"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "unchecked", "[ ]", "[]", "☐", "off",
                         "nein", "non", "( )", "\u2717", "\u2718", "[\u2717]", "[\u2718]"})
"""``✗``/``✘`` (ballot X) mark a no in a table; a plain ``x`` or ``[x]`` is a ticked box."""
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)
_NAMED_EMAIL = re.compile(r"[^<>]*<\s*([^<>\s]+)\s*>")
_QUOTES = (('"', '"'), ("'", "'"), ("\u201c", "\u201d"), ("\u2018", "\u2019"), ("«", "»"))
_SPACES = re.compile(r"\s+")
_WITH_UNIT = re.compile(r"(?P<number>.*\d\)?)\s+(?P<unit>[^\W\d_]{1,12})\.?")
RANGE_WORDS = frozenset({"x", "of", "to", "or", "and", "plus", "minus", "times", "by",
                         "between", "through", "thru", "until", "till", "from", "vs"})
"""Words between two numbers that make them a range or a sum (``3 to 5``, ``5 x 3``)."""
MAGNITUDES = frozenset({"thousand", "million", "billion", "trillion", "k", "m", "bn", "mn",
                        "mio", "mrd", "lakh", "lakhs", "crore", "crores"})
"""Words that multiply the number before them (``5 million``)."""
UNIT_STOPWORDS = RANGE_WORDS | MAGNITUDES | {
    "per", "on", "for", "in", "at", "the", "a", "an", "incl", "excl", "including",
    "excluding", "net", "gross"}
"""Words after a number that are not its unit."""
TIME_UNITS: dict[str, str] = {}
for _unit, _words in {
    "minute": "minute minutes min mins", "hour": "hour hours hr hrs h",
    "day": "day days d", "week": "week weeks wk wks", "month": "month months mo mos mth mths",
    "year": "year years yr yrs y",
}.items():
    TIME_UNITS.update(dict.fromkeys(_words.split(), _unit))
_CONVERSIONS: dict[tuple[str, str], int] = {
    ("year", "month"): 12, ("week", "day"): 7, ("day", "hour"): 24, ("hour", "minute"): 60,
}
"""Exact conversions only: a month is not a fixed number of days."""

_ENUM_EXTRA_WORDS = 3
_PARENTHESIZED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_ENUM_NEGATIONS = frozenset({"not", "no", "non", "never", "except", "excluding", "without",
                             "nor", "neither"})

Scored = tuple[Any, float]


@dataclass(frozen=True, slots=True)
class Hints:
    """Context from outside the value: a currency named by the label (``Total (EUR)``) and
    the document's numeric date order (:func:`~worker.extraction.dateparse.infer_day_first`).
    """

    currency: str | None = None
    day_first: Mapping[str, bool] = dc_field(default_factory=dict)
    unit: str | None = None  # a time unit the document label names: ``Term (months)``


@functools.lru_cache(maxsize=4096)
def unit_in_label(label: str) -> str | None:
    """The time unit a label names (``Term (months)`` -> ``month``), if exactly one."""
    units = _units(tokens(label))
    return units.pop() if len(units) == 1 else None


def field_unit(field: FieldSpec) -> str | None:
    """The time unit a field counts in, from its name, else from its aliases when they
    agree: ``term_months`` -> ``month``."""
    return _labels_unit(field.name, tuple(field.aliases))


@functools.lru_cache(maxsize=1024)
def _labels_unit(name: str, aliases: tuple[str, ...]) -> str | None:
    spec = FieldSpec(name=name, aliases=list(aliases))
    labels = list(labels_of(spec))
    named = _units(labels[0])
    if named:
        return named.pop() if len(named) == 1 else None
    aliased = set().union(*(_units(toks) for toks in labels[1:])) if labels[1:] else set()
    return aliased.pop() if len(aliased) == 1 else None


def _units(toks: tuple[str, ...]) -> set[str]:
    """Time units among label tokens (one-letter abbreviations are too ambiguous here)."""
    return {TIME_UNITS[t] for t in toks if t in TIME_UNITS and len(t) > 1}


def _clean(raw: str) -> str | None:
    """Trim, collapse whitespace, drop surrounding quotes; ``None`` for placeholders."""
    text = _SPACES.sub(" ", raw).strip()
    for left, right in _QUOTES:
        if len(text) >= 2 and text.startswith(left) and text.endswith(right):
            text = text[1:-1].strip()
    if not text or len(text) > MAX_VALUE_CHARS or text.casefold() in PLACEHOLDERS:
        return None
    if _PENDING.fullmatch(text):
        return None
    return text


_PENDING = re.compile(
    r"[(\[]?\s*(?:to\s+be\s+(?:assigned|advised|confirmed|determined|allocated|issued)|"
    r"not\s+(?:yet\s+)?(?:assigned|known|issued|allocated)|pending|awaiting|tbc|t\.b\.[acd]\.?|"
    r"unassigned|will\s+be\s+(?:assigned|advised|issued))\s*[)\]]?\.?", re.IGNORECASE)
"""A value that says it is not there yet: ``(to be assigned)``, ``Pending``, ``TBC``."""


def _as_number(value: Decimal) -> float:
    return float(value)


# --------------------------------------------------------------------------- scored parsers
def _string(text: str, field: FieldSpec) -> Scored | None:
    return (text, 1.0) if any(ch.isalnum() for ch in text) else None


def _split_unit(text: str) -> tuple[str, str | None]:
    """``24 months`` -> (``24``, ``months``); text without a unit word comes back whole."""
    m = _WITH_UNIT.fullmatch(text)
    if m is None or m.group("unit").casefold() in UNIT_STOPWORDS:
        return text, None
    unit = m.group("unit")
    if unit.upper() in CODES or unit in ("kr", "Rs"):
        return text, None  # a currency, not a unit
    return m.group("number"), unit


def _in_field_unit(
    value: Decimal, unit: str | None, field: FieldSpec, hints: Hints | None
) -> Scored | None:
    """``value`` counted in the field's time unit, with the quality of that reading."""
    wanted = field_unit(field)
    given = TIME_UNITS.get(unit.casefold()) if unit else (hints.unit if hints else None)
    if unit is None and given is None:
        return value, 1.0
    if wanted is None:
        return value, (1.0 if given else LENIENT)
    if given == wanted:
        return value, 1.0
    factor = _CONVERSIONS.get((given, wanted)) if given else None
    return (value * factor, LENIENT) if factor else None


def _number(text: str, field: FieldSpec, hints: Hints | None = None) -> Scored | None:
    quality = 1.0
    body = text[:-1].rstrip() if text.endswith("%") else text
    body, unit = (body, None) if body != text else _split_unit(body)
    parsed = parse_signed(body)
    if parsed is None:
        money = _money(text if unit else body)
        if money is None:
            return None
        parsed, quality, unit = (money[0], money[2]), LENIENT, None
    value, ambiguous = parsed
    counted = _in_field_unit(value, unit, field, hints)
    if counted is None:
        return None
    return _as_number(counted[0]), quality * counted[1] * (LENIENT if ambiguous else 1.0)


def _integer(text: str, field: FieldSpec, hints: Hints | None = None) -> Scored | None:
    body, unit = _split_unit(text)
    parsed = parse_signed(body)
    if parsed is None:
        return None
    value, ambiguous = parsed
    counted = _in_field_unit(value, unit, field, hints)
    if counted is None or counted[0] != counted[0].to_integral_value():
        return None
    return int(counted[0]), counted[1] * (LENIENT if ambiguous else 1.0)


_REFERENCE_VALUE = re.compile(
    r"^(?:(?:police|crime|case|incident|report|reference|ref)\.?\s+)*"
    r"(?:no|nr|number|ref|reference|#)\.?\s*:?\s*#?(?=[A-Z0-9/-]*\d)[A-Z0-9][A-Z0-9/-]{1,24}$",
    re.IGNORECASE)
_RECORD_FIELD = frozenset({"report", "reported", "filed", "notified", "registered", "logged",
                           "lodged"})
"""Words of a boolean field's name that ask whether something was put on record: such a
field answered by the record's number (``Police report: Report no. 123``) is a yes."""


def _boolean(text: str, field: FieldSpec) -> Scored | None:
    word = text.casefold().rstrip(".!")
    if word in TRUE_WORDS:
        return True, 1.0
    if word in FALSE_WORDS:
        return False, 1.0
    if _REFERENCE_VALUE.match(text.strip()) and _RECORD_FIELD & set(
            re.split(r"[^a-z]+", field.name.casefold())):
        return True, LENIENT
    return None


def _date(text: str, field: FieldSpec, hints: Hints | None = None) -> Scored | None:
    parsed = parse_date_text(text, hints.day_first if hints else None)
    if parsed is None:
        return None
    iso, ambiguous = parsed
    return iso, LENIENT if ambiguous else 1.0


_EMAIL_INSIDE = re.compile(r"(?:^|[-\u2013\u2014,;:(\[|/]\s*)([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+"
                           r"(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})(?![\w@-])")
"""An address set off inside a longer value by a dash, comma, colon or bracket (never just a
space: ``a b@c.com`` is no address)."""


def _email(text: str, field: FieldSpec) -> Scored | None:
    quality = 1.0
    candidate = text
    if candidate.lower().startswith("mailto:"):
        candidate = candidate[7:]
    if m := _NAMED_EMAIL.fullmatch(candidate):
        candidate, quality = m.group(1), LENIENT
    candidate = candidate.strip().rstrip(".")
    if not _EMAIL.fullmatch(candidate):
        inside = _EMAIL_INSIDE.findall(candidate) if len(candidate) <= 120 else []
        if len(inside) != 1:  # ``Sandra Pike, Office Manager - office@x.example``: the one
            return None       # address in a labelled value; two addresses are a tie
        candidate, quality = inside[0].rstrip("."), LENIENT
    if not _EMAIL.fullmatch(candidate) or ".." in candidate:
        return None
    local, _, domain = candidate.rpartition("@")
    return f"{local}@{domain.lower()}", quality


def _money(text: str, default_currency: str | None = None) -> tuple[Decimal, str, bool] | None:
    """Amount and currency code: ``$1,234.50``, ``1.234,50 €``, ``-USD 5``, ``(€5)``."""
    body = text.strip()
    negative = body.startswith("(") and body.endswith(")")
    body = body[1:-1].strip() if negative else body
    if body[:1] in ("-", "\u2212"):
        negative, body = not negative, body[1:].strip()
    prefix, body = take_prefix(body.strip())
    suffix, body = take_suffix(body.strip())
    if prefix and suffix and prefix != suffix:
        return None
    code = prefix or suffix or default_currency
    parsed = parse_signed(body)
    if code is None or parsed is None:
        return None
    amount, ambiguous = parsed
    return (-amount if negative else amount), code, ambiguous


def _currency(text: str, field: FieldSpec, hints: Hints | None = None) -> Scored | None:
    money = _money(text)
    quality = 1.0
    if money is None and hints and hints.currency:
        money, quality = _money(text, hints.currency), LENIENT
    if money is None:
        return None
    amount, code, ambiguous = money
    value = {"amount": _as_number(amount), "currency": code}
    return value, quality * (LENIENT if ambiguous else 1.0)


def _enum_key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _enum(text: str, field: FieldSpec) -> Scored | None:
    values = field.values or []
    folded = text.casefold()
    for value in values:
        if value.casefold() == folded:
            return value, 1.0
    key = _enum_key(text)
    matches = [v for v in values if _enum_key(v) == key]
    if key and len(matches) == 1:
        return matches[0], LENIENT
    named = _enum_named(text, values)
    return (named, LENIENT) if named else None


def _enum_named(text: str, values: list[str]) -> str | None:
    """The one entry a short phrase names: ``State of Delaware`` -> ``delaware``,
    ``BACS bank transfer`` -> ``bank_transfer``. At most :data:`_ENUM_EXTRA_WORDS` other
    words, none a negation, and one entry only (the longest, when the others are part of it:
    ``credit card`` is ``credit_card`` rather than ``card``). Parenthesized words are a
    qualifier, not the value: ``Direct debit (card)`` names no entry."""
    words = tokens(_PARENTHESIZED.sub(" ", text))
    if _ENUM_NEGATIONS.intersection(words):
        return None
    found: list[tuple[tuple[str, ...], str]] = []
    for value in values:
        entry = tokens(value.replace("_", " "))
        if entry and len(words) - len(entry) <= _ENUM_EXTRA_WORDS and _contains(words, entry):
            found.append((entry, value))
    if not found:
        return None
    longest = max(found, key=lambda f: len(f[0]))
    return longest[1] if all(_contains(longest[0], e) for e, _ in found) else None


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    n = len(part)
    return any(words[i : i + n] == part for i in range(len(words) - n + 1))


_PARSERS: dict[FieldType, Callable[[str, FieldSpec], Scored | None]] = {
    FieldType.STRING: _string,
    FieldType.NUMBER: _number,
    FieldType.INTEGER: _integer,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.EMAIL: _email,
    FieldType.CURRENCY: _currency,
    FieldType.ENUM: _enum,
}


# --------------------------------------------------------------------------- pattern
@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Pattern:
    return compile_pattern(pattern)  # RE2, linear time: no ReDoS (shared.patterns)


def typed_text(value: Any) -> str:
    """The string a field ``pattern`` is matched against.

    Strings, dates, emails and enums as they are; booleans ``true``/``false``; numbers without
    a trailing ``.0`` when integral (``1234``, ``1234.5``); currency ``"1234.5 USD"``.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict):
        return f"{typed_text(value['amount'])} {value['currency']}"
    return str(value)


def _matches_pattern(field: FieldSpec, value: Any) -> bool:
    return field.pattern is None or bool(_compiled(field.pattern).fullmatch(typed_text(value)))


def _run(kind: FieldType, raw: str, field: FieldSpec, hints: Hints | None) -> Scored | None:
    text = _clean(raw)
    if text is None:
        return None
    if kind is FieldType.CURRENCY:
        scored = _currency(text, field, hints)
    elif kind is FieldType.DATE:
        scored = _date(text, field, hints)
    elif kind is FieldType.NUMBER:
        scored = _number(text, field, hints)
    elif kind is FieldType.INTEGER:
        scored = _integer(text, field, hints)
    else:
        scored = _PARSERS[kind](text, field)
    if scored is None or not _matches_pattern(field, scored[0]):
        return None
    return scored


def parse_scored(field: FieldSpec, raw: str, hints: Hints | None = None) -> Scored | None:
    """Parse ``raw`` for ``field``: (typed value, quality 0..1) or ``None`` when invalid.

    ``hints`` only ever resolve what the value leaves open (a bare amount under a
    ``Total (EUR)`` label, an ambiguous ``05/09/2024``); they never override the value.
    """
    return _run(field.type, raw, field, hints)


def parse_value(field: FieldSpec, raw: str) -> Any | None:
    """Typed value of ``raw`` for ``field`` (pattern included), or ``None``."""
    scored = parse_scored(field, raw)
    return None if scored is None else scored[0]


# --------------------------------------------------------------------------- public per type
def _public(kind: FieldType, raw: str, field: FieldSpec) -> Any | None:
    """Parse as ``kind`` whatever ``field.type`` says (tests call each parser directly)."""
    scored = _run(kind, raw, field, None)
    return None if scored is None else scored[0]


def parse_string(raw: str, field: FieldSpec) -> str | None:
    """Trimmed, whitespace-collapsed, non-empty text with at least one letter or digit."""
    value: str | None = _public(FieldType.STRING, raw, field)
    return value


def parse_number(raw: str, field: FieldSpec) -> float | None:
    """A float; grouping per :mod:`worker.extraction.numparse`; ``%`` and currency tolerated."""
    value: float | None = _public(FieldType.NUMBER, raw, field)
    return value


def parse_integer(raw: str, field: FieldSpec) -> int | None:
    """An int; non-integral numbers (``1.5``) are refused, ``3.00`` is 3."""
    value: int | None = _public(FieldType.INTEGER, raw, field)
    return value


def parse_boolean(raw: str, field: FieldSpec) -> bool | None:
    """yes/no, true/false, y/n, 1/0, checked/unchecked, x, check marks."""
    value: bool | None = _public(FieldType.BOOLEAN, raw, field)
    return value


def parse_date(raw: str, field: FieldSpec) -> str | None:
    """ISO ``YYYY-MM-DD``; see :mod:`worker.extraction.dateparse` for the ambiguity rule."""
    value: str | None = _public(FieldType.DATE, raw, field)
    return value


def parse_email(raw: str, field: FieldSpec) -> str | None:
    """``local@domain.tld`` (domain lower-cased); ``mailto:`` and ``Name <addr>`` tolerated."""
    value: str | None = _public(FieldType.EMAIL, raw, field)
    return value


def parse_currency(
    raw: str, field: FieldSpec, *, default_currency: str | None = None
) -> dict[str, Any] | None:
    """``{"amount": float, "currency": "ISO"}``; a bare number without a currency is refused."""
    scored = _run(FieldType.CURRENCY, raw, field, Hints(currency=default_currency))
    return None if scored is None else dict(scored[0])


def parse_enum(raw: str, field: FieldSpec) -> str | None:
    """The canonical entry of ``field.values`` matching case- and punctuation-insensitively."""
    value: str | None = _public(FieldType.ENUM, raw, field)
    return value

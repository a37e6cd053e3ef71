"""Locale-tolerant decimal parsing: ``1,234.56``, ``1.234,56``, ``1 234,56``, ``1'234.56``.

Rules (the same for every numeric type):

* Spaces and apostrophes are always thousands separators.
* With both ``.`` and ``,`` present, the last one is the decimal mark; it must occur once and
  the other must group the integer part in threes (``1.234,56`` and ``1,234.56``).
* Several of one mark group thousands (``1.234.567``, ``1,234,567``).
* A single ``,`` followed by exactly three digits is a thousands separator (``1,234`` is 1234,
  the English reading) unless the integer part is ``0`` or other grouping is present; any other
  single ``,`` is a decimal comma (``99,5``). A single ``.`` is always the decimal point.
  Both single-mark-and-three-digit readings are flagged *ambiguous* (lower confidence).
* Negative: a leading ``-`` (also U+2212), a trailing ``-`` or accounting parentheses.
* Nothing else: ``12abc``, ``1e5``, ``1,23,4`` are refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BODY = re.compile(r"\d(?:[\d.,' ]*\d)?")


def _grouped(integer: str, sep: str) -> str | None:
    """Validate thousands grouping with ``sep`` in ``integer``; return the bare digits."""
    if sep not in integer:
        return integer if integer.isdigit() else None
    groups = integer.split(sep)
    if not (1 <= len(groups[0]) <= 3) or any(len(g) != 3 for g in groups[1:]):
        return None
    digits = "".join(groups)
    return digits if digits.isdigit() else None


def _split_marks(body: str) -> tuple[str, str, str, bool] | None:
    """Return (integer part, thousands mark, fraction, ambiguous) for a body without spaces."""
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        decimal_mark = "." if body.rfind(".") > body.rfind(",") else ","
        thousands = "," if decimal_mark == "." else "."
        integer, _, fraction = body.rpartition(decimal_mark)
        if thousands in fraction:
            return None
        return integer, thousands, fraction, False
    if not dots and not commas:
        return body, "", "", False
    mark = "." if dots else ","
    if dots + commas > 1:
        return body, mark, "", False
    integer, _, fraction = body.partition(mark)
    if mark == "," and len(fraction) == 3 and integer.lstrip("0"):
        return body, ",", "", True
    return integer, "", fraction, len(fraction) == 3 and bool(integer.lstrip("0"))


def _spaced(text: str) -> tuple[str, str, str, bool] | None:
    """``1 234,56`` / ``1'234.56``: spaces group thousands, one mark at most is decimal."""
    body = text.replace("'", " ")
    if body.count(",") + body.count(".") > 1:
        return None
    integer, _, fraction = body.replace(",", ".").partition(".")
    if " " in fraction:
        return None
    return integer, " ", fraction, False


def parse_decimal(text: str) -> tuple[Decimal, bool] | None:
    """Parse an unsigned grouped number; return (value, ambiguous) or ``None``."""
    if not _BODY.fullmatch(text):
        return None
    parts = _spaced(text) if (" " in text or "'" in text) else _split_marks(text)
    if parts is None:
        return None
    integer, thousands, fraction, ambiguous = parts
    digits = _grouped(integer, thousands) if thousands else integer
    if digits is None or not digits.isdigit() or (fraction and not fraction.isdigit()):
        return None
    try:
        return Decimal(f"{digits}.{fraction}" if fraction else digits), ambiguous
    except InvalidOperation:
        return None


def parse_signed(text: str) -> tuple[Decimal, bool] | None:
    """Parse with an optional sign: ``-5``, ``+5``, ``5-``, ``(5)``."""
    s = text.strip().replace("\u2212", "-")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    if s[:1] in ("-", "+"):
        negative, s = negative != (s[0] == "-"), s[1:].strip()
    elif s.endswith("-"):
        negative, s = not negative, s[:-1].strip()
    parsed = parse_decimal(s)
    if parsed is None:
        return None
    value, ambiguous = parsed
    return (-value if negative else value), ambiguous

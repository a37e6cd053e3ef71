"""Date parsing to ISO ``YYYY-MM-DD``.

Accepted: ISO (``2024-09-14``, also with a time), ``2024/09/14``, month names in either order
(``14 September 2024``, ``Sep 14, 2024``, ``14-Sep-2024``, ``Saturday, 14th Sept. 2024``,
``the 9th of March 2025``) and
numeric day/month forms with a 4- or 2-digit year.

Numeric day/month ambiguity, the documented rule:

* ``/`` is read month-first (US): ``09/10/2024`` is 10 September 2024.
* ``.`` and ``-`` are read day-first (European): ``09.10.2024`` is 9 October.
* A part above 12 must be the day, whatever the separator: ``14/09/2024`` is 14 September and
  ``09-14-2024`` is 14 September.
* Both parts at most 12 and different means *ambiguous*: parsed by the rule above but flagged
  (lower confidence). Two-digit years (``14/09/24``) are 2000-2069 / 1970-1999 and flagged too.

A document that writes one numeric date unambiguously (``22/08/2024``) settles the order
for its other dates with the same separator (``05/09/2024`` is then 5 September): see
:func:`infer_day_first`. Conflicting evidence settles nothing.

Impossible dates (``2024-02-30``, month 13) and years outside 1900-2100 are refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    ["january jan", "february feb", "march mar", "april apr", "may", "june jun",
     "july jul", "august aug", "september sep sept", "october oct", "november nov",
     "december dec"],
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number
for _number, _names in enumerate(
    ["janvier janv januar jän jaenner enero ene gennaio januari",
     "février fevrier févr fevr februar febrero febbraio februari",
     "mars märz maerz marzo maart",
     "avril avr abril aprile",
     "mai mayo maggio mei",
     "juin juni junio giugno",
     "juillet juil juli julio luglio",
     "août aout agosto augustus",
     "septembre septiembre setiembre settembre",
     "octobre okt oktober octubre ottobre",
     "novembre noviembre",
     "décembre decembre dez dezember diciembre dicembre"],
    start=1,
):
    for _name in _names.split():  # French, German, Spanish, Italian, Dutch names
        MONTHS.setdefault(_name, _number)

_ARTICLE = re.compile(r"^(?:on\s+)?(?:the\s+)(?=\d)", re.I)
"""``the 9th of March 2025``, ``on the 3rd of May 2024``: the words a letter puts first."""
_WEEKDAY = re.compile(
    r"^(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|lundi|mardi|mercredi|jeudi|vendredi|"
    r"samedi|dimanche|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lunes|martes|"
    r"miércoles|miercoles|jueves|viernes|sábado|sabado|domingo)[a-z]*\.?,?\s+", re.I)
_TIME = re.compile(
    r"(?:[T\s]+|,\s*)(?:at\s+)?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[ap]\.?m\.?)?\s*"
    r"(?:z|utc|gmt|[+-]\d{2}:?\d{2})?$",
    re.I,
)
_ORD = r"(?:st|nd|rd|th|er)?"  # ``1er mai`` (French) too
_YMD = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})")
_NUMERIC = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})")
_DAY_MONTH_YEAR = re.compile(
    rf"(\d{{1,2}}){_ORD}\.?(?:\s+(?:of|de)(?=\s))?[\s\-./]*([^\W\d_]+)\.?,?"
    rf"(?:\s+de(?=\s))?[\s\-./]*(\d{{4}})", re.I
)
_MONTH_DAY_YEAR = re.compile(rf"([^\W\d_]+)\.?[\s\-./]*(\d{{1,2}}){_ORD},?[\s\-./]+(\d{{4}})", re.I)
_YEAR_MONTH_DAY = re.compile(r"(\d{4})[\s\-./]*([^\W\d_]+)\.?[\s\-./]*(\d{1,2})", re.I)


def _make(year: int, month: int, day: int) -> str | None:
    if not 1900 <= year <= 2100:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _named(text: str) -> str | None:
    if m := _DAY_MONTH_YEAR.fullmatch(text):
        day, month, year = m.group(1), m.group(2), m.group(3)
    elif m := _MONTH_DAY_YEAR.fullmatch(text):
        month, day, year = m.group(1), m.group(2), m.group(3)
    elif m := _YEAR_MONTH_DAY.fullmatch(text):
        year, month, day = m.group(1), m.group(2), m.group(3)
    else:
        return None
    number = MONTHS.get(month.lower())
    return _make(int(year), number, int(day)) if number else None


def _numeric(text: str, day_first: Mapping[str, bool] | None) -> tuple[str, bool] | None:
    m = _NUMERIC.fullmatch(text)
    if not m:
        return None
    a, sep, b, y = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
    year = int(y) if len(y) == 4 else (2000 + int(y) if int(y) < 70 else 1900 + int(y))
    if a > 12 and b > 12:
        return None
    hinted = (day_first or {}).get(sep)
    ambiguous = a != b and a <= 12 and b <= 12 and hinted is None
    if a > 12 or (b <= 12 and (hinted if hinted is not None else sep != "/")):
        day, month = a, b
    else:
        day, month = b, a
    iso = _make(year, month, day)
    return (iso, ambiguous or len(y) == 2) if iso else None


_ANY_NUMERIC = re.compile(r"(?<![\d/.-])(\d{1,2})([-/.])(\d{1,2})\2(?:\d{4}|\d{2})(?![\d/.-])")


def infer_day_first(text: str) -> dict[str, bool]:
    """Per separator, whether this document writes day before month: from its unambiguous
    dates, else, for ``/``, from its money (pounds or euros and no dollar: day first)."""
    votes: dict[str, set[bool]] = {}
    for m in _ANY_NUMERIC.finditer(text):
        a, sep, b = int(m.group(1)), m.group(2), int(m.group(3))
        if (a > 12) != (b > 12):
            votes.setdefault(sep, set()).add(a > 12)
    found = {sep: next(iter(v)) for sep, v in votes.items() if len(v) == 1}
    if "/" not in votes and _DAY_FIRST_MONEY.search(text) and not _DOLLAR.search(text):
        found["/"] = True  # pounds or euros and no dollar: a British or European document
    return found


_DAY_FIRST_MONEY = re.compile(r"[£€]|\b(?:GBP|EUR)\b")
_DOLLAR = re.compile(r"\$|\bUSD\b")


def parse_date_text(
    raw: str, day_first: Mapping[str, bool] | None = None
) -> tuple[str, bool] | None:
    """Return (ISO date, ambiguous) or ``None``; ``day_first`` is :func:`infer_day_first`'s."""
    text = _WEEKDAY.sub("", raw.strip(), count=1).strip().rstrip(".")
    text = _ARTICLE.sub("", text, count=1)
    text = _TIME.sub("", text).strip()
    if m := _YMD.fullmatch(text):
        iso = _make(int(m.group(1)), int(m.group(3)), int(m.group(4)))
        return (iso, False) if iso else None
    named = _named(text)
    if named:
        return named, False
    return _numeric(text, day_first)

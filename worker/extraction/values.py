"""Reading a value out of the text that follows a label.

Documents rarely end a value where the value ends: ``$1,600.00 per month``, ``60 days before
the end of the term``, ``Silverline Software AG, Zürich``, ``[ ] 12 months [x] 24 months``,
``1 February 2024. It continues...``. These helpers propose the readings the extractor then
hands to the strict type parsers; each refuses where a guess could give a wrong cell:

* :func:`leading_values` never cuts a range, a sum or a magnitude (``1 May to 2 June``,
  ``5 x 3``, ``5 million``) and never separates a count from its unit (``3 months`` is read
  whole, so ``notice_period_days`` can refuse it);
* :func:`checked_option` answers only when exactly one option is checked;
* :func:`legal_name` drops only a short place name after a company's legal form;
* :func:`looks_like` holds a weak label's value to what the dropped word promised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from worker.extraction.labels import ID_WORDS, tokens
from worker.extraction.layout import CHECK_MARK
from worker.extraction.prose import LEGAL_FORM
from worker.extraction.types import MAGNITUDES, RANGE_WORDS, TIME_UNITS, UNIT_STOPWORDS

_SENTENCE_END = re.compile(r"(?<=[^\s.])\.\s+(?=[A-Z])|;\s|\s\|\s")
_ABBREVIATION = re.compile(r"(?:^|\s)[A-Z][A-Za-z]{0,3}$")
CHECKED = frozenset({"[x]", "[X]", "[\u2713]", "[\u2714]", "\u2611", "\u2612", "(x)", "(X)",
                     "(\u2713)", "(\u2714)"})
"""Check box marks that mean "checked"."""
_BARE_MARKS = CHECKED | {"[ ]", "[]", "\u2610", "( )"}
_PREFIX_WORDS = 10
_UNIT_WORD = re.compile(r"[^\W\d_]{1,12}\.?")
_LEGAL_TAIL = re.compile(
    rf"(?P<name>.+?\b(?:{LEGAL_FORM})\.?),\s+(?P<tail>[A-Z][^\d,;:()@]{{1,40}})"
)
_TAIL_IS_LEGAL = re.compile(rf"(?:{LEGAL_FORM})\.?")
_TAIL_WORDS = 3
_AMOUNT = re.compile(r"[\d.,' ]*[.,]\d{1,2}|\d{1,3}")


def sentence(value: str) -> str:
    """A value after a mid-line label ends with its sentence (``1 Feb 2024. It runs...``);
    the full stop stays after an abbreviation (``Keystone Services Inc.``)."""
    m = _SENTENCE_END.search(value)
    if m is None:
        return value
    head = value[: m.start()]
    return head + "." if value[m.start()] == "." and _ABBREVIATION.search(head) else head


def checked_option(value: str) -> str | None:
    """The option a check box group picks: ``[ ] 12 months [x] 24 months`` -> ``24 months``.

    ``None`` when ``value`` is not a group of marked options (a bare ``[x]`` included: the
    boolean parser reads that), ``""`` when no option or several are checked.
    """
    marks = list(CHECK_MARK.finditer(value))
    if not marks or value.strip() in _BARE_MARKS:
        return None
    if marks[0].start() == 0:
        ends = [m.start() for m in marks[1:]] + [len(value)]
        options = [(m.group(), value[m.end() : end].strip())
                   for m, end in zip(marks, ends, strict=True)]
    elif len(marks) > 1 and value.rstrip().endswith(marks[-1].group()):  # ``Yes [X]  No [ ]``
        starts = [0] + [m.end() for m in marks[:-1]]
        options = [(m.group(), value[start : m.start()].strip())
                   for m, start in zip(marks, starts, strict=True)]
        if not all(text for _, text in options):
            return None
    else:
        return None
    chosen = [text for mark, text in options if mark in CHECKED]
    return chosen[0] if len(chosen) == 1 and chosen[0] else ""


def legal_name(value: str) -> str | None:
    """``Acme GmbH, Berlin`` -> ``Acme GmbH``: a legal form ends a company's name, and a
    short place after it (no digits, at most three words) is an address, not the name.
    ``None`` when ``value`` is not of that shape."""
    m = _LEGAL_TAIL.fullmatch(value)
    if m is None or len(m.group("tail").split()) > _TAIL_WORDS:
        return None
    return None if _TAIL_IS_LEGAL.fullmatch(m.group("tail")) else m.group("name")


def leading_values(value: str, numeric: bool) -> Iterator[str]:
    """Word-boundary prefixes of ``value``, longest first, that may be a value followed by
    words about it: ``$1,600.00 per month``, ``60 days before the end``.

    A prefix must hold a digit and be followed by a word, but not by a range or arithmetic
    word with a number after it (``5 x 3``, ``1 May to 2 June``) nor by a magnitude
    (``5 million``); for ``numeric`` fields a number keeps its unit (``3 months``), so the
    parser can check the unit against the field.
    """
    words = value.split()[: _PREFIX_WORDS + 1]
    for k in range(min(len(words), _PREFIX_WORDS) - 1, 0, -1):
        head, rest = words[:k], words[k:]
        if not any(ch.isdigit() for ch in "".join(head)) or not _may_follow(rest):
            continue
        if numeric and _is_number(head[-1]) and _is_unit(rest[0]):
            continue
        yield " ".join(head)


def _may_follow(rest: list[str]) -> bool:
    """Whether ``rest`` reads as words about a value rather than more of it."""
    first = rest[0].casefold().rstrip(".,")
    if first == "+":  # ``£39.50 + VAT``
        return len(rest) > 1 and rest[1][:1].isalpha()
    if not first[:1].isalpha() or first in MAGNITUDES:
        return False
    if first in RANGE_WORDS:
        return not any(ch.isdigit() for ch in "".join(rest[1:3]))
    return True


def _is_number(word: str) -> bool:
    return word[:1].isdigit() or word[-1:].isdigit()


def _is_unit(word: str) -> bool:
    return bool(_UNIT_WORD.fullmatch(word)) and word.casefold().rstrip(".") not in UNIT_STOPWORDS


def looks_like(dropped: str | None, raw: str) -> bool:
    """Whether a weak label's value looks like what the dropped word promised.

    A name has more letters than digits and no ``@`` (``Customer: 88231`` is no name); an
    identifier is one token with a digit that is not an amount or a small count (``Tax:
    8.00`` is no tax id); a count of months states a time unit (``Term: 2 years`` is 24
    months, a bare ``Term: 2`` is nothing).
    """
    if dropped is None:
        return True
    if dropped == "name":
        letters = sum(ch.isalpha() for ch in raw)
        return letters > sum(ch.isdigit() for ch in raw) and "@" not in raw
    if dropped in ID_WORDS:
        token = raw.strip()
        digits = any(ch.isdigit() for ch in token)
        return " " not in token and digits and _AMOUNT.fullmatch(token) is None
    return any(t in TIME_UNITS for t in tokens(raw))


_ANSWER = re.compile(r"(yes|no)\s*(?:[,;:(\u2013\u2014]|-\s|\s-\s|$)", re.IGNORECASE)
_NUMBER_WORDS: dict[str, int] = {
    word: n for n, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split())
}


def leading_answer(raw: str) -> bool | None:
    """A form's yes/no answer followed by its explanation: ``Yes - crime ref CR/118``,
    ``No (not required)``, ``Yes, on 3 May``. The answer must be the first word and be cut
    off by punctuation, so ``No. 4471`` (an identifier) and ``Norway`` are not answers."""
    m = _ANSWER.match(raw.strip())
    if m is None or raw.strip()[m.end(1):m.end(1) + 1] == ".":
        return None
    return m.group(1).casefold() == "yes"


def number_word(raw: str) -> int | None:
    """A count written as a word, as forms and letters do: ``Two`` -> 2, ``one (1)`` -> 1,
    ``zero`` -> 0. Only zero to twelve: larger counts are written in digits."""
    words = raw.strip().rstrip(".").split()
    if not 1 <= len(words) <= 2:
        return None
    value = _NUMBER_WORDS.get(words[0].casefold())
    if value is None:
        return None
    if len(words) == 2 and words[1].strip("()") != str(value):
        return None
    return value

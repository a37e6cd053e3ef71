"""Find label/value pairs in normalized text, independent of any schema.

Layouts recognized (``layout`` names are used for ranking and confidence):

``separator``  ``Label: value``, ``Label - value`` (spaced dash), ``Label = value``,
               ``Label ...... value`` (dot leaders)
``table``      a row of cells split by tabs, pipes, 3+ spaces or a spaced ``·``/``•``: two cells are
               ``label | value``; an even number of cells alternate label/value
``next_line``  ``Label:`` alone, the value on the next non-empty line
``column``     a header row of 3+ cells above a data row of as many cells
``stacked``    a row of 2 label cells (no digits) starting a block, above exactly one row of
               2 cells: ``AGREEMENT NO.   DATE OF SIGNATURE`` over ``PCC-1   March 3, 2024``
``inline``     ``... effective as of Effective Date: 1 Feb 2024.``: a ``Label:`` after other
               words; the label is the maximal Title-Case run before the colon, so
               ``Shipping Total:`` is never ``Total:`` and ``shipping total:`` is no label
``checkbox``   ``[x] Paid`` / ``☐ Paid``: a check mark, then the label (booleans only)
``defined``    a contract's defined term: ``... by Acme Inc. ("Provider") and ...``; the value
               is the text before the parenthesis, read back by the extractor (see
               :mod:`worker.extraction.prose`)
``heading``    a line that is only a label, the value on the next line (weakest)

A value made of check-marked options (``[ ] 12 months  [x] 24 months``) is kept whole, also
across table cells, so the extractor can read the one option that is checked.

The ``Label value`` layout needs to know where the label ends, so it is resolved by the
extractor against the schema's labels: this module only reports those candidate lines
(:attr:`Analysis.openings`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from worker.extraction.prose import defined_terms, title_run

_BULLET = re.compile(r"^\s*(?:[>#]+\s+|[-*+\u2022\u00b7\u25aa\u25cf]\s+|\d{1,2}[.)]\s+)*")
_EMPHASIS = re.compile(r"\*\*|__|`")
_CELL_SPLIT = re.compile(r"\s*(?:\t+|\|)\s*|\s{3,}|\s+[\u00b7\u2022]\s+")
_TABLE_RULE = re.compile(r"^[\s|:+=-]*-{3,}[\s|:+=-]*$")
_SEPARATOR = re.compile(
    r"(?P<colon>\s*[:\uff1a])|(?P<dash>\s+[-\u2013\u2014]{1,2}\s+)|(?P<eq>\s+=\s+)"
    r"|(?P<dots>\s*(?:\.{3,}|\u2026+|_{3,})\s*)"
)
_COLON = re.compile(r"\s*[:\uff1a]")
CHECK_MARK = re.compile(r"\[[ xX\u2713\u2714]?\]|\([ xX\u2713\u2714]\)|[\u2610\u2611\u2612]")
"""A check box, ticked or not: ``[x]``, ``[ ]``, ``(x)``, ``( )``, ``☑``, ``☐``."""
TRAILING_MARK = re.compile(rf"\S\s*(?:{CHECK_MARK.pattern})\s*$")
"""An option whose box follows it: ``Yes [X]``, ``No [ ]``."""
"""``[x]``, ``[ ]``, ``[✓]``, ``☐``, ``☑``, ``☒``: a form's check box."""
_CHECKBOX_ITEM = re.compile(rf"(?P<mark>{CHECK_MARK.pattern})\s*(?P<label>[^\W\d_].*?)\s*:?")
_RATE = re.compile(r"\d{1,3}(?:[.,]\d{1,3})?\s*%")
"""A rate inside a label (``Sales Tax 7%``): the only digits a label cell may hold."""
_LABEL_TAIL = re.compile(r"(?:^|\s)(?:excl|incl|ex|inc|excluding|including|w/o|w/|before|"
                         r"after|plus|less|net\s+of|per)\.?$", re.IGNORECASE)
"""A word that joins two parts of one label (``Amount excl. VAT``): the Title-Case run after it
is not a label of its own."""
_LABEL_MAX_CHARS = 80
_LABEL_MAX_WORDS = 8


@dataclass(frozen=True, slots=True)
class Pair:
    """A label and the raw value that goes with it."""

    label: str
    value: str
    line: int  # 1-based line of the value
    text: str  # the source line of the value
    layout: str
    messy: bool = False  # the value holds another "label: value" we could not attribute


@dataclass(frozen=True, slots=True)
class Opening:
    """A cell of text with no separator: maybe ``Label value``, decided per schema."""

    text: str
    line: int
    source: str


@dataclass
class Analysis:
    pairs: list[Pair] = field(default_factory=list)
    openings: list[Opening] = field(default_factory=list)


_RATE = re.compile(r"[(\[]?\s*\d{1,3}(?:[.,]\d{1,3})?\s*%\s*[)\]]?")
"""A rate inside a label (``VAT (20%)``): the only digits a heading label may carry."""


_HASH_LABEL = re.compile(r"[^\W\d_][^\W\d_ .]*(?:[ .]+[^\W\d_]+){0,2}\.?\s?#\s*\w")
"""A cell that is ``Label# value`` / ``Label #value`` (at most three words before ``#``)."""


def clean_line(line: str) -> str:
    """Drop list bullets, heading marks and emphasis: ``- **Total:** 5`` -> ``Total: 5``."""
    return _EMPHASIS.sub("", _BULLET.sub("", line, count=1)).strip()


def cells(line: str) -> list[str]:
    """Table cells of a line (the line itself when it is not a row); empty cells dropped."""
    return [c.strip() for c in _CELL_SPLIT.split(line) if c.strip()]


def _label_like(label: str) -> bool:
    words = label.split()
    return (
        0 < len(label) <= _LABEL_MAX_CHARS
        and len(words) <= _LABEL_MAX_WORDS
        and label[0].isalpha()
        and not label.endswith((",", ";"))
    )


def split_pair(cell: str) -> tuple[str, str] | None:
    """Split ``cell`` at its first separator; ``None`` when it has no label-like head."""
    for m in _SEPARATOR.finditer(cell):
        if m.lastgroup == "colon":
            before, after = cell[m.start() - 1 : m.start()], cell[m.end() : m.end() + 2]
            if (before.isdigit() and after[:1].isdigit()) or after.startswith("//"):
                continue  # 10:30, https://
        label, value = cell[: m.start()].strip(), cell[m.end() :].strip()
        return (label, value) if _label_like(label) else None
    return None


def separator_colons(text: str) -> Iterator[re.Match[str]]:
    """Colons that separate a label from a value (not ``10:30``, not ``https://``)."""
    for m in _COLON.finditer(text):
        before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 2]
        if not ((before.isdigit() and after[:1].isdigit()) or after.startswith("//")):
            yield m


def _next_line(lines: list[str], index: int, limit: int = 3) -> int | None:
    """Index of the next non-empty, non-rule line within ``limit`` lines."""
    for j in range(index + 1, min(len(lines), index + 1 + limit)):
        if lines[j].strip() and not _TABLE_RULE.match(lines[j]):
            return j
    return None


class _Analyzer:
    def __init__(self, raw_lines: list[str]) -> None:
        self.raw = raw_lines
        self.lines = [clean_line(line) for line in raw_lines]
        self.rows = [cells(line) for line in self.lines]
        self.out = Analysis()

    def add(self, label: str, value: str, index: int, layout: str) -> None:
        if label and value:
            self.out.pairs.append(Pair(label, value, index + 1, self.raw[index], layout))

    def run(self) -> Analysis:
        for i, row in enumerate(self.rows):
            if row and not _TABLE_RULE.match(self.lines[i]):
                self._row(i, row)
        return self.out

    def _row(self, i: int, row: list[str]) -> None:
        split = [split_pair(c) for c in row]
        for cell in row:
            self._inline(i, cell)
            if "(" in cell:
                self._defined(i, cell)
        if any(split):
            self._separated(i, row, split)
        elif len(row) == 1:
            self._single(i, row[0])
        elif not self._options(i, row):
            self._table(i, row)

    def _inline(self, i: int, cell: str) -> None:
        """``... as of Effective Date: 1 Feb 2024.``: a colon label after other words."""
        colon = next(separator_colons(cell), None)
        if colon is None:
            return
        head = cell[: colon.start()]
        label = title_run(head)
        if label and not _LABEL_TAIL.search(head[: len(head) - len(label)].rstrip()):
            self.add(label, cell[colon.end() :].strip(), i, "inline")

    def _defined(self, i: int, cell: str) -> None:
        """``Acme Inc. ("Provider")``: the words before a defined term, as its value."""
        for term, before in defined_terms(cell):
            self.add(term, before, i, "defined")

    def _options(self, i: int, row: list[str]) -> bool:
        """``Auto-renew | [x] Yes | [ ] No``: a label, then check-marked option cells."""
        rest = row[1:]
        if CHECK_MARK.match(row[0]) or not all(CHECK_MARK.match(c) for c in rest):
            return False
        if _label_like(row[0]):
            self.add(row[0], " ".join(rest), i, "table")
        return True

    def _separated(self, i: int, row: list[str], split: list[tuple[str, str] | None]) -> None:
        for k, pair in enumerate(split):
            if pair is None:
                continue
            label, value = pair
            if value and (CHECK_MARK.match(value) or TRAILING_MARK.search(value)):
                value = " ".join([value, *_marked_run(row[k + 1 :])])
            if value:
                self.add(label, value, i, "separator")
            elif k + 1 < len(row) and split[k + 1] is None:
                run = _marked_run(row[k + 1 :])  # ``Method:   Cash [ ]   Card [x]``
                self.add(label, " ".join(run) if len(run) > 1 else row[k + 1], i, "table")
            elif k + 1 == len(row):
                self._below(i, label, "next_line")
        if split[0] is None:
            self.out.openings.append(Opening(row[0], i + 1, self.raw[i]))

    def _single(self, i: int, text: str) -> None:
        self.out.openings.append(Opening(text, i + 1, self.raw[i]))
        item = _CHECKBOX_ITEM.fullmatch(text)
        if item:
            self.add(item.group("label"), item.group("mark"), i, "checkbox")
        elif _label_like(text) and not any(ch.isdigit() for ch in _RATE.sub("", text)):
            self._below(i, text, "heading")  # ``VAT (20%)`` alone, its amount below

    def _below(self, i: int, label: str, layout: str) -> None:
        j = _next_line(self.lines, i)
        if j is None:
            return
        below = self.rows[j]
        if below and not any(split_pair(c) for c in below) and not self.lines[j].endswith(":"):
            marked = CHECK_MARK.match(below[0]) or TRAILING_MARK.search(below[0])
            options = _marked_run(below) if marked else below[:1]
            self.add(label, " ".join(options), j, layout)

    def _header_like(self, i: int, row: list[str]) -> bool:
        """A header row: every cell has a letter and the row above is not of the same width
        (otherwise it is a data row, and the next row is not its values)."""
        if not all(any(ch.isalpha() for ch in cell) for cell in row):
            return False
        above = [k for k in range(max(0, i - 2), i) if self.lines[k].strip()]
        return not above or len(self.rows[above[-1]]) != len(row)

    def _single_data_row(self, i: int, width: int) -> int | None:
        """Index of the one data row under header row ``i``; ``None`` for line-item tables.

        Reading the first of many rows would give a line item's "Total" as the invoice's.
        """
        j = _next_line(self.lines, i, limit=2)
        if j is None or len(self.rows[j]) != width or any(split_pair(c) for c in self.rows[j]):
            return None
        k = _next_line(self.lines, j, limit=1)
        return None if k is not None and len(self.rows[k]) == width else j

    def _stacked(self, i: int, row: list[str]) -> None:
        """Two label cells over two value cells, the upper row starting a block (blank or
        narrower line above) and the lower one ending it."""
        above = self.rows[i - 1] if i > 0 else []
        if len(above) == len(row) or not all(_label_like(c) for c in row):
            return
        if any(ch.isdigit() for cell in row for ch in cell):
            return
        j = self._single_data_row(i, len(row))
        if j is not None:
            for head, value in zip(row, self.rows[j], strict=True):
                self.add(head, value, j, "stacked")

    def _table(self, i: int, row: list[str]) -> None:
        j = self._single_data_row(i, len(row)) if len(row) >= 3 else None
        if len(row) == 2:
            self._stacked(i, row)
        if j is not None and self._header_like(i, row):
            for head, value in zip(row, self.rows[j], strict=True):
                self.add(head, value, j, "column")
        elif len(row) % 2 == 0:
            for k in range(0, len(row), 2):
                if not any(ch.isdigit() for ch in _RATE.sub("", row[k])):
                    self.add(row[k], row[k + 1], i, "table")
        self.out.openings.append(Opening(row[0], i + 1, self.raw[i]))
        for cell in row[1:]:  # ``Pump 06      Trans# 118830``: a ``#`` ends a later label
            if _HASH_LABEL.match(cell):
                self.out.openings.append(Opening(cell, i + 1, self.raw[i]))


def _marked_run(cells: list[str]) -> list[str]:
    """The check-marked option cells that follow a ``Label: [x] Yes`` cell."""
    run: list[str] = []
    for cell in cells:
        if not (CHECK_MARK.match(cell) or TRAILING_MARK.search(cell)):
            break
        run.append(cell)
    return run


def analyze(lines: list[str]) -> Analysis:
    """All pairs and openings of a document's lines, in line order."""
    return _Analyzer(lines).run()

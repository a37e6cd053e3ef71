"""Sentences wrapped over several lines, read as one passage.

PDF text extraction and e-mail clients break a sentence where the line is full:
``Please settle this invoice by bank transfer no later than`` / ``12 May 2025, quoting the
invoice number.`` A rule that scans one line at a time sees a due-date sentence without its
date on the first line and a date without its sentence on the second. :func:`passages`
joins such lines into one passage, so the sentence rules read the whole sentence, and
:meth:`Passage.locate` maps a match back to the characters printed in the original text, so
provenance still points at them (``doc.text[start:end] == raw``, a raw that crosses a line
break keeps its ``\\n``).

The join is conservative, because joining two unrelated lines would make one sentence of a
label line and the next: a line continues on the next only when it is prose (three words or
more, one of them a function word such as ``the`` or ``by``, no column gap, no table pipe,
no value at its end, no terminal ``. ! ? : ;``), the next line is prose too
(no column gap, not a bullet, not a ``Label:`` line) and either starts lower-case or the
first line ends on a word that cannot end a clause (``by``, ``on``, ``than``, ``the``, a
comma...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_LINES = 4
"""A passage joins at most this many lines (a paragraph is not a sentence)."""
_OPEN_END = frozenset({
    "by", "on", "before", "after", "than", "until", "till", "of", "the", "a", "an", "to", "at",
    "in", "with", "from", "for", "and", "or", "via", "using", "is", "was", "be", "been", "are",
    "will", "your", "our", "this", "that", "within", "ending", "no", "upon", "as", "dated",
    "issued", "due", "payable", "paid", "collected", "debited", "charged", "reported",
    "occurred", "happened", "please", "not", "also", "which", "who", "we", "i", "it",
})
"""Last words after which a clause cannot stop: the sentence goes on on the next line."""
_FUNCTION_WORDS = frozenset({
    "the", "a", "an", "to", "of", "for", "by", "with", "and", "or", "is", "are", "was", "were",
    "will", "be", "been", "your", "our", "we", "you", "i", "please", "this", "that", "on", "in",
    "at", "from", "it", "as", "if", "not", "can", "has", "have", "my", "their", "which",
})
"""Words only running text has: a line without one is a label line, however it is cased."""
_GAP = re.compile(r"\S(?: {2,}|\t)\S")
_BULLET = re.compile(r"^(?:[-*\u2022>#|]|\d{1,2}[.)]\s)")
_MONTH = re.compile(r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\s|,|$)",
                    re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d\b")
_LABEL_LINE = re.compile(r"^[^\W\d_][^:]{0,30}:(?:\s|$)")


@dataclass(frozen=True, slots=True)
class Passage:
    """Lines ``first`` .. ``first + len(pieces) - 1`` read as one ``text``.

    ``pieces`` holds, per line, ``(offset in text, line index, column in line, length)``;
    a single line is one piece at offset 0 and column 0, so its passage is the line itself.
    """

    text: str
    first: int
    pieces: tuple[tuple[int, int, int, int], ...]

    @property
    def joined(self) -> bool:
        return len(self.pieces) > 1

    def locate(self, start: int, end: int, lines: Sequence[str]) -> tuple[int, int, str]:
        """``(line index, column, raw)`` of ``text[start:end]`` in the original lines: raw is
        the original characters, with the line breaks and indentation a join removed."""
        first = self._piece(start)
        last = self._piece(max(start, end - 1))
        _, line, col0, _ = first
        col = col0 + start - first[0]
        if first is last:
            return line, col, lines[line][col : col + end - start]
        _, line_end, col_end0, _ = last
        stop = col_end0 + end - last[0]
        parts = [lines[line][col:]]
        parts += lines[line + 1 : line_end]
        parts.append(lines[line_end][:stop])
        return line, col, "\n".join(parts)

    def _piece(self, offset: int) -> tuple[int, int, int, int]:
        chosen = self.pieces[0]
        for piece in self.pieces:
            if piece[0] <= offset:
                chosen = piece
        return chosen


def _prose(text: str) -> bool:
    return bool(text) and not _GAP.search(text) and "|" not in text


def continues(line: str, nxt: str) -> bool:
    """Whether the sentence on ``line`` goes on on ``nxt`` (see the module docstring)."""
    a, b = line.strip(), nxt.strip()
    if len(a.split()) < 3 or not _prose(a) or not _prose(b) or a[-1] in ".!?:;":
        return False
    if _BULLET.match(b) or (_LABEL_LINE.match(b) and not b[0].islower()):
        return False
    words = a.casefold().split()
    if not _FUNCTION_WORDS & set(words):  # ``vendor Pinecrest Clinic`` / ``email ...``
        return False
    last = words[-1]
    if any(ch.isdigit() for ch in last):  # ``invoice number PV-30045``: a value ends it,
        return bool(_MONTH.match(b) or _YEAR.match(b))  # unless a date goes on: ``by 12`` /
        # ``May 2025``, ``on March 14,`` / ``2025``
    return b[0].islower() or a.endswith(",") or last in _OPEN_END


def passages(lines: Sequence[str]) -> list[Passage]:
    """Every line, in order, in exactly one passage; wrapped sentences joined."""
    out: list[Passage] = []
    i = 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and j + 1 - i < MAX_LINES and continues(lines[j], lines[j + 1]):
            j += 1
        if j == i:
            out.append(Passage(lines[i], i, ((0, i, 0, len(lines[i])),)))
        else:
            text = ""
            pieces: list[tuple[int, int, int, int]] = []
            for k in range(i, j + 1):
                body = lines[k].rstrip()
                col = 0 if k == i else len(body) - len(body.lstrip())
                body = body[col:]
                if text:
                    text += " "
                pieces.append((len(text), k, col, len(body)))
                text += body
            out.append(Passage(text, i, tuple(pieces)))
        i = j + 1
    return out

"""Turn table rows (from Markdown, HTML or DOCX) into lines the extractor can read.

A two-cell row becomes ``"label: value"``, the most common key/value table. A table of a header
row and exactly one data row is read across (``"header_i: value_i"``): that is how summary
tables such as ``| Invoice No | Date | Total |`` are laid out. Other rows keep their cells joined
by ``" | "`` so the extractor's table and column layouts still see the structure.

A row of several label/value pairs (``| Agreement # | HSS-1 | Date signed | 14/10/2024 |``: an
even number of cells, every other one a label) becomes one ``"label: value"`` line per pair.
Label cells must look like labels (:func:`_label_like`: a few words, no digit, ``@`` or
currency sign); in a table with a header row only the data rows are read so, and only when the
header is a caption, since ``| Item | Qty | Price | Amount |`` is a header, not two pairs.
A header row and one data row of even width are read as pairs, not across, when the data row
is itself pair-shaped: its label cells look like labels and every value cell like a value
(:func:`_value_like`), as in ``| Vendor | Helix GmbH | Carrier | DHL |`` over
``| Contact email | a@b.example | Rush order | Yes |``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPACES = re.compile(r"\s+")
_DIGIT_OR_MARK = re.compile(r"[\d@$\u00a3\u20ac\u00a5\u20b9\u2610-\u2612\u2713\u2714\[\]]")
_WORDY_VALUES = frozenset({"yes", "no", "true", "false", "y", "n", "x", "n/a", "none", "-"})
_MAX_LABEL_WORDS = 5
_MAX_LABEL_CHARS = 40


def clean_cell(cell: str) -> str:
    """Collapse whitespace; cells never span lines in the output."""
    return _SPACES.sub(" ", cell).strip()


def _label(cell: str) -> str:
    return cell.rstrip(" :\uff1a")


def _across(header: Sequence[str], data: Sequence[str]) -> list[str]:
    out: list[str] = []
    for head, value in zip(header, data, strict=True):
        if head and value:
            out.append(f"{_label(head)}: {value}")
        elif value:
            out.append(value)
    return out


def _label_like(cell: str) -> bool:
    """A cell that can be a label: a few words, a letter, no digit, ``@``, currency sign or
    check mark, and not a yes/no answer."""
    text = _label(cell)
    return (
        bool(text)
        and len(text) <= _MAX_LABEL_CHARS
        and len(text.split()) <= _MAX_LABEL_WORDS
        and any(ch.isalpha() for ch in text)
        and not _DIGIT_OR_MARK.search(text)
        and text.casefold() not in _WORDY_VALUES
    )


def _value_like(cell: str) -> bool:
    """A cell that is clearly a value: a digit, ``@``, currency sign, check mark or yes/no."""
    return bool(_DIGIT_OR_MARK.search(cell)) or cell.casefold() in _WORDY_VALUES


def _pairs(row: Sequence[str]) -> list[str] | None:
    """``[label, value, label, value, ...]`` (4+ cells) as ``label: value`` lines, or None."""
    if len(row) < 4 or len(row) % 2:
        return None
    labels, values = row[0::2], row[1::2]
    if not all(_label_like(c) for c in labels) or not all(values):
        return None
    return [f"{_label(k)}: {v}" for k, v in zip(labels, values, strict=True)]


def _pair_table(header: Sequence[str], data: Sequence[str]) -> list[str] | None:
    """A header row and one data row that are both rows of pairs, or None (read across)."""
    head, body = _pairs(header), _pairs(data)
    if head is None or body is None or not all(_value_like(c) for c in data[1::2]):
        return None
    return [*head, *body]


def _row_line(cells: Sequence[str]) -> str | None:
    kept = [c for c in cells if c]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    if len(kept) == 2:
        return f"{_label(kept[0])}: {kept[1]}"
    return " | ".join(kept)


def format_table(
    rows: Sequence[Sequence[str]], *, header: bool, min_across_columns: int = 3
) -> list[str]:
    """Format ``rows`` as lines.

    ``header`` says the first row is a header (Markdown's separator row, HTML ``<th>`` cells);
    the across reading needs it, exactly two rows of equal width and at least
    ``min_across_columns`` columns (two-column tables are usually key/value lists).
    """
    cleaned = [[clean_cell(c) for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if (
        header
        and len(cleaned) == 2
        and len(cleaned[0]) == len(cleaned[1]) >= max(2, min_across_columns)
    ):
        paired = _pair_table(cleaned[0], cleaned[1])
        return paired if paired is not None else _across(cleaned[0], cleaned[1])
    caption = header and bool(cleaned) and sum(1 for c in cleaned[0] if c) <= 1
    lines: list[str] = []
    for i, row in enumerate(cleaned):
        pairs = _pairs(row) if (not header or (caption and i > 0)) else None
        if pairs is not None:
            lines.extend(pairs)
            continue
        line = _row_line(row)
        if line:
            lines.append(line)
    return lines

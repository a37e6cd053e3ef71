"""Turn table rows (from Markdown, HTML or DOCX) into lines the extractor can read.

A two-cell row becomes ``"label: value"``, the most common key/value table. A table of a header
row and exactly one data row is read across (``"header_i: value_i"``): that is how summary
tables such as ``| Invoice No | Date | Total |`` are laid out. Other rows keep their cells joined
by ``" | "`` so the extractor's table and column layouts still see the structure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPACES = re.compile(r"\s+")


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
        return _across(cleaned[0], cleaned[1])
    lines = [_row_line(row) for row in cleaned]
    return [line for line in lines if line]

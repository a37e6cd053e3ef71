"""The parsed form of a document, handed from the parse phase to the execute phase.

The pipeline stores it in Redis between phases, so it must survive a JSON round trip:
``ParsedDocument.from_dict(doc.to_dict()) == doc``.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS: frozenset[str] = frozenset({"text", "markdown", "html", "pdf", "docx"})


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """Normalized plain text (one logical line per line), the source kind and page count."""

    text: str
    kind: str
    pages: int | None = None
    page_lines: tuple[int, ...] | None = None
    """PDF only: the 1-based line where each page starts (for a cell's page)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown document kind {self.kind!r}")

    @property
    def lines(self) -> list[str]:
        """The text split into lines; index ``i`` is line number ``i + 1``."""
        return self.text.split("\n")

    def line_offset(self, line: int) -> int:
        """Character offset in :attr:`text` where 1-based ``line`` starts."""
        starts = self._line_starts()
        return starts[min(max(line, 1), len(starts)) - 1]

    def _line_starts(self) -> list[int]:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        return starts

    def page_of(self, line: int) -> int | None:
        """The 1-based page of a 1-based line (PDF only)."""
        if not self.page_lines:
            return None
        return bisect.bisect_right(self.page_lines, line) or 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "kind": self.kind, "pages": self.pages}
        if self.page_lines is not None:
            out["page_lines"] = list(self.page_lines)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParsedDocument:
        """Rebuild from :meth:`to_dict`'s output, refusing anything of the wrong shape."""
        text, kind, pages = data.get("text"), data.get("kind"), data.get("pages")
        if not isinstance(text, str) or not isinstance(kind, str):
            raise ValueError("ParsedDocument needs string 'text' and 'kind'")
        if pages is not None and (not isinstance(pages, int) or isinstance(pages, bool)):
            raise ValueError("ParsedDocument 'pages' must be an integer or null")
        page_lines = data.get("page_lines")
        if page_lines is not None and (
            not isinstance(page_lines, list)
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in page_lines)
        ):
            raise ValueError("ParsedDocument 'page_lines' must be a list of integers or null")
        return cls(text=text, kind=kind, pages=pages,
                   page_lines=tuple(page_lines) if page_lines is not None else None)

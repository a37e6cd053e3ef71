"""The parsed form of a document, handed from the parse phase to the execute phase.

The pipeline stores it in Redis between phases, so it must survive a JSON round trip:
``ParsedDocument.from_dict(doc.to_dict()) == doc``.
"""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown document kind {self.kind!r}")

    @property
    def lines(self) -> list[str]:
        """The text split into lines; index ``i`` is line number ``i + 1``."""
        return self.text.split("\n")

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "pages": self.pages}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParsedDocument:
        """Rebuild from :meth:`to_dict`'s output, refusing anything of the wrong shape."""
        text, kind, pages = data.get("text"), data.get("kind"), data.get("pages")
        if not isinstance(text, str) or not isinstance(kind, str):
            raise ValueError("ParsedDocument needs string 'text' and 'kind'")
        if pages is not None and (not isinstance(pages, int) or isinstance(pages, bool)):
            raise ValueError("ParsedDocument 'pages' must be an integer or null")
        return cls(text=text, kind=kind, pages=pages)

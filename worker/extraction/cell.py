"""One cell of the grid: a typed value plus where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Cell:
    """A typed value (``None`` = empty), its confidence and its provenance.

    ``label`` is the document label that matched, ``line`` the 1-based line number in the
    parsed text, ``text`` that line, and ``raw`` the value string before type parsing.
    ``start``/``end`` are character offsets of ``raw`` in the document's parsed text
    (``doc.text[start:end] == raw``), ``page`` the 1-based PDF page, ``method`` how the value
    was found (``label``: a schema name or alias; ``lexicon``: a synonym of the field's role;
    ``fuzzy``: a misspelt label; ``rule``: no label, see ``rule``) and ``rule`` the name of the
    unlabelled-value rule or judgment (``letterhead``, ``paid_stamp``, ``item_rows``...).
    Provenance lets a person check a value without re-reading the document.
    """

    value: Any | None = None
    confidence: float = 0.0
    label: str | None = None
    line: int | None = None
    text: str | None = None
    raw: str | None = None
    page: int | None = None
    start: int | None = None
    end: int | None = None
    method: str | None = None
    rule: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError("confidence must be within 0..1")
        if self.value is None and self.confidence != 0.0:
            raise ValueError("an empty cell has confidence 0.0")

    @property
    def filled(self) -> bool:
        return self.value is not None

    @classmethod
    def empty(cls) -> Cell:
        return cls()

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "confidence": self.confidence,
            "label": self.label,
            "line": self.line,
            "text": self.text,
            "raw": self.raw,
            "page": self.page,
            "start": self.start,
            "end": self.end,
            "method": self.method,
            "rule": self.rule,
        }

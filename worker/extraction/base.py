"""The extractor interface: parsed document and fields in, one :class:`Cell` per field out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from shared.models import FieldSpec
from worker.extraction.cell import Cell
from worker.extraction.document import ParsedDocument


@runtime_checkable
class Extractor(Protocol):
    """Anything with a ``name`` and an ``extract`` method is an extractor.

    ``extract`` returns exactly one entry per field, keyed by field name; a field it could not
    fill maps to an empty :class:`Cell`. It may raise
    :class:`~worker.extraction.errors.TransientExtractorError` (the pipeline retries) or
    :class:`~worker.extraction.errors.PermanentExtractorError` (the row fails).
    """

    name: str

    def extract(self, doc: ParsedDocument, fields: Sequence[FieldSpec]) -> dict[str, Cell]: ...

"""The extraction engine: parse documents to text, then fill one cell per schema field.

Public API::

    parse_document(filename, mime_type, data) -> ParsedDocument   # raises ParseError
    get_extractor(name=None) -> Extractor                          # JOBGRID_EXTRACTOR
    Extractor.extract(doc, fields) -> dict[str, Cell]              # may raise ExtractorError
"""

from __future__ import annotations

from worker.extraction.base import Extractor
from worker.extraction.cell import Cell
from worker.extraction.document import ParsedDocument
from worker.extraction.errors import (
    ExtractionError,
    ExtractorError,
    ParseError,
    PermanentExtractorError,
    TransientExtractorError,
)
from worker.extraction.parsing import parse_document
from worker.extraction.registry import available_extractors, get_extractor, register_extractor

__all__ = [
    "Cell",
    "ExtractionError",
    "Extractor",
    "ExtractorError",
    "ParseError",
    "ParsedDocument",
    "PermanentExtractorError",
    "TransientExtractorError",
    "available_extractors",
    "get_extractor",
    "parse_document",
    "register_extractor",
]

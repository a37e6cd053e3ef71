"""Extractor plug-ins for fault tests that ``support.extractors.FaultyExtractor`` lacks.

Loaded by workers as ``JOBGRID_EXTRACTOR=faults.plugins:BuggyExtractor`` (``tests/`` on
PYTHONPATH). Document text containing ``BUG-RAISE`` makes the extractor raise an unexpected
exception (a bug, not an ExtractorError); ``HANG-FOREVER`` makes it hang.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from support.extractors import FaultyExtractor

from shared.models import FieldSpec
from worker.extraction import Cell, ParsedDocument


class BuggyExtractor(FaultyExtractor):
    name = "buggy"

    def extract(self, doc: ParsedDocument, fields: Sequence[FieldSpec]) -> dict[str, Cell]:
        if "BUG-RAISE" in doc.text:
            raise KeyError("a bug in the extractor plug-in")
        if "HANG-FOREVER" in doc.text:
            time.sleep(3600)
        return super().extract(doc, fields)

"""An extractor that finds nothing, instantly: isolates the pipeline's own cost in benchmarks.

Loaded through the plug-in point: ``JOBGRID_EXTRACTOR=noop_extractor:NoopExtractor`` with
``bench/`` on PYTHONPATH.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.models import FieldSpec
from worker.extraction import Cell, ParsedDocument


class NoopExtractor:
    name = "noop"

    def extract(self, doc: ParsedDocument, fields: Sequence[FieldSpec]) -> dict[str, Cell]:
        return {f.name: Cell() for f in fields}

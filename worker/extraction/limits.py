"""Size bounds that keep parsing and extraction linear and finite on hostile input."""

from __future__ import annotations

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Documents above this are refused (``document_too_large``) before any parser runs."""

MAX_TEXT_CHARS = 2_000_000
"""Parsed text is cut at a line boundary past this many characters."""

MAX_LINE_CHARS = 20_000
"""Longer lines are cut; no label/value layout needs more."""

MAX_PDF_PAGES = 2_000
"""Pages past this are not read (the count is still reported)."""

MAX_XML_BYTES = 32 * 1024 * 1024
"""Largest uncompressed ``word/document.xml`` read from a DOCX (zip bombs stop here)."""

MAX_HTML_DEPTH = 512
"""Deeper HTML nesting is flattened instead of tracked."""

MAX_VALUE_CHARS = 1_000
"""Longer raw values are not type-parsed (also bounds user ``pattern`` regex work)."""

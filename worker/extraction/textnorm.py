"""Byte decoding and text normalization shared by every format.

All formats end here so the extractor sees one shape: NFKC-normalized text (non-breaking and
thin spaces become plain spaces, full-width digits become ASCII), ``\\n`` line ends, no control
characters except tabs (kept: they separate table cells), no trailing spaces and at most one
blank line in a row.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable

from worker.extraction.errors import ParseError
from worker.extraction.limits import MAX_LINE_CHARS, MAX_TEXT_CHARS

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_LINE_BREAKS = re.compile(r"\r\n|[\r\f\v\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f]")
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def looks_binary(data: bytes) -> bool:
    """True when the first KiB holds NUL bytes or many control bytes (and no UTF-16 BOM)."""
    head = data[:1024]
    if any(head.startswith(bom) for bom, _ in _BOMS[1:]):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(head) // 20


def decode_text(data: bytes, fallback: str | None = None) -> str:
    """Decode by BOM, then UTF-8, then ``fallback`` (a declared charset), then cp1252.

    Raises ``ParseError('encoding_error')`` when none fits or the result is binary noise.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec)
            except UnicodeDecodeError as e:
                raise ParseError("encoding_error", f"invalid {codec} text") from e
    if looks_binary(data):
        raise ParseError("encoding_error", "the document is binary, not text")
    codecs_to_try = ["utf-8", fallback, "cp1252"] if fallback else ["utf-8", "cp1252"]
    for codec in codecs_to_try:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    raise ParseError("encoding_error", "the text is neither UTF-8 nor a known 8-bit encoding")


def normalize_line(line: str) -> str:
    """NFKC, drop zero-width and control characters, cut overlong lines, strip the right end."""
    line = unicodedata.normalize("NFKC", line).translate(_ZERO_WIDTH)
    line = _CONTROL.sub("", line)
    return line[:MAX_LINE_CHARS].rstrip()


def split_lines(text: str) -> list[str]:
    """Split on every line-break convention (CRLF, CR, form feed, U+2028...)."""
    return _LINE_BREAKS.sub("\n", text).split("\n")


def finish(lines: Iterable[str]) -> str:
    """Normalize lines, squeeze blank runs to one, trim, and bound the total size."""
    out: list[str] = []
    size = 0
    for raw in lines:
        for line in split_lines(raw):
            line = normalize_line(line)
            if not line.strip():
                if out and out[-1]:
                    out.append("")
                continue
            size += len(line) + 1
            if size > MAX_TEXT_CHARS:
                return "\n".join(out).strip("\n")
            out.append(line)
    return "\n".join(out).strip("\n")

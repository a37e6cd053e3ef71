"""``parse_document``: bytes in, normalized text out, or a :class:`ParseError`.

The kind is chosen from the declared MIME type, then the file extension, then the content.
Two refinements keep real-world uploads working: binary signatures (``%PDF-``, a DOCX zip) win
over a declared text type, and the generic declarations ``text/plain`` and
``application/octet-stream`` are refined by the extension (``notes.md`` sent as ``text/plain``
is still Markdown).

Every library exception is translated here: callers only ever see ``ParseError``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from worker.extraction.document import ParsedDocument
from worker.extraction.docx_text import docx_to_lines, is_docx
from worker.extraction.errors import ParseError
from worker.extraction.html_text import html_to_lines
from worker.extraction.limits import MAX_INPUT_BYTES
from worker.extraction.markdown_text import markdown_to_lines
from worker.extraction.pdfium_text import pdf_pages
from worker.extraction.textnorm import (
    decode_text,
    finish,
    looks_binary,
    normalize_line,
    split_lines,
)

__all__ = ["ParseError", "ParsedDocument", "detect_kind", "parse_document"]

PAGE_MARK = "\x00page\x00"
"""A line ``_pdf`` puts between pages; it never survives into the text."""

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MIME_KINDS: dict[str, str] = {
    "text/plain": "text",
    "text/csv": "text",
    "text/tab-separated-values": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    DOCX_MIME: "docx",
}
EXTENSION_KINDS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".csv": "text",
    ".tsv": "text",
    ".log": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
GENERIC_MIMES = frozenset(
    {"", "text/plain", "application/octet-stream", "binary/octet-stream", "application/unknown"}
)
_HTML_SNIFF = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", re.I)


def _binary_kind(data: bytes) -> str | None:
    """``pdf``/``docx`` by signature: these formats are unambiguous whatever was declared."""
    head = data[:1024]
    if head.lstrip().startswith(b"%PDF-") or (b"%PDF-" in head and looks_binary(data)):
        return "pdf"
    if is_docx(data):
        return "docx"
    return None


def _sniff(data: bytes) -> str:
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    if _HTML_SNIFF.match(head):
        return "html"
    if data.startswith(b"PK\x03\x04") or looks_binary(data):
        raise ParseError("unsupported_type", "the document is neither text, HTML, PDF nor DOCX")
    return "text"


def detect_kind(filename: str, mime_type: str | None, data: bytes) -> str:
    """Pick the parser: binary signature, declared MIME type, extension, then sniffing."""
    signature = _binary_kind(data)
    if signature:
        return signature
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    if mime in MIME_KINDS and mime not in GENERIC_MIMES:
        return MIME_KINDS[mime]
    ext = os.path.splitext(filename or "")[1].lower()
    if ext in EXTENSION_KINDS:
        return EXTENSION_KINDS[ext]  # a .pdf/.docx without its signature fails as corrupt
    if mime.startswith("text/"):
        return "text"
    return _sniff(data)


def _text(data: bytes) -> tuple[list[str], int | None]:
    return split_lines(decode_text(data)), None


def _markdown(data: bytes) -> tuple[list[str], int | None]:
    return markdown_to_lines("\n".join(split_lines(decode_text(data)))), None


def _html(data: bytes) -> tuple[list[str], int | None]:
    declared = _META_CHARSET.search(data[:4096])
    charset = declared.group(1).decode("ascii") if declared else None
    return html_to_lines(decode_text(data, fallback=charset)), None


def _pdf(data: bytes) -> tuple[list[str], int | None]:
    texts, pages = pdf_pages(data)
    # A form feed marks each page start; finish() keeps it as a line of its own only long
    # enough for parse_document to record where pages start (then it is removed).
    return [line for i, text in enumerate(texts)
            for line in ([PAGE_MARK] if i else []) + split_lines(text)], pages


def _docx(data: bytes) -> tuple[list[str], int | None]:
    return docx_to_lines(data), None


PARSERS: dict[str, Callable[[bytes], tuple[list[str], int | None]]] = {
    "text": _text,
    "markdown": _markdown,
    "html": _html,
    "pdf": _pdf,
    "docx": _docx,
}


def _is_time_limit(exc: BaseException) -> bool:
    # Celery's soft time limit is raised inside whatever runs; it must reach the task, not
    # become "corrupt_document". Matched by name so this package does not import Celery.
    return type(exc).__name__ in ("SoftTimeLimitExceeded", "TimeLimitExceeded")


def parse_document(filename: str, mime_type: str | None, data: bytes) -> ParsedDocument:
    """Parse one document into :class:`ParsedDocument`; raise :class:`ParseError` on failure."""
    if len(data) > MAX_INPUT_BYTES:
        raise ParseError("document_too_large", f"the document is over {MAX_INPUT_BYTES} bytes")
    if not data.strip():
        raise ParseError("empty_document", "the document is empty")
    kind = "document"
    try:
        kind = detect_kind(filename, mime_type, data)
        lines, pages = PARSERS[kind](data)
    except ParseError:
        raise
    except Exception as e:  # the boundary: every library failure becomes a ParseError
        if _is_time_limit(e):
            raise
        detail = str(e)[:200] or type(e).__name__
        raise ParseError("corrupt_document", f"cannot read the {kind}: {detail}") from e
    page_lines: tuple[int, ...] | None = None
    if kind == "pdf":
        lines, page_lines = _page_starts(lines)
    text = finish(lines)
    if not text:
        raise ParseError("empty_document", f"the {kind} document has no extractable text")
    if page_lines is not None:
        page_lines = _finished_page_lines(text, page_lines)
    return ParsedDocument(text=text, kind=kind, pages=pages, page_lines=page_lines)


def _page_starts(lines: list[str]) -> tuple[list[str], tuple[int, ...]]:
    """The lines without page marks, and per page the number of non-blank lines before it
    (``finish`` drops and squeezes blank lines only, so that count locates the page later)."""
    out: list[str] = []
    before = [0]
    nonblank = 0
    for line in lines:
        if line == PAGE_MARK:
            before.append(nonblank)
            out.append("")  # pages stay apart by a blank line
            continue
        out.append(line)
        nonblank += bool(normalize_line(line).strip())
    return out, tuple(before)


def _finished_page_lines(text: str, before: tuple[int, ...]) -> tuple[int, ...]:
    """1-based line numbers in the finished text where each page starts (pages past the
    size cut, or without text, start where the next text does)."""
    starts: list[int] = []
    nonblank = 0
    lines = text.split("\n")
    k = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        while k < len(before) and before[k] <= nonblank:
            starts.append(number)
            k += 1
        nonblank += 1
    starts += [len(lines)] * (len(before) - len(starts))
    return tuple(starts)

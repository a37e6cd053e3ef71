"""PDF text layer via pypdf (layout mode, so columns stay apart).

Only the text layer is read: a scanned PDF without one comes out empty and the caller answers
``empty_document`` (OCR is out of scope). Encrypted PDFs are opened with the empty password
(the usual "no copy" protection); any other password answers ``encrypted_document``.
"""

from __future__ import annotations

import io
import warnings

from pypdf import PageObject, PdfReader

from worker.extraction.errors import ParseError
from worker.extraction.limits import MAX_PDF_PAGES, MAX_TEXT_CHARS


def _open(data: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception as e:  # pypdf raises many types; the answer is the same
            raise ParseError("encrypted_document", "the PDF is encrypted") from e
        if not opened:
            raise ParseError("encrypted_document", "the PDF needs a password")
    return reader


def _page_text(page: PageObject) -> str:
    """Layout mode keeps the horizontal gaps between label and value columns (which the
    extractor reads as cell boundaries); plain mode is the fallback for pages it cannot lay out.
    """
    try:
        text = page.extract_text(extraction_mode="layout")
    except Exception:  # layout mode is stricter about fonts; plain mode still reads the text
        text = ""
    return text or page.extract_text(extraction_mode="plain") or ""


def pdf_to_text(data: bytes) -> tuple[str, int]:
    """Return the text of every page (pages separated by a blank line) and the page count.

    A page whose content stream is damaged is skipped, so one bad page does not lose the
    others; when no page could be read at all the document is ``corrupt_document``.
    """
    if b"%PDF-" not in data[:1024]:
        raise ParseError("corrupt_document", "no %PDF header")
    with warnings.catch_warnings():
        # pypdf warns about recoverable damage; that must not fail a document (or a test run
        # with filterwarnings=error): unrecoverable damage still raises.
        warnings.simplefilter("ignore")
        reader = _open(data)
        pages = len(reader.pages)
        texts: list[str] = []
        failed: Exception | None = None
        size = 0
        for index, page in enumerate(reader.pages):
            if index >= MAX_PDF_PAGES or size > MAX_TEXT_CHARS:
                break
            try:
                text = _page_text(page)
            except Exception as e:  # a damaged page: keep the others
                failed = e
                continue
            size += len(text)
            texts.append(text)
    if failed is not None and not any(t.strip() for t in texts):
        raise ParseError("corrupt_document", f"no page of the PDF could be read: {failed}"[:300])
    return "\n\n".join(texts), pages

"""PDF text layer via PDFium (``pypdfium2``), with the page's layout rebuilt from text runs.

PDFium reports each run of text with its rectangle. Runs are grouped into lines by their
vertical position and ordered left to right; a wide horizontal gap between two runs becomes
three or more spaces (proportional to the gap), which the extractor reads as a cell
boundary (``Subtotal      1,234.00``), and a wide vertical gap becomes a blank line. So a
label column and a value column stay apart, as pypdf's layout mode kept them, at a fraction of
its cost (see ``bench/pdf_engines.py``).

Only the text layer is read: a scanned PDF without one comes out empty and the caller answers
``empty_document`` (OCR is out of scope). Encrypted PDFs are opened with the empty password
(the usual "no copy" protection); any other password answers ``encrypted_document``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pypdfium2 as pdfium

from worker.extraction.errors import ParseError
from worker.extraction.limits import MAX_LINE_CHARS, MAX_PDF_PAGES, MAX_TEXT_CHARS

_WIDE_GAP = 1.5
"""A gap wider than this many character widths separates two cells."""
_BLANK_LINE = 2.6
"""A step between baselines of more than this many line heights leaves a blank line."""
_MAX_RUNS = 200_000
"""Text runs read per page at most (a crafted page of millions of runs stops here)."""


@dataclass(frozen=True, slots=True)
class _Run:
    left: float
    bottom: float
    right: float
    top: float
    text: str

    @property
    def height(self) -> float:
        return max(1.0, self.top - self.bottom)

    @property
    def char_width(self) -> float:
        n = len(self.text.strip()) or 1
        return max(1.0, (self.right - self.left) / n)


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            try:
                return pdfium.PdfDocument(data, password="")
            except pdfium.PdfiumError:
                raise ParseError("encrypted_document", "the PDF needs a password") from e
        raise


def _runs(page: pdfium.PdfPage) -> list[_Run]:
    textpage = page.get_textpage()
    try:
        runs: list[_Run] = []
        for i in range(min(textpage.count_rects(), _MAX_RUNS)):
            left, bottom, right, top = textpage.get_rect(i)
            text = textpage.get_text_bounded(left, bottom, right, top)
            text = text.replace("\r", " ").replace("\n", " ")
            if text.strip():
                runs.append(_Run(left, bottom, right, top, text))
        return runs
    finally:
        textpage.close()


def _lines(runs: list[_Run]) -> list[list[_Run]]:
    """Runs grouped into lines: top to bottom, a run joins a line its vertical centre lies in."""
    lines: list[list[_Run]] = []
    for run in sorted(runs, key=lambda r: (-(r.top + r.bottom) / 2, r.left)):
        centre = (run.top + run.bottom) / 2
        if lines:
            last = lines[-1][0]
            if last.bottom - 0.5 <= centre <= last.top + 0.5:
                lines[-1].append(run)
                continue
        lines.append([run])
    return [sorted(line, key=lambda r: r.left) for line in lines]


def _render(line: list[_Run]) -> str:
    out = ""
    previous: _Run | None = None
    for run in line:
        if previous is not None:
            width = min(previous.char_width, run.char_width)
            gap = run.left - previous.right
            if gap > _WIDE_GAP * width:
                out = out.rstrip() + " " * max(3, round(gap / width))
            elif not out.endswith(" ") and not run.text.startswith(" "):
                out += " "
        out += run.text
        previous = run
        if len(out) > MAX_LINE_CHARS:
            break
    return out.rstrip()


def page_text(page: pdfium.PdfPage) -> str:
    """One page's text, lines top to bottom, columns kept apart by runs of spaces."""
    out: list[str] = []
    previous: _Run | None = None
    for line in _lines(_runs(page)):
        head = line[0]
        if previous is not None:
            step = (previous.top + previous.bottom - head.top - head.bottom) / 2
            if step > _BLANK_LINE * max(previous.height, head.height):
                out.append("")
        out.append(_render(line))
        previous = head
    return "\n".join(out)


def pdf_pages(data: bytes) -> tuple[list[str], int]:
    """The text of each page read (at most :data:`MAX_PDF_PAGES`) and the page count.

    A page PDFium cannot load is skipped, so one bad page does not lose the others; when no
    page could be read at all the document is ``corrupt_document``.
    """
    if b"%PDF-" not in data[:1024]:
        raise ParseError("corrupt_document", "no %PDF header")
    doc = _open(data)
    try:
        count = len(doc)
        texts: list[str] = []
        failed: Exception | None = None
        size = 0
        for index in range(min(count, MAX_PDF_PAGES)):
            if size > MAX_TEXT_CHARS:
                break
            try:
                page = doc[index]
                try:
                    text = page_text(page)
                finally:
                    page.close()
            except pdfium.PdfiumError as e:  # a damaged page: keep the others
                failed = e
                continue
            size += len(text)
            texts.append(text)
    finally:
        doc.close()
    if failed is not None and not any(t.strip() for t in texts):
        raise ParseError("corrupt_document", f"no page of the PDF could be read: {failed}"[:300])
    return texts, count

"""DOCX (Office Open XML) to lines with zipfile and ElementTree, no extra dependency.

Paragraphs become lines (``<w:tab/>`` a tab, ``<w:br/>`` a line break), tables go through
:func:`worker.extraction.tables.format_table`. The XML is read with a size cap (zip bombs) and
refused when it declares a DTD (entity expansion), which a real DOCX never does.
"""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree as ET

from worker.extraction.errors import ParseError
from worker.extraction.limits import MAX_XML_BYTES
from worker.extraction.tables import format_table

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCUMENT = "word/document.xml"


def is_docx(data: bytes) -> bool:
    """True for a zip archive holding ``word/document.xml``."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return _DOCUMENT in zf.namelist()
    except Exception:  # any damage: not a DOCX we can read, the sniffing goes on
        return False


def _read_xml(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        try:
            info = zf.getinfo(_DOCUMENT)
        except KeyError as e:
            raise ParseError("corrupt_document", "the DOCX has no word/document.xml") from e
        if info.file_size > MAX_XML_BYTES:
            raise ParseError("document_too_large", "the DOCX text part is too large")
        with zf.open(info) as fh:
            xml = fh.read(MAX_XML_BYTES + 1)
    if len(xml) > MAX_XML_BYTES:
        raise ParseError("document_too_large", "the DOCX text part is too large")
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise ParseError("corrupt_document", "the DOCX declares a DTD")
    return xml


def _paragraph(p: ET.Element) -> str:
    parts: list[str] = []
    for el in p.iter():
        if el.tag == _W + "t" and el.text:
            parts.append(el.text)
        elif el.tag == _W + "tab":
            parts.append("\t")
        elif el.tag in (_W + "br", _W + "cr"):
            parts.append("\n")
    return "".join(parts)


def _table(tbl: ET.Element) -> list[str]:
    rows: list[list[str]] = []
    header = False
    for index, tr in enumerate(tbl.findall(_W + "tr")):
        if index == 0:
            header = tr.find(f"{_W}trPr/{_W}tblHeader") is not None
        cells = [
            " ".join(_paragraph(p) for p in tc.iter(_W + "p")) for tc in tr.findall(_W + "tc")
        ]
        rows.append(cells)
    return format_table(rows, header=header or len(rows) == 2, min_across_columns=3)


def docx_to_lines(data: bytes) -> list[str]:
    """Return the body's paragraphs and tables as lines, in document order."""
    root = ET.fromstring(_read_xml(data))
    body = root.find(_W + "body")
    if body is None:
        raise ParseError("corrupt_document", "the DOCX has no body")
    lines: list[str] = []
    pending = list(body)
    pending.reverse()
    while pending:  # an explicit stack: content controls nest, recursion would not be bounded
        el = pending.pop()
        if el.tag == _W + "p":
            lines.append(_paragraph(el))
        elif el.tag == _W + "tbl":
            lines.extend(["", *_table(el), ""])
        elif el.tag in (_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "smartTag"):
            pending.extend(reversed(list(el)))
    return lines

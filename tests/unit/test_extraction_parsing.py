"""parse_document: every format, type detection, normalization and every failure code."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.extraction import ParsedDocument, ParseError, parse_document
from worker.extraction.parsing import detect_kind

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def parse(name: str, data: str | bytes, mime: str | None = None) -> ParsedDocument:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return parse_document(name, mime, raw)


def error_code(name: str, data: bytes, mime: str | None = None) -> str:
    with pytest.raises(ParseError) as info:
        parse_document(name, mime, data)
    assert info.value.message and not info.value.retryable
    return info.value.code


# ------------------------------------------------------------------------------ text
def test_plain_text_is_normalized() -> None:
    doc = parse("a.txt", "Invoice:\u00a0INV-1\r\nTotal:\t$5   \r\n\n\n\nZero\u200bwidth\x07\n")
    assert doc.kind == "text" and doc.pages is None
    assert doc.text == "Invoice: INV-1\nTotal:\t$5\n\nZerowidth"


def test_text_decodes_bom_utf16_and_cp1252() -> None:
    assert parse("a.txt", "\ufeffTotal: €5".encode("utf-16")).text == "Total: €5"
    assert parse("a.txt", "Total: €5".encode("cp1252")).text == "Total: €5"
    assert parse("a.txt", b"\xef\xbb\xbfName: Zo\xc3\xab").text == "Name: Zoë"


def test_nfkc_turns_fullwidth_digits_and_ligatures_to_ascii() -> None:
    assert parse("a.txt", "Total：１２３ ﬁle").text == "Total:123 file"


# ------------------------------------------------------------------------------ markdown
def test_markdown_strips_markup_and_keeps_key_value_tables() -> None:
    source = """# Invoice **ACME**

> **Invoice No:** INV-1
- *Date*: 2024-01-02
1. See [the terms](https://x.example/terms) and `code`

| Field | Value |
|-------|-------|
| Total | $5.00 |
| Vendor | Acme \\| Co |

Setext heading
--------------
"""
    lines = parse("a.md", source).text.split("\n")
    assert lines[0] == "Invoice ACME"
    assert "Invoice No: INV-1" in lines
    assert "Date: 2024-01-02" in lines
    assert "See the terms and code" in lines
    assert "Total: $5.00" in lines
    assert "Vendor: Acme | Co" in lines
    assert not any(line.startswith(("#", "|", "---")) for line in lines)


def test_markdown_single_row_wide_table_reads_across() -> None:
    source = "| Invoice ID | Date | Total |\n|---|---|---|\n| CN-1 | 2024-07-01 | €9 |\n"
    assert parse("a.md", source).text.split("\n") == [
        "Invoice ID: CN-1", "Date: 2024-07-01", "Total: €9"]


def test_markdown_line_item_tables_keep_their_cells() -> None:
    source = "| Item | Qty | Price |\n|---|---|---|\n| Pen | 2 | $1 |\n| Ink | 1 | $3 |\n"
    assert parse("a.md", source).text.split("\n") == [
        "Item | Qty | Price", "Pen | 2 | $1", "Ink | 1 | $3"]


def test_markdown_code_fences_keep_their_content_verbatim() -> None:
    assert parse("a.md", "```\nsnake_case: *x*\n```\n").text == "snake_case: *x*"


# ------------------------------------------------------------------------------ html
def test_html_visible_text_only() -> None:
    source = """<!doctype html><html><head><title>Secret title</title>
<style>p { color: red }</style><script>var total = "$999";</script></head>
<body><h1>Invoice</h1><p>Invoice No: <b>INV-7</b></p>
<div hidden>Hidden: 1</div><p style="display: none">Total: $1</p>
<span style="visibility:hidden">ghost</span>
<noscript>Enable JS</noscript><template><p>Total: $2</p></template>
<p>Line one<br>Line &amp; two</p></body></html>"""
    lines = parse("a.html", source).text.split("\n")
    assert lines == ["Invoice", "Invoice No: INV-7", "Line one", "Line & two"]


def test_html_two_cell_rows_become_label_value_lines() -> None:
    source = """<table>
<tr><th>Invoice #</th><td>ND-1</td></tr>
<tr><td><strong>Grand Total</strong></td><td></td><td>1.606,50 &euro;</td></tr>
<tr><td>Item</td><td>Qty</td><td>Amount</td></tr></table>"""
    assert parse("a.htm", source).text.split("\n") == [
        "Invoice #: ND-1", "Grand Total: 1.606,50 €", "Item | Qty | Amount"]


def test_html_header_row_and_one_data_row_read_across() -> None:
    source = ("<table><tr><th>Invoice No</th><th>Due</th></tr>"
              "<tr><td>PO-5</td><td>2024-02-14</td></tr></table>")
    assert parse("a.html", source).text.split("\n") == ["Invoice No: PO-5", "Due: 2024-02-14"]


def test_html_definition_lists_and_nested_tables() -> None:
    source = """<dl><dt>Invoice Date</dt><dd>15 August 2024</dd></dl>
<table><tr><td>Layout<table><tr><td>Total</td><td>$5</td></tr></table></td></tr></table>"""
    lines = parse("a.html", source).text.split("\n")
    assert lines[0] == "Invoice Date: 15 August 2024"
    assert "Total: $5" in lines


def test_html_charset_from_meta_is_honoured() -> None:
    data = '<html><head><meta charset="iso-8859-2"></head><body>Łódź</body></html>'
    assert parse("a.html", data.encode("iso-8859-2")).text == "Łódź"


def test_deeply_nested_html_does_not_recurse() -> None:
    data = b"<div>" * 50_000 + b"Total: 5" + b"</div>" * 50_000
    assert parse("a.html", data).text == "Total: 5"


# ------------------------------------------------------------------------------ pdf
def test_sample_pdf_text_layer() -> None:
    doc = parse("x.pdf", (SAMPLES / "invoices" / "inv-04-pacific-freight.pdf").read_bytes())
    assert doc.kind == "pdf" and doc.pages == 1
    assert "PACIFIC FREIGHT CO." in doc.text
    invoice_line = next(line for line in doc.text.split("\n") if line.startswith("Invoice No"))
    assert invoice_line.split() == ["Invoice", "No", "PF-88213"]
    assert "   " in invoice_line  # the column gap survives: layout mode
    assert "USD 4,515.23" in doc.text


def test_multi_page_pdf_counts_pages_and_keeps_order() -> None:
    doc = parse("x.pdf", (SAMPLES / "invoices" / "inv-24-granite-construction.pdf").read_bytes())
    assert doc.pages == 2
    assert doc.text.index("Site preparation") < doc.text.index("Total Due")


def test_every_sample_pdf_has_text_with_currency_symbols() -> None:
    pdfs = sorted((SAMPLES / "invoices").glob("*.pdf"))
    assert len(pdfs) >= 8
    texts = [parse(p.name, p.read_bytes()).text for p in pdfs]
    assert all("Invoice" in t or "INVOICE" in t for t in texts)
    assert any("¥" in t for t in texts) and any("CHF" in t for t in texts)


def test_corrupt_pdf_is_corrupt_document() -> None:
    data = (SAMPLES / "bad" / "corrupt.pdf").read_bytes()
    assert error_code("corrupt.pdf", data, "application/pdf") == "corrupt_document"


def test_pdf_without_text_layer_is_empty_document() -> None:
    data = (SAMPLES / "bad" / "no_text.pdf").read_bytes()
    assert error_code("scan.pdf", data) == "empty_document"


def test_declared_pdf_that_is_not_a_pdf_is_corrupt() -> None:
    assert error_code("a.pdf", b"hello, not a pdf", "application/pdf") == "corrupt_document"


# ------------------------------------------------------------------------------ docx
def _docx(body: str) -> bytes:
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    xml = f'<?xml version="1.0"?><w:document {ns}><w:body>{body}</w:body></w:document>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", xml)
    return buffer.getvalue()


def test_docx_paragraphs_and_tables() -> None:
    body = (
        "<w:p><w:r><w:t>Invoice No:</w:t><w:tab/><w:t>D-1</w:t></w:r></w:p>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Total</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>$5</w:t></w:r></w:p></w:tc></w:tr>"
        "<w:tr><w:tc><w:p><w:r><w:t>Paid</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>yes</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    )
    doc = parse("a.docx", _docx(body))
    assert doc.kind == "docx"
    assert doc.text.split("\n") == ["Invoice No:\tD-1", "", "Total: $5", "Paid: yes"]


def test_docx_with_a_dtd_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:  # the shape of an entity-expansion bomb
        zf.writestr("word/document.xml", '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    assert error_code("a.docx", buffer.getvalue()) == "corrupt_document"


def test_zip_without_word_document_is_not_docx() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("other.txt", "Total: 5")
    assert error_code("a.docx", buffer.getvalue()) == "corrupt_document"


# ------------------------------------------------------------------------------ detection
@pytest.mark.parametrize(
    ("name", "mime", "data", "kind"),
    [
        ("a.bin", "text/markdown", b"# x", "markdown"),
        ("notes.md", "text/plain", b"# x", "markdown"),  # generic MIME refined by extension
        ("a.html", None, b"<p>x</p>", "html"),
        ("upload", None, b"  <!DOCTYPE html><p>x</p>", "html"),
        ("upload", "application/octet-stream", b"%PDF-1.4 ...", "pdf"),
        ("report.txt", "text/plain", b"%PDF-1.7\n...", "pdf"),  # a signature wins
        ("upload", None, b"Total: 5", "text"),
        ("data.json", "application/json", b'{"a": 1}', "text"),
    ],
)
def test_detect_kind(name: str, mime: str | None, data: bytes, kind: str) -> None:
    assert detect_kind(name, mime, data) == kind


def test_unknown_binary_is_unsupported_type() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert error_code("image.png", png, "image/png") == "unsupported_type"
    assert error_code("blob", b"PK\x03\x04" + bytes(100)) == "unsupported_type"


@pytest.mark.parametrize("data", [b"", b"   \n\t  ", b"<html><script>x()</script></html>"])
def test_empty_documents(data: bytes) -> None:
    name = "a.html" if data.startswith(b"<") else "a.txt"
    assert error_code(name, data) == "empty_document"


def test_binary_declared_as_text_is_an_encoding_error() -> None:
    assert error_code("a.txt", b"\x00\x01\x02\x03binary\x00" * 10, "text/plain") == (
        "encoding_error"
    )


def test_parse_error_round_trips_through_pickle() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(ParseError("corrupt_document", "bad")))
    assert (err.code, err.message) == ("corrupt_document", "bad")


# ------------------------------------------------------------------------------ model
def test_parsed_document_json_round_trip() -> None:
    doc = parse("x.pdf", (SAMPLES / "invoices" / "inv-08-sakura-tea.pdf").read_bytes())
    again = ParsedDocument.from_dict(json.loads(json.dumps(doc.to_dict())))
    assert again == doc
    with pytest.raises(ValueError):
        ParsedDocument.from_dict({"text": "x", "kind": "exe"})
    with pytest.raises(ValueError):
        ParsedDocument.from_dict({"text": "x", "kind": "pdf", "pages": "2"})


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["a.txt", "a.pdf", "a.html", "a.md", "a.docx",
                                                  "blob"]))
def test_hostile_bytes_only_ever_raise_parse_error(data: bytes, name: str) -> None:
    try:
        doc = parse_document(name, None, data)
    except ParseError:
        return
    assert doc.text.strip()


def test_damaged_pdfs_fail_cleanly_or_keep_readable_pages() -> None:
    import random

    base = (SAMPLES / "invoices" / "inv-24-granite-construction.pdf").read_bytes()
    rng = random.Random(20240914)
    outcomes: set[str] = set()
    for _ in range(40):
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        try:
            doc = parse_document("x.pdf", None, bytes(data))
        except ParseError as e:
            outcomes.add(e.code)
        else:
            outcomes.add("ok")
            assert doc.pages is not None and doc.text.strip()
    assert outcomes <= {"ok", "corrupt_document", "empty_document"}
    assert "ok" in outcomes


def _pdf_with_page_resources(resources: bytes, content: bytes = b"") -> bytes:
    """A one-page PDF whose page carries ``resources`` and ``content`` (xref exact)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources " + resources + b" >>",
               b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return out


def test_a_deeply_nested_pdf_logs_almost_nothing(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """Hostile input: a 900 KB dictionary nested 100,000 deep made pypdf write 22,120
    warning lines for one document. What one document can log is bounded (PDFium reads it
    silently): a handful of records at most, nothing on stderr."""
    depth = 100_000
    data = _pdf_with_page_resources(b"<< /X " + b"<< /A " * depth + b">>" * depth + b" >>")
    assert len(data) > 800_000
    with caplog.at_level("DEBUG"):
        code = error_code("deep.pdf", data)
    assert code in {"empty_document", "corrupt_document"}
    assert len(caplog.records) <= 5
    assert len(capfd.readouterr().err.splitlines()) <= 5


def test_a_long_run_of_text_operators_is_read() -> None:
    """The other crafted PDF of the review: one content stream of 60,000 text operators
    (pypdf took seconds per such page; PDFium's cost is in bench/pdf_engines.py)."""
    ops = b"BT /F1 11 Tf 72 700 Td " + b"(a) Tj 0 0 Td " * 60_000 + b"ET"
    font = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    doc = parse_document("ops.pdf", None, _pdf_with_page_resources(font, ops))
    assert doc.kind == "pdf" and doc.pages == 1 and doc.text.strip()


def test_pdf_pages_are_recorded_for_provenance() -> None:
    doc = parse("p.pdf", (SAMPLES / "invoices" / "inv-12-atlas-tools.pdf").read_bytes())
    assert doc.page_lines is not None and doc.page_lines[0] == 1
    assert len(doc.page_lines) == doc.pages
    again = ParsedDocument.from_dict(json.loads(json.dumps(doc.to_dict())))
    assert again == doc and again.page_of(len(doc.lines)) == doc.pages

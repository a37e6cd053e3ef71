"""PDF text engines compared on speed and on extraction accuracy (the choice of ``pypdfium2``).

    python bench/pdf_engines.py [--repeat 3]

For every PDF of the sample sets it times text extraction with pypdf (layout mode, the
engine used before) and with PDFium (``worker.extraction.pdfium_text``), then runs the
built-in extractor on each text and scores the cells against the set's ground truth. pypdf is
a bench-only dependency now (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.accuracy import DEFAULT_SETS, Tally, load_set  # noqa: E402
from worker.extraction import ParsedDocument, get_extractor  # noqa: E402
from worker.extraction.pdfium_text import pdf_pages  # noqa: E402
from worker.extraction.textnorm import finish, split_lines  # noqa: E402


def pypdf_text(data: bytes) -> str:
    """The previous engine: pypdf, layout mode, plain mode as the per-page fallback."""
    from pypdf import PdfReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = PdfReader(io.BytesIO(data), strict=False)
        texts = []
        for page in reader.pages:
            try:
                text = page.extract_text(extraction_mode="layout")
            except Exception:
                text = ""
            texts.append(text or page.extract_text(extraction_mode="plain") or "")
    return "\n\n".join(texts)


def pdfium_text(data: bytes) -> str:
    return "\n\n".join(pdf_pages(data)[0])


def ten_page_pdf() -> bytes:
    """A ten-page text PDF (40 lines a page, label and value columns), like a long bill."""
    sys.path.insert(0, str(ROOT / "samples"))
    from make_pdfs import PAGE_BREAK, build_pdf

    lines: list[object] = []
    for page in range(10):
        if page:
            lines.append(PAGE_BREAK)
        for row in range(40):
            lines.append([(72, f"Line {page * 40 + row + 1} description"),
                          (360, f"{(row + 1) * 3.25:,.2f}")])
    return build_pdf(lines)  # type: ignore[arg-type]


def time_ten_pages(engines: dict[str, Callable[[bytes], str]], repeat: int) -> None:
    data = ten_page_pdf()
    for name, engine in engines.items():
        started = time.perf_counter()
        for _ in range(repeat):
            engine(data)
        ms = 1000 * (time.perf_counter() - started) / repeat
        print(f"{name:<10} ten-page text PDF ({len(data)} bytes): {ms:8.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engines: dict[str, Callable[[bytes], str]] = {"pypdf": pypdf_text, "pypdfium2": pdfium_text}
    extractor = get_extractor("builtin")
    report: dict[str, dict[str, float]] = {}
    for name, engine in engines.items():
        tally, seconds, docs = Tally(), 0.0, 0
        for folder in DEFAULT_SETS:
            sample = load_set(ROOT / folder)
            for path in sample.files:
                if path.suffix != ".pdf":
                    continue
                data = path.read_bytes()
                started = time.perf_counter()
                for _ in range(args.repeat):
                    text = engine(data)
                seconds += (time.perf_counter() - started) / args.repeat
                docs += 1
                doc = ParsedDocument(text=finish(split_lines(text)), kind="pdf")
                cells = extractor.extract(doc, sample.schema.fields)
                for field, expected in sample.truth[path.name].items():
                    tally.add(cells[field].value, expected)
        t = tally.as_dict()
        report[name] = {"documents": docs, "ms_per_doc": round(1000 * seconds / docs, 2),
                        "precision": t["precision"], "recall": t["recall"]}
        print(f"{name:<10} {docs} PDFs  {report[name]['ms_per_doc']:8.2f} ms/doc  "
              f"precision {100 * t['precision']:6.2f}%  recall {100 * t['recall']:6.2f}%")
    time_ten_pages(engines, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

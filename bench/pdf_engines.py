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

from bench.accuracy import DEFAULT_SETS, Tally, load_set, values_equal  # noqa: E402
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
                    got = cells[field].value
                    tally.add(got, expected)
                    if got is not None and not values_equal(got, expected):
                        pass
        t = tally.as_dict()
        report[name] = {"documents": docs, "ms_per_doc": round(1000 * seconds / docs, 2),
                        "precision": t["precision"], "recall": t["recall"]}
        print(f"{name:<10} {docs} PDFs  {report[name]['ms_per_doc']:8.2f} ms/doc  "
              f"precision {100 * t['precision']:6.2f}%  recall {100 * t['recall']:6.2f}%")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

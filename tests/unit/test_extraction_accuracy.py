"""bench/accuracy.py: the scoring rules, and the accuracy gate on the committed samples."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_accuracy", ROOT / "bench" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_accuracy"] = module
    spec.loader.exec_module(module)
    return module


def test_score_counts_precision_and_recall(bench: ModuleType) -> None:
    truth = {
        "a.txt": {"n": 1.0, "s": "x", "c": {"amount": 5.0, "currency": "EUR"}, "b": None},
        "b.txt": {"n": 2.0, "s": None, "c": None, "b": True},
    }
    predicted = {
        "a.txt": {"n": 1.0000000001, "s": "x", "c": {"amount": 5.0, "currency": "USD"},
                  "b": False},
        "b.txt": {"n": None, "s": None, "c": None, "b": True},
    }
    report = bench.score(predicted, truth, {"n": "number", "s": "string", "c": "currency",
                                            "b": "boolean"})
    overall = report["overall"]
    # filled: n, s, c(wrong), b(false, truth null) in a; b in b -> 5 filled, 3 correct
    assert (overall["filled"], overall["filled_correct"]) == (5, 3)
    # truth cells: n, s, c in a; n, b in b -> 5, of which n(a), s(a), b(b) found
    assert (overall["truth_cells"], overall["truth_found"]) == (5, 3)
    assert overall["precision"] == 0.6 and overall["recall"] == 0.6
    assert report["by_type"]["currency"]["precision"] == 0.0
    assert report["by_field"]["s"]["recall"] == 1.0
    assert report["pass"] is False
    assert {(m["document"], m["field"]) for m in report["mismatches"]} == {
        ("a.txt", "c"), ("a.txt", "b"), ("b.txt", "n")}


def test_missing_documents_count_as_empty(bench: ModuleType) -> None:
    report = bench.score({}, {"a": {"x": 1, "y": None}})
    assert report["overall"]["recall"] == 0.0 and report["overall"]["filled"] == 0
    assert report["overall"]["precision"] == 1.0  # nothing filled, nothing wrong


def test_values_equal(bench: ModuleType) -> None:
    assert bench.values_equal(1, 1.0) and not bench.values_equal(True, 1)
    assert bench.values_equal("a  b", "a b") and not bench.values_equal("a", "A")
    assert not bench.values_equal({"amount": 1.0}, {"amount": 1.0, "currency": "EUR"})


def test_samples_meet_the_targets_in_direct_mode(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code = bench.main(["--direct", "--json", str(out)])  # the default sets
    report = json.loads(out.read_text())
    sets = report["sets"]
    assert list(sets)[0] == "generated-heldout"  # held-out first
    assert set(sets) == {"generated-heldout", "claims", "forms", "unseen", "holdout",
                         "invoices", "kinds", "everyday", "generated-tuning"}
    invoices = sets["invoices"]
    assert invoices["documents"] >= 32 and invoices["errors"] == []
    assert invoices["overall"]["precision"] >= bench.TARGET_PRECISION
    assert invoices["overall"]["recall"] >= bench.TARGET_RECALL
    assert code == 0
    for name, report_ in sets.items():  # a wrong fill anywhere is a real bug
        assert report_["errors"] == [], name
        assert report_["overall"]["precision"] >= bench.TARGET_PRECISION, name
        assert report_["calibration"]["ece"] <= bench.ECE_TARGET, name
        assert report_["speed"]["extract_ms_per_doc"] > 0, name
    # the targets on the held-out half and the hand-written sets that meet them
    for name in ("generated-heldout", "holdout", "forms", "unseen"):
        assert sets[name]["overall"]["recall"] >= 0.85, name
    heldout = sets["generated-heldout"]
    assert heldout["documents"] >= 150
    assert heldout["by_type"]["integer"]["recall"] >= 0.80
    assert heldout["by_type"]["boolean"]["recall"] >= 0.80
    # a floor under what is measured, not the target (0.80, missed; docs/extraction.md)
    assert sets["claims"]["overall"]["recall"] >= 0.75
    assert sets["kinds"]["overall"]["recall"] >= 0.85  # written for the lexicon: tuned on
    assert sets["everyday"]["documents"] >= 16  # everyday bills and receipts: tuned on
    assert sets["everyday"]["overall"]["recall"] >= 0.90


def test_generated_sets_are_split_and_complete() -> None:
    """>= 300 documents: four kinds, four formats, two halves with disjoint wordings."""
    base = ROOT / "samples" / "generated"
    vocabulary = json.loads((base / "vocabulary.json").read_text())
    total = 0
    for half in ("tuning", "heldout"):
        truth = json.loads((base / half / "ground_truth.json").read_text())
        total += len(truth)
        suffixes = {Path(name).suffix for name in truth}
        assert suffixes == {".txt", ".md", ".html", ".pdf"}
        kinds = {name.split("-")[2] for name in truth}
        assert kinds == {"invoice", "receipt", "purchase", "statement"}
        assert all((base / half / name).is_file() for name in truth)
    assert total >= 300
    for field, words in vocabulary["labels"].items():
        assert not set(words["tuning"]) & set(words["heldout"]), field
        if len(words["tuning"]) >= 10:
            assert len(words["tuning"]) + len(words["heldout"]) >= 20, field


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    path = ROOT / "samples" / "generate.py"
    spec = importlib.util.spec_from_file_location("samples_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["samples_generate"] = module
    spec.loader.exec_module(module)
    module.OUT = tmp_path
    (tmp_path / "vocabulary.json").write_text(
        (ROOT / "samples" / "generated" / "vocabulary.json").read_text())
    module.write_half("heldout", 12, module.SEED)
    committed = ROOT / "samples" / "generated" / "heldout"
    for path in sorted((tmp_path / "heldout").glob("h-*")):
        assert path.read_bytes() == (committed / path.name).read_bytes(), path.name


@pytest.mark.parametrize(
    ("folder", "documents", "per_text_kind", "pdfs"),
    [("invoices", 32, 4, 8), ("unseen", 12, 3, 2), ("claims", 8, 2, 2)],
)
def test_sample_set_is_well_formed(folder: str, documents: int, per_text_kind: int,
                                   pdfs: int) -> None:
    path = ROOT / "samples" / folder
    truth = json.loads((path / "ground_truth.json").read_text())
    schema = json.loads((path / "schema.json").read_text())
    names = {f["name"] for f in schema["fields"]}
    kinds = {f["type"] for f in schema["fields"]}
    assert kinds >= {"string", "number", "integer", "boolean", "date", "email", "currency",
                     "enum"}
    assert any(f.get("aliases") for f in schema["fields"])
    assert any(f.get("pattern") for f in schema["fields"])
    assert len(truth) >= documents and all(set(row) == names for row in truth.values())
    suffixes = [Path(name).suffix for name in truth]
    assert all(suffixes.count(s) >= per_text_kind for s in (".txt", ".md", ".html"))
    assert suffixes.count(".pdf") >= pdfs
    assert all((path / name).is_file() for name in truth)
    assert any(v is None for row in truth.values() for v in row.values())


def test_forms_set_is_well_formed() -> None:
    """Purchase orders, delivery notes, onboarding forms: every text kind and a PDF."""
    path = ROOT / "samples" / "forms"
    truth = json.loads((path / "ground_truth.json").read_text())
    names = {f["name"] for f in json.loads((path / "schema.json").read_text())["fields"]}
    assert len(truth) >= 8 and all(set(row) == names for row in truth.values())
    suffixes = [Path(name).suffix for name in truth]
    assert all(s in suffixes for s in (".txt", ".md", ".html", ".pdf"))
    assert all((path / name).is_file() for name in truth)


def test_pipeline_mode_against_a_fake_api(bench: ModuleType) -> None:
    """Submit, poll (through a 429 and a running status) and read the results rows."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from typing import Any

    folder = ROOT / "samples" / "holdout"
    truth = json.loads((folder / "ground_truth.json").read_text())
    seen: dict[str, Any] = {"polls": 0}

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            seen["api_key"] = self.headers.get("Api-Key")
            seen["job"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self._send(202, {"id": "job-1", "status": "queued"})

        def do_GET(self) -> None:  # noqa: N802
            if self.path.endswith("/status"):
                seen["polls"] += 1
                if seen["polls"] == 1:
                    self._send(429, {"error": {"code": "rate_limited"}}, {"retry-after": "0"})
                    return
                status = "in_progress" if seen["polls"] == 2 else "completed"
                self._send(200, {"id": "job-1", "status": status}, {"X-Poll-After": "0"})
                return
            rows = [{"document": {"index": i, "filename": name}, "status": "completed",
                     "values": values} for i, (name, values) in enumerate(truth.items())]
            self._send(200, {"job_id": "job-1", "rows": rows})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        client = bench.ApiClient(f"http://127.0.0.1:{httpd.server_address[1]}", "key-1")
        result = bench.predict_pipeline(bench.load_set(folder), client, 30)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert result.errors == [] and seen["api_key"] == "key-1" and seen["polls"] == 3
    submitted = seen["job"]
    assert submitted["schema"]["name"] == "Invoice"
    documents = {d["filename"]: d for d in submitted["documents"]}
    assert set(documents) == set(truth)
    pdf = next(d for name, d in documents.items() if name.endswith(".pdf"))
    assert pdf["mime_type"] == "application/pdf" and "content_base64" in pdf
    md = next(d for name, d in documents.items() if name.endswith(".md"))
    assert md["mime_type"] == "text/markdown" and "text" in md
    assert bench.score(result.values, truth)["overall"]["recall"] == 1.0

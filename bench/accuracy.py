"""Cell-level accuracy of the extraction engine on labelled sample sets.

    python bench/accuracy.py --direct                       # in-process: parse + builtin
    python bench/accuracy.py --url http://127.0.0.1:8000 --api-key KEY   # through the API
    python bench/accuracy.py --direct --json report.json    # also write the report as JSON

Each set is a folder with documents, ``schema.json`` (a SchemaIn) and ``ground_truth.json``
(``{filename: {field: expected value or null}}``). Default sets, held-out first:
``samples/generated/heldout`` (the generated half no rule is tuned against: held-out label
wordings and layouts), the hand-written ``claims``, ``forms``, ``unseen``, ``holdout`` and
``invoices``, ``kinds`` (claim documents of several kinds, written for the lexicon work,
so tuned on) and last ``samples/generated/tuning``. Every set is reported against the
targets of :data:`TARGETS`; the exit code is gated on :data:`GATED_SETS`.

Besides precision and recall (overall, per field type, per field) each report gives the
expected calibration error of the confidences (ECE, 10 bins), the precision of filled cells
above and below the dashboard's low-confidence threshold, and the milliseconds per document
spent parsing and extracting (direct mode).

Definitions (cells are document x field):

* precision = filled cells whose value equals the truth / filled cells
* recall    = non-null truth cells filled with the right value / non-null truth cells

A filled cell whose truth is null counts against precision; a document that failed to parse
counts as all-empty. Numbers compare with a 1e-6 relative tolerance, currency compares amount
and code. The exit code is 1 when a gated set misses a target.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import mimetypes
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from shared.models import SchemaIn  # noqa: E402
from shared.status import TERMINAL  # noqa: E402

TARGET_PRECISION = 0.98
TARGET_RECALL = 0.90
"""The historical gate of ``samples/invoices`` (kept: a target is never loosened)."""
TARGETS: dict[str, tuple[float, float]] = {
    "generated-heldout": (0.98, 0.85), "claims": (0.98, 0.80), "forms": (0.98, 0.85),
    "unseen": (0.98, 0.85), "holdout": (0.98, 0.85), "invoices": (0.98, 0.90),
    "generated-tuning": (0.98, 0.85), "kinds": (0.98, 0.85), "everyday": (0.98, 0.85),
}
"""(precision, recall) targets per set, from the issue that asked for generalisation."""
TYPE_RECALL_TARGETS = {"boolean": 0.80, "integer": 0.80}
"""Per-type recall targets on the held-out generated half."""
LOW_CONFIDENCE = 0.8
"""The dashboard's highlight threshold (``api.dashboard_grid.LOW_CONFIDENCE``)."""
ECE_TARGET = 0.10
DEFAULT_SETS = ("samples/generated/heldout", "samples/claims", "samples/forms",
                "samples/unseen", "samples/holdout", "samples/invoices",
                "samples/kinds", "samples/everyday", "samples/generated/tuning")
GATED_SETS = frozenset({"invoices", "generated-heldout", "holdout", "forms"})
SKIP_FILES = frozenset({"schema.json", "ground_truth.json"})
MIME_TYPES = {".md": "text/markdown", ".txt": "text/plain", ".html": "text/html",
              ".htm": "text/html", ".pdf": "application/pdf"}

Predictions = dict[str, dict[str, Any]]


@dataclass
class Run:
    """What one set's run produced: values, confidences, errors and time spent."""

    values: Predictions = field(default_factory=dict)
    confidence: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    parse_seconds: float = 0.0
    extract_seconds: float = 0.0
    pdf_parse_seconds: float = 0.0
Truth = Mapping[str, Mapping[str, Any]]


# ------------------------------------------------------------------------------ scoring
def values_equal(predicted: Any, expected: Any) -> bool:
    """Typed equality with float tolerance; currency dicts compare amount and code."""
    if isinstance(expected, bool) or isinstance(predicted, bool):
        return predicted is expected
    if isinstance(expected, (int, float)) and isinstance(predicted, (int, float)):
        return math.isclose(float(predicted), float(expected), rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(expected, Mapping) and isinstance(predicted, Mapping):
        return set(expected) == set(predicted) and all(
            values_equal(predicted[k], expected[k]) for k in expected
        )
    if isinstance(expected, str) and isinstance(predicted, str):
        return " ".join(predicted.split()) == " ".join(expected.split())
    return bool(predicted == expected)


@dataclass
class Tally:
    filled: int = 0
    filled_correct: int = 0
    truth_cells: int = 0
    truth_found: int = 0

    def add(self, predicted: Any, expected: Any) -> None:
        correct = predicted is not None and values_equal(predicted, expected)
        if predicted is not None:
            self.filled += 1
            self.filled_correct += correct
        if expected is not None:
            self.truth_cells += 1
            self.truth_found += correct

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.filled_correct / self.filled, 4) if self.filled else 1.0,
            "recall": round(self.truth_found / self.truth_cells, 4) if self.truth_cells else 1.0,
            "filled": self.filled,
            "filled_correct": self.filled_correct,
            "truth_cells": self.truth_cells,
            "truth_found": self.truth_found,
        }


@dataclass
class _Scorer:
    types: Mapping[str, str]
    overall: Tally = field(default_factory=Tally)
    by_type: dict[str, Tally] = field(default_factory=dict)
    by_field: dict[str, Tally] = field(default_factory=dict)
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    def cell(self, filename: str, name: str, predicted: Any, expected: Any) -> None:
        for tally in (
            self.overall,
            self.by_type.setdefault(self.types.get(name, "unknown"), Tally()),
            self.by_field.setdefault(name, Tally()),
        ):
            tally.add(predicted, expected)
        if not (predicted is None and expected is None) and not (
            predicted is not None and values_equal(predicted, expected)
        ):
            self.mismatches.append(
                {"document": filename, "field": name, "expected": expected,
                 "predicted": predicted}
            )


def calibration(
    predicted: Mapping[str, Mapping[str, Any]], confidence: Mapping[str, Mapping[str, float]],
    truth: Truth, threshold: float = LOW_CONFIDENCE, bins: int = 10,
) -> dict[str, Any]:
    """Expected calibration error over filled cells (confidence vs being right), and the
    precision of filled cells at or above / below ``threshold``."""
    cells: list[tuple[float, bool]] = []
    for filename, expected_row in truth.items():
        row = predicted.get(filename) or {}
        conf = confidence.get(filename) or {}
        for name, expected in expected_row.items():
            got = row.get(name)
            if got is not None:
                cells.append((float(conf.get(name) or 0.0), values_equal(got, expected)))
    ece = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [c for c in cells if lo <= c[0] < hi or (b == bins - 1 and c[0] == 1.0)]
        if inside:
            accuracy = sum(ok for _, ok in inside) / len(inside)
            mean = sum(c for c, _ in inside) / len(inside)
            ece += len(inside) / len(cells) * abs(accuracy - mean)
    high = [ok for c, ok in cells if c >= threshold]
    low = [ok for c, ok in cells if c < threshold]
    return {
        "ece": round(ece, 4), "filled": len(cells), "threshold": threshold,
        "above": {"cells": len(high), "precision": round(sum(high) / len(high), 4) if high
                  else None},
        "below": {"cells": len(low), "precision": round(sum(low) / len(low), 4) if low
                  else None},
    }


def score(
    predicted: Mapping[str, Mapping[str, Any]],
    truth: Truth,
    types: Mapping[str, str] | None = None,
    targets: tuple[float, float] = (TARGET_PRECISION, TARGET_RECALL),
) -> dict[str, Any]:
    """Precision and recall overall, per field type and per field, plus every mismatch.

    ``types`` maps field name to field type (for the per-type table); without it every field
    is of type ``unknown``. Documents missing from ``predicted`` count as all-empty.
    """
    scorer = _Scorer(types or {})
    for filename, expected_row in truth.items():
        row = predicted.get(filename) or {}
        for name, expected in expected_row.items():
            scorer.cell(filename, name, row.get(name), expected)
    overall = scorer.overall.as_dict()
    return {
        "overall": overall,
        "by_type": {k: v.as_dict() for k, v in sorted(scorer.by_type.items())},
        "by_field": {k: v.as_dict() for k, v in scorer.by_field.items()},
        "mismatches": scorer.mismatches,
        "documents": len(truth),
        "targets": {"precision": targets[0], "recall": targets[1]},
        "pass": overall["precision"] >= targets[0] and overall["recall"] >= targets[1],
    }


# ------------------------------------------------------------------------------ sets
@dataclass
class SampleSet:
    name: str
    folder: Path
    schema: SchemaIn
    truth: dict[str, dict[str, Any]]

    @property
    def files(self) -> list[Path]:
        return [self.folder / name for name in sorted(self.truth)]

    @property
    def types(self) -> dict[str, str]:
        return {f.name: str(f.type) for f in self.schema.fields}


def load_set(folder: Path) -> SampleSet:
    schema_path = folder / "schema.json"
    schema = SchemaIn.model_validate(json.loads(schema_path.read_text(encoding="utf-8")))
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    missing = [name for name in truth if not (folder / name).is_file()]
    if missing:
        raise SystemExit(f"{folder}: ground truth names missing files: {missing}")
    name = f"{folder.parent.name}-{folder.name}" if folder.parent.name == "generated" else (
        folder.name)
    return SampleSet(name, folder, schema, truth)


def mime_type(path: Path) -> str:
    return MIME_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or (
        "application/octet-stream"
    )


# ------------------------------------------------------------------------------ direct
def predict_direct(sample: SampleSet) -> Run:
    """Run parse_document + the builtin extractor in-process, timing each phase."""
    from worker.extraction import ParseError, get_extractor, parse_document

    extractor = get_extractor("builtin")
    run = Run()
    if sample.files:  # warm-up, not timed: imports, regex compilation, the schema's index
        first = sample.files[0]
        with contextlib.suppress(ParseError):
            extractor.extract(parse_document(first.name, mime_type(first), first.read_bytes()),
                              sample.schema.fields)
    for path in sample.files:
        started = time.perf_counter()
        try:
            doc = parse_document(path.name, mime_type(path), path.read_bytes())
        except ParseError as e:
            run.errors.append(f"{path.name}: {e.code}: {e.message}")
            continue
        parsed = time.perf_counter()
        cells = extractor.extract(doc, sample.schema.fields)
        done = time.perf_counter()
        run.parse_seconds += parsed - started
        if doc.kind == "pdf":
            run.pdf_parse_seconds += parsed - started
        run.extract_seconds += done - parsed
        run.values[path.name] = {name: cell.value for name, cell in cells.items()}
        run.confidence[path.name] = {name: cell.confidence for name, cell in cells.items()}
    return run


# ------------------------------------------------------------------------------ pipeline
@dataclass
class ApiClient:
    """Just enough of the HTTP contract to submit a job, wait for it and read its grid."""

    base_url: str
    api_key: str
    timeout: float = 30.0

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, Mapping[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url.rstrip("/") + path, data=data, method=method,
            headers={"Api-Key": self.api_key, "Content-Type": "application/json",
                     "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read() or b"null")
                return response.status, payload, _lower(response.headers.items())
        except urllib.error.HTTPError as e:
            with e:
                text = e.read().decode("utf-8", "replace")
                if e.code == 429:
                    return 429, None, _lower(e.headers.items())
                raise SystemExit(f"{method} {path} answered HTTP {e.code}: {text[:300]}") from e


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def _document(path: Path) -> dict[str, Any]:
    mime = mime_type(path)
    data = path.read_bytes()
    if mime.startswith("text/"):
        return {"filename": path.name, "mime_type": mime, "text": data.decode("utf-8")}
    return {"filename": path.name, "mime_type": mime,
            "content_base64": base64.b64encode(data).decode("ascii")}


def _wait(client: ApiClient, job_id: str, deadline: float) -> str:
    while True:
        status, body, headers = client.call("GET", f"/v1/jobs/{job_id}/status")
        if status == 200 and body["status"] in {str(s) for s in TERMINAL}:
            return str(body["status"])
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} did not finish in time")
        pause = headers.get("retry-after") or headers.get("x-poll-after") or "1"
        time.sleep(min(5.0, max(0.2, float(pause))))


def predict_pipeline(
    sample: SampleSet, client: ApiClient, wait_seconds: float = 600.0
) -> Run:
    """Submit the set as one job through the API, wait for it and read ``/results``."""
    body = {
        "name": f"accuracy {sample.name}",
        "schema": sample.schema.model_dump(mode="json", exclude_none=True),
        "documents": [_document(p) for p in sample.files],
        "metadata": {"source": "bench/accuracy.py"},
    }
    status, job, _ = client.call("POST", "/v1/jobs", body)
    if status not in (200, 202):
        raise SystemExit(f"submit answered HTTP {status}")
    final = _wait(client, job["id"], time.monotonic() + wait_seconds)
    _, results, _ = client.call("GET", f"/v1/jobs/{job['id']}/results")
    run = Run(errors=[] if final == "completed" else [f"job {job['id']} ended {final}"])
    for row in results.get("rows", []):
        filename = row["document"]["filename"]
        if row.get("status") != "completed":
            run.errors.append(f"{filename}: row {row.get('status')}: {row.get('error')}")
        run.values[filename] = dict(row.get("values") or {})
        run.confidence[filename] = dict(row.get("confidence") or {})
    return run


# ------------------------------------------------------------------------------ report
def _pct(value: float) -> str:
    return f"{100 * value:6.2f}%"


def render(name: str, report: Mapping[str, Any], gated: bool) -> str:
    """A plain-text table: overall, per type and per field, calibration, speed, verdict."""
    lines = [f"== {name}: {report['documents']} documents", ""]
    header = f"{'':<20} {'precision':>10} {'recall':>8} {'filled':>7} {'truth':>6}"
    lines.append(header)
    rows = [("overall", report["overall"])]
    rows += [(f"type {k}", v) for k, v in report["by_type"].items()]
    rows += [(f"  {k}", v) for k, v in report["by_field"].items()]
    for label, t in rows:
        lines.append(
            f"{label:<20} {_pct(t['precision']):>10} {_pct(t['recall']):>8} "
            f"{t['filled']:>7} {t['truth_cells']:>6}"
        )
    cal = report.get("calibration")
    if cal:
        above, below = cal["above"], cal["below"]
        lines.append("")
        lines.append(
            f"calibration: ECE {cal['ece']:.3f} (target <= {ECE_TARGET:.2f}); confidence >= "
            f"{cal['threshold']}: {above['cells']} cells, precision "
            f"{_maybe_pct(above['precision'])}; below: {below['cells']} cells, precision "
            f"{_maybe_pct(below['precision'])}")
    speed = report.get("speed")
    if speed:
        lines.append(
            f"speed: extraction {speed['extract_ms_per_doc']:.2f} ms/doc (PDF parsing "
            f"excluded; target <= 20), parsing {speed['parse_ms_per_doc']:.2f} ms/doc "
            f"(PDF parsing {speed['pdf_parse_ms']:.1f} ms in all)")
    o, t = report["overall"], report["targets"]
    verdict = "PASS" if report["pass"] else "FAIL"
    lines.append("")
    lines.append(
        f"{verdict}{'' if gated else ' (not gated)'}: precision {_pct(o['precision'])} "
        f"(target {_pct(t['precision'])}), recall {_pct(o['recall'])} "
        f"(target {_pct(t['recall'])})"
    )
    for kind, target in report.get("type_targets", {}).items():
        got = report["by_type"].get(kind, {}).get("recall")
        if got is not None:
            lines.append(f"  {kind} recall {_pct(got)} (target {_pct(target)})"
                         f"{'' if got >= target else ' MISSED'}")
    return "\n".join(lines)


def _maybe_pct(value: float | None) -> str:
    return "-" if value is None else _pct(value).strip()


def _mismatch_lines(report: Mapping[str, Any]) -> list[str]:
    return [
        f"  {m['document']} / {m['field']}: expected {m['expected']!r}, got {m['predicted']!r}"
        for m in report["mismatches"]
    ]


def run(
    folders: Sequence[Path], predict: Callable[[SampleSet], Run], verbose: bool,
) -> tuple[dict[str, Any], bool]:
    reports: dict[str, Any] = {}
    ok = True
    for folder in folders:
        sample = load_set(folder)
        started = time.perf_counter()
        result = predict(sample)
        targets = TARGETS.get(sample.name, (TARGET_PRECISION, TARGET_RECALL))
        report = score(result.values, sample.truth, sample.types, targets)
        report["calibration"] = calibration(result.values, result.confidence, sample.truth)
        if sample.name == "generated-heldout":  # reported beside the verdict, not gated
            report["type_targets"] = dict(TYPE_RECALL_TARGETS)
        documents = max(1, len(result.values))
        if result.extract_seconds:
            report["speed"] = {
                "extract_ms_per_doc": round(1000 * result.extract_seconds / documents, 3),
                "parse_ms_per_doc": round(1000 * result.parse_seconds / documents, 3),
                "pdf_parse_ms": round(1000 * result.pdf_parse_seconds, 1),
            }
        report["errors"] = result.errors
        report["seconds"] = round(time.perf_counter() - started, 3)
        gated = sample.name in GATED_SETS
        ok &= report["pass"] or not gated
        reports[sample.name] = report
        print(render(sample.name, report, gated))
        for error in result.errors:
            print(f"  error: {error}")
        if verbose:
            print("\n".join(_mismatch_lines(report)))
        print()
    return reports, ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--direct", action="store_true", help="run in-process (the default)")
    mode.add_argument("--url", help="base URL of a running jobgrid API (pipeline mode)")
    parser.add_argument("--api-key", help="API key for --url")
    parser.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS), help="sample folders")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every mismatch")
    parser.add_argument("--wait", type=float, default=600.0, help="pipeline timeout, seconds")
    args = parser.parse_args(argv)
    folders = [Path(s) if Path(s).is_absolute() else ROOT / s for s in args.sets]
    folders = [f for f in folders if (f / "ground_truth.json").is_file()]
    if args.url:
        if not args.api_key:
            parser.error("--url needs --api-key")
        client = ApiClient(args.url, args.api_key)
        reports, ok = run(folders, lambda s: predict_pipeline(s, client, args.wait), args.verbose)
    else:
        reports, ok = run(folders, predict_direct, args.verbose)
    if args.json:
        targets = {name: {"precision": p, "recall": r} for name, (p, r) in TARGETS.items()}
        args.json.write_text(json.dumps({"targets": targets, "sets": reports}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

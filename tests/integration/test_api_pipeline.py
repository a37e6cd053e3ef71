"""The API's read side on jobs a real worker ran (``live_stack``: Redis, API server, Celery).

The lead's ``test_pipeline.py`` covers the worker's behaviour; this module checks what a
client reads back through the API once real rows exist: the results formats with real
extracted values, cell details, and the status/ETag contract of a finished job.
"""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.payloads import INVOICE_FIELDS, invoice_text

from shared.models import JobOut, JobStatusOut, Results

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "invoices"
FIELDS = [f["name"] for f in INVOICE_FIELDS]


def body_with_pdf() -> dict[str, Any]:
    pdf = sorted(SAMPLES.glob("*.pdf"))[0]
    return {
        "name": "api read side",
        "schema": {"name": "Invoice", "fields": [dict(f) for f in INVOICE_FIELDS]},
        "documents": [
            {"filename": "a.txt", "mime_type": "text/plain", "text": invoice_text(1)},
            {"filename": "b.md", "mime_type": "text/markdown", "text": invoice_text(2)},
            {"filename": pdf.name, "mime_type": "application/pdf",
             "content_base64": base64.b64encode(pdf.read_bytes()).decode()},
        ],
    }


@pytest.fixture(scope="module")
def finished(live_stack: Any) -> dict[str, Any]:
    client = live_stack.client()
    job = client.submit(body_with_pdf())
    final = client.wait_status(job["id"], timeout=60)
    assert final["status"] == "completed", final
    return dict(job)


def test_completed_job_reads_consistently(live_stack: Any, finished: dict[str, Any]) -> None:
    client = live_stack.client()
    job = client.get(f"/v1/jobs/{finished['id']}").json()
    JobOut.model_validate(job)
    assert (job["status"], job["progress"], job["estimated_seconds_remaining"]) == \
        ("completed", 100, None)
    assert job["completed_documents"] == 3 and job["completed_at"] is not None
    assert "cancel" not in job["links"]
    assert [t["status"] for t in job["timeline"]][0] == "validating"
    assert job["timeline"][-1]["status"] == "completed"
    status = client.get(f"/v1/jobs/{finished['id']}/status")
    JobStatusOut.model_validate(status.json())
    assert status.json()["version"] == job["version"]
    assert "X-Poll-After" not in status.headers
    again = client.get(f"/v1/jobs/{finished['id']}/status",
                       headers={"If-None-Match": status.headers["ETag"]})
    assert again.status_code == 304
    listed = client.get("/v1/jobs", params={"status": "completed", "limit": 100}).json()
    assert finished["id"] in [j["id"] for j in listed["data"]]


def test_results_hold_the_extracted_values(live_stack: Any, finished: dict[str, Any]) -> None:
    client = live_stack.client()
    body = client.get(f"/v1/jobs/{finished['id']}/results", params={"detail": "true"}).json()
    Results.model_validate(body)
    rows = body["rows"]
    assert [r["status"] for r in rows] == ["completed"] * 3
    assert rows[0]["values"]["invoice_number"] == "INV-1001"
    assert rows[0]["values"]["total"] == 101.5
    assert rows[1]["values"]["invoice_number"] == "INV-1002"
    cell = rows[0]["detail"]["invoice_number"]
    assert cell is not None and "INV-1001" in (cell.get("text") or cell.get("raw") or "")
    # provenance: offsets of the raw value in the extracted text, and how it was found
    assert cell["raw"] == "INV-1001" and cell["end"] - cell["start"] == len("INV-1001")
    assert cell["method"] == "label" and cell["rule"] is None and cell["page"] is None
    assert all(0.0 <= c <= 1.0 for r in rows for c in r["confidence"].values())

    table = list(csv.reader(io.StringIO(
        client.get(f"/v1/jobs/{finished['id']}/results", params={"format": "csv"}).text)))
    assert table[0] == ["index", "filename", "status", *FIELDS]
    assert table[1][:4] == ["0", "a.txt", "completed", "INV-1001"]
    assert table[1][4] == "101.5"

    jsonl = client.get(f"/v1/jobs/{finished['id']}/results", params={"format": "jsonl"}).text
    plain = client.get(f"/v1/jobs/{finished['id']}/results").json()["rows"]
    assert [orjson.loads(line) for line in jsonl.splitlines()] == plain

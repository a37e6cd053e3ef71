"""The whole path over real HTTP: a real API server, a real Celery worker, a real Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

pytestmark = pytest.mark.integration

TESTS_DIR = Path(__file__).resolve().parents[1]
FAULTY = "support.extractors:FaultyExtractor"


def _slow_stack(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
    delay_ms: int,
    concurrency: int = 1,
    **overrides: Any,
) -> tuple[ApiServer, WorkerProcess]:
    """An isolated stack (own prefix, own queues) whose extractor is slowed down."""
    env = make_settings(isolated=True, extractor=FAULTY, **overrides)
    api = start_api(env)
    worker = worker_process(env, concurrency=concurrency, extra_env={
        "PYTHONPATH": str(TESTS_DIR), "JOBGRID_TEST_DELAY_MS": str(delay_ms)})
    return api, worker


def test_batch_of_20_completes_with_exact_counts(live_stack: Any) -> None:
    client = live_stack.client()
    resp = client.post("/v1/jobs", json=job_body(20))
    assert resp.status_code == 202
    job = resp.json()
    assert resp.headers["Location"] == f"/v1/jobs/{job['id']}"
    # the 202 body is a snapshot: a fast worker may already have moved the job on (the
    # contract allows any status there), so only "not failed, not finished early" holds
    assert job["status"] in ("validating", "queued", "in_progress", "completed"), job
    assert job["document_count"] == 20 and job["grid_stats"]["total_cells"] == 60

    final = client.wait_status(job["id"], timeout=60)
    assert final["status"] == "completed"
    assert final["document_count"] == 20 and final["completed_documents"] == 20
    stats = final["grid_stats"]
    assert stats["total_cells"] == 20 * 3
    assert stats["filled"] + stats["empty"] == stats["total_cells"]
    assert stats["filled"] == 60  # every tiny invoice has all three fields
    assert stats["fill_rate"] == round(stats["filled"] / stats["total_cells"], 4)
    assert final["progress"] == 100 and final["attempt_count"] == 1
    assert final["last_failure_code"] is None and final["error"] is None

    full = client.get(f"/v1/jobs/{job['id']}").json()
    assert [(t["status"], t["phase"]) for t in full["timeline"]] == [
        ("validating", "phase_0_validate"), ("queued", "phase_1_parse"),
        ("in_progress", "phase_1_parse"), ("in_progress", "phase_2_execute"),
        ("in_progress", "phase_3_finalize"), ("completed", "phase_3_finalize")]
    assert full["completed_at"] is not None and "cancel" not in full["links"]
    assert full["estimated_seconds_remaining"] is None

    results = client.get(f"/v1/jobs/{job['id']}/results").json()
    assert results["total_rows"] == 20 and results["job_status"] == "completed"
    rows = results["rows"]
    assert [r["document"]["index"] for r in rows] == list(range(20))
    assert all(r["status"] == "completed" for r in rows)
    assert rows[7]["values"] == {"invoice_number": "INV-1007", "total": 107.5,
                                 "issue_date": "2024-09-08"}
    assert all(0 < c <= 1 for c in rows[7]["confidence"].values())


def test_version_grows_and_progress_is_monotonic(live_stack: Any) -> None:
    client = live_stack.client()
    job = client.submit(job_body(12))
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        s = client.get(f"/v1/jobs/{job['id']}/status").json()
        seen.append((s["version"], s["progress"]))
        if s["status"] == "completed":
            break
        time.sleep(0.01)
    assert seen[-1][1] == 100
    assert seen == sorted(seen)


def test_cancel_mid_run_keeps_cells_and_starts_nothing_new(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    api, _ = _slow_stack(make_settings, start_api, worker_process, delay_ms=150)
    client = api.client()
    job = client.submit(job_body(30))
    client.wait_documents(job["id"], 2)
    resp = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "cancelled" and body["cancelled"] is True
    assert "cancel" not in body["links"]

    time.sleep(1.0)  # let the one in-flight document finish
    done_after = client.get(f"/v1/jobs/{job['id']}/status").json()["completed_documents"]
    time.sleep(1.0)
    status = client.get(f"/v1/jobs/{job['id']}/status").json()
    assert status["status"] == "cancelled"
    assert status["completed_documents"] == done_after < 30  # nothing new started
    rows = client.get(f"/v1/jobs/{job['id']}/results").json()["rows"]
    assert sum(r["status"] == "completed" for r in rows) == done_after
    # rows the cancel stopped read as cancelled, not as forever pending (docs/api.md)
    assert sum(r["status"] == "cancelled" for r in rows) == 30 - done_after
    again = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_retry_of_cancelled_job_runs_only_the_rest(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    api, _ = _slow_stack(make_settings, start_api, worker_process, delay_ms=100)
    client = api.client()
    job = client.submit(job_body(15))
    client.wait_documents(job["id"], 2)
    assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
    time.sleep(0.5)
    before = client.get(f"/v1/jobs/{job['id']}/status").json()

    resp = client.post(f"/v1/jobs/{job['id']}/retry")
    assert resp.status_code in (200, 202), resp.text
    assert resp.json()["status"] == "queued" and resp.json()["cancelled"] is False
    final = client.wait_status(job["id"], timeout=60)
    assert final["status"] == "completed"
    assert final["completed_documents"] == 15
    assert final["grid_stats"]["filled"] + final["grid_stats"]["empty"] == 45
    assert final["attempt_count"] == before["attempt_count"] + 1
    assert final["expires_at"] >= before["expires_at"]
    assert client.post(f"/v1/jobs/{job['id']}/retry").status_code == 409


def test_failed_document_gets_a_failed_row_and_a_warning(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    api, _ = _slow_stack(make_settings, start_api, worker_process, delay_ms=0, concurrency=2)
    client = api.client()
    texts = [f"Invoice No: {i}\nTotal: {i}.00\nDate: 2024-01-0{i + 1}" for i in range(4)]
    texts[2] = "PERMANENT-FAIL\nInvoice No: 9"
    job = client.submit(job_body(texts=texts))
    final = client.wait_status(job["id"], timeout=60)
    assert final["status"] == "completed"
    assert final["completed_documents"] == 3
    assert final["grid_stats"] == {"total_cells": 12, "filled": 9, "empty": 3, "fill_rate": 0.75}
    assert final["warnings"] and final["warnings"][0]["document"] == 2
    full = client.get(f"/v1/jobs/{job['id']}").json()
    assert full["failed_documents"] == 1
    row = client.get(f"/v1/jobs/{job['id']}/results").json()["rows"][2]
    assert row["status"] == "failed" and row["error"]["code"] == "extractor_rejected"
    assert all(v is None for v in row["values"].values())


def test_every_document_failing_fails_the_job(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    api, _ = _slow_stack(make_settings, start_api, worker_process, delay_ms=0)
    client = api.client()
    job = client.submit(job_body(texts=["PERMANENT-FAIL a", "PERMANENT-FAIL b"]))
    final = client.wait_status(job["id"], timeout=60)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "all_documents_failed"
    assert final["grid_stats"]["empty"] == 6 and final["completed_documents"] == 0


def test_expiry_reads_expired_then_gone(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    env = make_settings(isolated=True, retention_seconds=3, expired_grace_seconds=3)
    api = start_api(env)
    worker_process(env)
    client = api.client()
    job = client.submit(job_body(2))
    assert client.wait_status(job["id"], timeout=30)["status"] == "completed"
    assert client.get(f"/v1/jobs/{job['id']}/results").status_code == 200

    # expires_at is floored to whole seconds: wait past the next second boundary
    time.sleep(max(0.0, job_expires(client, job["id"]) - time.time()) + 1.2)
    status = client.get(f"/v1/jobs/{job['id']}/status")
    assert status.status_code == 200 and status.json()["status"] == "expired"
    assert client.get(f"/v1/jobs/{job['id']}/results").status_code == 404
    listed = client.get("/v1/jobs", params={"status": "expired"}).json()["data"]
    assert job["id"] in [j["id"] for j in listed]

    time.sleep(3.5)  # the grace period
    gone = client.get(f"/v1/jobs/{job['id']}/status")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def job_expires(client: Any, job_id: str) -> float:
    return float(client.get(f"/v1/jobs/{job_id}/status").json()["expires_at"])


def _sample_doc(path: Path) -> dict[str, str]:
    import base64

    mime = {".txt": "text/plain", ".md": "text/markdown", ".html": "text/html",
            ".pdf": "application/pdf"}[path.suffix]
    if path.suffix == ".pdf":
        return {"filename": path.name, "mime_type": mime,
                "content_base64": base64.b64encode(path.read_bytes()).decode()}
    return {"filename": path.name, "mime_type": mime, "text": path.read_text()}


def test_mixed_batch_with_a_corrupt_pdf_completes_with_that_row_failed(live_stack: Any) -> None:
    import json

    samples = TESTS_DIR.parent / "samples"
    schema = json.loads((samples / "invoices" / "schema.json").read_text())
    truth = json.loads((samples / "invoices" / "ground_truth.json").read_text())
    picks = ["inv-01-acme-supplies.txt", "inv-02-blue-harbor.md", "inv-03-nordlicht.html",
             "inv-04-pacific-freight.pdf"]
    docs = [_sample_doc(samples / "invoices" / p) for p in picks]
    docs.insert(2, _sample_doc(samples / "bad" / "corrupt.pdf"))
    client = live_stack.client()
    job = client.submit({"name": "mixed", "schema": schema, "documents": docs})
    final = client.wait_status(job["id"], timeout=60)

    f = len(schema["fields"])
    assert final["status"] == "completed"
    assert final["document_count"] == 5 and final["completed_documents"] == 4
    stats = final["grid_stats"]
    assert stats["total_cells"] == 5 * f and stats["filled"] + stats["empty"] == 5 * f
    assert final["warnings"] == [{"code": "corrupt_document", "document": 2,
                                  "message": final["warnings"][0]["message"]}]
    assert "corrupt.pdf" in final["warnings"][0]["message"]
    full = client.get(f"/v1/jobs/{job['id']}").json()
    assert full["failed_documents"] == 1

    rows = client.get(f"/v1/jobs/{job['id']}/results", params={"detail": "true"}).json()["rows"]
    assert rows[2]["status"] == "failed" and rows[2]["error"]["code"] == "corrupt_document"
    assert all(v is None for v in rows[2]["values"].values())
    good = [r for r in rows if r["status"] == "completed"]
    assert stats["filled"] == sum(v is not None for r in good for v in r["values"].values())
    for row in good:  # every filled cell is right (precision), seen through the real pipeline
        expected = truth[row["document"]["filename"]]
        for field, value in row["values"].items():
            if value is not None:
                assert value == expected[field], (row["document"]["filename"], field)
                assert row["detail"][field]["line"] >= 1

"""Retry of only the failed rows, and required fields, on a real worker (Celery + Redis + API).

A ``FAIL-ONCE`` document (``support.extractors``) fails on its first run and succeeds on the
next, so a completed job with failed rows can be retried to completion; the other rows must
come back byte-identical and every counter exact (the done-set guard holds across re-runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.env import SettingsEnv
from support.payloads import INVOICE_FIELDS, invoice_text, job_body
from support.servers import ApiClient, ApiServer, WorkerProcess

from shared.models import JobOut, JobStatusOut, Results

pytestmark = pytest.mark.integration

TESTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env(make_settings: Callable[..., SettingsEnv]) -> SettingsEnv:
    return make_settings(isolated=True, extractor="support.extractors:FaultyExtractor",
                         transient_retry_max=0)


@pytest.fixture
def client(env: SettingsEnv, start_api: Callable[..., ApiServer],
           worker_process: Callable[..., WorkerProcess]) -> Iterator[ApiClient]:
    api = start_api(env, workers=1, threads=8)
    worker_process(env, concurrency=2, extra_env={"PYTHONPATH": str(TESTS_DIR)})
    c = api.client()
    yield c
    c.close()


def rows_of(client: ApiClient, job_id: str) -> list[dict[str, Any]]:
    body = client.get(f"/v1/jobs/{job_id}/results").json()
    Results.model_validate(body)
    rows: list[dict[str, Any]] = body["rows"]
    return rows


def test_retry_of_failed_rows_reruns_only_them(client: ApiClient) -> None:
    texts = [invoice_text(0), invoice_text(1) + "FAIL-ONCE\n", invoice_text(2),
             invoice_text(3) + "FAIL-ONCE\n"]
    job = client.submit(job_body(texts=texts))
    first = client.wait_status(job["id"], timeout=60)
    assert (first["status"], first["completed_documents"]) == ("completed", 2)
    before = rows_of(client, job["id"])
    assert [r["status"] for r in before] == ["completed", "failed", "completed", "failed"]
    cursor = client.get(f"/v1/jobs/{job['id']}/results",
                        params={"limit": 100}).json()["next_cursor"]
    plain = client.post(f"/v1/jobs/{job['id']}/retry")
    assert plain.status_code == 409 and '"only": "failed"' in plain.json()["error"]["message"]

    resp = client.post(f"/v1/jobs/{job['id']}/retry", json={"only": "failed"})
    assert resp.status_code == 202, resp.text
    assert resp.headers["Location"] == f"/v1/jobs/{job['id']}"
    queued = resp.json()
    JobOut.model_validate(queued)
    assert (queued["status"], queued["completed_at"], queued["failed_documents"]) == \
        ("queued", None, 0)
    assert queued["attempt_count"] > first["attempt_count"]

    final = client.wait_status(job["id"], timeout=60)
    assert final["status"] == "completed" and final["completed_documents"] == 4
    job_now = client.get(f"/v1/jobs/{job['id']}").json()
    assert job_now["failed_documents"] == 0 and job_now["progress"] == 100
    grid = job_now["grid_stats"]
    assert grid["filled"] + grid["empty"] == grid["total_cells"] == 12  # no double count
    assert grid["filled"] == 12
    statuses = [t["status"] for t in job_now["timeline"]]
    assert statuses.count("completed") == 2 and statuses[-1] == "completed"
    assert "queued" in statuses[statuses.index("completed"):]  # back to work, then done
    after = rows_of(client, job["id"])
    assert after[0] == before[0] and after[2] == before[2]  # untouched rows: identical
    assert [r["status"] for r in after] == ["completed"] * 4
    assert after[1]["values"]["invoice_number"] == "INV-1001"
    # a client that followed the cursor before the retry gets the re-run rows, marked
    page = client.get(f"/v1/jobs/{job['id']}/results",
                      params={"after": cursor, "limit": 100}).json()
    assert sorted(r["document"]["index"] for r in page["rows"]) == [1, 3]
    assert all(r["rerun"] for r in page["rows"])
    # nothing failed any more: a clear 409, and nothing changes
    again = client.post(f"/v1/jobs/{job['id']}/retry", json={"only": "failed"})
    assert again.status_code == 409
    assert "no failed rows" in again.json()["error"]["message"]
    assert client.get(f"/v1/jobs/{job['id']}/status").json()["version"] == final["version"]


@pytest.mark.parametrize("body", [{"only": "all"}, {"only": None, "x": 1}, {"only": 1},
                                  {"onyl": "failed"}, [], "failed"])
def test_bad_retry_bodies_are_400(client: ApiClient, body: Any) -> None:
    job = client.submit(job_body(1))
    resp = client.post(f"/v1/jobs/{job['id']}/retry", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "validation_error"
    broken = client.post(f"/v1/jobs/{job['id']}/retry", data=b"{nope",
                         headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_required_field_left_empty_needs_review(client: ApiClient) -> None:
    fields = [dict(f) for f in INVOICE_FIELDS]
    fields.append({"name": "po_number", "type": "string", "required": True,
                   "aliases": ["PO"]})
    texts = [invoice_text(0), invoice_text(1) + "PO: 4711\n"]
    job = client.submit(job_body(texts=texts, fields=fields))
    final = client.wait_status(job["id"], timeout=60)
    assert final["status"] == "completed"
    status = client.get(f"/v1/jobs/{job['id']}/status").json()
    JobStatusOut.model_validate(status)
    assert status["needs_review"] == 1
    assert [w["code"] for w in status["warnings"]] == ["required_missing"]
    assert status["warnings"][0]["document"] == 0
    assert "po_number" in status["warnings"][0]["message"]
    assert client.get(f"/v1/jobs/{job['id']}").json()["needs_review"] == 1
    rows = client.get(f"/v1/jobs/{job['id']}/results", params={"detail": "true"}).json()["rows"]
    assert [r["needs_review"] for r in rows] == [["po_number"], []]
    assert [r["status"] for r in rows] == ["completed", "completed"]

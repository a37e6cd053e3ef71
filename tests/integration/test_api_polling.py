"""Polling and results over real HTTP: ``/status`` (ETag, 304, poll hints), bulk status, and
the results grid in its three formats, with rows written the way a worker writes them.

Also checks, in-process against the real Redis, that a status poll costs exactly one Redis
round trip (auth from the key cache, rate limit and job read in one Lua call).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import redis
from support.apistack import ApiStack as Stack
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiClient

from api.app import create_app
from shared.clock import now_ms
from shared.models import JobStatusOut, Results
from shared.status import JobStatus, Phase

pytestmark = pytest.mark.integration

POLL_RUNNING, POLL_WAITING = 0.5, 1.5
# the stack and api fixtures: conftest.py
STACK_SETTINGS = {"poll_after_seconds": POLL_RUNNING, "poll_after_queued_seconds": POLL_WAITING}
FIELDS = ["invoice_number", "total", "issue_date"]


def start_running(stack: Stack, job: dict[str, Any]) -> None:
    """What the worker does when execution starts."""
    stack.store.transition(job["id"], job["organization_id"], [JobStatus.VALIDATING],
                           status=JobStatus.IN_PROGRESS, phase=Phase.EXECUTE,
                           extra={"started_at": now_ms(), "exec_started_at": now_ms()})


# ----------------------------------------------------------------------- status
def test_status_payload_and_headers(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(2, metadata={"batch_id": "b7"}))
    resp = api.get(f"/v1/jobs/{job['id']}/status")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == set(JobStatusOut.model_fields)
    JobStatusOut.model_validate(body)
    assert (body["id"], body["status"], body["version"]) == (job["id"], "validating", 1)
    assert isinstance(body["created_at"], int) and body["metadata"] == {"batch_id": "b7"}
    assert resp.headers["ETag"] == '"1-validating"'
    assert resp.headers["Cache-Control"] == "no-cache"
    assert float(resp.headers["X-Poll-After"]) == POLL_WAITING
    start_running(stack, job)
    running = api.get(f"/v1/jobs/{job['id']}/status")
    assert running.json()["status"] == "in_progress"
    assert float(running.headers["X-Poll-After"]) == POLL_RUNNING
    api.post(f"/v1/jobs/{job['id']}/cancel")
    done = api.get(f"/v1/jobs/{job['id']}/status")
    assert done.json()["status"] == "cancelled" and "X-Poll-After" not in done.headers


def test_etag_and_if_none_match_answer_304(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(1))
    first = api.get(f"/v1/jobs/{job['id']}/status")
    etag = first.headers["ETag"]
    same = api.get(f"/v1/jobs/{job['id']}/status", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    assert same.headers["ETag"] == etag and same.headers["X-Request-Id"]
    assert same.headers["X-RateLimit-Remaining"].isdigit()
    start_running(stack, job)
    changed = api.get(f"/v1/jobs/{job['id']}/status", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    new_etag = changed.headers["ETag"]
    stack.set_job(job["id"], expires_at=now_ms() - 1000)  # expiry changes no version...
    expired = api.get(f"/v1/jobs/{job['id']}/status", headers={"If-None-Match": new_etag})
    assert expired.status_code == 200  # ...but the ETag still changes
    assert expired.json()["status"] == "expired"


def test_bulk_status_keeps_order_and_lists_missing(api: ApiClient,
                                                   make_api_key: Callable[..., tuple[str, str]],
                                                   stack: Stack) -> None:
    ids = [api.submit(job_body(1))["id"] for _ in range(3)]
    foreign = ApiClient(stack.server.url, make_api_key(settings=stack.env)[0])
    theirs = foreign.submit(job_body(1))["id"]
    unknown = str(uuid.uuid4())
    asked = [ids[2], unknown, ids[0], theirs, ids[1].upper(), ids[2]]
    resp = api.get("/v1/jobs/status", params={"ids": ",".join(asked)})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"object", "data", "missing"} and body["object"] == "list"
    assert [d["id"] for d in body["data"]] == [ids[2], ids[0], ids[1]]
    assert body["missing"] == [unknown, theirs]
    for d in body["data"]:
        JobStatusOut.model_validate(d)
    hundred = ",".join([ids[0]] * 100)
    assert api.get("/v1/jobs/status", params={"ids": hundred}).status_code == 200
    foreign.close()


# ---------------------------------------------------------------------- results
def record(stack: Stack, job: dict[str, Any], index: int, *, failed: bool = False) -> None:
    """Writes a row exactly as the worker's record_document does."""
    row: dict[str, Any]
    if failed:
        row = {"document": {"index": index, "filename": f"doc{index}.txt"}, "status": "failed",
               "values": dict.fromkeys(FIELDS), "confidence": dict.fromkeys(FIELDS, 0.0),
               "error": {"code": "extractor_error", "message": "unreadable"},
               "detail": dict.fromkeys(FIELDS)}
    else:
        row = {"document": {"index": index, "filename": f"doc{index}.txt"},
               "status": "completed",
               "values": {"invoice_number": f"INV-{index}", "total": 100.5,
                          "issue_date": None},
               "confidence": {"invoice_number": 0.95, "total": 0.9, "issue_date": 0.0},
               "error": None,
               "detail": {"invoice_number": {"label": "Invoice No", "line": 2,
                                             "text": f"Invoice No: INV-{index}",
                                             "raw": f"INV-{index}"},
                          "total": {"label": "Total", "line": 4, "text": "Total: 100.50",
                                    "raw": "100.50"},
                          "issue_date": None}}
    stack.store.record_document(job["id"], job["organization_id"], index, row, failed=failed,
                                filled=0 if failed else 2, empty=3 if failed else 1)


def test_results_are_partial_while_running(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(3))
    start_running(stack, job)
    empty = api.get(f"/v1/jobs/{job['id']}/results").json()
    assert [r["status"] for r in empty["rows"]] == ["pending"] * 3
    record(stack, job, 0)
    record(stack, job, 2, failed=True)
    resp = api.get(f"/v1/jobs/{job['id']}/results")
    assert resp.status_code == 200
    body = resp.json()
    Results.model_validate(body)
    assert set(body) == {"job_id", "job_status", "schema", "total_rows", "rows"}
    assert (body["job_id"], body["job_status"], body["total_rows"]) == \
        (job["id"], "in_progress", 3)
    assert body["schema"]["name"] == "Invoice"
    assert [f["name"] for f in body["schema"]["fields"]] == FIELDS
    rows = body["rows"]
    assert [r["status"] for r in rows] == ["completed", "pending", "failed"]
    assert rows[0]["values"] == {"invoice_number": "INV-0", "total": 100.5, "issue_date": None}
    assert rows[0]["confidence"]["invoice_number"] == 0.95
    assert rows[1] == {"document": {"index": 1, "filename": "doc1.txt"}, "status": "pending",
                       "values": dict.fromkeys(FIELDS), "confidence": dict.fromkeys(FIELDS, 0.0),
                       "error": None}
    assert rows[2]["error"] == {"code": "extractor_error", "message": "unreadable"}
    assert all("detail" not in r for r in rows)


def test_results_detail_csv_and_jsonl(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(2))
    start_running(stack, job)
    record(stack, job, 0)
    detailed = api.get(f"/v1/jobs/{job['id']}/results", params={"detail": "true"}).json()
    cells = detailed["rows"][0]["detail"]
    assert cells["total"] == {"label": "Total", "line": 4, "text": "Total: 100.50",
                              "raw": "100.50"}
    assert cells["issue_date"] is None
    assert detailed["rows"][1]["detail"] == dict.fromkeys(FIELDS)

    resp = api.get(f"/v1/jobs/{job['id']}/results", params={"format": "csv"})
    assert resp.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(resp.text)))
    assert table == [["index", "filename", "status", *FIELDS],
                     ["0", "doc0.txt", "completed", "INV-0", "100.5", ""],
                     ["1", "doc1.txt", "pending", "", "", ""]]

    lines = api.get(f"/v1/jobs/{job['id']}/results", params={"format": "jsonl"})
    assert lines.headers["Content-Type"].startswith("application/x-ndjson")
    plain = api.get(f"/v1/jobs/{job['id']}/results").json()["rows"]
    assert [orjson.loads(x) for x in lines.text.splitlines()] == plain


def test_results_are_404_once_the_data_expired(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(1))
    stack.set_job(job["id"], expires_at=now_ms() - 1000)
    resp = api.get(f"/v1/jobs/{job['id']}/results")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    other = api.submit(job_body(1))
    stack.redis.unlink(stack.store.job_keys(other["id"]).docs)
    assert api.get(f"/v1/jobs/{other['id']}/results").status_code == 404
    assert api.get(f"/v1/jobs/{other['id']}").status_code == 200  # the record stays


# ------------------------------------------------------------- one round trip
class CountingConnection(redis.Connection):
    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def test_status_poll_is_one_redis_round_trip(make_settings: Callable[..., SettingsEnv],
                                             make_api_key: Callable[..., tuple[str, str]]
                                             ) -> None:
    env = make_settings(isolated=True, api_key_cache_seconds=60)
    app = create_app(env.settings)
    svc = app.extensions["jobgrid"]
    svc.redis.connection_pool.connection_class = CountingConnection
    svc.redis.connection_pool.disconnect()
    key, _ = make_api_key(settings=env)
    client = app.test_client()
    headers = {"Api-Key": key}
    job = client.post("/v1/jobs", json=job_body(1), headers=headers).get_json()
    assert CountingConnection.sent > 1  # the counter sees traffic (key lookup, writes)
    client.get(f"/v1/jobs/{job['id']}/status", headers=headers)  # warm: script loaded
    for _ in range(3):
        before = CountingConnection.sent
        resp = client.get(f"/v1/jobs/{job['id']}/status", headers=headers)
        assert resp.status_code == 200
        assert CountingConnection.sent - before == 1
    before = CountingConnection.sent
    ids = ",".join([job["id"], str(uuid.uuid4())])
    assert client.get(f"/v1/jobs/status?ids={ids}", headers=headers).status_code == 200
    assert CountingConnection.sent - before == 1

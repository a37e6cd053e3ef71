"""Result rows in the store (fakeredis): the completion log behind the results cursor, the
``needs_review`` figure of required fields, and retry of only the failed rows, each with
the done-set guarantee that a redelivered or repeated write never counts twice."""

from __future__ import annotations

import time
import uuid
from typing import Any

import fakeredis
import orjson
import pytest

from shared.job import RetryOutcome, RetryResult
from shared.models import JobCreate
from shared.settings import Settings
from shared.status import JobStatus, Phase
from shared.store import JobStore
from shared.webhooks import WebhookCreate, WebhookStore, emit_terminal_event
from worker.rows import completed_row, failed_row

S = JobStatus
ORG = "org_rows"


@pytest.fixture
def store() -> JobStore:
    return JobStore(fakeredis.FakeRedis(decode_responses=True), Settings(key_prefix="ur"))


def new_job(store: JobStore, n: int = 4, required: bool = False) -> str:
    req = JobCreate.model_validate({
        "schema": {"name": "s", "fields": [{"name": "a", "required": required},
                                           {"name": "b"}]},
        "documents": [{"filename": f"d{i}.txt", "text": "x"} for i in range(n)],
    })
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, ORG, req, req.schema_, None)
    store.transition(job_id, ORG, [S.VALIDATING], status=S.IN_PROGRESS, phase=Phase.EXECUTE)
    return job_id


def record(store: JobStore, job_id: str, i: int, failed: bool = False,
           row: dict[str, Any] | None = None) -> bool:
    body = row or {"document": {"index": i, "filename": f"d{i}.txt"},
                   "status": "failed" if failed else "completed", "values": {"a": i}}
    return store.record_document(job_id, ORG, i, body, failed=failed, filled=0 if failed else 1,
                                 empty=2 if failed else 1).added


def job(store: JobStore, job_id: str) -> dict[str, str]:
    h = store.read_job(job_id)
    assert h is not None
    return h


def finish(store: JobStore, job_id: str) -> None:
    assert store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.COMPLETED).ok


# ---------------------------------------------------------------- completion log
def test_rows_are_logged_once_in_completion_order(store: JobStore) -> None:
    job_id = new_job(store)
    for i in (2, 0, 2, 3):  # the second 2 is a redelivery: no new position
        record(store, job_id, i)
    rows, more = store.rows_after(job_id, 0, 10)
    assert [r.index for r in rows] == [2, 0, 3] and not more
    positions = [r.position for r in rows]
    assert positions == sorted(positions) and len(set(positions)) == 3
    assert positions[-1] == int(job(store, job_id)["version"])  # the last write's version
    assert all(r.reruns == 0 and orjson.loads(r.raw)["values"]["a"] == r.index for r in rows)


def test_pages_follow_the_position_without_gaps_or_repeats(store: JobStore) -> None:
    job_id = new_job(store, n=7)
    seen: list[int] = []
    after, order = 0, [5, 1, 6, 0, 3, 2, 4]
    for step, i in enumerate(order):
        record(store, job_id, i)
        if step % 2:  # a client polling every other write, two rows a page
            while True:
                rows, more = store.rows_after(job_id, after, 2)
                seen += [r.index for r in rows]
                after = rows[-1].position if rows else after
                if not more:
                    break
    rows, _ = store.rows_after(job_id, after, 2)
    seen += [r.index for r in rows]
    assert seen == order


def test_row_page_reads_the_job_before_the_rows(store: JobStore) -> None:
    job_id = new_job(store, n=3)
    record(store, job_id, 1)
    page = store.row_page(job_id, 0, 1)
    assert page.job["id"] == job_id and page.docs_exist and page.schema
    assert [r.index for r in page.rows] == [1] and not page.has_more
    record(store, job_id, 0)
    assert store.row_page(job_id, 0, 1).has_more
    assert store.row_page(str(uuid.uuid4()), 0, 5).job == {}


def test_the_log_gets_the_data_ttl(store: JobStore) -> None:
    job_id = new_job(store)
    record(store, job_id, 0)
    k = store.job_keys(job_id)
    assert 0 < store.r.pttl(k.rows) <= store.r.pttl(k.docs) + 1000


# ------------------------------------------------------------------- needs review
def test_required_field_left_empty_counts_once_and_warns(store: JobStore) -> None:
    job_id = new_job(store, required=True)
    schema = store.load_schema(job_id)
    assert schema is not None
    empty, _ = completed_row(1, "d1.txt", schema.fields, {})
    assert empty["needs_review"] == ["a"]
    assert record(store, job_id, 1, row=empty)
    assert not record(store, job_id, 1, row=empty)  # redelivered: no double count
    h = job(store, job_id)
    assert h["needs_review"] == "1"
    assert orjson.loads(h["warnings"]) == [{
        "code": "required_missing", "document": 1,
        "message": "Document 1 (d1.txt) completed without its required field(s): a"}]
    failed = failed_row(2, "d2.txt", schema.fields, "corrupt_document", "bad")
    record(store, job_id, 2, failed=True, row=failed)  # a failed row is not "to review"
    assert job(store, job_id)["needs_review"] == "1"


def test_rows_without_required_fields_carry_no_review_key(store: JobStore) -> None:
    job_id = new_job(store, required=False)
    schema = store.load_schema(job_id)
    assert schema is not None
    row, _ = completed_row(0, "d0.txt", schema.fields, {})
    assert "needs_review" not in row
    # a field *named* needs_review holding a list does not fool the script's pre-check
    record(store, job_id, 0, row={**row, "values": {"needs_review": ["x"]}})
    assert job(store, job_id).get("needs_review", "0") == "0"


# ---------------------------------------------------------------- retry (failed)
def completed_with_failures(store: JobStore) -> str:
    job_id = new_job(store, n=4)
    for i in range(4):
        record(store, job_id, i, failed=i in (1, 3))
    finish(store, job_id)
    return job_id


def test_plain_retry_of_a_completed_job_is_refused(store: JobStore) -> None:
    job_id = completed_with_failures(store)
    assert store.retry(job_id, ORG, Phase.PARSE) == RetryResult(
        RetryOutcome.REFUSED, status="completed")


def test_retry_failed_reopens_only_the_failed_rows(store: JobStore) -> None:
    job_id = completed_with_failures(store)
    k = store.job_keys(job_id)
    kept = {i: store.r.hget(k.results, str(i)) for i in (0, 2)}
    res = store.retry(job_id, ORG, Phase.PARSE, "failed").outcome
    assert res is RetryOutcome.REOPENED
    h = job(store, job_id)
    assert (h["status"], h["processed"], h["completed_documents"], h["failed_documents"]) == \
        ("queued", "2", "2", "0")
    assert (h["filled"], h["empty"]) == ("2", "2")
    assert store.pending_indexes(job_id, 4) == [1, 3]
    assert {i: store.r.hget(k.results, str(i)) for i in (0, 2)} == kept  # byte-identical
    assert [r.index for r in store.rows_after(job_id, 0, 10)[0]] == [0, 2]
    # the re-run: once each, even when redelivered; marked as a re-run
    store.transition(job_id, ORG, [S.QUEUED], status=S.IN_PROGRESS, phase=Phase.EXECUTE)
    for i in (3, 1, 3):
        record(store, job_id, i)
    h = job(store, job_id)
    assert (h["processed"], h["completed_documents"], h["failed_documents"]) == ("4", "4", "0")
    rows, _ = store.rows_after(job_id, 0, 10)
    assert [(r.index, r.reruns) for r in rows] == [(0, 0), (2, 0), (3, 1), (1, 1)]


def test_retry_failed_without_failed_rows_is_refused(store: JobStore) -> None:
    job_id = new_job(store, n=2)
    record(store, job_id, 0)
    record(store, job_id, 1)
    finish(store, job_id)
    before = job(store, job_id)["version"]
    assert store.retry(job_id, ORG, Phase.PARSE, "failed") == RetryResult(
        RetryOutcome.REFUSED, status="no_failed_rows")
    assert job(store, job_id)["version"] == before  # nothing changed


def test_retry_failed_still_refuses_a_running_job(store: JobStore) -> None:
    job_id = new_job(store, n=2)
    record(store, job_id, 0, failed=True)
    assert store.retry(job_id, ORG, Phase.PARSE, "failed") == RetryResult(
        RetryOutcome.REFUSED, status="in_progress")


def test_a_job_completed_again_after_retry_failed_sends_job_completed_again(
        fake_redis: fakeredis.FakeRedis) -> None:
    store = JobStore(fake_redis, Settings(key_prefix="ur", webhook_secret_key="k"))
    ws = WebhookStore(store.r, store.settings)
    hook = ws.create(ORG, WebhookCreate(url="https://example.com/h",
                                        events=["job.completed"])).id
    job_id = completed_with_failures(store)
    assert emit_terminal_event(store, job_id, ORG) == 1
    assert store.retry(job_id, ORG, Phase.PARSE, "failed").outcome is RetryOutcome.REOPENED
    store.transition(job_id, ORG, [S.QUEUED], status=S.IN_PROGRESS, phase=Phase.EXECUTE)
    record(store, job_id, 1)
    record(store, job_id, 3)
    time.sleep(0.002)  # a later completed_at: the new transition
    finish(store, job_id)
    assert emit_terminal_event(store, job_id, ORG) == 1
    assert emit_terminal_event(store, job_id, ORG) == 0  # still once per transition
    assert [d.type for d in ws.deliveries(hook)] == ["job.completed", "job.completed"]

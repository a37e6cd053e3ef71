"""The Lua scripts that keep job counters exact under at-least-once delivery (fakeredis)."""

from __future__ import annotations

import uuid

import fakeredis
import pytest

from shared.clock import now_ms
from shared.job import RetryOutcome, RetryResult
from shared.jobview import effective_status, status_payload
from shared.models import JobCreate
from shared.settings import Settings
from shared.status import JobStatus, Phase
from shared.store import JobStore

S = JobStatus
ORG = "org_t"


@pytest.fixture
def store() -> JobStore:
    return JobStore(fakeredis.FakeRedis(decode_responses=True), Settings(key_prefix="ut"))


def _job(store: JobStore, n: int = 3, fields: int = 2) -> str:
    req = JobCreate.model_validate({
        "schema": {"name": "s", "fields": [{"name": f"f{i}"} for i in range(fields)]},
        "documents": [{"filename": f"d{i}.txt", "text": "x"} for i in range(n)],
    })
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, ORG, req, req.schema_, None)
    store.transition(job_id, ORG, [S.VALIDATING], status=S.IN_PROGRESS, phase=Phase.EXECUTE)
    return job_id


def _rec(store: JobStore, job_id: str, i: int, filled: int = 2, empty: int = 0,
         failed: bool = False) -> tuple[bool, bool]:
    r = store.record_document(job_id, ORG, i, {"i": i}, failed=failed, filled=filled,
                              empty=empty)
    return r.added, r.is_last


def test_counts_each_document_once(store: JobStore) -> None:
    job_id = _job(store)
    assert _rec(store, job_id, 0) == (True, False)
    assert _rec(store, job_id, 0) == (False, False)  # redelivered: no double count
    h = store.read_job(job_id)
    assert h is not None
    assert (h["processed"], h["completed_documents"], h["filled"]) == ("1", "1", "2")


def test_fan_in_reports_last_exactly_once(store: JobStore) -> None:
    job_id = _job(store, n=3)
    results = [_rec(store, job_id, i) for i in (2, 0, 0, 1, 1, 2)]
    assert [last for _, last in results].count(True) == 1
    assert results[3] == (True, True)  # document 1 was the third distinct one


def test_failed_document_counts_as_processed_with_empty_cells(store: JobStore) -> None:
    job_id = _job(store, n=2, fields=3)
    _rec(store, job_id, 0, filled=2, empty=1)
    _rec(store, job_id, 1, filled=0, empty=3, failed=True)
    h = store.read_job(job_id)
    assert h is not None
    p = status_payload(h, now_ms())
    assert p["grid_stats"] == {"total_cells": 6, "filled": 2, "empty": 4, "fill_rate": 0.3333}
    assert p["completed_documents"] == 1 and p["progress"] == 100
    assert h["failed_documents"] == "1"


def test_every_write_bumps_version_once(store: JobStore) -> None:
    job_id = _job(store)
    v0 = int(store.read_job(job_id)["version"])  # type: ignore[index]
    _rec(store, job_id, 0)
    _rec(store, job_id, 0)
    assert int(store.read_job(job_id)["version"]) == v0 + 1  # type: ignore[index]


def test_begin_counts_crash_redelivery_as_worker_lost(store: JobStore) -> None:
    job_id = _job(store)
    first = store.begin_task(job_id, ORG, "d:0", 0)
    assert (first.verdict, first.runs) == ("run", 1)
    again = store.begin_task(job_id, ORG, "d:0", 0)
    assert (again.verdict, again.runs, again.code) == ("run", 2, "worker_lost")
    h = store.read_job(job_id)
    assert h is not None
    assert h["attempt_count"] == "2" and h["last_failure_code"] == "worker_lost"


def test_noted_retry_is_counted_once_with_its_code(store: JobStore) -> None:
    job_id = _job(store)
    store.begin_task(job_id, ORG, "d:1", 1)
    store.note_failure(job_id, ORG, "d:1", "extractor_timeout")
    b = store.begin_task(job_id, ORG, "d:1", 1)
    assert (b.verdict, b.code) == ("run", "extractor_timeout")
    h = store.read_job(job_id)
    assert h is not None
    assert h["attempt_count"] == "2" and h["last_failure_code"] == "extractor_timeout"


def test_crash_cap_gives_up(store: JobStore) -> None:
    job_id = _job(store)
    verdicts = [store.begin_task(job_id, ORG, "d:0", 0).verdict for _ in range(4)]
    assert verdicts == ["run", "run", "run", "cap"]  # cap = 3 runs lost to crashes


def test_begin_skips_done_cancelled_and_expired(store: JobStore) -> None:
    job_id = _job(store)
    _rec(store, job_id, 0)
    assert store.begin_task(job_id, ORG, "d:0", 0).verdict == "done"
    store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.CANCELLED, extra={"cancelled": "1"})
    assert store.begin_task(job_id, ORG, "d:1", 1).verdict == "skip"
    assert store.begin_task(str(uuid.uuid4()), ORG, "d:1", 1).verdict == "gone"
    other = _job(store)
    store.r.hset(store.keys.job(other), "expires_at", now_ms() - 1)
    b = store.begin_task(other, ORG, "d:0", 0)
    assert (b.verdict, b.code) == ("skip", "expired")
    assert effective_status(store.read_job(other) or {}, now_ms()) is S.EXPIRED


def test_transition_refuses_from_wrong_status(store: JobStore) -> None:
    job_id = _job(store)
    ok = store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.COMPLETED)
    assert ok.ok
    again = store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.COMPLETED)
    assert (again.ok, again.detail) == (False, "completed")
    cancel = store.transition(job_id, ORG, [S.VALIDATING, S.QUEUED, S.IN_PROGRESS],
                              status=S.CANCELLED)
    assert not cancel.ok
    _, timeline = store.read_full(job_id)
    assert [e.split("|")[0] for e in timeline] == ["validating", "in_progress", "completed"]


def test_retry_reopens_only_failed_documents(store: JobStore) -> None:
    job_id = _job(store, n=3, fields=2)
    _rec(store, job_id, 0, filled=2)
    _rec(store, job_id, 1, filled=0, empty=2, failed=True)
    store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.CANCELLED, extra={"cancelled": "1"})
    res = store.retry(job_id, ORG, Phase.PARSE).outcome
    assert res is RetryOutcome.REOPENED
    h = store.read_job(job_id)
    assert h is not None
    assert (h["status"], h["cancelled"], h["processed"], h["empty"], h["filled"]) == (
        "queued", "0", "1", "0", "2")
    assert store.pending_indexes(job_id, 3) == [1, 2]
    assert _rec(store, job_id, 1) == (True, False)
    assert _rec(store, job_id, 2) == (True, True)


def test_retry_refused_while_running_and_after_data_expired(store: JobStore) -> None:
    job_id = _job(store)
    assert store.retry(job_id, ORG, Phase.PARSE) == RetryResult(
        RetryOutcome.REFUSED, status="in_progress")
    store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.FAILED)
    store.r.delete(store.job_keys(job_id).docs)
    assert store.retry(job_id, ORG, Phase.PARSE) == RetryResult(RetryOutcome.DATA_EXPIRED)


def test_data_keys_inherit_the_job_ttl(store: JobStore) -> None:
    job_id = _job(store)
    store.begin_task(job_id, ORG, "parse")
    assert store.r.pttl(store.job_keys(job_id).attempts) > 0
    store.start_fanout(job_id, [0, 1, 2], window=1)
    store.begin_task(job_id, ORG, "d:0", 0)
    _rec(store, job_id, 0, failed=True)
    k = store.job_keys(job_id)
    for key in (k.done, k.failed, k.results, k.attempts, k.docs, k.queue, k.claims):
        assert store.r.pttl(key) > 0, key
    assert store.r.pttl(k.job) > store.r.pttl(k.docs)  # the record outlives the data


def test_begin_returns_the_parsed_document(store: JobStore) -> None:
    job_id = _job(store)
    # KEYS[5]'s field ``index`` comes back (how begin_document gets its document)
    store.r.hset(store.job_keys(job_id).parsed, "1",
                 '{"text": "x", "kind": "text", "filename": "a"}')
    assert store.begin_task(job_id, ORG, "d:1", 1).parsed.startswith('{"text"')
    assert store.begin_task(job_id, ORG, "d:0", 0).parsed == ""
    assert store.begin_task(job_id, ORG, "finalize").parsed == ""


def test_fanout_window_slides_one_per_recorded_document(store: JobStore) -> None:
    job_id = _job(store, n=5)
    assert store.start_fanout(job_id, [0, 1, 2, 3, 4], window=2) == [0, 1]
    r0 = store.record_document(job_id, ORG, 0, {}, failed=False, filled=2, empty=0)
    assert r0.next_index == 2
    again = store.record_document(job_id, ORG, 0, {}, failed=False, filled=2, empty=0)
    assert (again.added, again.next_index) == (False, 2)  # a redelivery re-sends its claim
    assert store.claimed(job_id, 0) == 2
    nexts = [store.record_document(job_id, ORG, i, {}, failed=False, filled=2,
                                   empty=0).next_index for i in (1, 2, 3, 4)]
    assert nexts == [3, 4, -1, -1]
    assert store.claimed(job_id, 4) == -1


def test_with_an_envelope_the_script_pushes_the_next_message_itself(store: JobStore) -> None:
    """The hand-out and the send are one step: the broker list gets the rendered message,
    no claim is left to re-send, and a redelivery of the recorded document sends nothing."""
    import orjson

    from shared.broker_messages import extract_envelope

    job_id = _job(store, n=4)
    store.start_fanout(job_id, [0, 1, 2, 3], window=2)
    push = ("ut:q:extract", extract_envelope(job_id, ORG, "normal"))
    r0 = store.record_document(job_id, ORG, 0, {}, failed=False, filled=2, empty=0, push=push)
    assert (r0.added, r0.next_index, r0.sent) == (True, 2, True)
    assert store.claimed(job_id, 0) == -1
    [raw] = store.r.lrange("ut:q:extract", 0, -1)
    msg = orjson.loads(raw)
    task_id = msg["headers"]["id"]
    assert orjson.loads(msg["body"])[0] == [job_id, ORG, 2, "normal"]
    assert task_id.startswith(f"{job_id}.2.") and msg["properties"]["delivery_tag"] == task_id
    assert "@@" not in raw and "body_encoding" not in msg["properties"]

    again = store.record_document(job_id, ORG, 0, {}, failed=False, filled=2, empty=0,
                                  push=push)
    assert (again.added, again.next_index, again.sent) == (False, -1, False)
    r1 = store.record_document(job_id, ORG, 1, {}, failed=False, filled=2, empty=0, push=push)
    assert (r1.next_index, r1.sent) == (3, True)
    ids = [orjson.loads(m)["headers"]["id"] for m in store.r.lrange("ut:q:extract", 0, -1)]
    assert len(set(ids)) == 2  # every send has its own id (kombu's delivery tag)
    last = store.record_document(job_id, ORG, 2, {}, failed=False, filled=2, empty=0, push=push)
    assert (last.next_index, last.sent) == (-1, False)
    assert store.r.llen("ut:q:extract") == 2


def test_start_fanout_again_rebuilds_the_queue(store: JobStore) -> None:
    job_id = _job(store, n=4)
    store.start_fanout(job_id, [0, 1, 2, 3], window=1)
    assert store.start_fanout(job_id, [2, 3], window=1) == [2]
    r = store.record_document(job_id, ORG, 2, {}, failed=False, filled=2, empty=0)
    assert r.next_index == 3

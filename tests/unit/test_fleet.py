"""Node heartbeats, the rescue of lost nodes' messages, the lost-message audit, the cancel
interrupt, and the honest ETA and ``waiting_for``, driven directly (fakeredis; the
worker-process versions of these are in ``tests/faults/test_node_loss.py``)."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterable

import fakeredis
import orjson
import pytest

from jobgrid.render import phase_text
from shared import queues as q
from shared.broker_messages import extract_envelope, render
from shared.clock import now_ms
from shared.jobview import eta_seconds, job_payload, quiet_at, status_payload, waiting_for
from shared.models import JobCreate, JobOut, JobStatusOut
from shared.settings import Settings
from shared.status import JobStatus, Phase
from shared.store import JobStore
from worker import docwatch
from worker.fleet import Housekeeper, NodeKeeper, message_of

S = JobStatus
ORG = "org_f"


class Sent:
    """A Dispatcher that records what it was asked to send."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[int, ...]]] = []

    def validate(self, job_id: str, org: str) -> None:
        self.calls.append(("validate", job_id, ()))

    def parse(self, job_id: str, org: str) -> None:
        self.calls.append(("parse", job_id, ()))

    def finalize(self, job_id: str, org: str) -> None:
        self.calls.append(("finalize", job_id, ()))

    def extract(self, job_id: str, org: str, indexes: Iterable[int], priority: str) -> int:
        idx = tuple(indexes)
        self.calls.append(("extract", job_id, idx))
        return len(idx)

    def extract_push(self, job_id: str, org: str, priority: str) -> tuple[str, str] | None:
        return None


@pytest.fixture
def store() -> JobStore:
    return JobStore(fakeredis.FakeRedis(decode_responses=True), Settings(key_prefix="ft"))


def _keeper(store: JobStore, restored: list[str], fail_after: int | None = None) -> Housekeeper:
    def restore(tags: list[str]) -> None:
        for n, tag in enumerate(tags):
            if fail_after is not None and n >= fail_after:
                raise RuntimeError("the rescuer died")
            raw = store.r.hget(store.keys.unacked, tag)
            store.r.hdel(store.keys.unacked, tag)
            store.r.zrem(store.keys.unacked_index, tag)
            if raw:
                payload = orjson.dumps(orjson.loads(raw)[0])
                store.r.rpush(store.keys.broker_queue("extract"), payload)
            restored.append(tag)
    return Housekeeper(store, store.r, Sent(), restore)


def _deliver(store: JobStore, tag: str, job_id: str, index: int, at: float) -> None:
    """What kombu does when a worker takes a message: unacked hash + index."""
    payload = render(extract_envelope(job_id, ORG, "normal"), index, tag)
    store.r.hset(store.keys.unacked, tag, orjson.dumps([orjson.loads(payload), "", "extract"]))
    store.r.zadd(store.keys.unacked_index, {tag: at})


def _beat(store: JobStore, name: str, tags: list[str]) -> NodeKeeper:
    node = NodeKeeper(name, store, lambda: tags, None)
    node.beat()
    return node


def test_messages_of_a_node_that_stopped_beating_are_restored(store: JobStore) -> None:
    job_id = _job(store, 4)
    old = time.time() - 30
    _deliver(store, "t-live", job_id, 0, old)
    _deliver(store, "t-dead", job_id, 1, old)
    _deliver(store, "t-new", job_id, 2, time.time() + 60)  # after every live beat: not yet
    _beat(store, "live@h", ["t-live"])
    _beat(store, "dead@h", ["t-dead"])
    store.r.delete(store.keys.node("dead@h"))  # its heartbeat expired
    restored: list[str] = []
    assert _keeper(store, restored).rescue_lost_nodes() == 1
    assert restored == ["t-dead"]
    assert store.r.zscore(store.keys.nodes, "dead@h") is None  # pruned
    h = store.read_job(job_id)
    assert h is not None and h["last_failure_code"] == "worker_lost"
    assert int(h["attempt_count"]) == 0  # counted by the re-run's begin_task, once


def test_a_rescuer_that_dies_midway_leaves_the_rest_to_the_next(store: JobStore) -> None:
    job_id = _job(store, 4)
    old = time.time() - 30
    for i in range(3):
        _deliver(store, f"t{i}", job_id, i, old)
    _beat(store, "live@h", [])
    first: list[str] = []
    with pytest.raises(RuntimeError):
        _keeper(store, first, fail_after=1).rescue_lost_nodes()
    second: list[str] = []
    assert _keeper(store, second).rescue_lost_nodes() == 2
    assert sorted(first + second) == ["t0", "t1", "t2"]


def test_a_live_node_keeps_a_long_running_message(store: JobStore) -> None:
    job_id = _job(store, 1)
    _deliver(store, "slow", job_id, 0, time.time() - 3600)  # an hour old, still running
    _beat(store, "busy@h", ["slow"])
    restored: list[str] = []
    assert _keeper(store, restored).rescue_lost_nodes() == 0


def test_failed_tag_read_keeps_the_previous_set_and_beat_time(store: JobStore) -> None:
    tags: list[str] | None = ["a"]
    node = NodeKeeper("n@h", store, lambda: tags, None)
    assert node.beat()
    score = store.r.zscore(store.keys.nodes, "n@h")
    tags = None
    assert not node.beat()
    assert store.r.smembers(store.keys.node("n@h")) == {"@", "a"}
    assert store.r.zscore(store.keys.nodes, "n@h") == score


def test_audit_resends_only_what_is_missing_twice(store: JobStore) -> None:
    job_id = _job(store, 5)
    store.start_fanout(job_id, [0, 1, 2, 3, 4], 3)  # 0, 1, 2 handed out; 3, 4 wait
    store.r.hset(store.keys.job(job_id), "fanout_done", "1")
    store.record_document(job_id, ORG, 0, {"i": 0}, failed=False, filled=1, empty=0)
    store.r.lpush(store.keys.broker_queue("extract"),  # recording 0 handed out 3
                  render(extract_envelope(job_id, ORG, "normal"), 3, "x3"))
    _deliver(store, "t1", job_id, 1, time.time())  # 1 runs; 2 was lost after its pop
    keeper = _keeper(store, [])
    later = now_ms() + 60_000
    assert keeper.audit_lost_messages(later) == 0  # first sighting: remembered
    assert keeper.audit_lost_messages(later + 2_000) == 1
    assert keeper.dispatch.calls == [("extract", job_id, (2,))]  # type: ignore[attr-defined]
    h = store.read_job(job_id)
    assert h is not None and h["last_failure_code"] == "worker_lost"
    assert h["attempt_count"] == "1"


def test_audit_forgets_a_miss_once_the_job_moved(store: JobStore) -> None:
    job_id = _job(store, 2)
    store.start_fanout(job_id, [0, 1], 2)
    store.r.hset(store.keys.job(job_id), "fanout_done", "1")
    keeper = _keeper(store, [])
    later = now_ms() + 60_000
    assert keeper.audit_lost_messages(later) == 0
    store.record_document(job_id, ORG, 0, {"i": 0}, failed=False, filled=1, empty=0)
    store.r.hset(store.keys.job(job_id), "updated_at", str(now_ms() - 30_000))
    assert keeper.audit_lost_messages(later + 2_000) == 0  # version changed: start over
    assert keeper.audit_lost_messages(later + 4_000) == 1


def test_audit_resends_a_lost_finalize_and_parse(store: JobStore) -> None:
    fin = _job(store, 1)
    store.record_document(fin, ORG, 0, {"i": 0}, failed=False, filled=1, empty=0)
    parse = _job(store, 1, phase=Phase.PARSE)
    keeper = _keeper(store, [])
    later = now_ms() + 60_000
    keeper.audit_lost_messages(later)
    assert keeper.audit_lost_messages(later + 2_000) == 2
    assert sorted(keeper.dispatch.calls) == sorted(  # type: ignore[attr-defined]
        [("finalize", fin, ()), ("parse", parse, ())])


def test_message_of_reads_script_and_celery_envelopes() -> None:
    job_id = str(uuid.uuid4())
    raw = render(extract_envelope(job_id, ORG, "high"), 7, "id1")
    assert message_of(raw) == ("extract", job_id, ORG, 7)
    body = base64.b64encode(orjson.dumps([[job_id, ORG], {}, {}])).decode()
    celery = {"body": body, "headers": {"task": q.T_FINALIZE},
              "properties": {"body_encoding": "base64"}}
    assert message_of(orjson.dumps([celery, "", "control"]).decode()) == \
        ("finalize", job_id, ORG, -1)
    assert message_of(orjson.dumps({"headers": {"task": q.T_PING}}).decode()) is None
    assert message_of("not json") is None


def test_cancel_interrupts_a_running_document(store: JobStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docwatch, "POLL_SECONDS", 0.05)
    job_id = _job(store, 1)
    threading.Timer(0.3, lambda: store.r.hset(store.keys.job(job_id), "cancelled", "1")).start()
    started = time.monotonic()
    with pytest.raises(docwatch.DocumentCancelled):
        with docwatch.guard_document(store, job_id):
            while time.monotonic() - started < 10:
                sum(range(1000))  # a parse that would go on for 10 s
    assert time.monotonic() - started < 3
    with docwatch.guard_document(store, _job(store, 1)):  # the next document is not hit
        time.sleep(0.3)


def test_eta_grows_then_is_withdrawn_while_nothing_moves() -> None:
    start = 1_000_000
    h = {"exec_started_at": str(start), "processed": "10", "exec_processed_base": "0",
         "document_count": "20", "updated_at": str(start + 10_000)}
    st = JobStatus.IN_PROGRESS
    assert eta_seconds(h, st, start + 10_000) == 10
    assert eta_seconds(h, st, start + 15_000) == 15  # a pause already slows the rate
    assert eta_seconds(h, st, start + 10_000 + 10_001) is None  # stale: unknown, not 10


def _running(done: int, start: int, last: int, **extra: str) -> dict[str, str]:
    return {"exec_started_at": str(start), "processed": str(done), "exec_processed_base": "0",
            "document_count": "40", "updated_at": str(last), **extra}


def test_waiting_for_turns_on_exactly_when_the_eta_is_withdrawn() -> None:
    """One rule, two boundaries: the STALE_MIN_MS floor (fast job), and STALE_GAPS average
    gaps (slow job); the ETA is a number up to the same millisecond, null after it."""
    start, st = 1_000_000, S.IN_PROGRESS
    fast = _running(10, start, start + 10_000)  # 1 s per document: the 10 s floor rules
    assert quiet_at(fast, st) == start + 20_000
    slow = _running(5, start, start + 20_000)  # 4 s per document: 4 gaps of the average
    assert quiet_at(slow, st) == start + 100_000  # 80 s after the last = 4 x (100 s / 5)
    for h, at in ((fast, start + 20_000), (slow, start + 100_000)):
        assert waiting_for(h, st, at) is None and eta_seconds(h, st, at) is not None
        assert waiting_for(h, st, at + 1) == "workers" and eta_seconds(h, st, at + 1) is None


def test_waiting_for_says_rescue_after_a_lost_node_and_nothing_when_it_cannot_tell() -> None:
    start, st = 1_000_000, S.IN_PROGRESS
    lost = _running(10, start, start + 10_000, last_failure_code="worker_lost")
    assert waiting_for(lost, st, start + 20_001) == "rescue"
    assert waiting_for({**lost, "last_failure_code": "extractor_timeout"}, st,
                       start + 20_001) == "workers"
    late = start + 10**9
    for status in (S.COMPLETED, S.FAILED, S.CANCELLED, S.EXPIRED):  # terminal: nothing waits
        assert waiting_for(lost, status, late) is None and quiet_at(lost, status) is None
    assert quiet_at(_running(0, start, start), st) is None  # nothing done: no rate yet
    assert quiet_at({**lost, "exec_started_at": "0"}, st) is None  # execution not started
    # with 4 documents or fewer the average gap grows as fast as the pause: never quiet
    assert quiet_at(_running(4, start, start + 4_000), st) is None
    assert waiting_for(_running(4, start, start + 4_000), st, late) is None
    # a retry's window counts only its own documents (exec_processed_base)
    retried = {**_running(12, start, start + 10_000), "exec_processed_base": "8"}
    assert quiet_at(retried, st) is None


def test_both_payloads_carry_waiting_for_as_their_models_say() -> None:
    start = 1_000_000
    h = {**_running(10, start, start + 10_000, last_failure_code="worker_lost"),
         "id": "j", "endpoint": "/v1/documents/extract", "org": ORG, "status": "in_progress",
         "created_at": str(start), "expires_at": str(start + 10**9), "version": "12"}
    for now, expected in ((start + 20_000, None), (start + 20_001, "rescue")):
        st, full = status_payload(h, now), job_payload(h, [], now, "http://x")
        assert st["waiting_for"] == full["waiting_for"] == expected
        assert JobStatusOut.model_validate(st).model_dump(mode="json")["waiting_for"] == expected
        assert JobOut.model_validate(full).model_dump(mode="json")["waiting_for"] == expected


def test_watch_shows_the_servers_waiting_for_and_no_threshold_of_its_own() -> None:
    moving = {"status": "in_progress", "current_phase": "phase_2_execute", "waiting_for": None,
              "last_failure_code": "worker_lost"}
    assert phase_text(moving) == "phase_2_execute"
    assert phase_text({**moving, "waiting_for": "rescue"}) == \
        "phase_2_execute (waiting for rescue)"
    assert phase_text({**moving, "waiting_for": "workers"}).endswith("(waiting for workers)")


def _job(store: JobStore, n: int, phase: Phase = Phase.EXECUTE) -> str:
    req = JobCreate.model_validate({
        "schema": {"name": "s", "fields": [{"name": "f"}]},
        "documents": [{"filename": f"d{i}.txt", "text": "x"} for i in range(n)],
    })
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, ORG, req, req.schema_, None, created=now_ms() - 60_000)
    store.transition(job_id, ORG, [S.VALIDATING], status=S.IN_PROGRESS, phase=phase)
    store.r.hset(store.keys.job(job_id), "updated_at", str(now_ms() - 30_000))
    return job_id

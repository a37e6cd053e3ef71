"""How a Redis outage inside a task is counted (fast: fakeredis and a stubbed step).

Found by ``test_redis_outage.py``: a run restarted after an outage must be noted as a
``redis_unavailable`` retry before it starts, or begin_task.lua books it as a crash
(``worker_lost``, counted towards the crash cap) - and a note left by a run that never got
counted must not excuse a later real crash.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import fakeredis
import pytest
import redis

from shared.models import JobCreate
from shared.settings import Settings
from shared.status import JobStatus, Phase
from shared.store import JobStore

ORG = "org_t"


@pytest.fixture
def store() -> JobStore:
    return JobStore(fakeredis.FakeRedis(decode_responses=True),
                    Settings(key_prefix="ut", document_attempt_cap=2))


def _job(store: JobStore) -> str:
    req = JobCreate.model_validate({
        "schema": {"name": "s", "fields": [{"name": "f"}]},
        "documents": [{"filename": "d.txt", "text": "x"}],
    })
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, ORG, req, req.schema_, None)
    store.transition(job_id, ORG, [JobStatus.VALIDATING], status=JobStatus.IN_PROGRESS,
                     phase=Phase.EXECUTE)
    return job_id


def test_note_left_before_the_first_counted_run_does_not_excuse_a_crash(
    store: JobStore,
) -> None:
    job_id = _job(store)
    # Redis failed before begin_task ran; the outage handler noted the retry anyway
    store.note_failure(job_id, ORG, "d:0", "redis_unavailable")
    assert store.begin_task(job_id, ORG, "d:0", 0).verdict == "run"  # the first counted run
    again = store.begin_task(job_id, ORG, "d:0", 0)  # ... then its worker died
    assert (again.verdict, again.code) == ("run", "worker_lost")  # not "redis_unavailable"
    assert store.begin_task(job_id, ORG, "d:0", 0).verdict == "cap"  # 2nd crash: cap 2
    h = store.read_job(job_id)
    assert h is not None and h["last_failure_code"] == "worker_lost"


class _FlakyStore:
    """note_failure fails while ``down`` says so; records what happened in ``events``."""

    def __init__(self, events: list[str], down_notes: int) -> None:
        self.events = events
        self.down_notes = down_notes

    def note_failure(self, job_id: str, org: str, task: str, code: str) -> int:
        if self.down_notes > 0:
            self.down_notes -= 1
            self.events.append("note failed")
            raise redis.ConnectionError("down")
        self.events.append(f"noted {code}")
        return 2


def test_run_after_an_outage_starts_only_once_its_retry_is_noted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worker import runtime, tasks

    events: list[str] = []
    flaky = _FlakyStore(events, down_notes=3)
    monkeypatch.setattr(runtime, "store", lambda: flaky)
    monkeypatch.setattr(time, "sleep", lambda s: events.append("sleep"))
    runs = iter([redis.ConnectionError("down"), "completed"])

    def step() -> str:
        outcome: Any = next(runs)
        events.append("step")
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    assert tasks._through_outage("j", ORG, "d:0", step) == "completed"
    assert events == ["step", "sleep", "note failed", "sleep", "note failed", "sleep",
                      "note failed", "sleep", "noted redis_unavailable", "step"]


def test_outage_longer_than_the_budget_raises_the_redis_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worker import runtime, tasks

    flaky = _FlakyStore([], down_notes=10_000)
    monkeypatch.setattr(runtime, "store", lambda: flaky)
    monkeypatch.setattr(time, "sleep", lambda s: None)

    def step() -> str:
        raise redis.TimeoutError("frozen")

    with pytest.raises(redis.ConnectionError):
        tasks._through_outage("j", ORG, "d:0", step)

"""The payload builders in ``shared.jobview`` answer exactly the contract's models.

The API serializes plain dicts on the hot path (no pydantic per request), so these tests are
what keeps those dicts identical to ``JobStatusOut`` / ``JobOut``: same field set, values that
validate, and nothing the model would drop.
"""

from __future__ import annotations

import uuid
from typing import Any

import fakeredis
import pytest
from pydantic import BaseModel

from shared.clock import now_ms
from shared.jobview import job_payload, status_payload
from shared.models import JobCreate, JobOut, JobStatusOut
from shared.settings import Settings
from shared.status import JobStatus, Phase
from shared.store import JobStore

ORG = "org_payload"
S = JobStatus


def field_names(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


@pytest.fixture
def store(fake_redis: fakeredis.FakeRedis) -> JobStore:
    return JobStore(fake_redis, Settings(key_prefix="utp"))


def new_job(store: JobStore, n: int = 2) -> str:
    req = JobCreate.model_validate({
        "name": "payloads",
        "schema": {"name": "Invoice", "fields": [{"name": "total", "type": "number"},
                                                 {"name": "date", "type": "date"}]},
        "documents": [{"filename": f"d{i}.txt", "text": "Total: 1"} for i in range(n)],
        "metadata": {"batch": "b1"},
    })
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, ORG, req, req.schema_, "sch_0123456789abcdef")
    return job_id


def running(store: JobStore, job_id: str) -> None:
    store.transition(job_id, ORG, [S.VALIDATING], status=S.IN_PROGRESS, phase=Phase.EXECUTE,
                     extra={"started_at": now_ms() - 5000, "exec_started_at": now_ms() - 4000,
                            "attempt_count": 1, "last_attempt_at": now_ms() - 5000})
    store.record_document(job_id, ORG, 0, {"document": {"index": 0, "filename": "d0.txt"}},
                          failed=False, filled=1, empty=1,
                          warning={"code": "low_confidence", "message": "m", "document": 0})


def failed(store: JobStore, job_id: str) -> None:
    running(store, job_id)
    store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.FAILED,
                     extra={"error_code": "extractor_error", "error_message": "boom",
                            "last_failure_code": "worker_lost"})


def completed(store: JobStore, job_id: str) -> None:
    running(store, job_id)
    store.record_document(job_id, ORG, 1, {"document": {"index": 1, "filename": "d1.txt"}},
                          failed=True, filled=0, empty=2)
    store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.COMPLETED, phase=Phase.FINALIZE)


def expired(store: JobStore, job_id: str) -> None:
    store.r.hset(store.keys.job(job_id), "expires_at", str(now_ms() - 1000))


STATES = {"validating": lambda s, j: None, "in_progress": running, "failed": failed,
          "completed": completed, "expired_on_read": expired}


def states(store: JobStore) -> list[tuple[str, dict[str, str], list[str]]]:
    out = []
    for name, setup in STATES.items():
        job_id = new_job(store)
        setup(store, job_id)
        h, timeline = store.read_full(job_id)
        assert h is not None
        out.append((name, h, timeline))
    return out


def assert_exact(model: type[BaseModel], payload: dict[str, Any]) -> BaseModel:
    assert set(payload) == field_names(model)
    parsed = model.model_validate(payload)
    dumped = parsed.model_dump(mode="json", by_alias=True)
    if "links" in payload:  # links.cancel is absent (not null) once terminal
        dumped["links"] = {k: v for k, v in dumped["links"].items() if v is not None}
    assert dumped == payload
    return parsed


def test_status_payload_is_exactly_job_status_out(store: JobStore) -> None:
    for name, h, _ in states(store):
        out = assert_exact(JobStatusOut, status_payload(h, now_ms()))
        assert isinstance(out, JobStatusOut)
        assert out.status.value == name.removesuffix("_on_read"), name


def test_job_payload_is_exactly_job_out(store: JobStore) -> None:
    for name, h, timeline in states(store):
        payload = job_payload(h, timeline, now_ms(), "http://x")
        out = assert_exact(JobOut, payload)
        assert isinstance(out, JobOut)
        assert out.status.value == name.removesuffix("_on_read"), name
        assert set(payload["grid_stats"]) == {"total_cells", "filled", "empty", "fill_rate"}
        terminal = out.status not in (S.VALIDATING, S.IN_PROGRESS, S.QUEUED)
        assert ("cancel" in payload["links"]) is not terminal


def test_failed_job_carries_error_and_warnings(store: JobStore) -> None:
    job_id = new_job(store)
    failed(store, job_id)
    h, timeline = store.read_full(job_id)
    assert h is not None
    st = status_payload(h, now_ms())
    assert st["error"] == {"code": "extractor_error", "message": "boom"}
    assert st["warnings"] == [{"code": "low_confidence", "message": "m", "document": 0}]
    assert st["last_failure_code"] == "worker_lost"
    full = job_payload(h, timeline, now_ms(), "http://x")
    assert [e["status"] for e in full["timeline"]] == ["validating", "in_progress", "failed"]
    assert full["estimated_seconds_remaining"] is None  # terminal: no estimate

"""Emission: one event per job transition, however many callers race to emit it."""

from __future__ import annotations

import threading
import time
import uuid

import fakeredis
import orjson
import pytest

from shared.clock import now_ms
from shared.job import RetryOutcome
from shared.models import JobCreate
from shared.settings import Settings
from shared.status import JobStatus, Phase
from shared.store import JobStore
from shared.webhooks import (
    EVENTS,
    WebhookCreate,
    WebhookStore,
    emit_for_status,
    emit_job_event,
    emit_progress,
    emit_terminal_event,
    register_expiry,
    unregister_expiry,
)
from worker.housekeeping import sweep_expiries

S = JobStatus
ORG = "org_a"


@pytest.fixture
def store(fake_redis: fakeredis.FakeRedis) -> JobStore:
    return JobStore(fake_redis, Settings(key_prefix="ut", webhook_secret_key="k"))


def _hook(store: JobStore, events: list[str], org: str = ORG) -> str:
    ws = WebhookStore(store.r, store.settings)
    return ws.create(org, WebhookCreate(url="https://example.com/h", events=events)).id


def _job(store: JobStore, org: str = ORG) -> str:
    req = JobCreate.model_validate({
        "schema": {"name": "s", "fields": [{"name": "f"}]},
        "documents": [{"filename": "d.txt", "text": "x"}],
    })
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, org, req, req.schema_, None)
    store.transition(job_id, org, [S.VALIDATING], status=S.IN_PROGRESS, phase=Phase.EXECUTE)
    return job_id


def _finish(store: JobStore, job_id: str, status: JobStatus = S.COMPLETED) -> None:
    assert store.transition(job_id, ORG, [S.IN_PROGRESS], status=status).ok


def _deliveries(store: JobStore, hook_id: str) -> list[dict[str, str]]:
    ws = WebhookStore(store.r, store.settings)
    return [{"type": d.type, "job_id": d.job_id, "event_id": d.event_id}
            for d in ws.deliveries(hook_id)]


def test_duplicate_emission_creates_one_delivery(store: JobStore) -> None:
    hook = _hook(store, ["job.completed"])
    job_id = _job(store)
    _finish(store, job_id)
    assert emit_job_event(store, job_id, ORG, "job.completed") == 1
    assert emit_job_event(store, job_id, ORG, "job.completed") == 0  # finalize ran twice
    assert emit_for_status(store, job_id, ORG, S.COMPLETED) == 0
    assert len(_deliveries(store, hook)) == 1
    assert store.r.zcard(store.keys.webhooks_due) == 1


def test_racing_emitters_create_one_delivery(store: JobStore) -> None:
    hook = _hook(store, ["job.completed"])
    job_id = _job(store)
    _finish(store, job_id)
    results: list[int] = []
    barrier = threading.Barrier(8)

    def emit() -> None:
        barrier.wait()
        results.append(emit_job_event(store, job_id, ORG, "job.completed"))

    threads = [threading.Thread(target=emit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0] * 7 + [1]
    assert len(_deliveries(store, hook)) == 1


def test_redelivered_finalize_bumping_attempt_count_still_emits_once(store: JobStore) -> None:
    """attempt_count changes between two finalize runs; the guard must not depend on it."""
    hook = _hook(store, ["job.completed"])
    job_id = _job(store)
    _finish(store, job_id)
    assert emit_job_event(store, job_id, ORG, "job.completed") == 1
    store.r.hincrby(store.keys.job(job_id), "attempt_count", 1)
    assert emit_job_event(store, job_id, ORG, "job.completed") == 0
    assert len(_deliveries(store, hook)) == 1


def test_terminal_event_follows_the_current_status(store: JobStore) -> None:
    hook = _hook(store, ["job.completed", "job.failed"])
    job_id = _job(store)
    assert emit_terminal_event(store, job_id, ORG) == 0  # not terminal yet
    _finish(store, job_id, S.FAILED)
    assert emit_terminal_event(store, job_id, ORG) == 1
    assert emit_terminal_event(store, job_id, ORG) == 0
    assert emit_job_event(store, job_id, ORG, "job.failed") == 0  # same guard
    assert emit_terminal_event(store, job_id, "org_b") == 0
    assert [d["type"] for d in _deliveries(store, hook)] == ["job.failed"]


def test_one_delivery_per_subscribed_webhook_with_the_same_event(store: JobStore) -> None:
    a = _hook(store, ["job.completed", "job.failed"])
    b = _hook(store, ["job.completed"])
    c = _hook(store, ["job.failed"])
    other_org = _hook(store, ["job.completed"], org="org_b")
    job_id = _job(store)
    _finish(store, job_id)
    assert emit_job_event(store, job_id, ORG, "job.completed") == 2
    da, db = _deliveries(store, a), _deliveries(store, b)
    assert da[0]["event_id"] == db[0]["event_id"]
    assert _deliveries(store, c) == [] and _deliveries(store, other_org) == []


def test_event_body_is_the_status_payload(store: JobStore) -> None:
    hook = _hook(store, ["job.failed"])
    job_id = _job(store)
    store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.FAILED,
                     extra={"error_code": "all_documents_failed", "error_message": "x"})
    emit_job_event(store, job_id, ORG, "job.failed")
    d = WebhookStore(store.r, store.settings).deliveries(hook)[0]
    body = orjson.loads(d.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"].startswith("evt_") and body["type"] == "job.failed"
    assert isinstance(body["created_at"], int)
    assert body["data"]["id"] == job_id and body["data"]["status"] == "failed"
    assert body["data"]["error"] == {"code": "all_documents_failed", "message": "x"}


def test_nothing_is_emitted_when_the_state_does_not_match(store: JobStore) -> None:
    hook = _hook(store, list(EVENTS))
    job_id = _job(store)
    assert emit_job_event(store, job_id, ORG, "job.completed") == 0  # still in progress
    _finish(store, job_id)
    assert emit_job_event(store, job_id, ORG, "job.failed") == 0
    assert emit_job_event(store, job_id, "org_b", "job.completed") == 0  # foreign org
    assert emit_job_event(store, str(uuid.uuid4()), ORG, "job.completed") == 0
    assert _deliveries(store, hook) == []
    with pytest.raises(ValueError):
        emit_job_event(store, job_id, ORG, "job.exploded")


def test_no_subscriber_writes_nothing(store: JobStore) -> None:
    _hook(store, ["job.failed"])
    job_id = _job(store)
    _finish(store, job_id)
    assert emit_job_event(store, job_id, ORG, "job.completed") == 0
    assert not store.r.exists(store.keys.webhook_emitted(job_id))


def test_a_new_transition_after_retry_emits_again(store: JobStore) -> None:
    hook = _hook(store, ["job.cancelled"])
    job_id = _job(store)
    store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.CANCELLED)
    assert emit_job_event(store, job_id, ORG, "job.cancelled") == 1
    assert store.retry(job_id, ORG, Phase.PARSE).outcome is RetryOutcome.REOPENED
    time.sleep(0.002)  # the transition marker is completed_at (ms)
    store.transition(job_id, ORG, [S.QUEUED, S.IN_PROGRESS], status=S.CANCELLED)
    assert emit_job_event(store, job_id, ORG, "job.cancelled") == 1
    assert len(_deliveries(store, hook)) == 2


def test_progress_is_throttled_per_job(store: JobStore) -> None:
    hook = _hook(store, ["job.progress"])
    a, b = _job(store), _job(store)
    assert emit_progress(store, a, ORG) == 1
    assert emit_progress(store, a, ORG) == 0
    assert emit_progress(store, b, ORG) == 1
    store.r.delete(store.keys.webhook_progress_gate(a))  # the interval passed
    store.r.hincrby(store.keys.job(a), "version", 1)
    assert emit_progress(store, a, ORG) == 1
    assert [d["type"] for d in _deliveries(store, hook)] == ["job.progress"] * 3


def test_expiry_sweep_emits_job_expired_once(store: JobStore) -> None:
    hook = _hook(store, ["job.expired"])
    job_id = _job(store)
    h = store.read_job(job_id)
    assert h is not None
    expires = now_ms() - 1
    store.r.hset(store.keys.job(job_id), "expires_at", expires)
    register_expiry(store.r, store.keys, ORG, job_id, expires)
    assert sweep_expiries(store, now_ms()) == 1
    assert sweep_expiries(store, now_ms()) == 0
    assert store.r.zcard(store.keys.expiries) == 0
    register_expiry(store.r, store.keys, ORG, job_id, expires)  # registered twice: still once
    assert sweep_expiries(store, now_ms()) == 0
    assert [d["type"] for d in _deliveries(store, hook)] == ["job.expired"]


def test_expiry_sweep_waits_for_a_renewed_deadline(store: JobStore) -> None:
    _hook(store, ["job.expired"])
    job_id = _job(store)
    now = now_ms()
    later = now + 60_000
    register_expiry(store.r, store.keys, ORG, job_id, now - 1)
    store.r.hset(store.keys.job(job_id), "expires_at", later)  # retried, not re-registered
    assert sweep_expiries(store, now) == 0
    assert store.r.zscore(store.keys.expiries, f"{ORG}|{job_id}") == later


def test_expiry_sweep_leaves_a_deadline_registered_during_the_sweep(store: JobStore) -> None:
    """A member re-registered after the claim keeps its new score (compare-and-delete)."""
    from shared.webhooks import script
    job_id = _job(store)
    member = f"{ORG}|{job_id}"
    store.r.zadd(store.keys.expiries, {member: 5})
    store.r.zadd(store.keys.expiries, {member: 99})  # a retry re-registered it
    assert script(store.r, "webhook_release")(keys=[store.keys.expiries], args=[member, 5]) == 0
    assert store.r.zscore(store.keys.expiries, member) == 99


def test_unregister_expiry_forgets_the_deadline(store: JobStore) -> None:
    register_expiry(store.r, store.keys, ORG, "j1", 5)
    unregister_expiry(store.r, store.keys, ORG, "j1")
    assert store.r.zcard(store.keys.expiries) == 0


def test_progress_costs_nothing_without_a_progress_webhook(store: JobStore) -> None:
    _hook(store, ["job.completed"])  # a webhook, but not for job.progress
    a = _job(store)
    assert emit_progress(store, a, ORG) == 0
    assert not store.r.exists(store.keys.webhook_progress_gate(a))  # not even the gate

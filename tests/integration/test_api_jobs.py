"""Job lifecycle over real HTTP: submit, read, idempotency, cancel, retry, list, schemas.

Runs its own API server on an isolated key prefix: no worker consumes its queues, so a job
stays where a test put it, and the tasks the API enqueued can be read back from the broker's
Redis list. Each test uses a fresh organization (its own key) so listings start empty.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest
import redis
from support.apistack import ApiStack as Stack
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiClient, ApiServer

from jobgrid.procs import free_port
from shared.clock import now_ms
from shared.keys import Keys
from shared.models import JobCreate, JobOut, SchemaOut
from shared.status import JobStatus, Phase
from shared.store import JobStore

pytestmark = pytest.mark.integration  # the stack, api, new_client fixtures: conftest.py


def job_fields() -> set[str]:
    return {f.alias or n for n, f in JobOut.model_fields.items()}


# ----------------------------------------------------------------------- submit
def test_submit_answers_202_with_the_full_job_and_enqueues_validate(
        stack: Stack, api: ApiClient) -> None:
    resp = api.post("/v1/jobs", json=job_body(4, metadata={"batch_id": "b1"}, priority="high"))
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert resp.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert uuid.UUID(job["id"]).version == 4
    assert set(job) == job_fields()
    JobOut.model_validate(job)
    assert (job["status"], job["current_phase"], job["version"]) == \
        ("validating", "phase_0_validate", 1)
    assert job["document_count"] == 4 and job["grid_stats"]["total_cells"] == 12
    assert job["schema"] == {"id": None, "name": "Invoice"}
    assert job["metadata"] == {"batch_id": "b1"} and job["priority"] == "high"
    assert job["links"]["cancel"] == f"/v1/jobs/{job['id']}/cancel"
    assert job["links"]["dashboard"] == f"{stack.server.url}/dashboard/jobs/{job['id']}"
    assert [t["status"] for t in job["timeline"]] == ["validating"]
    assert ("jobgrid.validate", [job["id"], job["organization_id"]]) in stack.sent_tasks()
    assert api.get(resp.headers["Location"]).json() == job


def test_documents_are_stored_as_sent(stack: Stack, api: ApiClient) -> None:
    body = job_body(1)
    body["documents"].append({"filename": "b.pdf", "mime_type": "application/pdf",
                              "content_base64": base64.b64encode(b"%PDF-1.4 x").decode()})
    job = api.submit(body)
    assert stack.store.documents.load(job["id"], [1]) == {1: body["documents"][1]}
    assert stack.store.load_schema(job["id"]) == JobCreate.model_validate(body).schema_


# ------------------------------------------------------------------ idempotency
def test_same_idempotency_key_and_body_returns_the_same_job(
        api: ApiClient, new_client: Callable[[], ApiClient]) -> None:
    headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = job_body(2)
    first = api.post("/v1/jobs", json=body, headers=headers)
    assert first.status_code == 202
    reordered = orjson.dumps(dict(reversed(list(body.items()))))
    again = api.post("/v1/jobs", data=reordered, headers={**headers,
                                                         "Content-Type": "application/json"})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    api.post(f"/v1/jobs/{first.json()['id']}/cancel")
    replay = api.post("/v1/jobs", json=body, headers=headers)
    assert (replay.status_code, replay.json()["status"]) == (200, "cancelled")  # current state
    assert len(api.get("/v1/jobs").json()["data"]) == 1
    elsewhere = new_client().post("/v1/jobs", json=body, headers=headers)
    assert elsewhere.status_code == 202  # keys are scoped to the organization
    assert elsewhere.json()["id"] != first.json()["id"]


# ----------------------------------------------------------------------- cancel
def test_cancel_answers_200_with_the_cancelled_job(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(2))
    stack.store.transition(job["id"], job["organization_id"], [JobStatus.VALIDATING],
                           status=JobStatus.IN_PROGRESS, phase=Phase.EXECUTE)
    resp = api.post(f"/v1/jobs/{job['id']}/cancel")
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert set(out) == job_fields()
    assert (out["status"], out["cancelled"]) == ("cancelled", True)
    assert "cancel" not in out["links"] and out["completed_at"] is not None
    assert out["version"] > job["version"]
    assert [t["status"] for t in out["timeline"]] == ["validating", "in_progress", "cancelled"]
    status = api.get(f"/v1/jobs/{job['id']}/status").json()
    assert (status["status"], status["cancelled"]) == ("cancelled", True)


# ------------------------------------------------------------------------ retry
@pytest.mark.parametrize("state", ["failed", "cancelled", "expired_with_data"])
def test_retry_answers_202_and_requeues_the_job(stack: Stack, api: ApiClient,
                                                state: str) -> None:
    job = api.submit(job_body(2))
    jid, org = job["id"], job["organization_id"]
    if state == "expired_with_data":
        stack.set_job(jid, expires_at=now_ms() - 1000)
    else:
        stack.set_job(jid, status=state, error_code="boom", error_message="it broke",
                      attempt_count=1)
    before = api.get(f"/v1/jobs/{jid}").json()
    resp = api.post(f"/v1/jobs/{jid}/retry")
    assert resp.status_code == 202, resp.text
    out = resp.json()
    assert resp.headers["Location"] == f"/v1/jobs/{jid}"
    assert (out["status"], out["error"], out["cancelled"]) == ("queued", None, False)
    assert out["attempt_count"] == before["attempt_count"] + 1
    assert out["expires_at"] > before["expires_at"] or state == "expired_with_data"
    assert out["current_phase"] == "phase_1_parse"
    assert ("jobgrid.parse", [jid, org]) in stack.sent_tasks()


def test_retry_that_cannot_be_enqueued_is_503_and_marks_the_job_failed(
        start_api: Callable[..., ApiServer], make_settings: Callable[..., SettingsEnv],
        redis_client: redis.Redis) -> None:
    env = make_settings(isolated=True, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    server = start_api(env, workers=1, threads=4)
    store = JobStore(redis_client, env.settings)
    req = JobCreate.model_validate(job_body(1))
    assert req.schema_ is not None
    jid = str(uuid.uuid4())
    store.create_job(jid, "org_a", req, req.schema_, None)  # org_a: the configured test key
    redis_client.hset(Keys(env.key_prefix).job(jid), "status", "failed")
    resp = server.client().post(f"/v1/jobs/{jid}/retry")
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "unavailable"
    job = server.client().get(f"/v1/jobs/{jid}").json()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "enqueue_failed"


# ------------------------------------------------------------------------- list
def submit_many(api: ApiClient, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        ids.append(api.submit(job_body(1))["id"])
        time.sleep(0.002)  # distinct created_at, so "newest first" is observable
    return ids


def test_list_is_newest_first_and_pages_with_a_cursor(api: ApiClient) -> None:
    ids = submit_many(api, 5)
    seen, pages, cursor = [], [], None
    while True:
        resp = api.get("/v1/jobs", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert set(page) == {"object", "data", "first_id", "last_id", "has_more", "next_cursor"}
        assert page["object"] == "list"
        assert page["first_id"] == page["data"][0]["id"]
        assert page["last_id"] == page["data"][-1]["id"]
        seen += [j["id"] for j in page["data"]]
        pages.append((len(page["data"]), page["has_more"]))
        cursor = page["next_cursor"]
        assert (cursor is not None) == page["has_more"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    assert pages == [(2, True), (2, True), (1, False)]
    full = api.get("/v1/jobs").json()
    assert [j["id"] for j in full["data"]] == list(reversed(ids))
    assert set(full["data"][0]) == job_fields()


def test_list_with_tied_timestamps_never_skips_or_repeats(stack: Stack, api: ApiClient) -> None:
    ids = submit_many(api, 4)
    org = api.get(f"/v1/jobs/{ids[0]}").json()["organization_id"]
    stack.redis.zadd(stack.keys.org_jobs(org), dict.fromkeys(ids, 1_700_000_000_000))
    seen, cursor = [], None
    for _ in range(5):
        page = api.get("/v1/jobs", params={"limit": 1, **({"cursor": cursor} if cursor else {})}
                       ).json()
        seen += [j["id"] for j in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 4
    assert seen == sorted(ids, reverse=True)


def test_list_filters_by_effective_status(stack: Stack, api: ApiClient) -> None:
    ids = submit_many(api, 4)
    api.post(f"/v1/jobs/{ids[0]}/cancel")
    api.post(f"/v1/jobs/{ids[2]}/cancel")
    stack.set_job(ids[3], expires_at=now_ms() - 1000)

    def listed(status: str) -> list[str]:
        return [j["id"] for j in api.get("/v1/jobs", params={"status": status}).json()["data"]]

    assert listed("cancelled") == [ids[2], ids[0]]
    assert listed("expired") == [ids[3]]
    assert listed("validating") == [ids[1]]
    assert listed("completed") == []
    page = api.get("/v1/jobs", params={"status": "cancelled", "limit": 1}).json()
    assert page["has_more"] is True
    rest = api.get("/v1/jobs", params={"status": "cancelled", "cursor": page["next_cursor"]})
    assert [j["id"] for j in rest.json()["data"]] == [ids[0]]
    assert rest.json()["has_more"] is False


def test_updated_since_lists_changes_oldest_first(api: ApiClient) -> None:
    ids = submit_many(api, 3)
    time.sleep(0.01)
    since = now_ms()
    time.sleep(0.01)
    api.post(f"/v1/jobs/{ids[2]}/cancel")
    time.sleep(0.005)
    api.post(f"/v1/jobs/{ids[0]}/cancel")
    iso = datetime.fromtimestamp(since / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    for value in (iso, f"{since / 1000:.3f}"):
        data = api.get("/v1/jobs", params={"updated_since": value}).json()["data"]
        assert [j["id"] for j in data] == [ids[2], ids[0]], value
    first = api.get("/v1/jobs", params={"updated_since": iso, "limit": 1}).json()
    assert [j["id"] for j in first["data"]] == [ids[2]] and first["has_more"]
    second = api.get("/v1/jobs", params={"updated_since": iso, "limit": 1,
                                         "cursor": first["next_cursor"]}).json()
    assert [j["id"] for j in second["data"]] == [ids[0]] and not second["has_more"]
    everything = api.get("/v1/jobs", params={"updated_since": "0"}).json()["data"]
    assert [j["id"] for j in everything] == [ids[1], ids[2], ids[0]]


def test_purged_jobs_are_skipped_and_forgotten(stack: Stack, api: ApiClient) -> None:
    ids = submit_many(api, 3)
    org = api.get(f"/v1/jobs/{ids[1]}").json()["organization_id"]
    k = stack.keys.job_keys(ids[1])
    stack.redis.unlink(*k.record_keys(), *k.data_keys())
    assert [j["id"] for j in api.get("/v1/jobs").json()["data"]] == [ids[2], ids[0]]
    assert stack.redis.zscore(stack.keys.org_jobs(org), ids[1]) is None
    assert stack.redis.zscore(stack.keys.org_updated(org), ids[1]) is None


# ---------------------------------------------------------------------- schemas
def test_stored_schema_can_be_fetched_and_used_by_id(api: ApiClient) -> None:
    fields = job_body(1)["schema"]["fields"]
    resp = api.post("/v1/schemas", json={"name": "Invoice v2", "fields": fields})
    assert resp.status_code == 201, resp.text
    schema = resp.json()
    assert resp.headers["Location"] == f"/v1/schemas/{schema['id']}"
    SchemaOut.model_validate(schema)
    assert schema["id"].startswith("sch_") and len(schema["id"]) == 20
    assert (schema["object"], schema["name"]) == ("schema", "Invoice v2")
    assert [f["name"] for f in schema["fields"]] == [f["name"] for f in fields]
    assert api.get(f"/v1/schemas/{schema['id']}").json() == schema
    body = job_body(2)
    del body["schema"]
    body["schema_id"] = schema["id"]
    job = api.submit(body)
    assert job["schema"] == {"id": schema["id"], "name": "Invoice v2"}
    assert job["grid_stats"]["total_cells"] == 2 * len(fields)
    results = api.get(f"/v1/jobs/{job['id']}/results").json()
    assert results["schema"] == schema

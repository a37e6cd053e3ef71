"""Every error row of the contract (docs/contract.md "Errors"), over real HTTP against the API
server + Redis.

The module runs its own API server on an isolated key prefix (own jobs, own queues, so no
worker of another test consumes its jobs) with small limits, and each test gets a fresh
organization and key, so rate-limit counters and job lists never leak between tests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import requests
from support.apistack import ApiStack as Stack
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiClient, ApiServer

from jobgrid.procs import free_port
from shared.clock import now_ms

pytestmark = pytest.mark.integration

LIMITS = {"max_request_bytes": 16_384, "max_document_bytes": 256, "max_documents": 3}
STACK_SETTINGS = LIMITS  # the stack, org_key, api and other fixtures: conftest.py
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def assert_error(resp: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"] and "Traceback" not in resp.text
    assert resp.headers.get("X-Request-Id")
    return body


def assert_rate_headers(resp: requests.Response) -> None:
    for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert resp.headers.get(h, "").isdigit(), (h, resp.headers)


# --------------------------------------------------------------------------- 400
@pytest.mark.parametrize("data", [b"{not json", b"", b"   ", b"[1, 2]", b'"text"', b"null",
                                  b'{"a": 1'])
def test_malformed_or_non_object_body_is_400(api: ApiClient, data: bytes) -> None:
    resp = api.post("/v1/jobs", data=data, headers={"Content-Type": "application/json"})
    assert_error(resp, 400, "validation_error")
    assert_rate_headers(resp)


@pytest.mark.parametrize("mutate,path", [
    (lambda b: b.update(documents="x"), "documents"),
    (lambda b: b["documents"][0].update(filename=3), "documents.0.filename"),
    (lambda b: b.update(priority="urgent"), "priority"),
    (lambda b: b.update(metadata={"k": 1}), "metadata.k"),
    (lambda b: b.update(colour="red"), "colour"),
    (lambda b: b["schema"]["fields"][0].update(type="blob"), "schema.fields.0.type"),
    (lambda b: b["documents"][1].update(content_base64="%%%"), "documents.1"),
    (lambda b: b.update(schema_id="sch_0123456789abcdef"), "give exactly one of"),
])
def test_wrong_types_are_400_naming_the_field(api: ApiClient, mutate: Callable[[dict[str, Any]],
                                              None], path: str) -> None:
    body = job_body(2)
    mutate(body)
    msg = assert_error(api.post("/v1/jobs", json=body), 400, "validation_error")
    assert path in msg["error"]["message"]


@pytest.mark.parametrize("method,suffix", [("GET", ""), ("GET", "/status"), ("GET", "/results"),
                                           ("POST", "/cancel"), ("POST", "/retry")])
def test_job_id_not_a_uuid_is_400(api: ApiClient, method: str, suffix: str) -> None:
    resp = api.request(method, f"/v1/jobs/not-a-uuid{suffix}")
    assert "not a UUID" in assert_error(resp, 400, "validation_error")["error"]["message"]
    assert_rate_headers(resp)


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=ten", "status=running", "cursor=%21%21", "cursor=Zm9vOmJhcg",
    "updated_since=yesterday", "updated_since=2024-13-45",
])
def test_bad_list_query_values_are_400(api: ApiClient, query: str) -> None:
    assert_error(api.get(f"/v1/jobs?{query}"), 400, "validation_error")


def test_bad_results_and_bulk_query_values_are_400(api: ApiClient) -> None:
    job = api.submit(job_body(1))
    for q in ("format=xml", "detail=maybe"):
        assert_error(api.get(f"/v1/jobs/{job['id']}/results?{q}"), 400, "validation_error")
    too_many = ",".join(str(uuid.uuid4()) for _ in range(101))
    for q in ("", "ids=", f"ids={job['id']},nope", f"ids={too_many}"):
        resp = api.get(f"/v1/jobs/status?{q}")
        assert_error(resp, 400, "validation_error")
        assert_rate_headers(resp)


def test_bad_idempotency_key_is_400(api: ApiClient) -> None:
    resp = api.post("/v1/jobs", json=job_body(1), headers={"Idempotency-Key": "k" * 256})
    assert_error(resp, 400, "validation_error")


# --------------------------------------------------------------------------- 401
@pytest.mark.parametrize("headers,query", [
    ({}, ""),
    ({"Api-Key": "jg_unknown"}, ""),
    ({"Authorization": "Bearer jg_unknown"}, ""),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, ""),
    ({}, "?access_token=jg_unknown"),
])
def test_missing_or_unknown_key_is_401(stack: Stack, headers: dict[str, str],
                                       query: str) -> None:
    for path in ("/v1/jobs", f"/v1/jobs/{UNKNOWN}/status", "/v1/nowhere"):
        resp = requests.get(stack.server.url + path + query, headers=headers, timeout=10)
        assert_error(resp, 401, "unauthorized")
        assert_rate_headers(resp)


def test_all_three_key_styles_are_accepted(stack: Stack, org_key: tuple[str, str]) -> None:
    key, org = org_key
    url = stack.server.url + "/v1/jobs"
    for headers, params in (({"Api-Key": key}, {}), ({"Authorization": f"Bearer {key}"}, {}),
                            ({}, {"access_token": key})):
        resp = requests.get(url, headers=headers, params=params, timeout=10)
        assert resp.status_code == 200, resp.text
        assert resp.json()["object"] == "list"


def test_access_token_never_reaches_the_access_log(stack: Stack,
                                                   org_key: tuple[str, str]) -> None:
    key = org_key[0]
    resp = requests.get(f"{stack.server.url}/v1/jobs?access_token={key}&limit=1", timeout=10)
    assert resp.status_code == 200
    # the request is logged by path; the production server never logs the query string
    assert stack.server.wait_for_log(r'"GET /v1/jobs HTTP/1.1" 200')
    text = stack.server.log_text()
    assert key not in text and "access_token" not in text


# --------------------------------------------------------------------------- 404
def test_unknown_job_is_404_everywhere(api: ApiClient) -> None:
    for method, suffix in (("GET", ""), ("GET", "/status"), ("GET", "/results"),
                           ("POST", "/cancel"), ("POST", "/retry")):
        assert_error(api.request(method, f"/v1/jobs/{UNKNOWN}{suffix}"), 404, "not_found")


def test_other_organizations_job_is_404_never_403(api: ApiClient, other: ApiClient) -> None:
    job = api.submit(job_body(1))
    for method, suffix in (("GET", ""), ("GET", "/status"), ("GET", "/results"),
                           ("POST", "/cancel"), ("POST", "/retry")):
        assert_error(other.request(method, f"/v1/jobs/{job['id']}{suffix}"), 404, "not_found")
    bulk = other.get(f"/v1/jobs/status?ids={job['id']}").json()
    assert bulk == {"object": "list", "data": [], "missing": [job["id"]]}
    assert other.get("/v1/jobs").json()["data"] == []
    assert api.get(f"/v1/jobs/{job['id']}").json()["status"] == "validating"  # untouched


def test_other_organizations_schema_is_404(api: ApiClient, other: ApiClient) -> None:
    resp = api.post("/v1/schemas", json={"name": "s", "fields": [{"name": "a"}]})
    assert resp.status_code == 201
    assert_error(other.get(f"/v1/schemas/{resp.json()['id']}"), 404, "not_found")
    assert_error(api.get("/v1/schemas/sch_nope"), 404, "not_found")
    body = job_body(1)
    del body["schema"]
    body["schema_id"] = resp.json()["id"]
    assert_error(other.post("/v1/jobs", json=body), 422, "unprocessable")


def test_purged_job_is_404(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(1))
    k = stack.keys.job_keys(job["id"])
    stack.redis.unlink(*k.record_keys(), *k.data_keys())
    assert_error(api.get(f"/v1/jobs/{job['id']}"), 404, "not_found")
    assert_error(api.get(f"/v1/jobs/{job['id']}/status"), 404, "not_found")


def test_unknown_route_and_method_answer_json(api: ApiClient, stack: Stack) -> None:
    assert_error(api.get("/v1/nowhere"), 404, "not_found")
    resp = api.delete("/v1/jobs")
    assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"] and "GET" in resp.headers["Allow"]
    assert_rate_headers(resp)
    plain = requests.get(stack.server.url + "/nowhere", timeout=10)
    assert_error(plain, 404, "not_found")
    assert "X-RateLimit-Limit" not in plain.headers  # not a /v1 response


# --------------------------------------------------------------------------- 409
def test_cancel_of_terminal_job_is_409(stack: Stack, api: ApiClient) -> None:
    for status in ("completed", "failed", "cancelled"):
        job = api.submit(job_body(1))
        stack.set_job(job["id"], status=status)
        msg = assert_error(api.post(f"/v1/jobs/{job['id']}/cancel"), 409, "conflict")
        assert status in msg["error"]["message"]


def test_cancel_of_job_expired_on_read_is_409(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(1))
    stack.set_job(job["id"], expires_at=now_ms() - 1000)
    assert api.get(f"/v1/jobs/{job['id']}/status").json()["status"] == "expired"
    assert_error(api.post(f"/v1/jobs/{job['id']}/cancel"), 409, "conflict")


def test_retry_of_active_or_completed_job_is_409(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(1))
    assert_error(api.post(f"/v1/jobs/{job['id']}/retry"), 409, "conflict")
    stack.set_job(job["id"], status="completed")
    assert_error(api.post(f"/v1/jobs/{job['id']}/retry"), 409, "conflict")


def test_idempotency_key_reused_with_other_body_is_409(api: ApiClient) -> None:
    headers = {"Idempotency-Key": f"idem-{uuid.uuid4()}"}
    first = api.post("/v1/jobs", json=job_body(1), headers=headers)
    assert first.status_code == 202
    again = api.post("/v1/jobs", json=job_body(2), headers=headers)
    assert "different request body" in assert_error(again, 409, "conflict")["error"]["message"]


# --------------------------------------------------------------------------- 413
def test_request_above_max_request_bytes_is_413(stack: Stack, api: ApiClient) -> None:
    body = job_body(1)
    body["metadata"] = {"pad": "x" * 500}
    body["name"] = "n"
    data = json.dumps(body).encode() + b" " * LIMITS["max_request_bytes"]
    resp = api.post("/v1/jobs", data=data, headers={"Content-Type": "application/json"})
    assert_error(resp, 413, "payload_too_large")
    assert_rate_headers(resp)
    jobs = api.get("/v1/jobs").json()["data"]
    assert jobs == []


def test_chunked_request_above_limit_is_413(api: ApiClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield json.dumps(job_body(1)).encode()[:-1]
        for _ in range(40):
            yield b" " * 1024
        yield b"}"

    resp = api.post("/v1/jobs", data=chunks(), headers={"Content-Type": "application/json"})
    assert_error(resp, 413, "payload_too_large")


def test_document_above_max_document_bytes_is_413(api: ApiClient) -> None:
    body = job_body(texts=["ok", "x" * (LIMITS["max_document_bytes"] + 1)])
    msg = assert_error(api.post("/v1/jobs", json=body), 413, "payload_too_large")
    assert "documents.1" in msg["error"]["message"]
    b64 = job_body(1)
    b64["documents"][0] = {"filename": "a.pdf", "content_base64": "QUFB" * 100}
    assert_error(api.post("/v1/jobs", json=b64), 413, "payload_too_large")


def test_batch_above_max_documents_is_413(api: ApiClient) -> None:
    body = job_body(LIMITS["max_documents"] + 1)
    assert_error(api.post("/v1/jobs", json=body), 413, "payload_too_large")
    assert api.post("/v1/jobs", json=job_body(LIMITS["max_documents"])).status_code == 202


# --------------------------------------------------------------------------- 422
def test_unknown_schema_id_is_422(api: ApiClient) -> None:
    body = job_body(1)
    del body["schema"]
    body["schema_id"] = "sch_ffffffffffffffff"
    assert_error(api.post("/v1/jobs", json=body), 422, "unprocessable")


def test_schema_without_fields_is_422(api: ApiClient) -> None:
    body = job_body(1)
    body["schema"]["fields"] = []
    assert_error(api.post("/v1/jobs", json=body), 422, "unprocessable")
    assert_error(api.post("/v1/schemas", json={"name": "empty", "fields": []}), 422,
                 "unprocessable")


def test_empty_documents_is_422(api: ApiClient) -> None:
    assert_error(api.post("/v1/jobs", json=job_body(texts=[])), 422, "unprocessable")


def test_retry_of_expired_job_without_data_is_422(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(1))
    stack.set_job(job["id"], status="completed", expires_at=now_ms() - 1000)
    stack.redis.unlink(*stack.keys.job_keys(job["id"]).data_keys())
    msg = assert_error(api.post(f"/v1/jobs/{job['id']}/retry"), 422, "unprocessable")
    assert "expired" in msg["error"]["message"]


# --------------------------------------------------------------------------- 500
def test_unexpected_error_is_500_without_a_trace(stack: Stack, api: ApiClient) -> None:
    job = api.submit(job_body(1))
    stack.set_job(job["id"], status="corrupted")
    resp = api.get(f"/v1/jobs/{job['id']}", headers={"X-Request-Id": "trace-me-12345"})
    body = assert_error(resp, 500, "internal_error")
    assert resp.headers["X-Request-Id"] == "trace-me-12345"
    assert "trace-me-12345" in body["error"]["message"]
    assert "ValueError" not in resp.text and "File " not in resp.text
    stack.server.wait_for_log(r"unhandled error request_id=trace-me-12345")


# ---------------------------------------------------------------- 429 and 503
def test_rate_limit_is_429_with_retry_after(start_api: Callable[..., ApiServer],
                                            make_settings: Callable[..., SettingsEnv],
                                            make_api_key: Callable[..., tuple[str, str]]) -> None:
    env = make_settings(isolated=True, rate_limit_requests=3, rate_limit_window_seconds=3600)
    server = start_api(env, workers=1, threads=4)
    key, _ = make_api_key(settings=env)
    c = server.client(key)
    job = c.submit(job_body(1))
    seen = [c.get(f"/v1/jobs/{job['id']}/status"), c.get("/v1/jobs")]
    assert [r.headers["X-RateLimit-Remaining"] for r in seen] == ["1", "0"]
    for path in (f"/v1/jobs/{job['id']}/status", "/v1/jobs", f"/v1/jobs/status?ids={job['id']}"):
        resp = c.get(path)
        assert_error(resp, 429, "rate_limited")
        assert int(resp.headers["Retry-After"]) >= 1
        assert resp.headers["X-RateLimit-Limit"] == "3"
        assert resp.headers["X-RateLimit-Remaining"] == "0"
    other_key, _ = make_api_key(settings=env)  # the limit is per key
    assert server.client(other_key).get("/v1/jobs").status_code == 200


def test_redis_unreachable_is_503_with_retry_after(
        start_api: Callable[..., ApiServer], make_settings: Callable[..., SettingsEnv]) -> None:
    env = make_settings(isolated=True, redis_url=f"redis://127.0.0.1:{free_port()}/0",
                        redis_socket_timeout=1.0)
    server = start_api(env, workers=1, threads=4)
    c = server.client()  # a configured key: auth works without Redis
    calls = [("GET", "/v1/jobs"), ("POST", "/v1/jobs"), ("GET", f"/v1/jobs/{UNKNOWN}"),
             ("GET", f"/v1/jobs/{UNKNOWN}/status"), ("GET", f"/v1/jobs/status?ids={UNKNOWN}"),
             ("GET", f"/v1/jobs/{UNKNOWN}/results"), ("POST", f"/v1/jobs/{UNKNOWN}/cancel"),
             ("POST", "/v1/schemas"), ("GET", "/readyz")]
    for method, path in calls:
        kwargs: dict[str, Any] = {"json": job_body(1)} if method == "POST" else {}
        resp = c.request(method, path, timeout=5, **kwargs)
        assert_error(resp, 503, "unavailable")
        assert int(resp.headers["Retry-After"]) >= 1
        assert resp.elapsed.total_seconds() < 3
    assert requests.get(server.url + "/healthz", timeout=5).json() == {"status": "ok"}
    unknown_key = server.client("jg_not_configured")  # needs Redis to resolve
    assert_error(unknown_key.get("/v1/jobs"), 503, "unavailable")


def test_broker_unreachable_is_503_and_leaves_nothing(
        start_api: Callable[..., ApiServer], make_settings: Callable[..., SettingsEnv],
        redis_client: redis.Redis) -> None:
    env = make_settings(isolated=True, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    server = start_api(env, workers=1, threads=4)
    c = server.client()
    headers = {"Idempotency-Key": "broker-down"}
    resp = c.post("/v1/jobs", json=job_body(2), headers=headers, timeout=10)
    assert_error(resp, 503, "unavailable")
    assert resp.headers["Retry-After"]
    assert resp.elapsed.total_seconds() < 3
    left = [k for k in redis_client.scan_iter(match=f"{env.key_prefix}:*") if ":rl:" not in k]
    assert left == []  # only the caller's rate-limit counter remains
    assert c.get("/v1/jobs").json()["data"] == []


def test_request_id_is_echoed_when_sane_else_generated(api: ApiClient, stack: Stack) -> None:
    sane = api.get("/v1/jobs", headers={"X-Request-Id": "client-req-0001"})
    assert sane.headers["X-Request-Id"] == "client-req-0001"
    insane = api.get("/v1/jobs", headers={"X-Request-Id": "bad id\twith spaces"})
    assert insane.headers["X-Request-Id"] != "bad id\twith spaces"
    assert len(insane.headers["X-Request-Id"]) == 32
    health = requests.get(stack.server.url + "/healthz", timeout=5)
    assert health.headers["X-Request-Id"]



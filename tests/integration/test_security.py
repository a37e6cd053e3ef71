"""Security properties of the API over real HTTP (docs/contract.md "Authentication and tenancy").

* API keys live in Redis only as SHA-256 digests: after real traffic with every key style,
  no Redis key name or value under the prefix (broker messages included) holds a clear key;
* a key is never echoed in a response (body or header) nor written to the API's log,
  whatever style carried it and whether it was valid, unknown or revoked;
* another organization's job, results, status and events answer 404 ``not_found``, and its
  cancel and retry change nothing;
* the per-key rate limit is one budget shared by every API process on the same Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import requests
from support.env import API_KEY_A, API_KEY_B, SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer

from shared.apikeys import create_api_key, key_id, revoke_api_key
from shared.keys import Keys

pytestmark = pytest.mark.integration

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def iso(make_settings: Callable[..., SettingsEnv]) -> SettingsEnv:
    return make_settings(isolated=True)


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=False)
    yield client
    client.close()


def _styles(key: str) -> list[dict[str, Any]]:
    """The three documented ways to send a key, as requests keyword arguments."""
    return [{"headers": {"Api-Key": key}}, {"headers": {"Authorization": f"Bearer {key}"}},
            {"params": {"access_token": key}}]


def _traffic(url: str, key: str, job_id: str | None) -> list[requests.Response]:
    """One of each kind of answer (2xx, 400, 404, 413 when possible) in every key style."""
    out = []
    for style in _styles(key):
        kw: dict[str, Any] = {"timeout": 30, **style}
        out.append(requests.post(url + "/v1/jobs", json=job_body(2), **kw))
        out.append(requests.get(url + "/v1/jobs", **kw))
        out.append(requests.get(url + f"/v1/jobs/{job_id or UNKNOWN}/status", **kw))
        out.append(requests.get(url + f"/v1/jobs/{UNKNOWN}/results", **kw))
        out.append(requests.get(url + "/v1/jobs/not-a-uuid", **kw))
        out.append(requests.post(url + "/v1/jobs", data=b"{", **kw))
        out.append(requests.get(url + "/v1/jobs", **{**kw, "params": {
            **kw.get("params", {}), "limit": "0"}}))
    return out


def _all_redis_bytes(r: redis.Redis, prefix: str) -> Iterator[bytes]:
    """Every key name under ``prefix`` and every value stored in it, whatever its type."""
    for pattern in (f"{prefix}:*", f"{prefix}.*"):
        for name in r.scan_iter(match=pattern, count=1000):
            yield from _blobs(r, name)


def _blobs(r: redis.Redis, name: Any) -> Iterator[bytes]:
    items: list[Any] = [name]
    kind = r.type(name)
    if kind == b"string":
        items.append(r.get(name))
    elif kind == b"hash":
        for k, v in dict(r.hgetall(name)).items():
            items += [k, v]
    elif kind == b"list":
        items += list(r.lrange(name, 0, -1))
    elif kind == b"set":
        items += list(r.smembers(name))
    elif kind == b"zset":
        items += list(r.zrange(name, 0, -1))
    elif kind == b"stream":
        for _, fields in r.xrange(name) or []:
            for k, v in (fields or {}).items():
                items += [k, v]
    for item in items:
        if isinstance(item, bytes):
            yield item
        elif item is not None:
            yield str(item).encode()


# ---------------------------------------------------------------------- storage
def test_keys_are_stored_only_as_digests(
    iso: SettingsEnv, start_api: Callable[..., ApiServer], r: redis.Redis
) -> None:
    api = start_api(iso, workers=1)
    stored_key = create_api_key(r, iso.settings, "org_sec_store", "pytest")
    job = requests.post(api.url + "/v1/jobs", json=job_body(2), timeout=30,
                        headers={"Api-Key": stored_key})
    assert job.status_code == 202, job.text
    for key in (stored_key, API_KEY_A):
        for resp in _traffic(api.url, key, job.json()["id"]):
            assert resp.status_code < 500, resp.text
    requests.post(api.url + "/v1/schemas", timeout=30, headers={"Api-Key": stored_key},
                  json=job_body(1)["schema"])

    blobs = list(_all_redis_bytes(r, iso.key_prefix))
    assert blobs, "no keys under the prefix: the scan looked in the wrong place"
    for clear in (stored_key, API_KEY_A, API_KEY_B):
        leaks = [b[:120] for b in blobs if clear.encode() in b]
        assert not leaks, f"clear key found in Redis: {leaks[:3]}"
    keys = Keys(iso.key_prefix)
    record = r.hgetall(keys.api_key(key_id(stored_key)))
    assert record[b"org"] == b"org_sec_store"  # stored under its SHA-256 digest
    assert set(record) == {b"org", b"name", b"created_at", b"revoked"}


# ------------------------------------------------------------------ echo / logs
def test_keys_are_never_echoed_nor_logged(
    iso: SettingsEnv, start_api: Callable[..., ApiServer], r: redis.Redis
) -> None:
    api = start_api(iso, workers=1)
    valid = create_api_key(r, iso.settings, "org_sec_log", "pytest")
    revoked = create_api_key(r, iso.settings, "org_sec_log", "pytest revoked")
    assert revoke_api_key(r, iso.settings, key_id(revoked))
    unknown = "jg_" + "u" * 40
    too_long = "jg_" + "L" * 600
    checked = 0
    for key in (valid, revoked, unknown, too_long, API_KEY_A):
        for resp in _traffic(api.url, key, None):
            assert resp.status_code < 500, resp.text
            assert key not in resp.text, f"key echoed in the body of {resp.request.url}"
            for name, value in resp.headers.items():
                assert key not in value, f"key echoed in header {name}"
            checked += 1
    bad = requests.get(api.url + "/v1/jobs", headers={"Api-Key": unknown}, timeout=30)
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"

    api.stop()  # flush and close the log before reading it
    log = api.log_text()
    # the traffic is in the access log (granian logs the path, never the query string) ...
    assert log.count('"GET /v1/') > 20 and checked > 50
    assert "access_token" not in log
    for key in (valid, revoked, unknown, too_long, API_KEY_A):
        assert key not in log, f"clear key written to the API log: {key[:12]}..."


# ------------------------------------------------------------------- tenancy
def test_another_organizations_job_is_404_everywhere(
    iso: SettingsEnv, start_api: Callable[..., ApiServer]
) -> None:
    api = start_api(iso, workers=1)
    owner, other = api.client(API_KEY_A), api.client(API_KEY_B)
    job = owner.submit(job_body(2))
    jid = job["id"]
    before = owner.get(f"/v1/jobs/{jid}/status").json()

    for method, path in [("GET", f"/v1/jobs/{jid}"), ("GET", f"/v1/jobs/{jid}/status"),
                         ("GET", f"/v1/jobs/{jid}/results"),
                         ("GET", f"/v1/jobs/{jid}/results?format=csv"),
                         ("GET", f"/v1/jobs/{jid}/results?format=jsonl"),
                         ("POST", f"/v1/jobs/{jid}/cancel"), ("POST", f"/v1/jobs/{jid}/retry"),
                         ("GET", f"/v1/jobs/{jid.upper()}/status")]:
        resp = other.request(method, path)
        assert resp.status_code == 404, f"{method} {path}: {resp.status_code} {resp.text}"
        assert resp.json()["error"]["code"] == "not_found"
        assert "org_a" not in resp.text
    bulk = other.get("/v1/jobs/status", params={"ids": jid}).json()
    assert bulk["data"] == [] and bulk["missing"] == [jid]
    assert jid not in {j["id"] for j in other.get("/v1/jobs").json()["data"]}
    # the foreign cancel and retry changed nothing
    assert owner.get(f"/v1/jobs/{jid}/status").json() == before


def test_another_organizations_events_are_404(
    iso: SettingsEnv, start_api: Callable[..., ApiServer]
) -> None:
    api = start_api(iso, workers=1)
    owner, other = api.client(API_KEY_A), api.client(API_KEY_B)
    jid = owner.submit(job_body(1))["id"]
    own = owner.get(f"/v1/jobs/{jid}/events", stream=True, timeout=10)
    own.close()
    assert own.status_code == 200
    for kw in ({}, {"params": {"access_token": API_KEY_B}}):
        client = other if not kw else api.client(None)
        resp = client.get(f"/v1/jobs/{jid}/events", stream=True, timeout=10, **kw)
        resp.close()
        assert resp.status_code == 404


# ----------------------------------------------------------------- rate limit
def test_rate_limit_is_shared_by_all_api_processes(
    make_settings: Callable[..., SettingsEnv], start_api: Callable[..., ApiServer],
    r: redis.Redis,
) -> None:
    limit, window = 30, 3600
    env = make_settings(isolated=True, rate_limit_requests=limit,
                        rate_limit_window_seconds=window)
    servers = [start_api(env, workers=2, threads=8), start_api(env, workers=2, threads=8)]
    key = create_api_key(r, env.settings, "org_sec_rate", "pytest")  # a fresh budget
    left = window - time.time() % window
    if left < 20:  # do not straddle two fixed windows
        time.sleep(left + 0.5)

    paths = ["/v1/jobs", f"/v1/jobs/status?ids={UNKNOWN}"]
    n = 3 * limit

    def call(i: int) -> requests.Response:
        server = servers[i % 2]
        return requests.get(server.url + paths[(i // 2) % 2], headers={"Api-Key": key},
                            timeout=30)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(n)))
    ok = [a for a in answers if a.status_code == 200]
    limited = [a for a in answers if a.status_code == 429]
    assert len(ok) == limit, [a.status_code for a in answers]
    assert len(limited) == n - limit
    assert {str(a.request.url).split("/v1")[0] for a in ok} == {s.url for s in servers}
    assert sorted(int(a.headers["X-RateLimit-Remaining"]) for a in ok) == list(range(limit))
    for a in limited:
        assert a.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(a.headers["Retry-After"]) <= window
        assert a.headers["X-RateLimit-Remaining"] == "0"

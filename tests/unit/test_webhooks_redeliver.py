"""``POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver`` and the per-org cap, through
the Flask app on fakeredis (no network: URLs resolve to a stub), then a worker attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.settings import Settings
from shared.webhook_urls import Target
from shared.webhooks import WebhookCreate, WebhookStore
from worker.webhooks import HttpResult, deliver

KEY_A, KEY_B = "key-a", "key-b"
PUBLIC = "93.184.215.14"
BODY = b'{"id":"evt_0123456789abcdef01234567","type":"job.completed","created_at":1,"data":{}}'

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(fake_redis: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch) -> AppFactory:
    import api.app
    from api.routes import webhooks as routes

    real = routes.resolve_target
    monkeypatch.setattr(api.app, "redis_from_settings", lambda s: fake_redis)
    monkeypatch.setattr(routes, "resolve_target", lambda url, *, allow_private: real(
        url, allow_private=allow_private, resolver=lambda host, port: [PUBLIC]))

    def factory(**overrides: Any) -> Flask:
        settings = Settings(**{"key_prefix": "ut", "api_keys": f"{KEY_A}=org_a,{KEY_B}=org_b",
                               "webhook_secret_key": "k", **overrides})
        return api.app.create_app(settings)
    return factory


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


def _h(key: str = KEY_A) -> dict[str, str]:
    return {"Api-Key": key}


def _hook(client: FlaskClient, key: str = KEY_A) -> str:
    r = client.post("/v1/webhooks", headers=_h(key), json={
        "url": "https://hooks.example.com/jobgrid", "events": ["job.completed"]})
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["id"])


def _delivery(app: Flask, hook_id: str, org: str = "org_a", status: str = "succeeded",
              n: int = 0, attempts: int = 1) -> str:
    """Stores a past delivery of ``hook_id`` the way emission and attempts leave one."""
    svc = app.extensions["jobgrid"]
    d_id = f"dlv_{n:024x}"
    record: dict[str, Any] = {
        "id": d_id, "webhook_id": hook_id, "org": org, "event_id": "evt_0123456789abcdef01234567",
        "type": "job.completed", "job_id": "j1", "status": status, "attempt_count": attempts,
        "next_retry_at": "1700000060000" if status == "pending" else "",
        "created_at": 1_700_000_000_000 + n, "body": BODY.decode()}
    for i in range(1, attempts + 1):
        record[f"a:{i}"] = orjson.dumps({"at": 1_700_000_000_000, "status_code": 500,
                                         "error": None, "duration_ms": 4}).decode()
    svc.redis.hset(svc.keys.webhook_delivery(d_id), mapping=record)
    svc.redis.zadd(svc.keys.webhook_deliveries(hook_id), {d_id: 1_700_000_000_000 + n})
    return d_id


def _redeliver(client: FlaskClient, hook_id: str, d_id: str, key: str = KEY_A,
               **kwargs: Any) -> Any:
    return client.post(f"/v1/webhooks/{hook_id}/deliveries/{d_id}/redeliver", headers=_h(key),
                       **kwargs)


def _error(r: Any, status: int, code: str) -> str:
    assert r.status_code == status, (r.status_code, r.get_json())
    body = r.get_json()
    assert body["error"]["code"] == code
    assert r.headers["X-Request-Id"]
    return str(body["error"]["message"])


# ------------------------------------------------------------------------- redelivery
@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_redeliver_makes_a_new_delivery_of_the_same_event(client: FlaskClient, app: Flask,
                                                          status: str) -> None:
    hook = _hook(client)
    original = _delivery(app, hook, status=status)
    before = int(time.time() * 1000)
    r = _redeliver(client, hook, original)
    assert r.status_code == 202, r.get_json()
    new = r.get_json()
    assert new["id"].startswith("dlv_") and new["id"] != original
    assert new["redelivery_of"] == original
    assert (new["event_id"], new["type"], new["job_id"]) == (
        "evt_0123456789abcdef01234567", "job.completed", "j1")
    assert new["status"] == "pending" and new["attempts"] == [] and new["next_retry_at"] is None
    assert r.headers["Location"] == f"/v1/webhooks/{hook}/deliveries/{new['id']}"
    assert r.headers["X-RateLimit-Limit"]
    # listed first, the original untouched, the same body, and due now for the sweeper
    listed = client.get(f"/v1/webhooks/{hook}/deliveries", headers=_h()).get_json()["data"]
    assert [d["id"] for d in listed] == [new["id"], original]
    assert listed[1]["status"] == status and len(listed[1]["attempts"]) == 1
    assert listed[1]["redelivery_of"] is None
    svc = app.extensions["jobgrid"]
    stored = WebhookStore(svc.redis, svc.settings).delivery(new["id"])
    assert stored is not None and stored.body == BODY
    due = svc.redis.zscore(svc.keys.webhooks_due, new["id"])
    assert due is not None and before <= due <= time.time() * 1000
    assert svc.redis.pttl(svc.keys.webhook_delivery(new["id"])) > 0
    one = client.get(r.headers["Location"], headers=_h())
    assert one.status_code == 200 and one.get_json() == new


def test_a_redelivery_can_itself_be_redelivered_once_finished(client: FlaskClient,
                                                             app: Flask) -> None:
    hook = _hook(client)
    first = _redeliver(client, hook, _delivery(app, hook)).get_json()["id"]
    msg = _error(_redeliver(client, hook, first), 409, "conflict")  # still pending
    assert "still pending" in msg and "succeeded or failed" in msg
    svc = app.extensions["jobgrid"]
    svc.redis.hset(svc.keys.webhook_delivery(first), "status", "failed")
    again = _redeliver(client, hook, first)
    assert again.status_code == 202 and again.get_json()["redelivery_of"] == first


def test_pending_delivery_is_409_and_nothing_is_written(client: FlaskClient,
                                                        app: Flask) -> None:
    hook = _hook(client)
    d_id = _delivery(app, hook, status="pending")
    msg = _error(_redeliver(client, hook, d_id), 409, "conflict")
    assert d_id in msg and "2023-11-14T22:14:20.000Z" in msg  # says when it is retried
    listed = client.get(f"/v1/webhooks/{hook}/deliveries", headers=_h()).get_json()["data"]
    assert [d["id"] for d in listed] == [d_id]


def test_unknown_malformed_and_expired_deliveries_are_404(client: FlaskClient,
                                                          app: Flask) -> None:
    hook = _hook(client)
    for d_id in ("dlv_" + "0" * 24, "dlv_nope", "x" * 300, "dlv_" + "A" * 24):
        msg = _error(_redeliver(client, hook, d_id), 404, "not_found")
        assert "no delivery" in msg and len(msg) < 200
    expired = _delivery(app, hook, n=5)
    svc = app.extensions["jobgrid"]
    svc.redis.delete(svc.keys.webhook_delivery(expired))  # its TTL ran out; the list lags
    _error(_redeliver(client, hook, expired), 404, "not_found")
    _error(client.get(f"/v1/webhooks/{hook}/deliveries/{expired}", headers=_h()), 404,
           "not_found")


def test_unknown_or_deleted_webhook_is_404(client: FlaskClient, app: Flask) -> None:
    hook = _hook(client)
    d_id = _delivery(app, hook)
    _error(_redeliver(client, "wh_" + "0" * 16, d_id), 404, "not_found")
    _error(_redeliver(client, "wh_nope", d_id), 404, "not_found")
    assert client.delete(f"/v1/webhooks/{hook}", headers=_h()).status_code == 200
    _error(_redeliver(client, hook, d_id), 404, "not_found")


def test_another_webhooks_delivery_is_404(client: FlaskClient, app: Flask) -> None:
    hook, other = _hook(client), _hook(client)
    d_id = _delivery(app, other)
    _error(_redeliver(client, hook, d_id), 404, "not_found")
    _error(client.get(f"/v1/webhooks/{hook}/deliveries/{d_id}", headers=_h()), 404,
           "not_found")
    assert _redeliver(client, other, d_id).status_code == 202


def test_other_organization_gets_404_both_ways(client: FlaskClient, app: Flask) -> None:
    hook_a = _hook(client)
    d_a = _delivery(app, hook_a)
    hook_b = _hook(client, KEY_B)
    # org B with org A's webhook, and org B's own webhook with org A's delivery
    _error(_redeliver(client, hook_a, d_a, key=KEY_B), 404, "not_found")
    _error(_redeliver(client, hook_b, d_a, key=KEY_B), 404, "not_found")
    _error(client.get(f"/v1/webhooks/{hook_a}/deliveries/{d_a}", headers=_h(KEY_B)), 404,
           "not_found")
    # a delivery record claiming org B under org A's webhook id is not org B's either
    forged = _delivery(app, hook_b, org="org_a", n=7)
    _error(_redeliver(client, hook_b, forged, key=KEY_B), 404, "not_found")
    listed = client.get(f"/v1/webhooks/{hook_a}/deliveries", headers=_h()).get_json()["data"]
    assert [d["id"] for d in listed] == [d_a]  # nothing was created


def test_unauthenticated_is_401(client: FlaskClient, app: Flask) -> None:
    hook = _hook(client)
    d_id = _delivery(app, hook)
    r = client.post(f"/v1/webhooks/{hook}/deliveries/{d_id}/redeliver")
    _error(r, 401, "unauthorized")
    r = client.post(f"/v1/webhooks/{hook}/deliveries/{d_id}/redeliver",
                    headers={"Api-Key": "not-a-key"})
    _error(r, 401, "unauthorized")


def test_redeliver_is_rate_limited_like_other_writes(make_app: AppFactory) -> None:
    app = make_app(rate_limit_requests=3)
    with app.test_client() as c:
        hook = _hook(c)  # request 1
        d_id = _delivery(app, hook)
        assert _redeliver(c, hook, d_id).status_code == 202  # 2
        assert _redeliver(c, hook, d_id).status_code == 202  # 3
        r = _redeliver(c, hook, d_id)
        _error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
        assert r.headers["X-RateLimit-Remaining"] == "0"
        listed = c.get(f"/v1/webhooks/{hook}/deliveries", headers=_h(KEY_B))
        assert listed.status_code == 404  # another key has its own window


def test_redis_down_is_503_with_retry_after(client: FlaskClient, app: Flask,
                                           fake_redis: fakeredis.FakeRedis) -> None:
    hook = _hook(client)
    d_id = _delivery(app, hook)
    fake_redis.connection_pool.connection_kwargs["server"].connected = False
    try:
        for r in (_redeliver(client, hook, d_id),
                  client.get(f"/v1/webhooks/{hook}/deliveries/{d_id}", headers=_h()),
                  client.post("/v1/webhooks", headers=_h(), json={
                      "url": "https://hooks.example.com/x", "events": ["job.failed"]})):
            _error(r, 503, "unavailable")
            assert int(r.headers["Retry-After"]) >= 1
    finally:
        fake_redis.connection_pool.connection_kwargs["server"].connected = True


def test_wrong_method_and_body_are_handled(client: FlaskClient, app: Flask) -> None:
    hook = _hook(client)
    d_id = _delivery(app, hook)
    r = client.get(f"/v1/webhooks/{hook}/deliveries/{d_id}/redeliver", headers=_h())
    assert r.status_code == 405 and r.get_json()["error"]["code"]
    # a body is not part of the request: it is ignored, whatever it holds
    r = _redeliver(client, hook, d_id, data=b"{not json", content_type="application/json")
    assert r.status_code == 202


# ------------------------------------------------------------------ the worker's attempt
class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []

    def __call__(self, target: Target, body: bytes, headers: dict[str, str],
                 timeout: float) -> HttpResult:
        self.calls.append((body, headers))
        return HttpResult(200, None, 2)


def test_redelivery_is_sent_with_a_new_delivery_id_and_the_same_event(
        make_app: AppFactory) -> None:
    app = make_app(webhook_allow_private=True)
    svc = app.extensions["jobgrid"]
    with app.test_client() as c:
        hook = _hook(c)
        original = _delivery(app, hook, status="failed", attempts=5)
        new = _redeliver(c, hook, original).get_json()
        poster = Recorder()
        assert deliver(svc.store, new["id"], 0, poster=poster,
                       resolver=lambda h, p: ["127.0.0.1"]) == "succeeded"
        body, headers = poster.calls[0]
        assert body == BODY
        assert headers["Jobgrid-Delivery-Id"] == new["id"] != original
        assert headers["webhook-id"] == "evt_0123456789abcdef01234567"  # the event's id
        listed = c.get(f"/v1/webhooks/{hook}/deliveries", headers=_h()).get_json()["data"]
        assert [(d["id"], d["status"], len(d["attempts"])) for d in listed] == [
            (new["id"], "succeeded", 1), (original, "failed", 5)]


# ------------------------------------------------------------------ issue 15.8: the cap
def test_create_refuses_past_the_cap_atomically(make_app: AppFactory) -> None:
    app = make_app(webhook_max_per_org=2)
    svc = app.extensions["jobgrid"]
    store = WebhookStore(svc.redis, svc.settings)
    req = WebhookCreate(url="https://hooks.example.com/x", events=["job.completed"])
    assert store.create("org_a", req) is not None
    assert store.create("org_a", req) is not None
    assert store.create("org_a", req) is None  # the store refuses, not only the route
    assert store.count("org_a") == 2 and len(store.webhooks("org_a")) == 2
    assert store.create("org_b", req) is not None


def test_concurrent_creates_never_exceed_the_cap(make_app: AppFactory) -> None:
    """40 creations at once from threads (the report: 17 webhooks under a cap of 16)."""
    app = make_app(webhook_max_per_org=16)
    barrier = threading.Barrier(40)
    codes: list[int] = []

    def create() -> None:
        with app.test_client() as c:
            barrier.wait()
            codes.append(c.post("/v1/webhooks", headers=_h(), json={
                "url": "https://hooks.example.com/x", "events": ["job.completed"]}).status_code)

    threads = [threading.Thread(target=create) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] * 16 + [422] * 24
    svc = app.extensions["jobgrid"]
    assert svc.redis.zcard(svc.keys.org_webhooks("org_a")) == 16

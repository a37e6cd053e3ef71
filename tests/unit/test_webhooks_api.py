"""``/v1/webhooks`` through the Flask app (fakeredis, no network: resolution is stubbed)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.settings import Settings
from shared.webhooks import WebhookStore

KEY_A, KEY_B = "key-a", "key-b"
PUBLIC = "93.184.215.14"


@pytest.fixture
def app(fake_redis: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch) -> Flask:
    import api.app
    from api.routes import webhooks as routes

    monkeypatch.setattr(api.app, "redis_from_settings", lambda s: fake_redis)
    monkeypatch.setattr(routes, "resolve_target", _stub_resolution(routes.resolve_target))
    settings = Settings(key_prefix="ut", api_keys=f"{KEY_A}=org_a,{KEY_B}=org_b",
                        webhook_secret_key="k", webhook_max_per_org=3)
    flask_app = api.app.create_app(settings)
    if "webhooks" not in flask_app.blueprints:  # until api.app registers it
        flask_app.register_blueprint(routes.bp)
    return flask_app


def _stub_resolution(real: Any) -> Any:
    """Host names resolve to PUBLIC, except *.internal which resolve to 10.0.0.7."""
    def resolve(url: str, *, allow_private: bool) -> Any:
        def resolver(host: str, port: int) -> list[str]:
            if host.endswith(".internal"):
                return ["10.0.0.7"]
            return [host.strip("[]")] if host[0].isdigit() or ":" in host else [PUBLIC]
        return real(url, allow_private=allow_private, resolver=resolver)
    return resolve


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


def _h(key: str = KEY_A) -> dict[str, str]:
    return {"Api-Key": key}


def _create(client: FlaskClient, key: str = KEY_A, **body: Any) -> Any:
    payload = {"url": "https://hooks.example.com/jobgrid", "events": ["job.completed"], **body}
    return client.post("/v1/webhooks", json=payload, headers=_h(key))


def test_create_shows_the_secret_once(client: FlaskClient) -> None:
    r = _create(client, events=["job.completed", "job.failed", "job.completed"])
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == {"id", "object", "url", "events", "secret", "standard_webhooks_secret",
                         "created_at"}
    assert body["id"].startswith("wh_") and body["object"] == "webhook"
    assert body["events"] == ["job.completed", "job.failed"]
    assert body["secret"].startswith("whsec_")
    # a generated secret serves both signatures: one string, shown in both fields
    assert body["standard_webhooks_secret"] == body["secret"]
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"), validate=True)) == 32
    assert body["created_at"].endswith("Z")
    assert r.headers["Location"] == f"/v1/webhooks/{body['id']}"
    listed = client.get("/v1/webhooks", headers=_h()).get_json()
    assert listed["object"] == "list"
    assert [w["id"] for w in listed["data"]] == [body["id"]]
    assert "secret" not in listed["data"][0]
    one = client.get(f"/v1/webhooks/{body['id']}", headers=_h()).get_json()
    assert "secret" not in one and one["url"] == body["url"]


def test_own_secret_is_kept(client: FlaskClient) -> None:
    r = _create(client, secret="my-own-secret-of-16+")
    assert r.status_code == 201 and r.get_json()["secret"] == "my-own-secret-of-16+"
    # its Standard Webhooks form: the secret's own bytes, base64 encoded behind whsec_
    assert r.get_json()["standard_webhooks_secret"] == \
        "whsec_" + base64.b64encode(b"my-own-secret-of-16+").decode()
    own = "whsec_" + base64.b64encode(b"k" * 24).decode()
    r = _create(client, secret=own)
    assert r.get_json()["secret"] == r.get_json()["standard_webhooks_secret"] == own


@pytest.mark.parametrize("body, fragment", [
    ({"url": "ftp://example.com/x"}, "http"),
    ({"url": "not a url"}, "url"),
    ({"events": []}, "events"),
    ({"events": ["job.exploded"]}, "job.exploded"),
    ({"events": "job.completed"}, "events"),
    ({"secret": "short"}, "secret"),
    ({"extra": 1}, "extra"),
    ({"url": "http://127.0.0.1:8080/hook"}, "non-public"),
    ({"url": "http://[::1]/hook"}, "non-public"),
    ({"url": "http://10.1.2.3/hook"}, "non-public"),
    ({"url": "http://169.254.169.254/latest"}, "non-public"),
    ({"url": "http://localhost:5000/hook"}, "local name"),
    ({"url": "https://db.internal/hook"}, "10.0.0.7"),
    # issue 15.9: a control character, port 0, 6to4 of loopback
    ({"url": "https://hooks.example.com/a\x01b"}, "control characters"),
    ({"url": "https://hooks.example.com/a\nb"}, "control characters"),
    ({"url": "https://hooks.example.com:0/hook"}, "port must be between 1 and 65535"),
    ({"url": "http://[2002:7f00:1::]/"}, "carries 127.0.0.1"),
    ({"url": "http://[64:ff9b::a9fe:a9fe]/"}, "carries 169.254.169.254"),
])
def test_invalid_webhooks_are_400_validation_error(client: FlaskClient, body: dict[str, Any],
                                                   fragment: str) -> None:
    r = _create(client, **body)
    assert r.status_code == 400, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "validation_error" and fragment in err["message"]


def test_malformed_json_is_400(client: FlaskClient) -> None:
    r = client.post("/v1/webhooks", data=b"{", headers={**_h(), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "validation_error"


def test_other_org_sees_404(client: FlaskClient) -> None:
    wh = _create(client).get_json()["id"]
    for method, path in [("GET", f"/v1/webhooks/{wh}"), ("DELETE", f"/v1/webhooks/{wh}"),
                         ("GET", f"/v1/webhooks/{wh}/deliveries")]:
        r = client.open(path, method=method, headers=_h(KEY_B))
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get("/v1/webhooks", headers=_h(KEY_B)).get_json()["data"] == []


def test_delete(client: FlaskClient) -> None:
    wh = _create(client).get_json()["id"]
    r = client.delete(f"/v1/webhooks/{wh}", headers=_h())
    assert r.status_code == 200
    assert r.get_json() == {"id": wh, "object": "webhook", "deleted": True}
    assert client.delete(f"/v1/webhooks/{wh}", headers=_h()).status_code == 404
    assert client.get(f"/v1/webhooks/{wh}", headers=_h()).status_code == 404
    assert client.get("/v1/webhooks/wh_nope", headers=_h()).status_code == 404


def test_unauthenticated_is_401(client: FlaskClient) -> None:
    assert client.get("/v1/webhooks").status_code == 401
    assert client.post("/v1/webhooks", json={}).status_code == 401


def test_webhooks_per_org_are_capped(client: FlaskClient) -> None:
    for _ in range(3):
        assert _create(client).status_code == 201
    r = _create(client)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unprocessable"
    assert _create(client, key=KEY_B).status_code == 201


def test_deliveries_list_newest_first(client: FlaskClient, app: Flask) -> None:
    wh = _create(client).get_json()["id"]
    settings = app.extensions["jobgrid"].settings
    r = app.extensions["jobgrid"].redis
    keys = app.extensions["jobgrid"].keys
    for i, status in enumerate(["succeeded", "pending"]):
        d_id = f"dlv_{i}"
        r.hset(keys.webhook_delivery(d_id), mapping={
            "id": d_id, "webhook_id": wh, "org": "org_a", "event_id": f"evt_{i}",
            "type": "job.completed", "job_id": "j", "status": status, "attempt_count": 1,
            "a:1": '{"at": 1700000000000, "status_code": 500, "error": null, "duration_ms": 7}',
            "next_retry_at": "1700000060000" if status == "pending" else "",
            "created_at": 1700000000000 + i, "body": "{}"})
        r.zadd(keys.webhook_deliveries(wh), {d_id: 1700000000000 + i})
    assert len(WebhookStore(r, settings).deliveries(wh)) == 2
    data = client.get(f"/v1/webhooks/{wh}/deliveries", headers=_h()).get_json()
    assert data["object"] == "list"
    assert [d["id"] for d in data["data"]] == ["dlv_1", "dlv_0"]
    pending = data["data"][0]
    assert set(pending) == {"id", "event_id", "type", "job_id", "status", "attempts",
                            "next_retry_at", "created_at", "redelivery_of"}
    assert pending["redelivery_of"] is None
    assert pending["status"] == "pending"
    assert pending["next_retry_at"] == "2023-11-14T22:14:20.000Z"
    assert pending["attempts"] == [{"at": "2023-11-14T22:13:20.000Z", "status_code": 500,
                                    "error": None, "duration_ms": 7}]
    assert data["data"][1]["next_retry_at"] is None

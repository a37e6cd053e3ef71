"""Webhooks end to end: real API, real worker, real Redis, and a real HTTP receiver.

The stack is isolated (own prefix, own queues) and allows private addresses, since the
receiver listens on 127.0.0.1; its retry schedule is seconds instead of hours.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from support.env import API_KEY_A, API_KEY_B, ORG_A, SettingsEnv
from support.payloads import job_body
from support.servers import ApiClient, ApiServer, ProcessSet

from jobgrid.webhooks import verify
from shared.queues import CONTROL, T_FINALIZE
from shared.settings import Settings
from shared.store import JobStore
from shared.webhooks import emit_job_event

pytestmark = pytest.mark.integration

TESTS_DIR = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- receiver
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """An HTTP server in a thread; each path answers its queued codes in turn, then 200."""

    port: int = 0
    answers: dict[str, list[int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                recv.received.append(Received(self.path, dict(self.headers.items()), body))
                queued = recv.answers.get(self.path) or []
                self.send_response(queued.pop(0) if queued else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"not true after {timeout}s: {what}")


# -------------------------------------------------------------------------------- stack
@dataclass(frozen=True)
class Stack:
    env: SettingsEnv
    api: ApiServer

    def client(self) -> ApiClient:
        return self.api.client()

    @property
    def settings(self) -> Settings:
        return self.env.settings


@pytest.fixture(scope="module")
def stack(make_settings: Callable[..., SettingsEnv],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = make_settings(isolated=True, webhook_allow_private=True,
                        webhook_retry_schedule="1,1,1,2,2", webhook_sweep_interval_seconds=0.2,
                        webhook_timeout_seconds=2, webhook_secret_key="integration-key")
    procs = ProcessSet(tmp_path_factory.mktemp("webhook-logs"))
    try:
        api = procs.start_api(env)
        procs.start_worker(env, concurrency=2, name="webhooks")
        yield Stack(env, api)
    finally:
        procs.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def client(stack: Stack) -> Iterator[ApiClient]:
    c = stack.client()
    yield c
    c.close()


def register(client: ApiClient, url: str, events: list[str]) -> dict[str, Any]:
    resp = client.post("/v1/webhooks", json={"url": url, "events": events})
    assert resp.status_code == 201, resp.text
    hook: dict[str, Any] = resp.json()
    return hook


def deliveries(client: ApiClient, hook_id: str) -> list[dict[str, Any]]:
    resp = client.get(f"/v1/webhooks/{hook_id}/deliveries")
    assert resp.status_code == 200, resp.text
    data: list[dict[str, Any]] = resp.json()["data"]
    return data


def settled(client: ApiClient, hook_id: str, n: int = 1) -> list[dict[str, Any]]:
    """The webhook's deliveries once ``n`` exist and none is pending."""
    def done() -> list[dict[str, Any]] | None:
        ds = deliveries(client, hook_id)
        return ds if len(ds) >= n and all(d["status"] != "pending" for d in ds) else None
    result: list[dict[str, Any]] = wait_for(done, 30, f"{n} settled deliveries of {hook_id}")
    return result


def run_job(client: ApiClient, n_docs: int = 2) -> dict[str, Any]:
    job = client.submit(job_body(n_docs))
    final = client.wait_status(job["id"], timeout=60)
    assert final["status"] == "completed", final
    return final


# -------------------------------------------------------------------------------- tests
def test_completed_job_delivers_one_signed_event(client: ApiClient,
                                                 receiver: Receiver) -> None:
    hook = register(client, receiver.url("/ok"), ["job.completed", "job.failed"])
    job = run_job(client)
    got = wait_for(lambda: receiver.at("/ok"), 30, "a delivery")
    first = got[0]
    assert first.headers["Jobgrid-Event"] == "job.completed"
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["User-Agent"] == "jobgrid-webhooks/1"
    assert first.headers["Jobgrid-Delivery-Id"].startswith("dlv_")
    assert verify(first.body, first.headers["Jobgrid-Signature"], hook["secret"])
    assert not verify(first.body, first.headers["Jobgrid-Signature"], "whsec_wrong_secret")
    event = first.event
    assert set(event) == {"id", "type", "created_at", "data"}
    assert event["id"].startswith("evt_") and event["type"] == "job.completed"
    assert event["data"]["id"] == job["id"] and event["data"]["status"] == "completed"
    assert event["data"]["organization_id"] == ORG_A
    ds = settled(client, hook["id"])
    assert ds[0]["status"] == "succeeded" and ds[0]["job_id"] == job["id"]
    assert ds[0]["id"] == first.headers["Jobgrid-Delivery-Id"]
    assert [a["status_code"] for a in ds[0]["attempts"]] == [200]
    time.sleep(1.0)
    assert len(receiver.at("/ok")) == 1  # exactly one event for the job


def test_failing_receiver_gets_the_event_on_the_third_try(client: ApiClient,
                                                          receiver: Receiver) -> None:
    receiver.answers["/flaky"] = [500, 500]
    hook = register(client, receiver.url("/flaky"), ["job.completed"])
    run_job(client)
    got = wait_for(lambda: len(receiver.at("/flaky")) >= 3 and receiver.at("/flaky"), 30,
                   "three attempts")
    assert len({r.headers["Jobgrid-Delivery-Id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    for r in got:  # each attempt is signed afresh
        assert verify(r.body, r.headers["Jobgrid-Signature"], hook["secret"])
    d = settled(client, hook["id"])[0]
    assert d["status"] == "succeeded"
    assert [a["status_code"] for a in d["attempts"]] == [500, 500, 200]
    assert all(isinstance(a["duration_ms"], int) and a["at"].endswith("Z")
               for a in d["attempts"])
    assert d["next_retry_at"] is None


def test_event_waits_for_a_receiver_that_is_down(client: ApiClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = Receiver(port=port)  # not started: nothing listens on the port yet
    hook = register(client, down.url("/later"), ["job.completed"])
    run_job(client)

    def failed_once() -> bool:
        ds = deliveries(client, hook["id"])
        return bool(ds and ds[0]["attempts"] and ds[0]["status"] == "pending")
    wait_for(failed_once, 30, "a failed first attempt")
    first = deliveries(client, hook["id"])[0]
    assert first["attempts"][0]["status_code"] is None
    assert first["attempts"][0]["error"].startswith("connection_error")
    assert first["next_retry_at"] is not None
    down.start()
    try:
        got = wait_for(lambda: down.at("/later"), 30, "the delivery after the receiver is up")
        assert got[0].headers["Jobgrid-Delivery-Id"] == first["id"]
        assert settled(client, hook["id"])[0]["status"] == "succeeded"
    finally:
        down.stop()


def test_duplicate_finalize_emits_one_event(client: ApiClient, receiver: Receiver,
                                            stack: Stack, redis_client: redis.Redis) -> None:
    hook = register(client, receiver.url("/dupe"), ["job.completed"])
    job = run_job(client)
    wait_for(lambda: receiver.at("/dupe"), 30, "the first delivery")
    # finalize delivered again (as after a lost ack), and emission retried by hand
    from shared.celery_config import make_celery
    app = make_celery(stack.settings, name="jobgrid-test-sender")
    try:
        for _ in range(2):
            app.send_task(T_FINALIZE, args=[job["id"], ORG_A], queue=CONTROL)
    finally:
        app.close()
    store = JobStore(redis_client, stack.settings)
    assert emit_job_event(store, job["id"], ORG_A, "job.completed") == 0
    time.sleep(2.0)
    assert len(receiver.at("/dupe")) == 1
    assert len(settled(client, hook["id"])) == 1


def test_cancelled_job_emits_job_cancelled(client: ApiClient, receiver: Receiver) -> None:
    register(client, receiver.url("/cancel"), ["job.cancelled"])
    job = client.submit(job_body(300))
    resp = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert resp.status_code == 200, resp.text
    got = wait_for(lambda: receiver.at("/cancel"), 30, "job.cancelled")
    assert got[0].event["type"] == "job.cancelled"
    assert got[0].event["data"]["id"] == job["id"]
    assert got[0].event["data"]["status"] == "cancelled"


def test_expired_job_emits_job_expired(client: ApiClient, receiver: Receiver, stack: Stack,
                                       redis_client: redis.Redis) -> None:
    register(client, receiver.url("/expired"), ["job.expired"])
    job = run_job(client, 1)
    # let the retention run out now rather than in 7 days
    from shared.keys import Keys
    from shared.webhooks import register_expiry
    keys = Keys(stack.settings.key_prefix)
    deadline = int(time.time() * 1000)
    redis_client.hset(keys.job(job["id"]), "expires_at", deadline)
    register_expiry(redis_client, keys, ORG_A, job["id"], deadline)
    got = wait_for(lambda: receiver.at("/expired"), 30, "job.expired")
    assert got[0].event["type"] == "job.expired"
    assert got[0].event["data"]["status"] == "expired"
    time.sleep(1.0)
    assert len(receiver.at("/expired")) == 1


def test_private_url_is_refused_when_not_allowed(api_client: ApiClient) -> None:
    for url in ("http://127.0.0.1:9/hook", "http://[::1]/hook", "http://10.0.0.1/hook",
                "http://169.254.169.254/latest/meta-data/", "http://localhost/hook"):
        resp = api_client.post("/v1/webhooks", json={"url": url, "events": ["job.completed"]})
        assert resp.status_code == 400, (url, resp.text)
        assert resp.json()["error"]["code"] == "validation_error"
    resp = api_client.post("/v1/webhooks", json={"url": "https://example.com/h",
                                                 "events": ["job.finished"]})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "validation_error"


# ------------------------------------------------------------- Standard Webhooks (17.2)
def _standard_headers(r: Received) -> dict[str, str]:
    """The ``webhook-*`` headers, names capitalized (HTTP header names are case-insensitive)."""
    return {k.title(): v for k, v in r.headers.items() if k.lower().startswith("webhook-")}


def test_standard_webhooks_library_verifies_real_deliveries(
        client: ApiClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both signatures of real deliveries: the contract's with ``secret``, Standard Webhooks
    with the ``standardwebhooks`` library from PyPI and ``standard_webhooks_secret``, for a
    generated secret and for one the client chose."""
    from standardwebhooks import webhooks as sw

    generated = register(client, receiver.url("/std-gen"), ["job.completed"])
    resp = client.post("/v1/webhooks", json={"url": receiver.url("/std-own"),
                                             "events": ["job.completed"],
                                             "secret": "a-secret-the-client-chose"})
    assert resp.status_code == 201, resp.text
    own = resp.json()
    assert generated["standard_webhooks_secret"] == generated["secret"]
    assert own["secret"] == "a-secret-the-client-chose"
    assert own["standard_webhooks_secret"].startswith("whsec_")
    run_job(client)
    for hook, path in ((generated, "/std-gen"), (own, "/std-own")):
        got = wait_for(lambda p=path: receiver.at(p), 30, f"a delivery at {path}")[0]
        std = _standard_headers(got)
        assert {k.lower() for k in std} == {"webhook-id", "webhook-timestamp",
                                            "webhook-signature"}
        lower = {k.lower(): v for k, v in std.items()}
        assert lower["webhook-id"] == got.event["id"]  # the event id
        assert got.headers["Jobgrid-Signature"].startswith(f"t={lower['webhook-timestamp']},")
        verifier = sw.Webhook(hook["standard_webhooks_secret"])
        assert verifier.verify(got.body, got.headers) == got.event
        assert verify(got.body, got.headers["Jobgrid-Signature"], hook["secret"])
        # a tampered body is refused by both schemes
        tampered = got.body.replace(b'"completed"', b'"failed"')
        assert tampered != got.body
        with pytest.raises(sw.WebhookVerificationError, match="No matching signature"):
            verifier.verify(tampered, got.headers)
        assert not verify(tampered, got.headers["Jobgrid-Signature"], hook["secret"])

    # the same real delivery replayed ten minutes later: its timestamp is stale
    real_datetime = sw.datetime

    class Later(real_datetime):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return real_datetime.now(tz) + sw.timedelta(minutes=10)

    got = receiver.at("/std-gen")[0]
    monkeypatch.setattr(sw, "datetime", Later)
    with pytest.raises(sw.WebhookVerificationError, match="too old"):
        sw.Webhook(generated["standard_webhooks_secret"]).verify(got.body, got.headers)
    from jobgrid.webhooks import check_standard_signature
    ts = int({k.lower(): v for k, v in got.headers.items()}["webhook-timestamp"])
    with pytest.raises(ValueError, match="tolerance"):
        check_standard_signature(got.body, got.headers, generated["secret"], now=ts + 600)


# ----------------------------------------------------------------------- redelivery (17.3)
def test_redeliver_sends_the_same_event_again(client: ApiClient, receiver: Receiver,
                                              stack: Stack) -> None:
    from standardwebhooks import webhooks as sw

    from jobgrid.cli import run as cli_run

    hook = register(client, receiver.url("/again"), ["job.completed"])
    run_job(client)
    first = settled(client, hook["id"])[0]
    assert first["status"] == "succeeded" and first["redelivery_of"] is None
    resp = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{first['id']}/redeliver")
    assert resp.status_code == 202, resp.text
    new = resp.json()
    assert new["redelivery_of"] == first["id"] and new["event_id"] == first["event_id"]
    assert resp.headers["Location"].endswith(f"/deliveries/{new['id']}")
    assert "X-RateLimit-Remaining" in resp.headers
    got = wait_for(lambda: len(receiver.at("/again")) >= 2 and receiver.at("/again"), 30,
                   "the redelivery")
    original, again = got
    assert again.body == original.body  # same event, same bytes
    assert again.headers["Jobgrid-Delivery-Id"] == new["id"] != first["id"]
    assert _standard_headers(again)["Webhook-Id"] == first["event_id"]
    assert _standard_headers(original)["Webhook-Id"] == first["event_id"]
    assert sw.Webhook(hook["standard_webhooks_secret"]).verify(again.body, again.headers)
    assert verify(again.body, again.headers["Jobgrid-Signature"], hook["secret"])
    listed = settled(client, hook["id"], 2)
    assert [(d["id"], d["redelivery_of"], d["status"]) for d in listed] == [
        (new["id"], first["id"], "succeeded"), (first["id"], None, "succeeded")]
    _validate("DeliveryList", {"object": "list", "data": listed})
    _validate("DeliveryOut", new)
    _validate("WebhookCreated", hook)

    # the CLI: redeliver and wait for the attempt; exit 0 when it succeeded
    base = ["--url", stack.api.url, "--api-key", API_KEY_A]
    assert cli_run(["webhooks", "redeliver", hook["id"], first["id"], "--wait", *base]) == 0
    assert len(settled(client, hook["id"], 3)) == 3
    receiver.answers["/again"] = [500]  # exit 1 when the first attempt fails (then retried)
    assert cli_run(["webhooks", "redeliver", hook["id"], first["id"], "--wait", *base]) == 1
    assert [d["status"] for d in settled(client, hook["id"], 4)] == ["succeeded"] * 4
    assert cli_run(["webhooks", "deliveries", hook["id"], *base]) == 0
    assert cli_run(["webhooks", "list", *base]) == 0
    # an error is one line and exit 2 (404 here: another organization's webhook)
    assert cli_run(["webhooks", "redeliver", hook["id"], first["id"], "--url",
                    stack.api.url, "--api-key", API_KEY_B]) == 2

    # across organizations: 404, and nothing is sent
    other = stack.api.client(API_KEY_B)
    try:
        r = other.post(f"/v1/webhooks/{hook['id']}/deliveries/{first['id']}/redeliver")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = other.get(f"/v1/webhooks/{hook['id']}/deliveries/{first['id']}")
        assert r.status_code == 404
    finally:
        other.close()
    time.sleep(1.0)
    assert len(receiver.at("/again")) == 5  # original, 3 redeliveries, 1 retry


def test_redeliver_of_a_pending_delivery_is_409(client: ApiClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hook = register(client, f"http://127.0.0.1:{port}/down", ["job.completed"])
    run_job(client)

    def pending() -> dict[str, Any] | None:
        ds = deliveries(client, hook["id"])
        return ds[0] if ds and ds[0]["status"] == "pending" else None
    d = wait_for(pending, 30, "a pending delivery")
    r = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{d['id']}/redeliver")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", r.text
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 200


def _validate(model: str, payload: Any) -> None:
    import jsonschema_rs

    from api.openapi import document
    root = {"components": document()["components"],
            "$ref": f"#/components/schemas/{model}"}
    errors = list(jsonschema_rs.Draft202012Validator(root).iter_errors(payload))
    assert not errors, f"{model}: {errors}"


# ------------------------------------------------------------------ the per-org cap (15.8)
def _create_at_once(c: ApiClient, barrier: threading.Barrier, codes: list[int]) -> None:
    barrier.wait()
    codes.append(c.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/cap",
                                              "events": ["job.failed"]}).status_code)


def test_concurrent_creates_never_exceed_the_cap(stack: Stack) -> None:
    """40 creations at once against the real server (2 processes × 16 threads), three times:
    the report saw 17 webhooks under a cap of 16 in one of three trials."""
    cap = stack.settings.webhook_max_per_org
    assert cap == 16  # the production default
    clients = [stack.api.client(API_KEY_B) for _ in range(40)]
    try:
        for trial in range(3):
            barrier = threading.Barrier(len(clients))
            codes: list[int] = []

            threads = [threading.Thread(target=_create_at_once, args=(c, barrier, codes))
                       for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            listed = clients[0].get("/v1/webhooks").json()["data"]
            assert (sorted(codes), len(listed)) == ([201] * cap + [422] * (40 - cap), cap), \
                f"trial {trial}"
            for h in listed:
                assert clients[0].delete(f"/v1/webhooks/{h['id']}").status_code == 200
    finally:
        for c in clients:
            c.close()

"""Delivery: one attempt per task, retries scheduled in Redis (never as Celery countdowns)."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import fakeredis
import orjson
import pytest

from jobgrid.webhooks import verify
from shared.clock import now_ms
from shared.models import JobCreate
from shared.settings import Settings
from shared.status import JobStatus, Phase
from shared.store import JobStore
from shared.webhook_urls import Target
from shared.webhooks import WebhookCreate, WebhookStore, emit_job_event
from worker.webhooks import (
    HttpResult,
    Sweeper,
    deliver,
    lease_seconds,
    plan_next,
    post,
    sweep_deliveries,
)

S = JobStatus
ORG = "org_a"
HOUR = 3600


@pytest.fixture
def store(fake_redis: fakeredis.FakeRedis) -> JobStore:
    return JobStore(fake_redis, Settings(key_prefix="ut", webhook_secret_key="k",
                                         webhook_allow_private=True))


class FakePoster:
    """Answers with the given status codes in turn and records every request."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.calls: list[tuple[Target, bytes, dict[str, str]]] = []

    def __call__(self, target: Target, body: bytes, headers: dict[str, str],
                 timeout: float) -> HttpResult:
        self.calls.append((target, body, headers))
        return HttpResult(self.codes.pop(0), None, 3)


def _local(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def _completed_job_with_hook(store: JobStore, url: str = "http://hooks.test/h"
                             ) -> tuple[str, str, str]:
    """(job id, webhook secret, delivery id) of a completed job with one due delivery."""
    hook = WebhookStore(store.r, store.settings).create(
        ORG, WebhookCreate(url=url, events=["job.completed"]))
    req = JobCreate.model_validate({"schema": {"name": "s", "fields": [{"name": "f"}]},
                                    "documents": [{"filename": "d.txt", "text": "x"}]})
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, ORG, req, req.schema_, None)
    store.transition(job_id, ORG, [S.VALIDATING], status=S.IN_PROGRESS, phase=Phase.EXECUTE)
    store.transition(job_id, ORG, [S.IN_PROGRESS], status=S.COMPLETED)
    assert emit_job_event(store, job_id, ORG, "job.completed") == 1
    delivery_id = str(store.r.zrange(store.keys.webhooks_due, 0, 0)[0])
    return job_id, hook.secret, delivery_id


def _sweep(store: JobStore, now: int) -> list[tuple[str, int]]:
    sent: list[tuple[str, int]] = []
    sweep_deliveries(store, sent.extend, now)
    return sent


# ------------------------------------------------------------------------- the schedule
def test_retry_schedule_then_failed() -> None:
    s = Settings()
    bad = HttpResult(500, None, 1)
    now = 1_000_000
    steps = [plan_next(s, bad, n, now) for n in range(1, 6)]
    assert steps == [("retry", now + 60_000), ("retry", now + 300_000),
                     ("retry", now + 1_800_000), ("retry", now + 14_400_000), ("failed", 0)]
    assert plan_next(s, HttpResult(204, None, 1), 3, now) == ("succeeded", 0)
    assert plan_next(s, HttpResult(None, "timeout", 1), 1, now)[0] == "retry"
    assert plan_next(s, HttpResult(302, None, 1), 1, now)[0] == "retry"  # 3xx is a failure


def test_lease_is_capped_below_half_the_visibility_timeout() -> None:
    assert lease_seconds(Settings(visibility_timeout=3600, webhook_lease_seconds=300)) == 300
    assert lease_seconds(Settings(visibility_timeout=600, webhook_lease_seconds=3000)) == 300
    assert lease_seconds(Settings()) < Settings().visibility_timeout / 2 + 1


def test_four_hour_retry_waits_in_redis_not_in_a_countdown(store: JobStore) -> None:
    """Every retry delay, 4 h included, is a score in the due set; the task the sweeper sends
    for it carries no countdown, so nothing sits in the broker past visibility_timeout."""
    _, _, d_id = _completed_job_with_hook(store)
    poster = FakePoster(500, 500, 500, 500, 500)
    now = now_ms()
    for attempt, delay in enumerate([60, 300, 1800, 4 * HOUR]):
        sent = _sweep(store, now)
        assert sent == [(d_id, attempt)]
        assert deliver(store, d_id, attempt, poster=poster, resolver=_local) == "retry"
        due = store.r.zscore(store.keys.webhooks_due, d_id)
        assert due is not None and due - now_ms() == pytest.approx(delay * 1000, abs=5000)
        assert _sweep(store, int(due) - 1000) == []  # not before its time
        now = int(due)
    assert _sweep(store, now) == [(d_id, 4)]
    assert deliver(store, d_id, 4, poster=poster, resolver=_local) == "failed"
    assert store.r.zscore(store.keys.webhooks_due, d_id) is None
    d = WebhookStore(store.r, store.settings).delivery(d_id)
    assert d is not None and d.status == "failed" and len(d.attempts) == 5
    assert d.next_retry_at is None


def test_celery_sender_uses_no_countdown(monkeypatch: pytest.MonkeyPatch) -> None:
    from worker import webhook_tasks

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(webhook_tasks.app, "producer_or_acquire",
                        lambda: contextlib.nullcontext(None))
    monkeypatch.setattr(webhook_tasks.app, "send_task",
                        lambda name, **kw: calls.append({"name": name, **kw}))
    webhook_tasks.send_deliveries([("dlv_1", 0), ("dlv_2", 3)])
    assert [c["args"] for c in calls] == [["dlv_1", 0], ["dlv_2", 3]]
    for c in calls:
        assert c["name"] == "jobgrid.deliver_webhook" and c["queue"] == "webhooks"
        assert "countdown" not in c and "eta" not in c


# ---------------------------------------------------------------------------- attempts
def test_successful_delivery_is_signed_and_recorded(store: JobStore) -> None:
    job_id, secret, d_id = _completed_job_with_hook(store)
    poster = FakePoster(200)
    assert deliver(store, d_id, 0, poster=poster, resolver=_local) == "succeeded"
    target, body, headers = poster.calls[0]
    assert (target.host, target.address) == ("hooks.test", "127.0.0.1")
    assert headers["Jobgrid-Event"] == "job.completed"
    assert headers["Jobgrid-Delivery-Id"] == d_id
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "jobgrid-webhooks/1"
    assert verify(body, headers["Jobgrid-Signature"], secret)
    assert orjson.loads(body)["data"]["id"] == job_id
    d = WebhookStore(store.r, store.settings).delivery(d_id)
    assert d is not None and d.status == "succeeded"
    assert d.out().attempts[0].status_code == 200
    assert store.r.zcard(store.keys.webhooks_due) == 0
    assert not store.r.exists(store.keys.webhook_delivery_lock(d_id))


def test_retries_resend_the_same_body_and_delivery_id(store: JobStore) -> None:
    _, secret, d_id = _completed_job_with_hook(store)
    poster = FakePoster(500, 503, 200)
    for n in range(3):
        deliver(store, d_id, n, poster=poster, resolver=_local)
    bodies = {c[1] for c in poster.calls}
    ids = {c[2]["Jobgrid-Delivery-Id"] for c in poster.calls}
    assert len(bodies) == 1 and ids == {d_id}
    out = WebhookStore(store.r, store.settings).delivery(d_id)
    assert out is not None
    assert [a.status_code for a in out.out().attempts] == [500, 503, 200]


def test_duplicate_and_stale_tasks_send_nothing(store: JobStore) -> None:
    _, _, d_id = _completed_job_with_hook(store)
    poster = FakePoster(500, 200)
    assert deliver(store, d_id, 0, poster=poster, resolver=_local) == "retry"
    assert deliver(store, d_id, 0, poster=poster, resolver=_local) == "stale"  # redelivered
    store.r.set(store.keys.webhook_delivery_lock(d_id), "1")  # another task is sending
    assert deliver(store, d_id, 1, poster=poster, resolver=_local) == "busy"
    store.r.delete(store.keys.webhook_delivery_lock(d_id))
    assert deliver(store, d_id, 1, poster=poster, resolver=_local) == "succeeded"
    assert deliver(store, d_id, 2, poster=poster, resolver=_local) == "stale"
    assert len(poster.calls) == 2


def test_address_is_checked_again_at_delivery(store: JobStore) -> None:
    strict = JobStore(store.r, store.settings.model_copy(update={"webhook_allow_private": False}))
    _, _, d_id = _completed_job_with_hook(store)  # registered while private was allowed
    poster = FakePoster(200)
    assert deliver(strict, d_id, 0, poster=poster, resolver=_local) == "retry"
    assert poster.calls == []
    d = WebhookStore(store.r, store.settings).delivery(d_id)
    assert d is not None and d.attempts[0]["error"].startswith("address_refused")


def test_deleted_webhook_closes_its_deliveries(store: JobStore) -> None:
    _, _, d_id = _completed_job_with_hook(store)
    ws = WebhookStore(store.r, store.settings)
    d = ws.delivery(d_id)
    assert d is not None and ws.delete(ORG, d.webhook_id)
    assert deliver(store, d_id, 0, poster=FakePoster(), resolver=_local) == "webhook_deleted"
    d = ws.delivery(d_id)
    assert d is not None and d.status == "failed" and d.attempts == ()


def test_expired_delivery_leaves_the_due_set(store: JobStore) -> None:
    _, _, d_id = _completed_job_with_hook(store)
    store.r.delete(store.keys.webhook_delivery(d_id))
    assert _sweep(store, now_ms()) == []
    assert store.r.zcard(store.keys.webhooks_due) == 0
    store.r.zadd(store.keys.webhooks_due, {d_id: 0})
    assert deliver(store, d_id, 0, poster=FakePoster(), resolver=_local) == "gone"
    assert store.r.zcard(store.keys.webhooks_due) == 0


def test_claimed_delivery_is_swept_again_after_the_lease(store: JobStore) -> None:
    """A worker that died after the claim: the delivery comes back when the lease runs out."""
    _, _, d_id = _completed_job_with_hook(store)
    now = now_ms()
    assert _sweep(store, now) == [(d_id, 0)]
    assert _sweep(store, now + 1000) == []
    lease_ms = lease_seconds(store.settings) * 1000
    assert _sweep(store, now + lease_ms) == [(d_id, 0)]


def test_sweeper_thread_sends_due_deliveries(store: JobStore) -> None:
    fast = JobStore(store.r, store.settings.model_copy(
        update={"webhook_sweep_interval_seconds": 0.02}))
    _, _, d_id = _completed_job_with_hook(fast)
    sent: list[tuple[str, int]] = []
    sweeper = Sweeper(fast, sent.extend)
    sweeper.start()
    try:
        deadline = time.monotonic() + 5
        while not sent and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        sweeper.stop()
    assert sent == [(d_id, 0)]


# ------------------------------------------------------------------------- real HTTP
class _Receiver(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str]]] = {}
    seen: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.path, self.headers.get("Host", ""), body))
        if self.path == "/slow":
            time.sleep(1.0)
        code, headers = self.routes.get(self.path, (404, {}))
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    _Receiver.routes = {"/ok": (204, {}), "/boom": (500, {}), "/slow": (200, {}),
                        "/moved": (302, {"Location": "/ok"})}
    _Receiver.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_port
    srv.shutdown()
    srv.server_close()


def _target(port: int, path: str, host: str = "hooks.test") -> Target:
    return Target(url=f"http://{host}:{port}{path}", scheme="http", host=host, port=port,
                  address="127.0.0.1")


def test_post_connects_to_the_pinned_address_with_the_original_host(receiver: int) -> None:
    r = post(_target(receiver, "/ok"), b"{}", {"Content-Type": "application/json"}, 5)
    assert (r.status_code, r.error, r.ok) == (204, None, True)
    assert _Receiver.seen == [("/ok", f"hooks.test:{receiver}", b"{}")]


def test_post_reports_non_2xx(receiver: int) -> None:
    r = post(_target(receiver, "/boom"), b"{}", {}, 5)
    assert (r.status_code, r.ok) == (500, False)


def test_post_never_follows_redirects(receiver: int) -> None:
    r = post(_target(receiver, "/moved"), b"{}", {}, 5)
    assert (r.status_code, r.ok) == (302, False)
    assert [p for p, _, _ in _Receiver.seen] == ["/moved"]


def test_post_times_out(receiver: int) -> None:
    r = post(_target(receiver, "/slow"), b"{}", {}, 0.2)
    assert r.status_code is None and r.error is not None and r.error.startswith("timeout")


def test_post_reports_a_refused_connection() -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    r = post(_target(port, "/x"), b"{}", {}, 2)
    assert r.status_code is None and r.error is not None
    assert r.error.startswith("connection_error")


def test_a_url_the_request_line_cannot_hold_is_a_failed_attempt_not_a_crash() -> None:
    """Registration refuses such URLs now; one stored before must fail its attempt cleanly
    (a raised UnicodeEncodeError used to escape the task and leave the delivery claimed)."""
    target = Target(url="http://127.0.0.1:9/caf\u00e9", scheme="http", host="127.0.0.1",
                    port=9, address="127.0.0.1")
    result = post(target, b"{}", {}, 1.0)
    assert result.status_code is None and not result.ok
    assert result.error is not None and result.error.startswith("invalid_url")

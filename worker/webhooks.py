"""Webhook delivery and the sweeper that schedules it, as plain functions.

How a delivery travels (the Celery side is ``worker.webhook_tasks``):

1. Emission (``shared.webhooks.emit_job_event``) writes the delivery and adds it to the due
   set ``{prefix}:webhooks:due`` with score "now".
2. A sweeper thread in every worker claims due deliveries (``webhook_claim.lua`` moves their
   score a lease into the future) and sends one ``jobgrid.deliver_webhook`` task each, on the
   ``webhooks`` queue, without any countdown.
3. The task makes one attempt and records it with ``webhook_attempt.lua``, which sets the next
   score: ``now + retry delay`` after a failure, or removes the delivery when it succeeded or
   used up the schedule.

So every retry delay, the 4 h one included, waits in a Redis sorted set, never in the broker:
no countdown or ETA can outlive the Redis transport's ``visibility_timeout`` and be delivered
twice. A worker that dies mid-attempt leaves the delivery
claimed; the lease runs out and the sweeper sends it again. Duplicated or redelivered tasks
are harmless: a task carries the number of attempts it expects to find, and only the first
task to record an attempt from that number counts. Receivers still see a delivery at least
once, not exactly once, and dedupe on ``Jobgrid-Delivery-Id``.

A redelivery (``POST .../deliveries/{id}/redeliver``) is a new delivery of the same event,
written due by ``WebhookStore.redeliver``; from then on it travels the same way.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import orjson

from shared.clock import now_ms
from shared.settings import Settings
from shared.store import JobStore
from shared.webhook_secrets import SealError
from shared.webhook_urls import Resolver, Target, UrlRefused, resolve_target, system_resolver
from shared.webhooks import (
    JOB_EXPIRED,
    USER_AGENT,
    Delivery,
    Webhook,
    WebhookStore,
    emit_job_event,
    script,
    signature_header,
    standard_key,
    standard_signature,
)

log = logging.getLogger("jobgrid.webhooks")

SWEEP_BATCH = 500
MAX_ERROR_LENGTH = 300


# --------------------------------------------------------------------------------- HTTP
@dataclass(frozen=True, slots=True)
class HttpResult:
    """One attempt's outcome: a status code, or an error when no answer came."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None \
            and 200 <= self.status_code < 300


#: (target, body, headers, timeout seconds) -> result; injectable for tests
Poster = Callable[[Target, bytes, dict[str, str], float], HttpResult]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuses every redirect: a 3xx then surfaces as an HTTPError, i.e. a failed attempt.
    Following one would send the signed event to an address nobody checked."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the SSRF check approved, whatever DNS says now."""

    pinned_address = ""

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Like ``_PinnedHTTPConnection``; TLS still verifies the certificate for the host name."""

    pinned_address = ""
    tls_context = ssl.create_default_context()

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.connection_class = type("Pinned", (_PinnedHTTPConnection,),
                                     {"pinned_address": address})

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(cast(Any, self.connection_class), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.connection_class = type("PinnedTLS", (_PinnedHTTPSConnection,),
                                     {"pinned_address": address})

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(cast(Any, self.connection_class), req)


def _opener(address: str) -> urllib.request.OpenerDirector:
    # ProxyHandler({}): no proxy from the environment; the pinned address is where we go.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect(),
                                       _PinnedHTTPHandler(address), _PinnedHTTPSHandler(address))


def _short(error: str) -> str:
    return error if len(error) <= MAX_ERROR_LENGTH else error[:MAX_ERROR_LENGTH - 1] + "…"


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> HttpResult:
    """POSTs ``body`` to the checked target with the stdlib; never raises for network errors."""
    req = urllib.request.Request(target.url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    code: int | None = None
    error: str | None = None
    try:
        with _opener(target.address).open(req, timeout=timeout) as resp:
            code = int(resp.status)
    except urllib.error.HTTPError as e:  # non-2xx, 3xx included (redirects are refused)
        code = e.code
        e.close()
    except TimeoutError:
        error = f"timeout: no answer within {timeout:g} s"
    except urllib.error.URLError as e:
        reason = e.reason
        kind = "timeout" if isinstance(reason, TimeoutError) else "connection_error"
        error = f"{kind}: {reason}"
    except (OSError, http.client.HTTPException) as e:
        error = f"connection_error: {e.__class__.__name__}: {e}"
    except ValueError as e:  # a URL the request line cannot hold (registration refuses those)
        error = f"invalid_url: {e.__class__.__name__}: {e}"
    duration = int((time.monotonic() - started) * 1000)
    return HttpResult(code, _short(error) if error else None, duration)


# ----------------------------------------------------------------------------- delivery
def delivery_headers(d: Delivery, secret: str, timestamp: int) -> dict[str, str]:
    """The headers of one attempt; only the signatures' timestamp changes between attempts.

    Both signatures use the same timestamp. ``webhook-id`` is the event id: the Standard
    Webhooks message id stays the same when a message is sent again (retries, redeliveries),
    while ``Jobgrid-Delivery-Id`` is new for a redelivery.
    """
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Jobgrid-Event": d.type,
        "Jobgrid-Delivery-Id": d.id,
        "Jobgrid-Signature": signature_header(d.body, secret, timestamp),
        "webhook-id": d.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(d.event_id, timestamp, d.body,
                                                standard_key(secret)),
    }


def plan_next(settings: Settings, result: HttpResult, attempts_done: int,
              now: int) -> tuple[str, int]:
    """(outcome, next attempt ms) after ``attempts_done`` attempts, the last one ``result``.

    Retry ``i`` (1-based) waits ``webhook_retry_schedule[i - 1]`` seconds; once the schedule
    is used up the delivery is failed.
    """
    if result.ok:
        return "succeeded", 0
    delays = settings.webhook_retry_delays
    if attempts_done > len(delays):
        return "failed", 0
    return "retry", now + int(delays[attempts_done - 1] * 1000)


def _record(store: JobStore, d: Delivery, attempt: dict[str, Any] | None, outcome: str,
            next_at: int) -> bool:
    k = store.keys
    done = script(store.r, "webhook_attempt")(
        keys=[k.webhook_delivery(d.id), k.webhooks_due, k.webhook_delivery_lock(d.id)],
        args=[d.id, d.attempt_count, orjson.dumps(attempt) if attempt else "", outcome,
              next_at],
    )
    return int(done) == 1


def _attempt(whs: WebhookStore, hook: Webhook, d: Delivery, poster: Poster,
             resolver: Resolver) -> HttpResult:
    """Re-checks the URL (DNS may have changed), signs, sends. Never raises for the target."""
    s = whs.settings
    try:
        target = resolve_target(hook.url, allow_private=s.webhook_allow_private,
                                resolver=resolver)
    except UrlRefused as e:
        return HttpResult(None, _short(f"address_refused: {e}"), 0)
    try:
        secret = whs.secret(hook)
    except SealError as e:
        log.error("webhook %s: cannot unseal its secret: %s", hook.id, e)
        return HttpResult(None, "secret_unavailable: the signing secret cannot be read", 0)
    headers = delivery_headers(d, secret, int(time.time()))
    return poster(target, d.body, headers, s.webhook_timeout_seconds)


def deliver(
    store: JobStore, delivery_id: str, expected_attempts: int, *,
    poster: Poster = post, resolver: Resolver = system_resolver,
) -> str:
    """Makes attempt ``expected_attempts + 1`` of a delivery and records it.

    Returns what happened: ``succeeded``, ``retry``, ``failed``, or why nothing was sent:
    ``gone`` (expired), ``stale`` (another task already made this attempt, or it is closed),
    ``busy`` (another task is making it now), ``webhook_deleted``.
    """
    whs = WebhookStore(store.r, store.settings)
    d = whs.delivery(delivery_id)
    if d is None:
        store.r.zrem(store.keys.webhooks_due, delivery_id)
        return "gone"
    if d.status != "pending" or d.attempt_count != expected_attempts:
        return "stale"
    lock_ms = int((store.settings.webhook_timeout_seconds + 30) * 1000)
    if not store.r.set(store.keys.webhook_delivery_lock(d.id), "1", nx=True, px=lock_ms):
        return "busy"
    hook = whs.get(d.org, d.webhook_id)
    if hook is None:
        _record(store, d, None, "failed", 0)
        return "webhook_deleted"
    started = now_ms()
    result = _attempt(whs, hook, d, poster, resolver)
    outcome, next_at = plan_next(store.settings, result, d.attempt_count + 1, now_ms())
    attempt = {"at": started, "status_code": result.status_code, "error": result.error,
               "duration_ms": result.duration_ms}
    if not _record(store, d, attempt, outcome, next_at):
        return "stale"
    log.info("webhook delivery %s (%s, job %s) attempt %d: %s -> %s", d.id, d.type, d.job_id,
             d.attempt_count + 1, result.status_code or result.error, outcome)
    return outcome


# ------------------------------------------------------------------------------ sweeper
#: sends one delivery task per (delivery id, attempts already made)
Sender = Callable[[list[tuple[str, int]]], None]


def lease_seconds(settings: Settings) -> int:
    """How long a claimed delivery or expiry stays claimed before it is swept again.

    Capped below half the broker's ``visibility_timeout``: a task message lost with its
    worker is then re-sent by the sweeper before the broker would redeliver it anyway.
    """
    return max(1, min(settings.webhook_lease_seconds, settings.visibility_timeout // 2))


def claim_due(store: JobStore, zset: str, now: int, limit: int = SWEEP_BATCH) -> list[str]:
    """Members of ``zset`` due at ``now``, claimed for one lease."""
    lease_ms = lease_seconds(store.settings) * 1000
    members = script(store.r, "webhook_claim")(keys=[zset], args=[now, lease_ms, limit])
    return [str(m) for m in members]


def sweep_deliveries(store: JobStore, send: Sender, now: int) -> int:
    """Sends a task for every due pending delivery; drops closed or expired ones."""
    ids = claim_due(store, store.keys.webhooks_due, now)
    if not ids:
        return 0
    pipe = store.r.pipeline(transaction=False)
    for d_id in ids:
        pipe.hmget(store.keys.webhook_delivery(d_id), ["status", "attempt_count"])
    todo: list[tuple[str, int]] = []
    closed: list[str] = []
    for d_id, (status, count) in zip(ids, pipe.execute(), strict=True):
        if status == "pending":
            todo.append((d_id, int(count or 0)))
        else:
            closed.append(d_id)
    if closed:
        store.r.zrem(store.keys.webhooks_due, *closed)
    if todo:
        send(todo)
    return len(todo)


def sweep_expiries(store: JobStore, now: int) -> int:
    """Emits ``job.expired`` for every job whose deadline passed; returns how many emitted."""
    emitted = 0
    leased_score = now + lease_seconds(store.settings) * 1000
    for member in claim_due(store, store.keys.expiries, now):
        org, _, job_id = member.partition("|")
        h = store.read_job(job_id)
        expires = int(h.get("expires_at") or 0) if h else 0
        if expires > now:  # retried since: wait for the new deadline
            store.r.zadd(store.keys.expiries, {member: expires})
            continue
        if h is not None:
            emitted += 1 if emit_job_event(store, job_id, org, JOB_EXPIRED) else 0
        script(store.r, "webhook_release")(keys=[store.keys.expiries],
                                           args=[member, leased_score])
    return emitted


class Sweeper:
    """A daemon thread that sweeps every ``webhook_sweep_interval_seconds``.

    One runs in each worker process (started on ``worker_ready``); several at once are safe
    because claims are atomic. Redis trouble is logged and the loop carries on.
    """

    def __init__(
        self, store: JobStore, send: Sender, watchdog: Callable[[int], int] | None = None
    ) -> None:
        self.store = store
        self.send = send
        self.interval = store.settings.webhook_sweep_interval_seconds
        # the stalled-job watchdog (worker/watchdog.py) rides on the same thread, less often
        self.watchdog = watchdog
        self.watchdog_every_ms = int(max(1.0, store.settings.stall_seconds / 4) * 1000)
        self._watchdog_due = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def run_once(self, now: int | None = None) -> tuple[int, int]:
        """(deliveries sent, expiries emitted) for one pass."""
        now = now if now is not None else now_ms()
        if self.watchdog is not None and now >= self._watchdog_due:
            self._watchdog_due = now + self.watchdog_every_ms
            self.watchdog(now)
        return sweep_deliveries(self.store, self.send, now), sweep_expiries(self.store, now)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception as e:  # noqa: BLE001 - the loop must survive any outage
                if not self._failing:
                    log.warning("webhook sweeper: %s: %s (will keep trying)",
                                e.__class__.__name__, e)
                self._failing = True
            else:
                if self._failing:
                    log.info("webhook sweeper: recovered")
                self._failing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="jobgrid-webhook-sweeper",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

"""Webhook delivery: one attempt of one delivery, and the retry schedule, as plain functions.

How a delivery travels (the Celery side is ``worker.webhook_tasks``):

1. Emission (``shared.webhooks.emit_job_event``) writes the delivery and adds it to the due
   set ``{prefix}:webhooks:due`` with score "now".
2. The housekeeping thread in every worker (``worker.housekeeping``) claims due deliveries
   (``webhook_claim.lua`` moves their score a lease into the future) and sends one
   ``jobgrid.deliver_webhook`` task each, on the ``webhooks`` queue, without any countdown.
3. The task makes one attempt (``deliver``) and records it with ``webhook_attempt.lua``,
   which sets the next score: ``now + retry delay`` after a failure, or removes the delivery
   when it succeeded or used up the schedule.

So every retry delay, the 4 h one included, waits in a Redis sorted set, never in the broker:
no countdown or ETA can outlive the Redis transport's ``visibility_timeout`` and be delivered
twice. A worker that dies mid-attempt leaves the delivery
claimed; the lease runs out and the housekeeping sends it again. Duplicated or redelivered
tasks are harmless: a task carries the number of attempts it expects to find, and only the
first task to record an attempt from that number counts. Receivers still see a delivery at
least once, not exactly once, and dedupe on ``Jobgrid-Delivery-Id``.

A redelivery (``POST .../deliveries/{id}/redeliver``) is a new delivery of the same event,
written due by ``WebhookStore.redeliver``; from then on it travels the same way.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from shared.clock import now_ms
from shared.settings import Settings
from shared.store import JobStore
from shared.webhook_secrets import SealError
from shared.webhook_urls import Resolver, Target, UrlRefused, resolve_target, system_resolver
from shared.webhooks import (
    USER_AGENT,
    Delivery,
    Webhook,
    WebhookStore,
    signature_header,
    standard_key,
    standard_signature,
)

log = logging.getLogger("jobgrid.webhooks")

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
        whs.drop_due(delivery_id)
        return "gone"
    if d.status != "pending" or d.attempt_count != expected_attempts:
        return "stale"
    lock_ms = int((store.settings.webhook_timeout_seconds + 30) * 1000)
    if not whs.lock_attempt(d.id, lock_ms):
        return "busy"
    hook = whs.get(d.org, d.webhook_id)
    if hook is None:
        whs.record_attempt(d, None, "failed", 0)
        return "webhook_deleted"
    started = now_ms()
    result = _attempt(whs, hook, d, poster, resolver)
    outcome, next_at = plan_next(store.settings, result, d.attempt_count + 1, now_ms())
    attempt = {"at": started, "status_code": result.status_code, "error": result.error,
               "duration_ms": result.duration_ms}
    if not whs.record_attempt(d, attempt, outcome, next_at):
        return "stale"
    log.info("webhook delivery %s (%s, job %s) attempt %d: %s -> %s", d.id, d.type, d.job_id,
             d.attempt_count + 1, result.status_code or result.error, outcome)
    return outcome

"""Webhooks, shared by the API (registration, delivery log) and the workers (emission).

Storage (keys in ``shared.keys``): one hash per webhook and a per-organization index; one hash
per delivery (the event body, its status and every attempt as fields ``a:1``, ``a:2`` ...) so
the delivery log is one HGETALL per delivery; and the ``{prefix}:webhooks:due`` sorted set of
deliveries waiting for an attempt, which workers sweep (``worker.webhooks``).

Emission is Redis-only: it writes the event and its deliveries and marks them due, without a
broker message. That keeps it callable from the API (cancel) as well as from workers, and lets
the sweeper be the only place that turns due deliveries into Celery tasks, so no retry delay
ever becomes a Celery countdown (the Redis transport would deliver a task held past its
visibility timeout a second time; see ``docs/webhooks.md``).

Exactly once per transition: ``webhook_emit.lua`` sets the field ``<event>:<transition>`` of the
job's ``emitted`` hash with HSETNX in the same script that creates the deliveries. The transition
marker is the job's ``completed_at`` (``expires_at`` for ``job.expired``), which every emitter
of the same transition reads alike. ``attempt_count`` would not do: a redelivered finalize
bumps it, so the second emitter would see another value and emit a duplicate.

Two signatures on every attempt: the contract's ``Jobgrid-Signature`` (hex HMAC of
``"t.body"`` keyed with the whole secret string) and the Standard Webhooks one
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC of
"id.timestamp.body">`` keyed with the bytes the ``whsec_`` secret encodes; see
``standard_key``), which receivers can check with the ``standardwebhooks`` libraries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import orjson
import redis
from pydantic import BaseModel, ConfigDict, Field, field_validator
from redis.commands.core import Script

from shared.clock import iso_ms, now_ms
from shared.jobview import effective_status, status_payload
from shared.keys import Keys
from shared.settings import Settings
from shared.status import TERMINAL, JobStatus
from shared.webhook_secrets import configured_keys, seal, unseal

if TYPE_CHECKING:  # shared.store may call register_expiry: no import cycle at run time
    from shared.store import JobStore

JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
JOB_CANCELLED = "job.cancelled"
JOB_EXPIRED = "job.expired"
JOB_PROGRESS = "job.progress"
EVENTS: tuple[str, ...] = (JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED, JOB_EXPIRED, JOB_PROGRESS)

#: the status a job must show for its terminal event to be emitted
EVENT_STATUS: dict[str, JobStatus] = {
    JOB_COMPLETED: JobStatus.COMPLETED,
    JOB_FAILED: JobStatus.FAILED,
    JOB_CANCELLED: JobStatus.CANCELLED,
    JOB_EXPIRED: JobStatus.EXPIRED,
}
STATUS_EVENT: dict[JobStatus, str] = {v: k for k, v in EVENT_STATUS.items()}

DELIVERIES_KEPT = 100
SECRET_PREFIX = "whsec_"
#: random bytes of a generated secret (Standard Webhooks asks for 24 to 64)
SECRET_BYTES = 32
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
USER_AGENT = "jobgrid-webhooks/1"
DeliveryStatus = Literal["pending", "succeeded", "failed"]
RedeliverOutcome = Literal["ok", "missing", "pending"]


# ------------------------------------------------------------------------------ models
class WebhookCreate(BaseModel):
    """``POST /v1/webhooks`` body. ``secret`` is generated when not given."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=1, max_length=2048,
                              examples=["https://example.com/hooks/jobgrid"])]
    events: Annotated[list[str], Field(min_length=1, max_length=len(EVENTS),
                                       examples=[[JOB_COMPLETED, JOB_FAILED]])]
    secret: Annotated[str | None, Field(min_length=16, max_length=256,
                                        pattern=r"^[\x21-\x7e]+$")] = None

    @field_validator("events")
    @classmethod
    def _known_events(cls, v: list[str]) -> list[str]:
        unknown = [e for e in v if e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown event(s) {', '.join(repr(e) for e in unknown)}; "
                             f"known events: {', '.join(EVENTS)}")
        return list(dict.fromkeys(v))


class WebhookOut(BaseModel):
    id: str = Field(examples=["wh_3f9a0c2e1b7d4e8f"])
    object: Literal["webhook"] = "webhook"
    url: str
    events: list[str]
    created_at: str


class WebhookCreated(WebhookOut):
    """The answer to a creation: the only time the secret is shown.

    ``secret`` is what the contract fixes: the secret as given, or a generated ``whsec_``
    one; ``Jobgrid-Signature`` is keyed with this whole string. ``standard_webhooks_secret``
    is the same key in the ``whsec_<base64>`` form that Standard Webhooks libraries take;
    it equals ``secret`` for generated secrets (see ``standard_secret``).
    """

    secret: str = Field(description="The secret as given, or a generated `whsec_` one; "
                        "`Jobgrid-Signature` is keyed with this whole string. Shown only here.")
    standard_webhooks_secret: str = Field(
        description="The Standard Webhooks key (`webhook-signature`) in the `whsec_<base64>` "
                    "form its libraries take: equal to `secret` when jobgrid generated it, "
                    "else `whsec_` + base64 of the secret (unless it already is "
                    "`whsec_<base64>`). Shown only here.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwvhX3DTp3jbA="])


class WebhookList(BaseModel):
    object: Literal["list"] = "list"
    data: list[WebhookOut]


class WebhookDeleted(BaseModel):
    id: str
    object: Literal["webhook"] = "webhook"
    deleted: Literal[True] = True


class DeliveryAttempt(BaseModel):
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    type: str
    job_id: str
    status: DeliveryStatus
    attempts: list[DeliveryAttempt]
    next_retry_at: str | None
    created_at: str
    redelivery_of: str | None = Field(
        default=None, description="For a redelivery, the id of the delivery it repeats.")


class DeliveryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DeliveryOut]


class WebhookEvent(BaseModel):
    """What a receiver gets; ``created_at`` in Unix seconds like the status payload in ``data``."""

    id: str = Field(examples=["evt_1c0f6a7e2d9b4a3c8e5f7a10"])
    type: str
    created_at: int
    data: dict[str, Any]


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class Webhook:
    """A stored webhook; ``sealed_secret`` is the encrypted signing secret."""

    id: str
    org: str
    url: str
    events: tuple[str, ...]
    sealed_secret: str
    created_at: int

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Webhook:
        return cls(id=h["id"], org=h["org"], url=h["url"], events=tuple(h["events"].split(",")),
                   sealed_secret=h["secret"], created_at=int(h["created_at"]))

    def out(self) -> WebhookOut:
        return WebhookOut(id=self.id, url=self.url, events=list(self.events),
                          created_at=iso_ms(self.created_at) or "")


@dataclass(frozen=True, slots=True)
class Delivery:
    """A stored delivery: one event for one webhook, and its attempts so far."""

    id: str
    webhook_id: str
    org: str
    event_id: str
    type: str
    job_id: str
    status: DeliveryStatus
    attempt_count: int
    next_retry_at: int | None
    created_at: int
    body: bytes
    attempts: tuple[dict[str, Any], ...]
    redelivery_of: str | None = None

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Delivery:
        n = int(h.get("attempt_count") or 0)
        attempts = tuple(orjson.loads(h[f"a:{i}"]) for i in range(1, n + 1) if f"a:{i}" in h)
        status: DeliveryStatus = "pending"
        if h.get("status") in ("succeeded", "failed"):
            status = "succeeded" if h["status"] == "succeeded" else "failed"
        return cls(id=h["id"], webhook_id=h["webhook_id"], org=h["org"], event_id=h["event_id"],
                   type=h["type"], job_id=h["job_id"], status=status, attempt_count=n,
                   next_retry_at=int(h["next_retry_at"]) if h.get("next_retry_at") else None,
                   created_at=int(h["created_at"]), body=h.get("body", "").encode("utf-8"),
                   attempts=attempts, redelivery_of=h.get("redelivery_of") or None)

    def out(self) -> DeliveryOut:
        return DeliveryOut(
            id=self.id, event_id=self.event_id, type=self.type, job_id=self.job_id,
            status=self.status,
            attempts=[DeliveryAttempt(at=iso_ms(int(a["at"])) or "", status_code=a["status_code"],
                                      error=a["error"], duration_ms=int(a["duration_ms"]))
                      for a in self.attempts],
            next_retry_at=iso_ms(self.next_retry_at), created_at=iso_ms(self.created_at) or "",
            redelivery_of=self.redelivery_of,
        )


# ----------------------------------------------------------------------------- signing
def generate_secret() -> str:
    """``whsec_`` + standard base64 of 32 random bytes: one string that serves both
    signatures (the whole string keys ``Jobgrid-Signature``, its bytes the standard one)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature for a webhook's ``secret``.

    A ``whsec_`` secret whose rest is standard base64 (padding optional) stands for the bytes
    it encodes, as the Standard Webhooks libraries read it. Any other secret a client chose
    (the contract allows any 16-256 printable characters) is used as its own UTF-8 bytes, so
    a receiver can always derive the ``whsec_`` form from the secret it holds.
    """
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX):]
        if _BASE64.fullmatch(encoded) and len(encoded.rstrip("=")) % 4 != 1:
            bare = encoded.rstrip("=")
            try:
                key = base64.b64decode(bare + "=" * (-len(bare) % 4), validate=True)
            except binascii.Error:  # pragma: no cover - the pattern and length rule it out
                key = b""
            if key:
                return key
    return secret.encode("utf-8")


def standard_secret(secret: str) -> str:
    """The ``whsec_<base64>`` form of ``standard_key(secret)``, what receivers give to a
    Standard Webhooks library; equal to ``secret`` for every secret jobgrid generates."""
    return SECRET_PREFIX + base64.b64encode(standard_key(secret)).decode("ascii")


def standard_signature(msg_id: str, timestamp: int, body: bytes, key: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``"id.timestamp.body"``."""
    msg = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode("ascii")


def new_id(prefix: str, nbytes: int = 12) -> str:
    return f"{prefix}_{secrets.token_hex(nbytes)}"


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with the webhook's secret."""
    msg = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Jobgrid-Signature`` value: ``t=<unix>,v1=<hex>``."""
    return f"t={timestamp},v1={signature(body, secret, timestamp)}"


# ------------------------------------------------------------------------------ scripts
@cache
def _lua(name: str) -> str:
    return (resources.files("shared") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def script(client: redis.Redis, name: str) -> Script:
    """One of the ``webhook_*.lua`` scripts bound to ``client`` (EVALSHA, reload on NOSCRIPT)."""
    return client.register_script(_lua(name))


# ------------------------------------------------------------------------------ storage
def _strings(h: Any) -> dict[str, str]:
    """A hash read by a ``decode_responses=True`` client (redis-py types it as bytes | str)."""
    return cast(dict[str, str], h)


class WebhookStore:
    """Webhook registrations and their delivery log for one Redis client."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.r = client
        self.settings = settings
        self.keys = Keys(settings.key_prefix)

    def count(self, org: str) -> int:
        return int(self.r.zcard(self.keys.org_webhooks(org)))

    def create(self, org: str, req: WebhookCreate, created: int | None = None) -> \
            WebhookCreated | None:
        """Stores the webhook with its secret sealed; returns it with the clear secret, or
        None when the organization already has ``webhook_max_per_org`` webhooks.

        Counting and creating are one Lua step (``webhook_create.lua``): a count followed by
        a separate write let 40 concurrent creations end with 17 webhooks under a cap of 16.
        """
        created = created if created is not None else now_ms()
        secret = req.secret or generate_secret()
        wh_id = new_id("wh", 8)
        sealed = seal(secret, configured_keys(self.settings.webhook_secret_key))
        record = {"id": wh_id, "org": org, "url": req.url, "events": ",".join(req.events),
                  "secret": sealed, "created_at": str(created)}
        fields = [part for pair in record.items() for part in pair]
        done = script(self.r, "webhook_create")(
            keys=[self.keys.org_webhooks(org), self.keys.webhook(org, wh_id)],
            args=[self.settings.webhook_max_per_org, wh_id, created, *fields])
        if int(done) != 1:
            return None
        return WebhookCreated(id=wh_id, url=req.url, events=list(req.events),
                              created_at=iso_ms(created) or "", secret=secret,
                              standard_webhooks_secret=standard_secret(secret))

    def get(self, org: str, wh_id: str) -> Webhook | None:
        h = _strings(self.r.hgetall(self.keys.webhook(org, wh_id)))
        return Webhook.from_hash(h) if h else None

    def webhooks(self, org: str) -> list[Webhook]:
        """The organization's webhooks, oldest first (their number is capped)."""
        ids = cast(list[str], self.r.zrange(self.keys.org_webhooks(org), 0, -1))
        pipe = self.r.pipeline(transaction=False)
        for wh_id in ids:
            pipe.hgetall(self.keys.webhook(org, wh_id))
        return [Webhook.from_hash(h) for h in pipe.execute() if h]

    def subscribers(self, org: str, event_type: str) -> list[Webhook]:
        return [w for w in self.webhooks(org) if event_type in w.events]

    def delete(self, org: str, wh_id: str) -> bool:
        """Removes the webhook; its pending deliveries close as failed when next attempted."""
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.keys.webhook(org, wh_id))
        pipe.zrem(self.keys.org_webhooks(org), wh_id)
        pipe.delete(self.keys.webhook_deliveries(wh_id))
        removed, _, _ = pipe.execute()
        return bool(removed)

    def secret(self, webhook: Webhook) -> str:
        return unseal(webhook.sealed_secret, configured_keys(self.settings.webhook_secret_key))

    def delivery(self, delivery_id: str) -> Delivery | None:
        h = _strings(self.r.hgetall(self.keys.webhook_delivery(delivery_id)))
        return Delivery.from_hash(h) if h else None

    def redeliver(self, hook: Webhook, delivery_id: str, now: int | None = None) -> \
            tuple[RedeliverOutcome, Delivery | None]:
        """Sends a finished delivery of ``hook`` again (``webhook_redeliver.lua``).

        Returns ``("ok", the new delivery)``, or ``("missing", None)`` when the delivery is
        unknown, expired or another webhook's, or ``("pending", None)`` while it still waits
        for an attempt. The new delivery has a new id, the same event id and body, and is
        due now; the sweeper sends it like any other.
        """
        now = now if now is not None else now_ms()
        k = self.keys
        new = new_id("dlv")
        outcome = str(script(self.r, "webhook_redeliver")(
            keys=[k.webhook_delivery(delivery_id), k.webhook_delivery(new),
                  k.webhook_deliveries(hook.id), k.webhooks_due],
            args=[delivery_id, new, hook.id, hook.org, now, delivery_ttl_ms(self.settings),
                  DELIVERIES_KEPT]))
        if outcome == "ok":
            return "ok", self.delivery(new)
        return ("pending" if outcome == "pending" else "missing"), None

    def deliveries(self, wh_id: str, limit: int = DELIVERIES_KEPT) -> list[Delivery]:
        """The webhook's most recent deliveries, newest first."""
        ids = cast(list[str], self.r.zrevrange(self.keys.webhook_deliveries(wh_id), 0, limit - 1))
        pipe = self.r.pipeline(transaction=False)
        for d_id in ids:
            pipe.hgetall(self.keys.webhook_delivery(d_id))
        return [Delivery.from_hash(h) for h in pipe.execute() if h]


# ----------------------------------------------------------------------------- emission
def delivery_ttl_ms(settings: Settings) -> int:
    """How long a delivery is kept: the retention, and never less than its whole retry run."""
    run = sum(settings.webhook_retry_delays) + settings.webhook_lease_seconds + 3600
    return int(max(settings.webhook_delivery_retention_seconds, run) * 1000)


def transition_marker(h: dict[str, str], event_type: str) -> str:
    """What tells one transition of the job from another (see the module docstring)."""
    if event_type == JOB_EXPIRED:
        return h.get("expires_at", "")
    if event_type == JOB_PROGRESS:
        return h.get("version", "")
    return h.get("completed_at", "")


def status_matches(h: dict[str, str], event_type: str, now: int) -> bool:
    """True when the job currently shows the state the event announces."""
    status = effective_status(h, now)
    if event_type == JOB_PROGRESS:
        return status not in TERMINAL
    return EVENT_STATUS.get(event_type) is status


def event_body(event_id: str, event_type: str, h: dict[str, str], now: int) -> bytes:
    """The exact bytes sent (and signed) on every attempt of every delivery of the event."""
    return orjson.dumps({"id": event_id, "type": event_type, "created_at": now // 1000,
                         "data": status_payload(h, now)})


def _emit(store: JobStore, h: dict[str, str], event_type: str, hooks: list[Webhook],
          now: int) -> int:
    k, s = store.keys, store.settings
    event_id = new_id("evt")
    keys: list[str] = [k.webhook_emitted(h["id"]), k.webhooks_due]
    args: list[str | int | bytes] = [
        f"{event_type}:{transition_marker(h, event_type)}", event_id,
        int(h.get("purge_at") or now + s.retention_seconds * 1000), now, delivery_ttl_ms(s),
        DELIVERIES_KEPT, event_body(event_id, event_type, h, now), event_type, h["id"], h["org"],
    ]
    for hook in hooks:
        delivery_id = new_id("dlv")
        keys += [k.webhook_delivery(delivery_id), k.webhook_deliveries(hook.id)]
        args += [delivery_id, hook.id]
    return int(script(store.r, "webhook_emit")(keys=keys, args=args))


def emit_job_event(store: JobStore, job_id: str, org: str, event_type: str) -> int:
    """Emits ``event_type`` for the job's current transition to every subscribed webhook.

    Call it after a transition succeeded; calling it again (a second finalize, a redelivered
    task, a racing process) emits nothing. It does nothing when the job does not show the
    announced state any more (a retry got in between) or no webhook wants the event.
    Returns the number of deliveries created. Redis errors propagate to the caller.
    """
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    h = store.read_job(job_id)
    if h is None or h.get("org") != org:
        return 0
    return _emit_for_hash(store, h, event_type, now_ms())


def _emit_for_hash(store: JobStore, h: dict[str, str], event_type: str, now: int) -> int:
    if not status_matches(h, event_type, now):
        return 0
    hooks = WebhookStore(store.r, store.settings).subscribers(h["org"], event_type)
    return _emit(store, h, event_type, hooks, now) if hooks else 0


def emit_terminal_event(store: JobStore, job_id: str, org: str) -> int:
    """The terminal event of the job's current status (``job.completed`` for a completed job
    ...), or nothing while it is not terminal. Safe to call again: see ``emit_job_event``."""
    h = store.read_job(job_id)
    if h is None or h.get("org") != org:
        return 0
    now = now_ms()
    event_type = STATUS_EVENT.get(effective_status(h, now))
    return _emit_for_hash(store, h, event_type, now) if event_type else 0


def emit_for_status(store: JobStore, job_id: str, org: str, status: JobStatus | str) -> int:
    """``emit_job_event`` for the event a terminal status announces (0 for other statuses)."""
    event_type = STATUS_EVENT.get(JobStatus(status))
    return emit_job_event(store, job_id, org, event_type) if event_type else 0


#: (client, prefix, org) -> (monotonic time looked up, has a job.progress subscriber)
_PROGRESS_SUBSCRIBED: dict[tuple[int, str, str], tuple[float, bool]] = {}
PROGRESS_LOOKUP_SECONDS = 5.0


def _wants_progress(store: JobStore, org: str) -> bool:
    """Whether the org has a ``job.progress`` webhook, looked up at most every 5 s per
    process: most organizations have none, and this runs once per document."""
    now = time.monotonic()
    key = (id(store.r), store.keys.prefix, org)
    hit = _PROGRESS_SUBSCRIBED.get(key)
    if hit is not None and now - hit[0] < PROGRESS_LOOKUP_SECONDS:
        return hit[1]
    wants = bool(WebhookStore(store.r, store.settings).subscribers(org, JOB_PROGRESS))
    if len(_PROGRESS_SUBSCRIBED) > 10_000:
        _PROGRESS_SUBSCRIBED.clear()
    _PROGRESS_SUBSCRIBED[key] = (now, wants)
    return wants


def emit_progress(store: JobStore, job_id: str, org: str) -> int:
    """A ``job.progress`` event, at most one per job per ``webhook_progress_interval_seconds``.

    Free for an organization without a ``job.progress`` webhook (a cached look-up, so a new
    subscription is seen within 5 s); otherwise one ``SET NX`` per call, and only the caller
    that opens the gate reads the webhooks.
    """
    if not _wants_progress(store, org):
        return 0
    gate_ms = int(store.settings.webhook_progress_interval_seconds * 1000)
    if not store.r.set(store.keys.webhook_progress_gate(job_id), "1", nx=True, px=gate_ms):
        return 0
    return emit_job_event(store, job_id, org, JOB_PROGRESS)


def expiry_member(org: str, job_id: str) -> str:
    return f"{org}|{job_id}"


def register_expiry(
    pipe_or_redis: redis.Redis, keys: Keys, org: str, job_id: str, expires_at: int
) -> None:
    """Notes the job's ``expires_at`` (ms) so the sweeper emits ``job.expired`` then.

    Call it wherever ``expires_at`` is set (job creation, retry), inside the same pipeline
    when there is one; a later call for the same job replaces the deadline.
    """
    pipe_or_redis.zadd(keys.expiries, {expiry_member(org, job_id): expires_at})


def unregister_expiry(pipe_or_redis: redis.Redis, keys: Keys, org: str, job_id: str) -> None:
    """Forgets the job's deadline: for a submission rolled back or a job deleted early."""
    pipe_or_redis.zrem(keys.expiries, expiry_member(org, job_id))

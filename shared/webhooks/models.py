"""What webhooks are made of: the event names, the API's pydantic bodies, and the stored
records (``Webhook``, ``Delivery``) built from their Redis hashes.

Nothing here touches Redis: ``shared.webhooks.store`` reads and writes the hashes these
records come from, ``shared.webhooks.emit`` creates events, ``shared.webhooks.signing``
signs them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.clock import iso_ms
from shared.status import JobStatus

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

#: the ``User-Agent`` of every delivery attempt
USER_AGENT = "jobgrid-webhooks/1"
DeliveryStatus = Literal["pending", "succeeded", "failed"]
RedeliverOutcome = Literal["ok", "missing", "pending"]


def new_id(prefix: str, nbytes: int = 12) -> str:
    """A random id such as ``wh_...``, ``dlv_...`` or ``evt_...`` (hex of ``nbytes``)."""
    return f"{prefix}_{secrets.token_hex(nbytes)}"


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

"""Webhooks, shared by the API (registration, delivery log) and the workers (emission).

One module per concern:

- ``models``: event names, the API's pydantic bodies, the stored ``Webhook`` and ``Delivery``;
- ``signing``: secrets and the two signatures every attempt carries;
- ``store``: ``WebhookStore``, every Redis read and write of webhooks and deliveries;
- ``emit``: the events of job transitions, written once per transition.

The delivery itself (HTTP, retry schedule) is ``worker.webhooks``; the thread that sends due
deliveries is ``worker.housekeeping``. Job expiry deadlines belong to the job store
(``shared.expiry``, ``JobStore.claim_expiries``); their names are re-exported here for code
written against the single module this package replaced, as is everything public below.
"""

from __future__ import annotations

from typing import Any

from redis.commands.core import Script

from shared.expiry import expiry_member, register_expiry, unregister_expiry
from shared.scripts import scripts_for
from shared.webhooks.emit import (
    PROGRESS_LOOKUP_SECONDS,
    emit_for_status,
    emit_job_event,
    emit_progress,
    emit_terminal_event,
    event_body,
    status_matches,
    transition_marker,
)
from shared.webhooks.models import (
    EVENT_STATUS,
    EVENTS,
    JOB_CANCELLED,
    JOB_COMPLETED,
    JOB_EXPIRED,
    JOB_FAILED,
    JOB_PROGRESS,
    STATUS_EVENT,
    USER_AGENT,
    Delivery,
    DeliveryAttempt,
    DeliveryList,
    DeliveryOut,
    DeliveryStatus,
    RedeliverOutcome,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookEvent,
    WebhookList,
    WebhookOut,
    new_id,
)
from shared.webhooks.signing import (
    SECRET_BYTES,
    SECRET_PREFIX,
    generate_secret,
    signature,
    signature_header,
    standard_key,
    standard_secret,
    standard_signature,
)
from shared.webhooks.store import DELIVERIES_KEPT, WebhookStore, delivery_ttl_ms


def script(client: Any, name: str) -> Script:
    """The ``webhook_*`` script ``name`` registered on ``client``, from the one registry
    (``shared.scripts``); stores call ``scripts_for(client).<name>`` directly."""
    found: Script = getattr(scripts_for(client), name)
    return found


__all__ = [
    "DELIVERIES_KEPT",
    "EVENTS",
    "EVENT_STATUS",
    "JOB_CANCELLED",
    "JOB_COMPLETED",
    "JOB_EXPIRED",
    "JOB_FAILED",
    "JOB_PROGRESS",
    "PROGRESS_LOOKUP_SECONDS",
    "SECRET_BYTES",
    "SECRET_PREFIX",
    "STATUS_EVENT",
    "USER_AGENT",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryList",
    "DeliveryOut",
    "DeliveryStatus",
    "RedeliverOutcome",
    "Webhook",
    "WebhookCreate",
    "WebhookCreated",
    "WebhookDeleted",
    "WebhookEvent",
    "WebhookList",
    "WebhookOut",
    "WebhookStore",
    "delivery_ttl_ms",
    "emit_for_status",
    "emit_job_event",
    "emit_progress",
    "emit_terminal_event",
    "event_body",
    "expiry_member",
    "generate_secret",
    "new_id",
    "register_expiry",
    "script",
    "signature",
    "signature_header",
    "standard_key",
    "standard_secret",
    "standard_signature",
    "status_matches",
    "transition_marker",
    "unregister_expiry",
]

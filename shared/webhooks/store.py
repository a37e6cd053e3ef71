"""Webhook registrations, deliveries and the due set: every Redis read and write of webhooks.

Keys (``shared.keys``): one hash per webhook and a per-organization index; one hash per
delivery (the event body, its status and every attempt as fields ``a:1``, ``a:2`` ...) so the
delivery log is one HGETALL per delivery; the ``{prefix}:webhooks:due`` sorted set of
deliveries waiting for an attempt, which the workers' housekeeping thread sweeps
(``worker.housekeeping``); and per job the ``emitted`` hash of once-guards
(``shared.webhooks.emit``).

Every multi-key change is one Lua script from the shared registry (``shared.scripts``):
``webhook_create``, ``webhook_redeliver``, ``webhook_emit``, ``webhook_claim``,
``webhook_attempt``.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
import redis

from shared.clock import iso_ms, now_ms
from shared.keys import Keys
from shared.scripts import scripts_for
from shared.settings import Settings
from shared.webhook_secrets import configured_keys, seal, unseal
from shared.webhooks.models import (
    Delivery,
    RedeliverOutcome,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    new_id,
)
from shared.webhooks.signing import generate_secret, standard_secret

#: deliveries listed (and kept in the index) per webhook
DELIVERIES_KEPT = 100


def _strings(h: Any) -> dict[str, str]:
    """A hash read by a ``decode_responses=True`` client (redis-py types it as bytes | str)."""
    return cast(dict[str, str], h)


def delivery_ttl_ms(settings: Settings) -> int:
    """How long a delivery is kept: the retention, and never less than its whole retry run."""
    run = sum(settings.webhook_retry_delays) + settings.webhook_lease_seconds + 3600
    return int(max(settings.webhook_delivery_retention_seconds, run) * 1000)


class WebhookStore:
    """Webhook registrations and their delivery log for one Redis client."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.r = client
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.scripts = scripts_for(client)

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
        done = self.scripts.webhook_create(
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
        due now; the housekeeping thread sends it like any other.
        """
        now = now if now is not None else now_ms()
        k = self.keys
        new = new_id("dlv")
        outcome = str(self.scripts.webhook_redeliver(
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

    # ------------------------------------------------------------------ emission
    def add_event(
        self, job_id: str, org: str, event_type: str, guard: str, event_id: str, body: bytes,
        hooks: list[Webhook], *, emitted_until: int, now: int,
    ) -> int:
        """Writes one event's deliveries, one per webhook in ``hooks``, due now, unless the
        job's ``emitted`` hash already holds ``guard`` (``webhook_emit.lua``: the guard and
        the deliveries in one step). Returns how many deliveries were created."""
        k = self.keys
        keys: list[str] = [k.webhook_emitted(job_id), k.webhooks_due]
        args: list[str | int | bytes] = [
            guard, event_id, emitted_until, now, delivery_ttl_ms(self.settings),
            DELIVERIES_KEPT, body, event_type, job_id, org,
        ]
        for hook in hooks:
            delivery_id = new_id("dlv")
            keys += [k.webhook_delivery(delivery_id), k.webhook_deliveries(hook.id)]
            args += [delivery_id, hook.id]
        return int(self.scripts.webhook_emit(keys=keys, args=args))

    def open_progress_gate(self, job_id: str, gate_ms: int) -> bool:
        """True for the first caller per ``gate_ms`` and job (``SET NX PX``)."""
        return bool(self.r.set(self.keys.webhook_progress_gate(job_id), "1", nx=True,
                               px=gate_ms))

    # ------------------------------------------------------------------ delivery
    def claim_due(self, now: int, lease_ms: int, limit: int) -> list[str]:
        """Ids of deliveries due at ``now``, claimed for ``lease_ms`` (``webhook_claim.lua``
        moves their score instead of removing them, so a lost claim comes back)."""
        members = self.scripts.webhook_claim(keys=[self.keys.webhooks_due],
                                             args=[now, lease_ms, limit])
        return [str(m) for m in members]

    def attempt_states(self, ids: list[str]) -> list[tuple[str | None, int]]:
        """(status, attempts made) of each delivery, in one round trip; status None for a
        delivery that expired. Anything but ``pending`` is closed."""
        pipe = self.r.pipeline(transaction=False)
        for d_id in ids:
            pipe.hmget(self.keys.webhook_delivery(d_id), ["status", "attempt_count"])
        return [(status, int(count or 0)) for status, count in pipe.execute()]

    def drop_due(self, *ids: str) -> None:
        """Takes deliveries out of the due set (closed or expired ones)."""
        if ids:
            self.r.zrem(self.keys.webhooks_due, *ids)

    def lock_attempt(self, delivery_id: str, lock_ms: int) -> bool:
        """The attempt lock: True for the one task that may send now (``SET NX PX``)."""
        return bool(self.r.set(self.keys.webhook_delivery_lock(delivery_id), "1", nx=True,
                               px=lock_ms))

    def record_attempt(self, d: Delivery, attempt: dict[str, Any] | None, outcome: str,
                       next_at: int) -> bool:
        """Records attempt ``d.attempt_count + 1`` and what comes next, once
        (``webhook_attempt.lua``); False when another task already recorded from this
        count. ``attempt`` None closes the delivery without one (webhook deleted)."""
        k = self.keys
        done = self.scripts.webhook_attempt(
            keys=[k.webhook_delivery(d.id), k.webhooks_due, k.webhook_delivery_lock(d.id)],
            args=[d.id, d.attempt_count, orjson.dumps(attempt) if attempt else "", outcome,
                  next_at],
        )
        return int(done) == 1

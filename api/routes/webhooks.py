"""``/v1/webhooks``: register, list, delete webhooks, read their delivery log, redeliver.

A webhook belongs to one organization; another organization's webhook id answers 404 like an
unknown one, and so does a delivery id that is not one of the webhook's. The signing secret
is shown once, in the answer to the creation. The URL is checked against the SSRF policy
(``shared.webhook_urls``) here and again before every attempt. Every route is counted by the
per-key rate limit like any other ``/v1`` request.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response

from api.auth import current_principal
from api.http import json_body, json_response
from api.services import services
from shared.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from shared.webhook_urls import UrlRefused, resolve_target
from shared.webhooks import (
    Delivery,
    DeliveryList,
    Webhook,
    WebhookCreate,
    WebhookDeleted,
    WebhookList,
    WebhookStore,
)

bp = Blueprint("webhooks", __name__)

_WEBHOOK_ID = re.compile(r"^wh_[0-9a-f]{16}$")
_DELIVERY_ID = re.compile(r"^dlv_[0-9a-f]{24}$")


def _store() -> WebhookStore:
    svc = services()
    return WebhookStore(svc.redis, svc.settings)


def _owned(store: WebhookStore, org: str, webhook_id: str) -> Webhook:
    """The organization's webhook, or 404 (malformed and foreign ids included)."""
    hook = store.get(org, webhook_id) if _WEBHOOK_ID.match(webhook_id) else None
    if hook is None:
        raise NotFound(f"no webhook {webhook_id[:80]} in this organization")
    return hook


def _no_delivery(delivery_id: str) -> NotFound:
    return NotFound(f"no delivery {delivery_id[:80]} for this webhook")


def _delivery_of(store: WebhookStore, hook: Webhook, delivery_id: str) -> Delivery:
    """The webhook's delivery, or 404 (malformed, expired and other webhooks' ids included)."""
    d = store.delivery(delivery_id) if _DELIVERY_ID.match(delivery_id) else None
    if d is None or d.webhook_id != hook.id or d.org != hook.org:
        raise _no_delivery(delivery_id)
    return d


@bp.post("/v1/webhooks")
def create_webhook() -> Response:
    """201 with the webhook and its secret (the only time the secret is shown)."""
    svc, store, org = services(), _store(), current_principal().org
    req, _ = json_body(WebhookCreate, svc.settings.max_request_bytes)
    try:
        resolve_target(req.url, allow_private=svc.settings.webhook_allow_private)
    except UrlRefused as e:
        raise ValidationFailed(f"url: {e}") from e
    created = store.create(org, req)  # counts and creates atomically
    if created is None:
        raise Unprocessable(f"this organization already has {svc.settings.webhook_max_per_org} "
                            "webhooks, the maximum; delete one first")
    return json_response(created.model_dump(mode="json"), 201,
                         {"Location": f"/v1/webhooks/{created.id}"})


@bp.get("/v1/webhooks")
def list_webhooks() -> Response:
    hooks = _store().webhooks(current_principal().org)
    return json_response(WebhookList(data=[h.out() for h in hooks]).model_dump(mode="json"))


@bp.get("/v1/webhooks/<webhook_id>")
def get_webhook(webhook_id: str) -> Response:
    hook = _owned(_store(), current_principal().org, webhook_id)
    return json_response(hook.out().model_dump(mode="json"))


@bp.delete("/v1/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str) -> Response:
    """Deletes it; deliveries still pending are closed as failed instead of being sent."""
    store, org = _store(), current_principal().org
    hook = _owned(store, org, webhook_id)
    if not store.delete(org, hook.id):
        raise NotFound(f"no webhook {webhook_id[:80]} in this organization")
    return json_response(WebhookDeleted(id=hook.id).model_dump(mode="json"))


@bp.get("/v1/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str) -> Response:
    """The last 100 deliveries, newest first, each with every attempt made so far."""
    store = _store()
    hook = _owned(store, current_principal().org, webhook_id)
    deliveries = [d.out() for d in store.deliveries(hook.id)]
    return json_response(DeliveryList(data=deliveries).model_dump(mode="json"))


@bp.get("/v1/webhooks/<webhook_id>/deliveries/<delivery_id>")
def get_delivery(webhook_id: str, delivery_id: str) -> Response:
    """One delivery with its attempts (to follow a redelivery)."""
    store = _store()
    hook = _owned(store, current_principal().org, webhook_id)
    return json_response(_delivery_of(store, hook, delivery_id).out().model_dump(mode="json"))


@bp.post("/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver")
def redeliver(webhook_id: str, delivery_id: str) -> Response:
    """202 with a new delivery of the same event (same event id and body), due now.

    Any request body is ignored. 404 for an unknown, expired or foreign delivery; 409 while
    the delivery is still pending (its next retry would race the copy).
    """
    store = _store()
    hook = _owned(store, current_principal().org, webhook_id)
    original = _delivery_of(store, hook, delivery_id)
    outcome, new = store.redeliver(hook, original.id)
    if outcome == "pending":
        raise Conflict(f"delivery {original.id} is still pending (next attempt at "
                       f"{original.out().next_retry_at or 'once a worker picks it up'}); "
                       "redeliver it once it has succeeded or failed")
    if new is None:  # expired or webhook deleted between the read and the script
        raise _no_delivery(delivery_id)
    return json_response(new.out().model_dump(mode="json"), 202, {
        "Location": f"/v1/webhooks/{hook.id}/deliveries/{new.id}"})

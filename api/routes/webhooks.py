"""``/v1/webhooks``: register, list, delete webhooks and read their delivery log.

A webhook belongs to one organization; another organization's webhook id answers 404 like an
unknown one. The signing secret is shown once, in the answer to the creation. The URL is
checked against the SSRF policy (``shared.webhook_urls``) here and again before every attempt.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response

from api.auth import current_principal
from api.http import json_body, json_response
from api.services import services
from shared.errors import NotFound, Unprocessable, ValidationFailed
from shared.webhook_urls import UrlRefused, resolve_target
from shared.webhooks import (
    DeliveryList,
    Webhook,
    WebhookCreate,
    WebhookDeleted,
    WebhookList,
    WebhookStore,
)

bp = Blueprint("webhooks", __name__)

_WEBHOOK_ID = re.compile(r"^wh_[0-9a-f]{16}$")


def _store() -> WebhookStore:
    svc = services()
    return WebhookStore(svc.redis, svc.settings)


def _owned(store: WebhookStore, org: str, webhook_id: str) -> Webhook:
    """The organization's webhook, or 404 (malformed and foreign ids included)."""
    hook = store.get(org, webhook_id) if _WEBHOOK_ID.match(webhook_id) else None
    if hook is None:
        raise NotFound(f"no webhook {webhook_id[:80]} in this organization")
    return hook


@bp.post("/v1/webhooks")
def create_webhook() -> Response:
    """201 with the webhook and its secret (the only time the secret is shown)."""
    svc, store, org = services(), _store(), current_principal().org
    req, _ = json_body(WebhookCreate, svc.settings.max_request_bytes)
    try:
        resolve_target(req.url, allow_private=svc.settings.webhook_allow_private)
    except UrlRefused as e:
        raise ValidationFailed(f"url: {e}") from e
    if store.count(org) >= svc.settings.webhook_max_per_org:
        raise Unprocessable(f"this organization already has {svc.settings.webhook_max_per_org} "
                            "webhooks, the maximum; delete one first")
    created = store.create(org, req)
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

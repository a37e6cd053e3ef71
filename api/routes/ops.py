"""Operational probes. ``/healthz`` proves the process serves requests and touches nothing
else (a load balancer must not kill API processes because Redis blinked); ``/readyz`` proves
Redis answers, so traffic is only routed to processes that can serve it."""

from __future__ import annotations

from flask import Blueprint, Response

from api.http import json_response
from api.services import services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """PING Redis; a failure raises a Redis error that the handler turns into 503."""
    services().redis.ping()
    return json_response({"status": "ok"})

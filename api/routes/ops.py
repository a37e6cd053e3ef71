"""Operational probes. ``/healthz`` proves the process serves requests and touches nothing
else (a load balancer must not kill API processes because Redis blinked); ``/readyz`` proves
Redis answers, so traffic is only routed to processes that can serve it. ``/metrics`` and
``/openapi.json`` need no key either: operators and tooling read them (``api.metrics``,
``api.openapi``)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from api import openapi
from api.http import json_response
from api.metrics import render as render_metrics
from api.services import services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """PING Redis; a failure raises a Redis error that the handler turns into 503."""
    services().store.ping()
    return json_response({"status": "ok"})


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition; no API key (restrict it at the proxy, see docs/operations.md)."""
    return render_metrics(services(), request.headers.get("Accept"))


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document, built once per process from the pydantic models."""
    return Response(openapi.document_json(), mimetype="application/json",
                    headers={"Cache-Control": "public, max-age=300"})

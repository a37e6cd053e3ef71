"""Hooks run around every request: request id, authentication and rate limit, and headers.

Order matters: the request id comes first so even a 401 or 503 from the /v1 gate carries
one; the gate runs before the view so no view can forget auth; the response hook runs for
error responses too (Flask calls after_request once an error handler made a response).
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, current_app, g, request

from api import ratelimit
from api.auth import extract_key
from api.services import services

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
V1 = "/v1/"


def request_id_for(incoming: str | None) -> str:
    """Keeps a caller's sane X-Request-Id (to correlate across services), else makes one."""
    return incoming if incoming and _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def assign_request_id() -> None:
    g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))


def is_v1() -> bool:
    return request.path.startswith(V1) or request.path == V1.rstrip("/")


def v1_gate() -> None:
    """Authenticates every /v1 request and counts it, unless the view counts it itself."""
    if not is_v1():
        return
    principal = services().auth.authenticate(extract_key(request))
    g.principal = principal
    if not ratelimit.is_self_counted(current_app, request.endpoint):
        ratelimit.count_request(principal)


def finish_response(resp: Response) -> Response:
    resp.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    if is_v1():
        resp.headers.update(ratelimit.rate_headers())
    return resp


def register(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.before_request(v1_gate)
    app.after_request(finish_response)

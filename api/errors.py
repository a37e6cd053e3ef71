"""One place that turns every failure into the contract's body ``{"error": {code, message}}``.

Project exceptions carry their own status and code; Redis and broker outages become 503
``unavailable`` with ``Retry-After``; werkzeug's routing errors become JSON; anything else is
logged with the request id and answered as a bare 500 so no stack trace reaches a client.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, g, request
from kombu.exceptions import OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from api.http import json_response
from shared.errors import JobgridError, RateLimited, Unavailable

log = logging.getLogger("jobgrid.api")

UNAVAILABLE_RETRY_AFTER = 2
OUTAGES: tuple[type[Exception], ...] = (
    redis.ConnectionError,  # BusyLoadingError is a subclass
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    OperationalError,
)
_HTTP_CODES = {
    400: "validation_error",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "unprocessable",
    429: "rate_limited",
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def handle_jobgrid(e: JobgridError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(e, RateLimited):
        headers["Retry-After"] = str(e.retry_after)
    elif isinstance(e, Unavailable):
        headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return error_response(e.status, e.code, e.message, headers)


def handle_outage(e: Exception) -> Response:
    log.warning("backend unavailable request_id=%s path=%s: %s: %s",
                g.get("request_id"), request.path, type(e).__name__, e)
    return error_response(503, "unavailable",
                          "the job store is temporarily unreachable; try again shortly",
                          {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)})


def handle_http(e: HTTPException) -> Response:
    status = e.code or 500
    code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "http_error")
    headers: dict[str, str] = {}
    if isinstance(e, MethodNotAllowed) and e.valid_methods:
        headers["Allow"] = ", ".join(sorted(e.valid_methods))
    message = _http_message(status, e)
    return error_response(status, code, message, headers)


def _http_message(status: int, e: HTTPException) -> str:
    if status == 404:
        return f"no route for {request.path}"
    if status == 405:
        return f"method {request.method} is not allowed on {request.path}"
    if status == 413:
        return "the request body is above the configured size limit"
    return e.description or e.name


def handle_unexpected(e: Exception) -> Response:
    log.exception("unhandled error request_id=%s method=%s path=%s",
                  g.get("request_id"), request.method, request.path)
    rid = g.get("request_id", "")
    return error_response(500, "internal_error",
                          f"an internal error occurred; quote request id {rid} when reporting it")


def register(app: Flask) -> None:
    """Installs the handlers; Flask picks the most specific class for each exception."""
    app.register_error_handler(JobgridError, handle_jobgrid)
    for cls in OUTAGES:
        app.register_error_handler(cls, handle_outage)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)

"""Verifying jobgrid webhook deliveries on the receiving side (standard library only).

Every delivery carries ``Jobgrid-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256, keyed with the webhook's secret, of the bytes ``"<t>." + body``. A receiver should:

1. verify the signature over the **raw** request body, before parsing it (re-serialized JSON
   would not match);
2. reject a timestamp more than ``tolerance`` seconds away from its clock (replays);
3. dedupe on the ``Jobgrid-Delivery-Id`` header: a delivery may arrive more than once, and
   every retry of it has the same id;
4. answer 2xx quickly and do slow work afterwards; anything else (or no answer within 10 s)
   is retried later.

Flask example::

    from jobgrid.webhooks import verify

    @app.post("/hooks/jobgrid")
    def hook():
        if not verify(request.get_data(), request.headers.get("Jobgrid-Signature", ""), SECRET):
            abort(400)
        if already_seen(request.headers["Jobgrid-Delivery-Id"]):
            return "", 200
        event = request.get_json()  # {"id", "type", "created_at", "data": <job status>}
        ...
        return "", 204

Use :func:`check_signature` instead of :func:`verify` to learn *why* a delivery was refused.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["DEFAULT_TOLERANCE", "SignatureError", "check_signature", "sign", "verify"]

DEFAULT_TOLERANCE = 300
SCHEME = "v1"


class SignatureError(ValueError):
    """Raised by :func:`check_signature` when a delivery must not be trusted; says why."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Jobgrid-Signature`` header value for ``body`` (what jobgrid sends; for tests)."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body,
                   hashlib.sha256).hexdigest()
    return f"t={timestamp},{SCHEME}={mac}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError as e:
                raise SignatureError("the signature header's timestamp is not an integer") from e
        elif name == SCHEME:
            signatures.append(value.strip().lower())
    if timestamp is None:
        raise SignatureError("the signature header has no timestamp (t=...)")
    if not signatures:
        raise SignatureError(f"the signature header has no {SCHEME}= signature")
    return timestamp, signatures


def check_signature(
    body: bytes, header: str, secret: str, tolerance: int = DEFAULT_TOLERANCE,
    now: int | None = None,
) -> int:
    """Returns the signed timestamp when ``header`` is a valid signature of ``body``.

    Raises :class:`SignatureError` when the header is missing or malformed, the timestamp is
    more than ``tolerance`` seconds from ``now`` (default: the current time), or no ``v1``
    signature matches (wrong secret, or the body was changed).
    """
    if not header:
        raise SignatureError("the Jobgrid-Signature header is missing")
    timestamp, signatures = _parse(header)
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signature timestamp is {abs(now - timestamp)} s away from "
                             f"now, more than the tolerance of {tolerance} s")
    expected = sign(body, secret, timestamp).rpartition("=")[2]
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureError("no signature matches: wrong secret, or the body was altered")
    return timestamp


def verify(
    body: bytes, header: str, secret: str, tolerance: int = DEFAULT_TOLERANCE,
    now: int | None = None,
) -> bool:
    """True when ``header`` (``Jobgrid-Signature``) is a valid, recent signature of ``body``."""
    try:
        check_signature(body, header, secret, tolerance, now)
    except SignatureError:
        return False
    return True

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

Every delivery is also signed by the Standard Webhooks specification (headers ``webhook-id``,
``webhook-timestamp``, ``webhook-signature``), so the ``standardwebhooks`` library of any
language verifies it with the webhook's ``standard_webhooks_secret``.
:func:`verify_standard` / :func:`check_standard_signature` do the same here without it::

    from jobgrid.webhooks import verify_standard

    if not verify_standard(request.get_data(), request.headers, STANDARD_SECRET):
        abort(400)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping

__all__ = ["DEFAULT_TOLERANCE", "SignatureError", "check_signature",
           "check_standard_signature", "sign", "sign_standard", "standard_secret_for",
           "verify", "verify_standard"]

DEFAULT_TOLERANCE = 300
SCHEME = "v1"


class SignatureError(ValueError):
    """Raised by :func:`check_signature` when a delivery must not be trusted; says why."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Jobgrid-Signature`` header value for ``body`` (what jobgrid sends; for tests)."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body,
                   hashlib.sha256).hexdigest()
    return f"t={timestamp},{SCHEME}={mac}"


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that also takes a non-ASCII header value (a str
    ``compare_digest`` would raise TypeError on one)."""
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


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
    if not any(_same(expected, s) for s in signatures):
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


# ------------------------------------------------------------------ Standard Webhooks
STANDARD_PREFIX = "whsec_"
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def standard_secret_for(secret: str) -> str:
    """The ``standard_webhooks_secret`` of a webhook whose ``secret`` you hold (for one created
    before that field existed, or to check the rule): a ``whsec_`` secret whose rest is
    standard base64 (padding optional) keeps its bytes; any other secret's UTF-8 bytes become
    the key. The answer is ``whsec_`` + the padded base64 of the key."""
    rest = secret.removeprefix(STANDARD_PREFIX)
    bare = rest.rstrip("=")
    key = b""
    if rest != secret and _BASE64.fullmatch(rest) and len(bare) % 4 != 1:
        key = base64.b64decode(bare + "=" * (-len(bare) % 4))
    if not key:
        key = secret.encode("utf-8")
    return STANDARD_PREFIX + base64.b64encode(key).decode("ascii")


def _standard_key(secret: str | bytes) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (bytes are taken as the key itself)."""
    if isinstance(secret, bytes):
        key = secret
    else:
        encoded = secret.removeprefix(STANDARD_PREFIX).rstrip("=")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError) as e:
            raise SignatureError("the secret is not whsec_<base64>: pass the webhook's "
                                 "standard_webhooks_secret") from e
    if not key:
        raise SignatureError("the secret is empty")
    return key


def sign_standard(msg_id: str, timestamp: int, body: bytes, secret: str | bytes) -> str:
    """The ``webhook-signature`` value jobgrid sends: ``v1,<base64 HMAC-SHA256 of
    "id.timestamp.body">`` keyed with the bytes of the ``whsec_`` secret (for tests)."""
    msg = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(_standard_key(secret), msg, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def check_standard_signature(
    body: bytes, headers: Mapping[str, str], secret: str | bytes,
    tolerance: int = DEFAULT_TOLERANCE, now: int | None = None,
) -> str:
    """Returns the message id (``webhook-id``, the event id) of a valid Standard Webhooks
    delivery; raises :class:`SignatureError` saying why otherwise.

    ``headers`` is any mapping of the request's headers (names in any case). ``secret`` is the
    webhook's ``standard_webhooks_secret``. The checks are the specification's: all three
    headers present, the timestamp within ``tolerance`` seconds of ``now``, and one of the
    space-separated ``v1,<base64>`` signatures matching.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, raw_ts = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
    signatures = lower.get("webhook-signature", "")
    if not (msg_id and raw_ts and signatures):
        raise SignatureError("a webhook-id, webhook-timestamp or webhook-signature header "
                             "is missing")
    try:
        timestamp = int(raw_ts)
    except ValueError as e:
        raise SignatureError("the webhook-timestamp header is not an integer") from e
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signature timestamp is {abs(now - timestamp)} s away from "
                             f"now, more than the tolerance of {tolerance} s")
    expected = sign_standard(msg_id, timestamp, body, secret).partition(",")[2]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and _same(expected, value):
            return msg_id
    raise SignatureError("no signature matches: wrong secret, or the body was altered")


def verify_standard(
    body: bytes, headers: Mapping[str, str], secret: str | bytes,
    tolerance: int = DEFAULT_TOLERANCE, now: int | None = None,
) -> bool:
    """True when the Standard Webhooks headers hold a valid, recent signature of ``body``."""
    try:
        check_standard_signature(body, headers, secret, tolerance, now)
    except SignatureError:
        return False
    return True

"""The two signatures on every delivery attempt, and the secrets they are keyed with.

The contract's ``Jobgrid-Signature`` is the hex HMAC-SHA256 of ``"t.body"`` keyed with the
whole secret string. The Standard Webhooks one (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC of "id.timestamp.body">``) is keyed with the bytes the
``whsec_`` secret encodes (see ``standard_key``), so receivers can check it with the
``standardwebhooks`` libraries. ``jobgrid/webhooks.py`` is the receiving side of both.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

SECRET_PREFIX = "whsec_"
#: random bytes of a generated secret (Standard Webhooks asks for 24 to 64)
SECRET_BYTES = 32
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def generate_secret() -> str:
    """``whsec_`` + standard base64 of 32 random bytes: one string that serves both
    signatures (the whole string keys ``Jobgrid-Signature``, its bytes the standard one)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature for a webhook's ``secret``.

    A ``whsec_`` secret whose rest is standard base64 (padding optional) stands for the bytes
    it encodes, as the Standard Webhooks libraries read it. Any other secret a client chose
    (the contract allows any 16-256 printable characters) is used as its own UTF-8 bytes, so
    a receiver can always derive the ``whsec_`` form from the secret it holds.
    """
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX):]
        if _BASE64.fullmatch(encoded) and len(encoded.rstrip("=")) % 4 != 1:
            bare = encoded.rstrip("=")
            try:
                key = base64.b64decode(bare + "=" * (-len(bare) % 4), validate=True)
            except binascii.Error:  # pragma: no cover - the pattern and length rule it out
                key = b""
            if key:
                return key
    return secret.encode("utf-8")


def standard_secret(secret: str) -> str:
    """The ``whsec_<base64>`` form of ``standard_key(secret)``, what receivers give to a
    Standard Webhooks library; equal to ``secret`` for every secret jobgrid generates."""
    return SECRET_PREFIX + base64.b64encode(standard_key(secret)).decode("ascii")


def standard_signature(msg_id: str, timestamp: int, body: bytes, key: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``"id.timestamp.body"``."""
    msg = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode("ascii")


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with the webhook's secret."""
    msg = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Jobgrid-Signature`` value: ``t=<unix>,v1=<hex>``."""
    return f"t={timestamp},v1={signature(body, secret, timestamp)}"

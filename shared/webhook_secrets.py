"""Encryption at rest of webhook signing secrets, on the standard library only.

A signing secret must be readable again (the worker signs every delivery with it), so it
cannot be hashed like an API key; it is sealed instead. ``cryptography`` is not a dependency
of jobgrid, and adding one (with its Rust wheels) for a few bytes per webhook is not worth it,
so the scheme is the textbook encrypt-then-MAC construction over HMAC-SHA256:

* two sub-keys derived from the configured key: ``enc = HMAC(key, "…/enc")``,
  ``mac = HMAC(key, "…/mac")``;
* a fresh random 16-byte nonce per secret; keystream block ``i`` is
  ``HMAC(enc, nonce || i)`` (HMAC as a PRF in counter mode), XORed with the secret;
* a tag ``HMAC(mac, "v1" || nonce || ciphertext)`` checked in constant time before decrypting.

The stored form is ``v1.<base64url(nonce || ciphertext || tag)>``. ``JOBGRID_WEBHOOK_SECRET_KEY``
holds one or more keys, comma separated: the first seals, every one may unseal, so a key is
rotated by prepending the new one and re-sealing at leisure. Without a configured key a fixed
development key is used and a warning is logged once: Redis then still never holds a secret
in clear, but anyone with the source can unseal it, so production must set the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets

log = logging.getLogger("jobgrid.webhooks")

VERSION = "v1"
NONCE_BYTES = 16
TAG_BYTES = 32
_DEV_KEY = "jobgrid-development-key-do-not-use-in-production"
_warned = False


class SealError(Exception):
    """Raised when a sealed secret cannot be opened: damaged, or sealed with an unknown key."""


def configured_keys(setting: str) -> list[str]:
    """The keys of ``JOBGRID_WEBHOOK_SECRET_KEY`` in order, or the development key (warned)."""
    global _warned
    keys = [k.strip() for k in setting.split(",") if k.strip()]
    if keys:
        return keys
    if not _warned:
        _warned = True
        log.warning("JOBGRID_WEBHOOK_SECRET_KEY is not set: webhook secrets are sealed with the "
                    "built-in development key; set a random key in production")
    return [_DEV_KEY]


def _subkey(key: str, purpose: str) -> bytes:
    return hmac.new(key.encode("utf-8"), f"jobgrid-webhook-secret/{purpose}".encode(),
                    hashlib.sha256).digest()


def _keystream(enc_key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = bytearray()
    counter = 0
    while len(blocks) < length:
        blocks += hmac.new(enc_key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(blocks[:length])


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def _tag(mac_key: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    return hmac.new(mac_key, VERSION.encode() + nonce + ciphertext, hashlib.sha256).digest()


def seal(secret: str, keys: list[str]) -> str:
    """``secret`` encrypted and authenticated with the first of ``keys``."""
    key = keys[0]
    nonce = secrets.token_bytes(NONCE_BYTES)
    plain = secret.encode("utf-8")
    ciphertext = _xor(plain, _keystream(_subkey(key, "enc"), nonce, len(plain)))
    blob = nonce + ciphertext + _tag(_subkey(key, "mac"), nonce, ciphertext)
    return f"{VERSION}." + base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")


def _decode(sealed: str) -> tuple[bytes, bytes, bytes]:
    version, _, encoded = sealed.partition(".")
    if version != VERSION:
        raise SealError(f"unknown sealed-secret version {version[:8]!r}")
    try:
        blob = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as e:
        raise SealError("the sealed secret is not valid base64") from e
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise SealError("the sealed secret is truncated")
    return blob[:NONCE_BYTES], blob[NONCE_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]


def unseal(sealed: str, keys: list[str]) -> str:
    """The clear secret; tries every key (rotation). Raises SealError when none fits."""
    nonce, ciphertext, tag = _decode(sealed)
    for key in keys:
        if hmac.compare_digest(_tag(_subkey(key, "mac"), nonce, ciphertext), tag):
            stream = _keystream(_subkey(key, "enc"), nonce, len(ciphertext))
            return _xor(ciphertext, stream).decode("utf-8")
    raise SealError("the secret was sealed with a key that is not configured")

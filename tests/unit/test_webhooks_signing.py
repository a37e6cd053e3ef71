"""Signatures: what jobgrid sends (shared.webhooks) verifies with the receiver helper."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from jobgrid.webhooks import SignatureError, check_signature, sign, verify
from shared.webhooks import signature_header

BODY = b'{"id":"evt_1","type":"job.completed","created_at":1700000000,"data":{}}'
SECRET = "whsec_test_secret_0123456789"
T = 1_700_000_000


def test_header_format_is_t_and_hex_hmac_of_t_dot_body() -> None:
    header = signature_header(BODY, SECRET, T)
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"
    assert sign(BODY, SECRET, T) == header  # the client helper signs identically


def test_valid_signature_verifies() -> None:
    header = signature_header(BODY, SECRET, T)
    assert verify(BODY, header, SECRET, now=T + 10)
    assert check_signature(BODY, header, SECRET, now=T) == T


def test_tampered_body_is_rejected() -> None:
    header = signature_header(BODY, SECRET, T)
    assert not verify(BODY.replace(b"completed", b"failed"), header, SECRET, now=T)
    with pytest.raises(SignatureError, match="no signature matches"):
        check_signature(BODY + b" ", header, SECRET, now=T)


def test_wrong_secret_is_rejected() -> None:
    header = signature_header(BODY, SECRET, T)
    assert not verify(BODY, header, "whsec_another_secret_xxxxxxx", now=T)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_timestamp_outside_tolerance_is_rejected(skew: int) -> None:
    header = signature_header(BODY, SECRET, T)
    assert not verify(BODY, header, SECRET, now=T + skew)
    with pytest.raises(SignatureError, match="tolerance"):
        check_signature(BODY, header, SECRET, now=T + skew)
    assert verify(BODY, header, SECRET, tolerance=abs(skew), now=T + skew)


def test_timestamp_is_part_of_what_is_signed() -> None:
    mac = signature_header(BODY, SECRET, T).split("v1=")[1]
    assert not verify(BODY, f"t={T + 1},v1={mac}", SECRET, now=T)


@pytest.mark.parametrize("header", ["", "v1=abc", f"t={T}", "t=soon,v1=abc", "garbage"])
def test_malformed_headers_are_rejected(header: str) -> None:
    assert not verify(BODY, header, SECRET, now=T)
    with pytest.raises(SignatureError):
        check_signature(BODY, header, SECRET, now=T)


def test_any_of_several_v1_signatures_may_match() -> None:
    good = signature_header(BODY, SECRET, T).split("v1=")[1]
    assert verify(BODY, f"t={T},v1={'0' * 64},v1={good}", SECRET, now=T)

"""Standard Webhooks signatures, checked with the ``standardwebhooks`` library from PyPI.

What jobgrid sends (``worker.webhooks.delivery_headers``) must verify with the reference
library given the webhook's ``standard_webhooks_secret``; a changed body, a changed id, a
wrong secret and a timestamp outside the library's 5 minutes must not. The contract's own
``Jobgrid-Signature`` keeps verifying with the whole ``secret`` string, unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from jobgrid.webhooks import (
    SignatureError,
    check_standard_signature,
    sign_standard,
    standard_secret_for,
    verify,
    verify_standard,
)
from shared.webhooks import (
    Delivery,
    generate_secret,
    standard_key,
    standard_secret,
    standard_signature,
)
from worker.webhooks import delivery_headers

BODY = b'{"id":"evt_1c0f6a7e2d9b4a3c8e5f7a10","type":"job.completed","created_at":1,"data":{}}'
EVENT_ID = "evt_1c0f6a7e2d9b4a3c8e5f7a10"


def _delivery(body: bytes = BODY) -> Delivery:
    return Delivery(id="dlv_6e6ad131b96d37fa29c32872", webhook_id="wh_3f9a0c2e1b7d4e8f",
                    org="org_a", event_id=EVENT_ID, type="job.completed", job_id="j",
                    status="pending", attempt_count=0, next_retry_at=None, created_at=0,
                    body=body, attempts=())


def test_signature_is_base64_hmac_of_id_timestamp_body() -> None:
    key = b"\x01" * 32
    expected = base64.b64encode(
        hmac.new(key, f"{EVENT_ID}.1700000000.".encode() + BODY, hashlib.sha256).digest())
    assert standard_signature(EVENT_ID, 1_700_000_000, BODY, key) == "v1," + expected.decode()


@pytest.mark.parametrize("secret", [
    generate_secret(),                                   # what jobgrid generates
    "my-own-secret-of-16+",                              # any secret a client chose
    "whsec_" + base64.b64encode(b"k" * 24).decode(),     # a client's own whsec_ secret
    "whsec_" + base64.b64encode(b"k" * 24).decode().rstrip("="),  # ... unpadded
    "whsec_old-style_url-safe_secret_-_x",               # generated before: not base64
])
def test_library_verifies_what_jobgrid_sends(secret: str) -> None:
    now = int(time.time())
    headers = delivery_headers(_delivery(), secret, now)
    assert headers["webhook-id"] == EVENT_ID
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"].startswith("v1,")
    wh = StandardWebhook(standard_secret(secret))
    assert wh.verify(BODY, headers) == {"id": EVENT_ID, "type": "job.completed",
                                        "created_at": 1, "data": {}}
    # the library and jobgrid's own helper agree on the signature and the key
    assert verify_standard(BODY, headers, standard_secret(secret))
    assert sign_standard(EVENT_ID, now, BODY, standard_key(secret)) == \
        headers["webhook-signature"]
    # and the contract's signature is still keyed with the whole secret string
    assert verify(BODY, headers["Jobgrid-Signature"], secret)
    assert headers["Jobgrid-Signature"].startswith(f"t={now},v1=")


def test_generated_secret_is_one_string_for_both_signatures() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_") and standard_secret(secret) == secret
    assert len(standard_key(secret)) == 32  # Standard Webhooks asks for 24 to 64 bytes
    assert generate_secret() != secret


def test_tampered_body_is_rejected() -> None:
    secret = generate_secret()
    headers = delivery_headers(_delivery(), secret, int(time.time()))
    tampered = BODY.replace(b"completed", b"failed")
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        StandardWebhook(secret).verify(tampered, headers)
    with pytest.raises(SignatureError, match="no signature matches"):
        check_standard_signature(tampered, headers, secret)


def test_changed_id_or_wrong_secret_is_rejected() -> None:
    secret = generate_secret()
    headers = delivery_headers(_delivery(), secret, int(time.time()))
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(secret).verify(BODY, {**headers, "webhook-id": "evt_other"})
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(generate_secret()).verify(BODY, headers)
    assert not verify_standard(BODY, headers, generate_secret())


@pytest.mark.parametrize("skew, why", [(-301, "too old"), (-86_400, "too old"),
                                       (301, "too new")])
def test_stale_or_future_timestamp_is_rejected(skew: int, why: str) -> None:
    """A replayed old delivery: correctly signed, but its timestamp is past the tolerance."""
    secret = generate_secret()
    headers = delivery_headers(_delivery(), secret, int(time.time()) + skew)
    with pytest.raises(WebhookVerificationError, match=why):
        StandardWebhook(secret).verify(BODY, headers)
    with pytest.raises(SignatureError, match="tolerance"):
        check_standard_signature(BODY, headers, secret)
    assert verify_standard(BODY, headers, secret, tolerance=abs(skew) + 5)


def test_timestamp_is_part_of_what_is_signed() -> None:
    secret = generate_secret()
    now = int(time.time())
    headers = delivery_headers(_delivery(), secret, now)
    moved = {**headers, "webhook-timestamp": str(now - 1)}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        StandardWebhook(secret).verify(BODY, moved)


@pytest.mark.parametrize("drop", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(drop: str) -> None:
    secret = generate_secret()
    headers = delivery_headers(_delivery(), secret, int(time.time()))
    del headers[drop]
    with pytest.raises(SignatureError, match="missing"):
        check_standard_signature(BODY, headers, secret)


def test_helper_reads_headers_in_any_case_and_several_signatures() -> None:
    secret = generate_secret()
    now = int(time.time())
    headers = delivery_headers(_delivery(), secret, now)
    upper = {k.upper(): v for k, v in headers.items()}
    upper["WEBHOOK-SIGNATURE"] = "v1,AAAA v2,zzz " + headers["webhook-signature"]
    assert check_standard_signature(BODY, upper, secret, now=now) == EVENT_ID


@pytest.mark.parametrize("bad", [{"webhook-timestamp": "soon"},
                                 {"webhook-signature": "v1,\u00e9t\u00e9"}])
def test_malformed_headers_are_rejected(bad: dict[str, str]) -> None:
    secret = generate_secret()
    headers = {**delivery_headers(_delivery(), secret, int(time.time())), **bad}
    assert not verify_standard(BODY, headers, secret)


def test_helper_refuses_a_secret_that_is_not_whsec_base64() -> None:
    headers = delivery_headers(_delivery(), "my-own-secret-of-16+", int(time.time()))
    with pytest.raises(SignatureError, match="standard_webhooks_secret"):
        check_standard_signature(BODY, headers, "my-own-secret-of-16+")
    assert verify_standard(BODY, headers, b"my-own-secret-of-16+")  # the key bytes work


# --------------------------------------------------------- the secret rule, both packages
@given(st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=16, max_size=64),
    st.binary(min_size=1, max_size=64).map(lambda b: "whsec_" + base64.b64encode(b).decode()),
    st.binary(min_size=1, max_size=64).map(
        lambda b: "whsec_" + base64.b64encode(b).decode().rstrip("=")),
    st.text(st.sampled_from("ABCxyz019+/-_="), min_size=10, max_size=60).map(
        lambda t: "whsec_" + t),
))
def test_server_and_receiver_package_agree_on_the_standard_secret(secret: str) -> None:
    """``shared.webhooks.standard_secret`` (what the API shows) and the receiver package's
    ``standard_secret_for`` (stdlib only, for receivers) follow one rule."""
    assert standard_secret_for(secret) == standard_secret(secret)
    assert base64.b64decode(standard_secret(secret)[6:], validate=True) == standard_key(secret)

"""Signing secrets at rest: sealed with the configured key, never stored or listed in clear."""

from __future__ import annotations

import fakeredis
import pytest

from shared.settings import Settings
from shared.webhook_secrets import SealError, configured_keys, seal, unseal
from shared.webhooks import WebhookCreate, WebhookStore

KEY = "k1-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("secret", ["whsec_abc", "x" * 256, "ünïcödé-sécret-🙂"])
def test_round_trip(secret: str) -> None:
    sealed = seal(secret, [KEY])
    assert sealed.startswith("v1.") and secret not in sealed
    assert unseal(sealed, [KEY]) == secret


def test_each_seal_uses_a_fresh_nonce() -> None:
    assert seal("same", [KEY]) != seal("same", [KEY])


def test_wrong_key_is_refused() -> None:
    with pytest.raises(SealError, match="not configured"):
        unseal(seal("s3cret-value", [KEY]), ["another-key"])


def test_tampering_is_detected() -> None:
    sealed = seal("s3cret-value", [KEY])
    flipped = sealed[:10] + ("A" if sealed[10] != "A" else "B") + sealed[11:]
    with pytest.raises(SealError):
        unseal(flipped, [KEY])
    with pytest.raises(SealError, match="version"):
        unseal("v0." + sealed[3:], [KEY])
    with pytest.raises(SealError, match="truncated"):
        unseal("v1.AAAA", [KEY])


def test_rotation_first_key_seals_every_key_opens() -> None:
    old = seal("rotating", ["old-key"])
    keys = configured_keys("new-key, old-key")
    assert keys == ["new-key", "old-key"]
    assert unseal(old, keys) == "rotating"
    assert unseal(seal("rotating", keys), ["new-key"]) == "rotating"


def test_redis_never_holds_the_clear_secret(fake_redis: fakeredis.FakeRedis) -> None:
    settings = Settings(key_prefix="ut", webhook_secret_key=KEY)
    store = WebhookStore(fake_redis, settings)
    secret = "whsec_my_very_own_secret_value"
    created = store.create("org_a", WebhookCreate(url="https://example.com/h",
                                                  events=["job.completed"], secret=secret))
    assert created.secret == secret
    generated = store.create("org_a", WebhookCreate(url="https://example.com/g",
                                                    events=["job.failed"]))
    assert generated.secret.startswith("whsec_") and len(generated.secret) > 40
    dump = _dump(fake_redis)
    assert secret not in dump and generated.secret not in dump
    hook = store.get("org_a", created.id)
    assert hook is not None and store.secret(hook) == secret
    assert "secret" not in hook.out().model_dump()


def _dump(r: fakeredis.FakeRedis) -> str:
    """Every key and value in Redis as one string."""
    parts: list[str] = []
    for key in r.scan_iter("*"):
        parts.append(key)
        kind = r.type(key)
        if kind == "hash":
            parts += [f"{k}={v}" for k, v in r.hgetall(key).items()]
        elif kind == "zset":
            parts += [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        elif kind == "string":
            parts.append(r.get(key) or "")
    return "\n".join(parts)

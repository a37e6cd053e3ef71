"""Hostile input, in process (issue: one tenant must never stall or starve another).

Each test reproduces an attack at the unit that stops it: a catastrophic-backtracking field
pattern, a field name ending in a newline, base64 sizes off by the padding, oversized or
malformed schemas, one key taking every held request of a process, and a flood of failed
authentications. ``tests/integration/test_hostile_clients.py`` repeats them over HTTP.
"""

from __future__ import annotations

import base64
import threading
import time
from contextlib import ExitStack
from typing import Any

import fakeredis
import pytest
from pydantic import ValidationError

from api.auth import Authenticator, FailureLimiter, Principal, client_address, pick_key
from api.pubsub import ChangeFeed, Shares
from shared.apikeys import create_api_key
from shared.errors import RateLimited, Unauthorized, Unavailable
from shared.models import (
    MAX_SCHEMA_BYTES,
    DocumentIn,
    FieldSpec,
    SchemaIn,
    schema_problem,
    schema_size,
)
from shared.patterns import PatternRefused, compile_pattern
from shared.settings import MAX_HELD_REQUESTS, Settings
from worker.extraction.types import _matches_pattern

EVIL = "(a+)+b"
EVIL_VALUE = "a" * 40 + "!"  # with Python's re: about 2^40 steps


# -------------------------------------------------------------------- ReDoS (item 1)
def test_catastrophic_pattern_is_accepted_and_runs_in_linear_time() -> None:
    """With ``re`` this match takes hours; RE2 answers at once. Run in a thread so a
    regression fails the test (by the join timeout) instead of hanging the suite."""
    field = FieldSpec(name="code", pattern=EVIL)
    outcome: list[bool] = []
    t = threading.Thread(target=lambda: outcome.append(_matches_pattern(field, EVIL_VALUE)),
                         daemon=True)
    t.start()
    t.join(timeout=20)
    assert outcome == [False], "the pattern match did not finish: backtracking engine?"
    assert _matches_pattern(field, "a" * 40 + "b")
    assert _matches_pattern(FieldSpec(name="long", pattern=EVIL), "a" * 1000 + "b")


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"(?<!x)a", r"a\Z", r"a{2,1001}",
                                     r"(?P<x>a)(?P=x)", "a++", "(?>a)"])
def test_patterns_re2_cannot_run_are_refused_with_the_reason(pattern: str) -> None:
    with pytest.raises(ValidationError, match="RE2"):
        FieldSpec(name="f", pattern=pattern)
    with pytest.raises(PatternRefused):
        compile_pattern(pattern)


@pytest.mark.parametrize(("pattern", "value", "matches"), [
    (r"INV-\d{4}", "INV-1234", True),
    (r"INV-\d{4}", "INV-1234\n", False),       # full match: no trailing newline
    (r"(?i)inv-\d+", "Inv-7", True),
    (r"\p{L}+", "Zürich", True),
    (r"\w+", "Zürich", False),                  # RE2's \w is ASCII (documented)
    (r"\d+\.\d{2} [A-Z]{3}", "12.50 EUR", True),
])
def test_supported_syntax_matches_like_the_docs_say(pattern: str, value: str,
                                                     matches: bool) -> None:
    assert bool(compile_pattern(pattern).fullmatch(value)) is matches


# ------------------------------------------------------------- field names (item 7)
@pytest.mark.parametrize("name", ["abc\n", "abc\r\n", "\nabc", "ab\nc", "abc\x00", "abc "])
def test_field_names_must_match_in_full(name: str) -> None:
    with pytest.raises(ValidationError, match="field name"):
        FieldSpec(name=name)


def test_a_newline_name_cannot_sit_beside_its_twin() -> None:
    with pytest.raises(ValidationError):
        SchemaIn(name="s", fields=[FieldSpec(name="abc"), {"name": "abc\n"}])  # type: ignore[list-item]


# ------------------------------------------------------------ base64 size (item 6)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 509, 510, 511, 512, 513, 514, 515])
def test_base64_size_is_the_decoded_size_whatever_the_padding(n: int) -> None:
    doc = DocumentIn(filename="f.bin", content_base64=base64.b64encode(b"x" * n).decode())
    assert doc.size() == n == len(doc.raw_bytes())


def test_the_20_mib_limit_admits_exactly_20_mib() -> None:
    limit = Settings().max_document_bytes
    assert limit == 20 * 1024 * 1024
    for n in (limit - 2, limit - 1, limit):
        b64 = base64.b64encode(b"\0" * n).decode()
        assert DocumentIn(filename="big.pdf", content_base64=b64).size() == n <= limit


# --------------------------------------------------------------- schemas (item 5)
def test_values_only_on_enum_fields() -> None:
    ok = SchemaIn(name="s", fields=[FieldSpec(name="e", type="enum", values=["a", "b"])])
    assert schema_problem(ok) is None
    bad = SchemaIn(name="s", fields=[FieldSpec(name="s", values=["a"]),
                                     FieldSpec(name="n", type="number")])
    assert "fields.0.values" in (schema_problem(bad) or "")


def test_the_issue_s_27_mb_schema_is_far_above_the_size_bound() -> None:
    """200 fields x 2,000-character descriptions x 500 values of 256 characters: each part
    within its own bound, the whole refused by MAX_SCHEMA_BYTES."""
    fields = [FieldSpec(name=f"f{i}", type="enum", description="d" * 2000,
                        values=[f"{j:03d}" + "v" * 253 for j in range(500)])
              for i in range(200)]
    schema = SchemaIn(name="huge", fields=fields)
    assert schema_size(schema) > 25_000_000 > MAX_SCHEMA_BYTES
    assert schema_size(SchemaIn(name="small", fields=fields[:0] + [FieldSpec(name="a")])) \
        < 200


# ------------------------------------------------------- held-request shares (item 4)
def _feed(max_watchers: int, shares: Shares) -> ChangeFeed:
    server = fakeredis.FakeServer()
    return ChangeFeed(lambda: fakeredis.FakeRedis(server=server, decode_responses=True),
                      "t:events", max_watchers=max_watchers, shares=shares)


def _hold(feed: ChangeFeed, stack: ExitStack, org: str, key: str, n: int) -> None:
    for i in range(n):
        stack.enter_context(feed.watch(f"job-{org}-{key}-{i}", (org, key)))


def test_shares_at_the_production_defaults() -> None:
    """Derived at the defaults: one key takes 128 of 1,024, one organization 256; four
    organizations fill the shared 960, and 64 more still open a stream each in the reserve."""
    s = Settings()
    shares = Shares(s.max_held_per_key, s.max_held_per_org, s.held_reserve)
    assert (s.max_held_requests, shares) == (MAX_HELD_REQUESTS, Shares(128, 256, 64))
    feed = _feed(s.max_held_requests, shares)
    try:
        with ExitStack() as stack:
            _hold(feed, stack, "org_a", "key_a1", 128)
            with pytest.raises(RateLimited, match="API key") as e:
                _hold(feed, stack, "org_a", "key_a1", 1)
            assert e.value.retry_after > 0
            _hold(feed, stack, "org_a", "key_a2", 128)
            with pytest.raises(RateLimited, match="organization"):
                _hold(feed, stack, "org_a", "key_a3", 1)
            for org in ("org_b", "org_c"):
                _hold(feed, stack, org, f"{org}_1", 128)
                _hold(feed, stack, org, f"{org}_2", 128)
            _hold(feed, stack, "org_d", "org_d_1", 128)
            _hold(feed, stack, "org_d", "org_d_2", 64)
            assert feed.watcher_count() == 960
            with pytest.raises(Unavailable):  # the rest is the reserve
                _hold(feed, stack, "org_d", "org_d_2", 1)
            for i in range(64):  # the reserve: one place for each newcomer
                _hold(feed, stack, f"org_new{i}", f"org_new{i}_1", 1)
                with pytest.raises(Unavailable, match="kept for organizations" if i < 63
                                   else "maximum of 1024"):
                    _hold(feed, stack, f"org_new{i}", f"org_new{i}_2", 1)
            assert feed.watcher_count() == MAX_HELD_REQUESTS
            with pytest.raises(Unavailable):
                _hold(feed, stack, "org_newer", "k", 1)
        assert feed.watcher_count() == 0 and feed.held_by("org_a") == 0
    finally:
        feed.stop()


def test_a_refused_watch_holds_nothing() -> None:
    feed = _feed(4, Shares(per_key=1, per_org=2, reserve=1))
    try:
        with ExitStack() as stack:
            _hold(feed, stack, "o", "k", 1)
            for _ in range(3):
                with pytest.raises(RateLimited):
                    _hold(feed, stack, "o", "k", 1)
            assert feed.held_by("o") == 1 and feed.watcher_count() == 1
        assert feed.held_by("o") == 0
    finally:
        feed.stop()


# ----------------------------------------------------- failed authentication (item 12)
class CountingRedis(fakeredis.FakeRedis):
    lookups = 0

    def hmget(self, *args: Any, **kwargs: Any) -> Any:
        CountingRedis.lookups += 1
        return super().hmget(*args, **kwargs)


def test_a_flood_of_unknown_keys_costs_at_most_the_limit_in_lookups() -> None:
    r = CountingRedis(server=fakeredis.FakeServer(), decode_responses=True)
    settings = Settings(key_prefix="uth", auth_failure_limit=5, auth_failure_window_seconds=60,
                        api_key_cache_seconds=60)
    good = create_api_key(r, settings, "org_good")
    auth = Authenticator(r, settings)
    assert auth.authenticate(good, "10.0.0.1").org == "org_good"  # cached from now on
    CountingRedis.lookups = 0
    for i in range(5):
        with pytest.raises(Unauthorized):
            auth.authenticate(f"jg_random_{i}", "10.0.0.1")
    for i in range(200):
        with pytest.raises(RateLimited) as e:
            auth.authenticate(f"jg_more_{i}", "10.0.0.1")
    assert 0 < e.value.retry_after <= 60
    assert CountingRedis.lookups == 5
    assert auth.authenticate(good, "10.0.0.1").org == "org_good"  # a cached key still works
    with pytest.raises(Unauthorized):  # another address has its own budget
        auth.authenticate("jg_other", "10.0.0.2")
    assert len(auth.cache._entries) == 1  # unknown keys never take the valid keys' cache


def test_missing_keys_are_refused_once_over_but_not_counted() -> None:
    """No key costs no lookup (and logged-out dashboard pages send none): not counted, but
    refused like any other attempt once the address is over its limit."""
    auth = Authenticator(fakeredis.FakeRedis(decode_responses=True),
                         Settings(key_prefix="uth2", auth_failure_limit=2))
    for _ in range(5):
        with pytest.raises(Unauthorized, match="missing"):
            auth.authenticate(None, "192.0.2.7")
    for i in range(2):
        with pytest.raises(Unauthorized, match="unknown"):
            auth.authenticate(f"jg_bad{i}", "192.0.2.7")
    with pytest.raises(RateLimited):
        auth.authenticate(None, "192.0.2.7")


def test_failure_windows_reset_and_the_table_stays_bounded() -> None:
    lim = FailureLimiter(limit=2, window_seconds=10, max_addresses=3)
    lim.record("a", now=100.0)
    lim.record("a", now=101.0)
    assert lim.retry_after("a", now=102.0) == 8
    assert lim.retry_after("a", now=110.0) is None  # a new window
    for i in range(50):
        lim.record(f"addr{i}", now=111.0)
    assert len(lim._counts) <= 3


def test_ipv6_clients_are_counted_per_64() -> None:
    assert client_address("2001:db8:1:2:3:4:5:6") == client_address("2001:db8:1:2:ffff::1")
    assert client_address("2001:db8:1:3::1") != client_address("2001:db8:1:2::1")
    assert client_address("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_address("127.0.0.1") == "127.0.0.1"
    assert client_address(None) == "unknown"


# ------------------------------------------------------------- unreadable keys (item 13)
@pytest.mark.parametrize(("api_key", "auth", "token", "expected"), [
    (None, None, None, None),                 # nothing sent: missing
    ("", None, None, ""),                     # granian's rendering of a non-ASCII value
    (None, "", None, ""),
    ("", "Bearer k2", None, "k2"),             # an empty place does not hide a later key
    (None, "Basic abc", None, None),
    (None, None, "", ""),
    ("k1", "Bearer k2", "k3", "k1"),
])
def test_pick_key_tells_missing_from_unreadable(api_key: str | None, auth: str | None,
                                                token: str | None,
                                                expected: str | None) -> None:
    assert pick_key(api_key, auth, token) == expected


@pytest.mark.parametrize("key", ["", "ключ", "caf\u00e9", "a b", "a\x01b"])
def test_unreadable_keys_are_unknown_not_missing(key: str) -> None:
    auth = Authenticator(fakeredis.FakeRedis(decode_responses=True), Settings(key_prefix="u3"))
    with pytest.raises(Unauthorized, match="unknown API key"):
        auth.authenticate(key, "127.0.0.1")


def test_cached_principal_path_is_unchanged() -> None:
    """The fast path's ``cached`` still answers from the cache alone."""
    r = fakeredis.FakeRedis(decode_responses=True)
    settings = Settings(key_prefix="u4", api_keys="k-fast=org_f", api_key_cache_seconds=60)
    auth = Authenticator(r, settings)
    assert auth.cached("k-fast") is None
    p = auth.authenticate("k-fast", "127.0.0.1")
    assert auth.cached("k-fast") == p == Principal(p.key_id, "org_f")
    time.sleep(0)


def test_stored_schemas_load_under_the_rules_they_were_accepted_with() -> None:
    """A schema stored before RE2 and the full-match name rule loads with ``STORED`` (so the
    API can show it) and fails the rules without it (so it is never run)."""
    from shared.models import STORED

    raw = '{"name": "old", "fields": [{"name": "code\\n", "pattern": "(a)\\\\1"}]}'
    old = SchemaIn.model_validate_json(raw, context=STORED)
    assert old.fields[0].pattern == r"(a)\1" and old.fields[0].name == "code\n"
    with pytest.raises(ValidationError) as e:
        SchemaIn.model_validate_json(raw)
    assert e.value.error_count() == 2

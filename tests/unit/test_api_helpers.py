"""Pure helpers of the API: cursors, query parsing, ETags, the grid formats, redaction, auth.

These run without Redis (fakeredis where a client is needed); the HTTP behaviour is covered
by ``tests/integration/test_api_*.py`` against a real API server and Redis.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import fakeredis
import orjson
import pytest
from flask import Flask
from pydantic import ValidationError

from api import grid, listing
from api.auth import Authenticator, KeyCache, Principal, extract_key, request_key
from api.http import parse_job_id, validation_message
from api.redact import redact
from api.routes.status import etag_matches, poll_after
from shared.apikeys import create_api_key, key_id
from shared.errors import Unauthorized, ValidationFailed
from shared.models import JobCreate
from shared.settings import Settings
from shared.status import JobStatus

JOB = "0b7e3f0c-1d2e-4f50-8a9b-0c1d2e3f4a5b"


# ------------------------------------------------------------------------ cursors
def test_cursor_round_trips_and_is_opaque() -> None:
    c = listing.Cursor("c", 1705420800123, JOB)
    token = c.encode()
    assert "=" not in token and JOB not in token
    assert listing.decode_cursor(token) == c


@pytest.mark.parametrize("bad", ["", "!!!", "Zm9v", listing.Cursor("x", 1, JOB).encode(),
                                 listing.Cursor("c", 1, "not-a-uuid").encode(),
                                 "YzpOYU46" + "x" * 5])
def test_bad_cursor_is_a_400(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        listing.decode_cursor(bad)


def test_cursor_of_other_mode_is_refused() -> None:
    from werkzeug.datastructures import MultiDict

    token = listing.Cursor("c", 1, JOB).encode()
    with pytest.raises(ValidationFailed, match="different parameters"):
        listing.parse_query(MultiDict({"cursor": token, "updated_since": "0"}))
    q = listing.parse_query(MultiDict({"cursor": token, "limit": "5", "status": "queued"}))
    assert (q.limit, q.status, q.mode) == (5, JobStatus.QUEUED, "c")


@pytest.mark.parametrize("value,expected", [
    ("1705420800", 1705420800000),
    ("1705420800.5", 1705420800500),
    ("2024-01-16T16:00:00Z", 1705420800000),
    ("2024-01-16T16:00:00.250+00:00", 1705420800250),
    ("2024-01-16T17:00:00+01:00", 1705420800000),
    ("2024-01-16T16:00:00", 1705420800000),  # naive: read as UTC
    ("2024-01-16", 1705363200000),
])
def test_updated_since_accepts_unix_seconds_and_iso(value: str, expected: int) -> None:
    assert listing.parse_since(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "nan", "inf", "1e999", ""])
def test_updated_since_rejects_garbage(value: str) -> None:
    with pytest.raises(ValidationFailed):
        listing.parse_since(value)


@pytest.mark.parametrize("value", ["0", "101", "-1", "ten", "1.5", ""])
def test_limit_outside_1_to_100_is_a_400(value: str) -> None:
    with pytest.raises(ValidationFailed, match="limit"):
        listing.parse_limit(value)


def test_limit_defaults_to_20_and_status_must_be_known() -> None:
    assert listing.parse_limit(None) == 20
    assert listing.parse_limit("100") == 100
    with pytest.raises(ValidationFailed, match="status must be one of"):
        listing.parse_status("running")


# ----------------------------------------------------------------- ids and bodies
def test_job_id_must_be_canonical_uuid() -> None:
    assert parse_job_id(JOB.upper()) == JOB
    for bad in ("123", JOB.replace("-", ""), "{" + JOB + "}", JOB + "x", "../etc"):
        with pytest.raises(ValidationFailed, match="not a UUID"):
            parse_job_id(bad)


def test_validation_message_names_the_field_path() -> None:
    with pytest.raises(ValidationError) as e:
        JobCreate.model_validate({"schema": {"name": "s", "fields": []},
                                  "documents": [{"filename": 3, "text": "x"}]})
    msg = validation_message(e.value)
    assert msg.startswith("documents.0.filename: ")
    with pytest.raises(ValidationError) as e2:
        JobCreate.model_validate({"documents": []})
    assert "give exactly one of 'schema' or 'schema_id'" in validation_message(e2.value)
    assert "Value error," not in validation_message(e2.value)


# ------------------------------------------------------------------- status hints
def test_etag_matching_handles_lists_weak_and_star() -> None:
    assert etag_matches('"3-queued"', '"3-queued"')
    assert etag_matches('"1-x", W/"3-queued"', '"3-queued"')
    assert etag_matches("*", '"3-queued"')
    assert not etag_matches('"2-queued"', '"3-queued"')
    assert not etag_matches(None, '"3-queued"')


def test_poll_hint_is_shorter_while_running_and_absent_when_terminal() -> None:
    s = Settings(poll_after_seconds=0.5, poll_after_queued_seconds=2)
    assert poll_after(JobStatus.IN_PROGRESS, s) == "0.5"
    assert poll_after(JobStatus.QUEUED, s) == "2"
    assert poll_after(JobStatus.VALIDATING, s) == "2"
    for st in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED):
        assert poll_after(st, s) is None


# --------------------------------------------------------------------------- grid
FIELDS = ["invoice_number", "total", "paid", "amount"]


def recorded_row() -> dict[str, object]:
    return {"document": {"index": 0, "filename": "a, b.txt"}, "status": "completed",
            "values": {"invoice_number": "INV-1", "total": 12.5, "paid": True,
                       "amount": {"amount": 3.0, "currency": "EUR"}, "extra": "dropped"},
            "confidence": {"invoice_number": 0.9, "total": 1, "paid": 0.5},
            "error": None, "detail": {"total": {"label": "Total", "line": 3, "text": "Total: 12.5",
                                                "raw": "12.5"}}}


def test_rows_cover_every_document_and_follow_the_schema() -> None:
    rows = grid.build_rows(FIELDS, 2, {0: recorded_row()}, {1: "b.txt"}, detail=False)
    assert [r["status"] for r in rows] == ["completed", "pending"]
    assert list(rows[0]["values"]) == FIELDS and "detail" not in rows[0]
    assert rows[0]["confidence"]["amount"] == 0.0
    assert rows[1] == {"document": {"index": 1, "filename": "b.txt"}, "status": "pending",
                       "values": dict.fromkeys(FIELDS), "confidence": dict.fromkeys(FIELDS, 0.0),
                       "error": None}
    detailed = grid.build_rows(FIELDS, 2, {0: recorded_row()}, {1: "b.txt"}, detail=True)
    assert detailed[0]["detail"]["total"]["label"] == "Total"
    assert detailed[0]["detail"]["paid"] is None
    assert detailed[1]["detail"] == dict.fromkeys(FIELDS)


def test_csv_layout_and_cell_encoding() -> None:
    rows = grid.build_rows(FIELDS, 2, {0: recorded_row()}, {1: "b.txt"}, detail=False)
    parsed = list(csv.reader(io.StringIO(grid.to_csv(FIELDS, rows))))
    assert parsed[0] == ["index", "filename", "status", *FIELDS]
    assert parsed[1] == ["0", "a, b.txt", "completed", "INV-1", "12.5", "true",
                         '{"amount":3.0,"currency":"EUR"}']
    assert parsed[2] == ["1", "b.txt", "pending", "", "", "", ""]


def test_jsonl_is_one_row_per_line() -> None:
    rows = grid.build_rows(FIELDS, 3, {}, {0: "a", 1: "b", 2: "c"}, detail=False)
    lines = grid.to_jsonl(rows).decode().splitlines()
    assert [orjson.loads(line)["document"]["filename"] for line in lines] == ["a", "b", "c"]


# ------------------------------------------------------------------ auth and logs
def test_access_token_is_redacted_for_logs() -> None:
    assert redact("/v1/jobs/x/events?access_token=jg_secret&x=1") == \
        "/v1/jobs/x/events?access_token=[redacted]&x=1"
    assert redact("a=1&ACCESS_TOKEN=s") == "a=1&ACCESS_TOKEN=[redacted]"
    assert redact("my_access_token=keep") == "my_access_token=keep"


def test_key_extraction_order() -> None:
    app = Flask(__name__)
    cases = [({"Api-Key": "k1", "Authorization": "Bearer k2"}, "/?access_token=k3", "k1"),
             ({"Authorization": "Bearer k2"}, "/?access_token=k3", "k2"),
             ({"Authorization": "Basic abc"}, "/?access_token=k3", "k3"),
             ({"Authorization": "Basic abc"}, "/", None),
             ({}, "/", None)]
    for headers, url, expected in cases:
        with app.test_request_context(url, headers=headers) as ctx:
            assert extract_key(ctx.request) == expected


def test_fast_path_reads_the_key_headers_like_flask() -> None:
    """``request_key`` on a bare environ (the status fast path, which never sees a query
    string) gives what Flask's ``extract_key`` gives for the same headers."""
    app = Flask(__name__)
    for headers in ({"Api-Key": "k1", "Authorization": "Bearer k2"},
                    {"Authorization": "bearer  k2 "}, {"Authorization": "Basic abc"},
                    {"Api-Key": ""}, {"Api-Key": " ", "Authorization": "Bearer k2"}, {}):
        with app.test_request_context("/", headers=headers) as ctx:
            assert request_key(dict(ctx.request.environ)) == extract_key(ctx.request)
    assert request_key({"HTTP_AUTHORIZATION": "Basic abc"}, "k3") == "k3"


def test_key_cache_expires_and_remembers_bad_keys() -> None:
    cache = KeyCache(ttl=0.05, max_entries=2)
    p = Principal("kid", "org")
    cache.put("a", p)
    cache.put("bad", None)
    assert cache.get("a") == (True, p)
    assert cache.get("bad") == (True, None)
    cache.put("c", p)  # over capacity: the oldest entry goes
    assert cache.get("a") == (False, None)
    time.sleep(0.06)
    assert cache.get("c") == (False, None)


class CountingRedis(fakeredis.FakeRedis):
    calls = 0

    def hmget(self, *args: Any, **kwargs: Any) -> Any:
        CountingRedis.calls += 1
        return super().hmget(*args, **kwargs)


def test_authenticator_caches_so_the_hot_path_skips_redis() -> None:
    r = CountingRedis(decode_responses=True)
    settings = Settings(key_prefix="uta", api_keys="conf-key=org_conf", api_key_cache_seconds=60)
    stored = create_api_key(r, settings, "org_stored")
    auth = Authenticator(r, settings)
    assert auth.authenticate("conf-key") == Principal(key_id("conf-key"), "org_conf")
    assert CountingRedis.calls == 0  # configured keys never touch Redis
    for _ in range(3):
        assert auth.authenticate(stored).org == "org_stored"
    assert CountingRedis.calls == 1
    for _ in range(2):
        with pytest.raises(Unauthorized):
            auth.authenticate("jg_wrong")
    assert CountingRedis.calls == 2
    with pytest.raises(Unauthorized, match="missing API key"):
        auth.authenticate(None)


@pytest.mark.parametrize(("hops", "secure"), [(0, False), (1, True)])
def test_login_cookie_is_secure_behind_a_trusted_tls_proxy_only(
        fake_redis: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch, hops: int,
        secure: bool) -> None:
    """The server does not read X-Forwarded-Proto; JOBGRID_PROXY_HOPS says whom to trust."""
    import api.app

    monkeypatch.setattr(api.app, "redis_from_settings", lambda s: fake_redis)
    app = api.app.create_app(Settings(key_prefix="ut", api_keys="k-proxy=org_p",
                                      proxy_hops=hops))
    resp = app.test_client().post(
        "/dashboard/login", data={"api_key": "k-proxy", "next": "/dashboard"},
        headers={"Host": "jobs.example", "Origin": "https://jobs.example",
                 "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert resp.status_code == 303
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and ("Secure" in cookie) is secure

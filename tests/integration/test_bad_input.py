"""Bad input, generated (hypothesis, bounded), against a real API server over HTTP.

Whatever a client sends, the API answers with the contract's JSON error body and the code
that belongs to its status - never a 5xx - and a rejected submission stores nothing: no key
under the prefix's ``job:`` or ``idem:`` space, no entry in the organization's job indexes,
no broker message. ``tests/integration/test_api_errors.py`` has one example per error row;
this module throws many generated ones at the same rules.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import redis
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, ProcessSet

from api.http import is_job_id
from shared.apikeys import create_api_key
from shared.keys import Keys

pytestmark = pytest.mark.integration

LIMITS = {"max_request_bytes": 16_384, "max_document_bytes": 512, "max_documents": 4,
          "rate_limit_requests": 1_000_000}
CODES = {400: "validation_error", 401: "unauthorized", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
         422: "unprocessable", 429: "rate_limited"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"
BOUNDED = settings(max_examples=40, deadline=None, derandomize=False,
                   suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Api:
    server: ApiServer
    env: SettingsEnv
    redis: redis.Redis
    key: str
    org: str
    session: requests.Session

    @property
    def keys(self) -> Keys:
        return Keys(self.env.key_prefix)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.server.url + path, **kwargs)

    def stored(self) -> tuple[int, ...]:
        """What a submission would leave behind: job and idempotency keys, index entries,
        broker messages."""
        p = self.env.key_prefix
        jobs = sum(1 for _ in self.redis.scan_iter(match=f"{p}:job:*", count=1000))
        idem = sum(1 for _ in self.redis.scan_iter(match=f"{p}:idem:*", count=1000))
        return (jobs, idem, int(self.redis.zcard(self.keys.org_jobs(self.org))),
                int(self.redis.zcard(self.keys.org_updated(self.org))),
                int(self.redis.llen(f"{self.keys.broker_prefix}control")))


@pytest.fixture(scope="module")
def api(make_settings: Callable[..., SettingsEnv], redis_url: str,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = make_settings(isolated=True, **LIMITS)
    procs = ProcessSet(tmp_path_factory.mktemp("bad-input"))
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    session = requests.Session()
    try:
        org = "org_badinput"
        key = create_api_key(client, env.settings, org, "pytest bad input")
        session.headers["Api-Key"] = key
        yield Api(procs.start_api(env, workers=1, threads=8), env, client, key, org, session)
    finally:
        session.close()
        procs.close()
        client.close()


def assert_error(resp: requests.Response, *allowed: int) -> str:
    """A contract error body whose code belongs to its status; returns the code."""
    assert resp.status_code < 500, f"{resp.status_code}: {resp.text[:500]}"
    assert resp.status_code in allowed, f"{resp.status_code}: {resp.text[:500]}"
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == CODES[resp.status_code], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip()
    assert resp.headers.get("X-Request-Id")
    return str(body["error"]["code"])


def submit_rejected(api: Api, *allowed: int, **kwargs: Any) -> requests.Response:
    """POSTs /v1/jobs, expects one of the ``allowed`` errors and that nothing was stored."""
    before = api.stored()
    resp = api.request("POST", "/v1/jobs", **kwargs)
    assert_error(resp, *allowed)
    assert api.stored() == before, "a rejected submission left something in Redis"
    return resp


def valid_body() -> dict[str, Any]:
    return copy.deepcopy(job_body(2))


# --------------------------------------------------------------------- strategies
json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) \
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12,
)

#: Where a mutation lands in an otherwise valid body (path of keys and list indexes).
PATHS: list[tuple[Any, ...]] = [
    ("name",), ("endpoint",), ("schema",), ("schema", "name"), ("schema", "fields"),
    ("schema", "fields", 0), ("schema", "fields", 0, "name"), ("schema", "fields", 0, "type"),
    ("schema", "fields", 0, "aliases"), ("schema", "fields", 1, "values"),
    ("schema", "fields", 2, "pattern"), ("documents",), ("documents", 0),
    ("documents", 0, "filename"), ("documents", 0, "text"), ("documents", 1, "mime_type"),
    ("documents", 1, "content_base64"), ("metadata",), ("metadata", "suite"), ("priority",),
    ("schema_id",), ("unknown_field",), ("documents", 0, "unknown_field"),
    ("schema", "fields", 0, "unknown_field"),
]


def put(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    node: Any = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return body


# --------------------------------------------------------------------- submissions
@BOUNDED
@given(raw=st.binary(max_size=2048))
def test_arbitrary_bytes_are_400_and_store_nothing(api: Api, raw: bytes) -> None:
    submit_rejected(api, 400, data=raw, headers={"Content-Type": "application/json"})


@BOUNDED
@given(value=json_values)
def test_any_json_document_that_is_not_a_job_is_rejected(api: Api, value: Any) -> None:
    submit_rejected(api, 400, 413, 422, data=json.dumps(value),
                    headers={"Content-Type": "application/json"})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=json_values)
def test_mutated_submission_is_accepted_or_rejected_cleanly(
    api: Api, path: tuple[Any, ...], value: Any
) -> None:
    body = put(valid_body(), path, value)
    before = api.stored()
    resp = api.request("POST", "/v1/jobs", data=json.dumps(body),
                       headers={"Content-Type": "application/json"})
    if resp.status_code == 202:  # the generated value happened to be valid
        assert resp.json()["document_count"] == len(body["documents"])
        assert api.stored()[0] > before[0]
        return
    assert_error(resp, 400, 413, 422)
    assert api.stored() == before


@BOUNDED
@given(text=st.text(min_size=1, max_size=200))
def test_invalid_base64_is_400(api: Api, text: str) -> None:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    else:
        return  # valid base64 after all
    body = valid_body()
    body["documents"][1] = {"filename": "b.pdf", "mime_type": "application/pdf",
                            "content_base64": text}
    resp = submit_rejected(api, 400, json=body)
    assert "base64" in resp.json()["error"]["message"]


@pytest.mark.parametrize("depth", [50, 2_000, 200_000])
def test_deep_nesting_is_400(api: Api, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    for raw in (nested, '{"name": "x", "metadata": {"a": ' + nested + "}}"):
        if len(raw) > LIMITS["max_request_bytes"]:
            submit_rejected(api, 413, data=raw, headers={"Content-Type": "application/json"})
        else:
            submit_rejected(api, 400, data=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(("path", "size", "status"), [
    (("name",), 5_000, 400),                       # above the field's max_length
    (("documents", 0, "filename"), 1_000, 400),
    (("metadata", "suite"), 2_000, 400),
    (("schema", "fields", 0, "description"), 9_000, 400),
    (("documents", 0, "text"), 1_000, 413),        # above max_document_bytes (512)
    (("name",), 40_000, 413),                      # above max_request_bytes (16 KiB)
])
def test_huge_strings_are_rejected(api: Api, path: tuple[Any, ...], size: int,
                                   status: int) -> None:
    body = put(valid_body(), path, "x" * size)
    submit_rejected(api, status, json=body)


def test_oversized_batch_and_base64_document_are_413(api: Api) -> None:
    submit_rejected(api, 413, json=job_body(LIMITS["max_documents"] + 1))
    body = valid_body()
    body["documents"][1] = {"filename": "b.pdf", "mime_type": "application/pdf",
                            "content_base64": base64.b64encode(b"%PDF" * 200).decode()}
    submit_rejected(api, 413, json=body)


def test_content_length_above_the_limit_is_refused_before_the_body(api: Api) -> None:
    """Only the headers are sent: the 413 must come without waiting for a body."""
    host, port = "127.0.0.1", int(api.server.url.rsplit(":", 1)[1])
    head = (f"POST /v1/jobs HTTP/1.1\r\nHost: {host}:{port}\r\nApi-Key: {api.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {10**9}\r\n\r\n").encode()
    before = api.stored()
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data or not _complete(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    elapsed = time.monotonic() - started
    status_line, _, rest = data.partition(b"\r\n")
    assert status_line.split()[1] == b"413", data[:300]
    body = orjson.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "payload_too_large"
    assert elapsed < 5, f"answered after {elapsed:.1f}s"
    assert api.stored() == before


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


@BOUNDED
@given(schema_id=st.text(min_size=1, max_size=64))
def test_unknown_schema_id_is_422(api: Api, schema_id: str) -> None:
    body = valid_body()
    del body["schema"]
    body["schema_id"] = schema_id
    submit_rejected(api, 422, json=body)


def test_other_organizations_schema_id_is_422(api: Api) -> None:
    other = create_api_key(api.redis, api.env.settings, "org_badinput_other", "pytest")
    created = requests.post(api.server.url + "/v1/schemas", headers={"Api-Key": other},
                            json=valid_body()["schema"], timeout=30)
    assert created.status_code == 201, created.text
    body = valid_body()
    del body["schema"]
    body["schema_id"] = created.json()["id"]
    submit_rejected(api, 422, json=body)


# ------------------------------------------------------------------------ reads
not_a_job_id = st.text(min_size=1, max_size=80).filter(lambda s: not is_job_id(s))


@BOUNDED
@given(job_id=not_a_job_id, suffix=st.sampled_from(["", "/status", "/results", "/cancel",
                                                      "/retry"]))
def test_non_uuid_job_ids_are_400(api: Api, job_id: str, suffix: str) -> None:
    method = "POST" if suffix in ("/cancel", "/retry") else "GET"
    resp = api.request(method, f"/v1/jobs/{quote(job_id, safe='')}{suffix}")
    # an id that decodes to a path of its own ('a/b', '..') may match no route at all
    assert_error(resp, 400, 404, 405)


@BOUNDED
@given(limit=st.integers(-(10**30), 10**30).map(str) | st.text(max_size=12))
def test_limit_outside_1_to_100_is_400(api: Api, limit: str) -> None:
    resp = api.request("GET", "/v1/jobs", params={"limit": limit})
    try:
        valid = 1 <= int(limit) <= 100
    except ValueError:
        valid = False
    if valid:
        assert resp.status_code == 200, resp.text
        assert len(resp.json()["data"]) <= int(limit)
    else:
        assert_error(resp, 400)


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@BOUNDED
@given(cursor=st.text(min_size=1, max_size=120) | st.builds(
    lambda mode, score, job: _cursor(f"{mode}:{score}:{job}"),
    st.sampled_from(["c", "u", "x", ""]),
    st.integers(-(10**400), 10**400).map(str) | st.text(max_size=8),
    st.sampled_from([UNKNOWN, "not-a-uuid", ""])))
def test_bad_cursor_is_400_never_500(api: Api, cursor: str) -> None:
    resp = api.request("GET", "/v1/jobs", params={"cursor": cursor})
    if resp.status_code == 200:  # a well-formed cursor for this listing (c:<int>:<uuid>)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        assert raw.startswith("c:") and raw.endswith(UNKNOWN)
        return
    assert_error(resp, 400)


@BOUNDED
@given(since=st.text(max_size=30) | st.floats().map(str)
       | st.integers(-(10**30), 10**30).map(str))
def test_updated_since_never_500(api: Api, since: str) -> None:
    resp = api.request("GET", "/v1/jobs", params={"updated_since": since})
    if resp.status_code != 200:
        assert_error(resp, 400)


@BOUNDED
@given(ids=st.lists(st.text(max_size=40) | st.just(UNKNOWN), max_size=120))
def test_bulk_status_ids_never_500(api: Api, ids: list[str]) -> None:
    resp = api.request("GET", "/v1/jobs/status", params={"ids": ",".join(ids)})
    if resp.status_code == 200:
        assert resp.json()["data"] == []  # none of them can be a job of this organization
    else:
        assert_error(resp, 400)


@BOUNDED
@given(fmt=st.text(max_size=10), detail=st.text(max_size=6))
def test_results_query_values_never_500(api: Api, fmt: str, detail: str) -> None:
    resp = api.request("GET", f"/v1/jobs/{UNKNOWN}/results",
                       params={"format": fmt, "detail": detail})
    assert_error(resp, 400, 404)


@BOUNDED
@given(key=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                   max_size=4000))
def test_unknown_keys_are_401_and_not_echoed(api: Api, key: str) -> None:
    resp = requests.get(api.server.url + "/v1/jobs", headers={"Api-Key": key}, timeout=30)
    if key.strip() == api.key:
        return
    assert_error(resp, 401)
    if len(key) >= 8:
        assert key not in resp.text


# ----------------------------------------------- patterns, control characters, padding
#: Pieces regular expressions are made of, RE2-runnable or not (backreferences, lookaround,
#: huge repetition counts), so generated patterns hit both sides of the RE2 check.
REGEX_PIECES = ["a", "b", "(", ")", "+", "*", "?", "|", ".", "^", "$", "[a-z]", "[", "]",
                "{2}", "{2,5}", "{1001}", r"\d", r"\w", r"\b", r"\1", "(?=", "(?!", "(?<=",
                "(?P<n>", "(?P=n)", "(?i)", "(?:", r"\Z", r"\z", "++", "\\"]
patterns = st.lists(st.sampled_from(REGEX_PIECES), min_size=1, max_size=12).map("".join) \
    | st.text(max_size=30)
control_chars = st.text(alphabet=st.characters(codec="utf-8", categories=["Cc"]),
                        min_size=1, max_size=3)
with_control = st.builds(lambda a, c, b: a + c + b, st.text(max_size=6), control_chars,
                         st.text(max_size=6))


def _re2_runs(pattern: str) -> bool:
    from shared.patterns import PatternRefused, compile_pattern

    try:
        compile_pattern(pattern)
    except PatternRefused:
        return False
    return True


@BOUNDED
@given(pattern=patterns)
def test_generated_patterns_are_accepted_exactly_when_re2_runs_them(api: Api,
                                                                    pattern: str) -> None:
    """A pattern reaches the worker only if RE2 (linear time) can run it; every other one is
    a 400 naming RE2, and nothing is stored."""
    body = valid_body()
    body["schema"]["fields"][2]["pattern"] = pattern
    if _re2_runs(pattern):
        resp = api.request("POST", "/v1/jobs", json=body)
        assert resp.status_code == 202, resp.text
        return
    resp = submit_rejected(api, 400, json=body)
    assert "RE2" in resp.json()["error"]["message"]


@BOUNDED
@given(value=with_control, where=st.sampled_from(["field", "filename", "name", "metadata",
                                                   "schema_name", "metadata_key"]))
def test_control_characters_are_refused_or_stored_harmlessly(api: Api, value: str,
                                                              where: str) -> None:
    """A control character in a field name is always 400 (a full match of the name rule);
    elsewhere it is data: accepted or refused cleanly, never a 5xx."""
    body = valid_body()
    if where == "field":
        body["schema"]["fields"][0]["name"] = "f" + value
        submit_rejected(api, 400, json=body)
        return
    if where == "filename":
        body["documents"][0]["filename"] = value
    elif where == "name":
        body["name"] = value
    elif where == "schema_name":
        body["schema"]["name"] = value
    elif where == "metadata":
        body["metadata"] = {"k": value}
    else:
        body["metadata"] = {value: "v"}
    before = api.stored()
    resp = api.request("POST", "/v1/jobs", json=body)
    if resp.status_code == 202:
        job = api.request("GET", f"/v1/jobs/{resp.json()['id']}")
        assert job.status_code == 200
        return
    assert_error(resp, 400)
    assert api.stored() == before


@BOUNDED
@given(value=control_chars, header=st.sampled_from(["Api-Key", "Authorization", "X-Request-Id"]))
def test_control_characters_in_headers_never_reach_a_5xx(api: Api, value: str,
                                                          header: str) -> None:
    """granian itself refuses most control characters in a header with a bare 400 (its
    documented limit); what it lets through (a tab) reaches the app and gets JSON."""
    host, port = "127.0.0.1", int(api.server.url.rsplit(":", 1)[1])
    raw = (f"GET /v1/jobs HTTP/1.1\r\nHost: {host}\r\n{header}: x{value}y\r\n"
           "Connection: close\r\n\r\n").encode()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    assert status in (200, 400, 401), data[:300]
    if status != 400 or b"\r\n\r\n{" in data:
        body = orjson.loads(data.partition(b"\r\n\r\n")[2])
        assert ("error" in body) == (status != 200)


@BOUNDED
@given(n=st.integers(LIMITS["max_document_bytes"] - 6, LIMITS["max_document_bytes"] + 6)
       | st.integers(1, 2 * LIMITS["max_document_bytes"]),
       fill=st.binary(min_size=1, max_size=1))
def test_base64_size_counts_the_padding(api: Api, n: int, fill: bytes) -> None:
    """Accepted exactly when the decoded size is within the limit, whatever padding the
    encoding needs; a 413 names the decoded size."""
    limit = LIMITS["max_document_bytes"]
    body = valid_body()
    body["documents"][1] = {"filename": "b.bin", "mime_type": "application/octet-stream",
                            "content_base64": base64.b64encode(fill * n).decode()}
    if n <= limit:
        resp = api.request("POST", "/v1/jobs", json=body)
        assert resp.status_code == 202, resp.text
        return
    resp = submit_rejected(api, 413, json=body)
    assert f"is {n} bytes decoded; the limit is {limit}" in resp.json()["error"]["message"]

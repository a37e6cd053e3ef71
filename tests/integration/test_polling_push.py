"""Conditional polls, long polls and server-sent events over real HTTP, on the production server.

The API here runs under ``api.server.server_argv`` (granian), as ``jobgrid up`` and
docker-compose run it, because the point of several tests is what that server choice buys:
open streams and long polls must not hold the workers that answer ordinary polls. Job changes
are written the way workers write them (``JobStore`` -> the Lua scripts, which publish).
No timings are asserted beyond generous "it answered at all / early" bounds.
"""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import requests
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiClient, ApiServer

from api.app import create_app
from api.server import server_argv
from jobgrid.procs import free_port, http_ok, tail
from shared import store as store_module
from shared.clock import now_ms
from shared.jobview import STALE_MIN_MS
from shared.status import JobStatus, Phase
from shared.store import JobStore

pytestmark = pytest.mark.integration

HEARTBEAT = 0.3
RUNNING_HINT, WAITING_HINT = 0.5, 1.5


class ProductionApi(ApiServer):
    """The API under ``server_argv`` (the production command) instead of the fixture's own
    command line; the rest (log capture, clients, stop) is ApiServer's."""

    def start(self, ready_timeout: float = 30.0) -> ProductionApi:
        self.port = free_port()
        self.env = self.settings_env.child_env({"JOBGRID_BASE_URL": self.url})
        self.argv = server_argv("127.0.0.1", self.port, self.workers, access_log=True)
        self._spawn()
        deadline = time.monotonic() + ready_timeout
        while not http_ok(self.url + "/healthz", timeout=0.5):
            problem = self.exited_message()
            if problem or time.monotonic() > deadline:
                self.stop(timeout=2)
                raise RuntimeError(problem or f"api not healthy\n{tail(self.log_path, 60)}")
            time.sleep(0.05)
        return self


@dataclass
class Stack:
    api: ProductionApi
    env: SettingsEnv
    redis: redis.Redis
    key: str
    org: str
    clients: list[ApiClient] = field(default_factory=list)

    @property
    def store(self) -> JobStore:
        return JobStore(self.redis, self.env.settings)

    def client(self, key: str | None = None) -> ApiClient:
        c = ApiClient(self.api.url, key or self.key)
        self.clients.append(c)
        return c

    def start_running(self, job_id: str, **extra: str | int) -> None:
        """What the worker does when execution starts."""
        self.store.transition(job_id, self.org, [JobStatus.VALIDATING],
                              status=JobStatus.IN_PROGRESS, phase=Phase.EXECUTE,
                              extra={"started_at": now_ms(), "exec_started_at": now_ms(),
                                     **extra})

    def record(self, job_id: str, index: int) -> None:
        row = {"document": {"index": index, "filename": f"doc{index}.txt"},
               "status": "completed", "values": {}, "confidence": {}, "error": None}
        self.store.record_document(job_id, self.org, index, row, failed=False, filled=2,
                                   empty=1)

    def complete(self, job_id: str) -> None:
        self.store.transition(job_id, self.org, [JobStatus.IN_PROGRESS],
                              status=JobStatus.COMPLETED, phase=Phase.FINALIZE)


@pytest.fixture(scope="module")
def stack(make_settings: Callable[..., SettingsEnv], redis_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from shared.apikeys import create_api_key

    env = make_settings(isolated=True, sse_heartbeat_seconds=HEARTBEAT,
                        poll_after_seconds=RUNNING_HINT, poll_after_queued_seconds=WAITING_HINT,
                        api_key_cache_seconds=30)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    org = f"org_{uuid.uuid4().hex[:8]}"
    key = create_api_key(client, env.settings, org, "pytest")
    api = ProductionApi(env, Path(tmp_path_factory.mktemp("push")) / "api.log", workers=1)
    api.start()
    s = Stack(api, env, client, key, org)
    try:
        yield s
    finally:
        for c in s.clients:
            c.close()
        api.close()
        client.close()


@pytest.fixture
def api(stack: Stack) -> ApiClient:
    return stack.client()


def new_job(api: ApiClient, n: int = 2) -> dict[str, Any]:
    return api.submit(job_body(n))


# ------------------------------------------------------------------ SSE client
@dataclass
class Event:
    id: int | None
    event: str
    data: dict[str, Any]


class SseClient:
    """A minimal EventSource: reads one event (or comment) at a time off a raw response."""

    def __init__(self, base_url: str, path: str, headers: dict[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream",
                                                **(headers or {})})
        self.resp = self.conn.getresponse()
        self.comments: list[str] = []

    def next_event(self) -> Event | None:
        """The next event, None when the server closed the stream."""
        fields: dict[str, str] = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if text == "":
                if "data" in fields:
                    raw_id = fields.get("id")
                    data: dict[str, Any] = orjson.loads(fields["data"])
                    return Event(int(raw_id) if raw_id else None, fields.get("event", ""), data)
                continue
            if text.startswith(":"):
                self.comments.append(text)
                continue
            name, _, value = text.partition(":")
            fields[name] = value.removeprefix(" ")

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def sse(stack: Stack) -> Iterator[Callable[..., SseClient]]:
    opened: list[SseClient] = []

    def factory(job_id: str, headers: dict[str, str] | None = None, query: str = "",
                use_key: bool = True) -> SseClient:
        hdrs = {"Api-Key": stack.key} if use_key else {}
        c = SseClient(stack.api.url, f"/v1/jobs/{job_id}/events{query}", {**hdrs,
                                                                          **(headers or {})})
        opened.append(c)
        return c

    yield factory
    for c in opened:
        c.close()


# ------------------------------------------------------------- conditional polls
def test_status_and_full_job_answer_304_to_their_etag(stack: Stack, api: ApiClient) -> None:
    job = new_job(api)
    for path in (f"/v1/jobs/{job['id']}/status", f"/v1/jobs/{job['id']}"):
        first = api.get(path)
        etag = first.headers["ETag"]
        assert first.status_code == 200 and etag == '"1-validating"'
        assert first.headers["Cache-Control"] == "no-cache"
        same = api.get(path, headers={"If-None-Match": etag})
        assert same.status_code == 304 and same.content == b""
        assert same.headers["ETag"] == etag and same.headers["X-RateLimit-Remaining"]
    stack.start_running(job["id"])
    for path in (f"/v1/jobs/{job['id']}/status", f"/v1/jobs/{job['id']}"):
        changed = api.get(path, headers={"If-None-Match": '"1-validating"'})
        assert changed.status_code == 200 and changed.headers["ETag"] == '"2-in_progress"'
        assert changed.json()["version"] == 2


def test_poll_hint_while_waiting_running_and_none_once_terminal(stack: Stack,
                                                                api: ApiClient) -> None:
    job = new_job(api)
    status = f"/v1/jobs/{job['id']}/status"
    assert float(api.get(status).headers["X-Poll-After"]) == WAITING_HINT
    stack.start_running(job["id"])
    assert float(api.get(status).headers["X-Poll-After"]) == RUNNING_HINT
    assert float(api.get(f"/v1/jobs/{job['id']}").headers["X-Poll-After"]) == RUNNING_HINT
    stack.complete(job["id"])
    for path in (status, f"/v1/jobs/{job['id']}"):
        done = api.get(path)
        assert done.json()["status"] == "completed" and "X-Poll-After" not in done.headers


#: Headers that differ between any two requests (per request, or counted one apart).
PER_REQUEST = frozenset({"date", "x-request-id", "x-ratelimit-remaining"})


def assert_same_answer(fast: requests.Response, via_flask: requests.Response,
                       skip: frozenset[str] = PER_REQUEST) -> None:
    """Same status, same body bytes, same headers (names in any case) but ``skip``."""
    assert fast.status_code == via_flask.status_code
    assert fast.content == via_flask.content
    assert {k.lower(): v for k, v in fast.headers.items() if k.lower() not in skip} == \
        {k.lower(): v for k, v in via_flask.headers.items() if k.lower() not in skip}
    for answer in (fast, via_flask):
        assert len(answer.headers["X-Request-Id"]) == 32
        assert answer.headers["X-RateLimit-Remaining"].isdigit()


def test_fast_path_and_flask_path_answer_alike(stack: Stack, api: ApiClient) -> None:
    """The cached-key header request takes api.hotpath; ?access_token= goes through Flask:
    200, 304 and 404 compared whole (429: the test below)."""
    job = new_job(api)
    stack.start_running(job["id"])
    path = f"/v1/jobs/{job['id']}/status"
    api.get(path)  # caches the key
    anonymous = ApiClient(stack.api.url, None)
    stack.clients.append(anonymous)
    token = {"access_token": stack.key}
    fast = api.get(path)
    via_flask = anonymous.get(path, params=token)
    assert fast.status_code == 200 and fast.json() == via_flask.json()
    assert_same_answer(fast, via_flask)
    etag = {"If-None-Match": fast.headers["ETag"]}
    fast = api.get(path, headers=etag)
    via_flask = anonymous.get(path, params=token, headers=etag)
    assert fast.status_code == 304 and fast.content == b""
    assert_same_answer(fast, via_flask)
    missing = f"/v1/jobs/{uuid.uuid4()}/status"
    fast = api.get(missing)
    via_flask = anonymous.get(missing, params=token)
    assert fast.status_code == 404 and fast.json()["error"]["code"] == "not_found"
    assert_same_answer(fast, via_flask)
    assert fast.headers["X-RateLimit-Limit"] and fast.headers["X-Request-Id"]
    mine = api.get(path, headers={"X-Request-Id": "trace-12345678"})
    assert mine.headers["X-Request-Id"] == "trace-12345678"
    other = stack.client(key=f"{uuid.uuid4()}").get(path)
    assert other.status_code == 401


def test_fast_path_and_flask_path_refuse_alike(
        make_settings: Callable[..., SettingsEnv], redis_url: str, tmp_path: Path) -> None:
    """Over the rate limit both paths answer the same 429: body, Retry-After, X-RateLimit-*.

    The limit is small so the key runs out at once; the pair is taken again if its two
    requests straddled a second (Retry-After and the message count whole seconds)."""
    from shared.apikeys import create_api_key

    limit = 3
    env = make_settings(isolated=True, rate_limit_requests=limit,
                        rate_limit_window_seconds=3600, api_key_cache_seconds=30)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    key = create_api_key(client, env.settings, f"org_{uuid.uuid4().hex[:8]}", "pytest")
    server = ProductionApi(env, tmp_path / "api.log", workers=1).start()
    api, anonymous = ApiClient(server.url, key), ApiClient(server.url, None)
    try:
        path = f"/v1/jobs/{api.submit(job_body(1))['id']}/status"  # counted; caches the key
        assert [api.get(path).status_code for _ in range(limit)] == [200] * (limit - 1) + [429]
        for _ in range(5):
            second = int(time.time())
            fast = api.get(path)
            via_flask = anonymous.get(path, params={"access_token": key})
            if int(time.time()) == second:
                break
        assert fast.status_code == 429 and fast.json()["error"]["code"] == "rate_limited"
        assert_same_answer(fast, via_flask, skip=frozenset({"date", "x-request-id"}))
        assert fast.headers["X-RateLimit-Remaining"] == "0"
        assert fast.headers["X-RateLimit-Limit"] == str(limit)
        assert int(fast.headers["Retry-After"]) >= 1
    finally:
        api.close()
        anonymous.close()
        server.close()
        client.close()


# ---------------------------------------------------------------------- long poll
def test_long_poll_answers_as_soon_as_the_job_changes(stack: Stack, api: ApiClient) -> None:
    job = new_job(api)
    out: dict[str, Any] = {}

    def poll() -> None:
        t0 = time.monotonic()
        out["resp"] = api.get(f"/v1/jobs/{job['id']}/status",
                              params={"wait": 20, "version": 1})
        out["took"] = time.monotonic() - t0

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive()  # still waiting: nothing changed yet
    stack.start_running(job["id"])
    waiter.join(15)
    assert out["resp"].status_code == 200 and out["resp"].json()["version"] == 2
    assert out["resp"].json()["status"] == "in_progress"
    assert out["took"] < 10  # woken by the change, not by the 20 s wait


def test_long_poll_ends_with_the_unchanged_job(stack: Stack, api: ApiClient) -> None:
    job = new_job(api)
    t0 = time.monotonic()
    resp = api.get(f"/v1/jobs/{job['id']}/status", params={"wait": 1})
    assert 0.9 <= time.monotonic() - t0 < 8
    assert resp.status_code == 200 and resp.json()["version"] == 1
    assert resp.headers["ETag"] == '"1-validating"'
    stale = api.get(f"/v1/jobs/{job['id']}/status", params={"wait": 5, "version": 0})
    assert stale.json()["version"] == 1  # already newer than 0: answered at once
    stack.start_running(job["id"])
    stack.complete(job["id"])
    t0 = time.monotonic()
    done = api.get(f"/v1/jobs/{job['id']}/status", params={"wait": 30, "version": 99})
    assert done.json()["status"] == "completed" and time.monotonic() - t0 < 5


@pytest.mark.parametrize("query", [{"wait": "soon"}, {"wait": "-1"}, {"wait": "61"},
                                   {"wait": "nan"}, {"wait": "5", "version": "x"},
                                   {"wait": "5", "version": "1.5"}])
def test_bad_long_poll_values_are_400(api: ApiClient, query: dict[str, str]) -> None:
    job = new_job(api, 1)
    resp = api.get(f"/v1/jobs/{job['id']}/status", params=query)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "validation_error"


# --------------------------------------------------------------------------- SSE
def test_sse_streams_every_change_and_closes_after_the_terminal_event(
        stack: Stack, api: ApiClient, sse: Callable[..., SseClient]) -> None:
    job = new_job(api)
    stream = sse(job["id"])
    assert stream.resp.status == 200
    assert stream.resp.getheader("Content-Type", "").startswith("text/event-stream")
    assert stream.resp.getheader("Cache-Control") == "no-cache"
    assert stream.resp.getheader("X-Accel-Buffering") == "no"
    first = stream.next_event()
    assert first is not None and (first.id, first.event) == (1, "status")
    assert first.data["status"] == "validating" and first.data["id"] == job["id"]
    stack.start_running(job["id"])
    stack.record(job["id"], 0)
    stack.record(job["id"], 1)
    stack.complete(job["id"])
    seen = []
    while (ev := stream.next_event()) is not None:
        seen.append(ev)
    ids = [e.id or 0 for e in seen]
    assert ids == sorted(set(ids))  # in order, no duplicates
    assert seen[-1].data["status"] == "completed" and seen[-1].id == 5
    assert all(e.data["version"] == e.id for e in seen)


def test_sse_resumes_from_last_event_id(stack: Stack, api: ApiClient,
                                        sse: Callable[..., SseClient]) -> None:
    job = new_job(api)
    stack.start_running(job["id"])  # version 2
    stream = sse(job["id"], headers={"Last-Event-ID": "2"})
    assert stream.resp.status == 200
    stack.record(job["id"], 0)
    ev = stream.next_event()
    assert ev is not None and ev.id == 3  # version 2 was not sent again
    older = sse(job["id"], headers={"Last-Event-ID": "1"})
    ev = older.next_event()
    assert ev is not None and ev.id == 3  # behind: gets the current state at once
    stack.record(job["id"], 1)
    stack.complete(job["id"])
    final = sse(job["id"], headers={"Last-Event-ID": "5"})
    assert final.resp.status == 204  # up to date and terminal: EventSource stops
    replay = sse(job["id"], headers={"Last-Event-ID": "4"})
    ev = replay.next_event()
    assert ev is not None and ev.id == 5 and replay.next_event() is None


def test_sse_with_access_token_heartbeats_and_one_rate_count(
        stack: Stack, api: ApiClient, sse: Callable[..., SseClient]) -> None:
    job = new_job(api)
    before = int(api.get(f"/v1/jobs/{job['id']}/status").headers["X-RateLimit-Remaining"])
    stream = sse(job["id"], query=f"?access_token={stack.key}", use_key=False)
    assert stream.resp.status == 200
    assert stream.next_event() is not None
    stack.start_running(job["id"])
    assert stream.next_event() is not None
    time.sleep(HEARTBEAT * 3)  # quiet: only heartbeats are sent meanwhile
    stack.record(job["id"], 0)
    assert stream.next_event() is not None
    assert ": heartbeat" in stream.comments
    after = int(api.get(f"/v1/jobs/{job['id']}/status").headers["X-RateLimit-Remaining"])
    assert before - after == 2  # the stream counted once, whatever it sent; then this poll


def test_sse_errors_are_json_before_the_stream(stack: Stack, api: ApiClient,
                                               sse: Callable[..., SseClient]) -> None:
    foreign = stack.client(key="-")
    from shared.apikeys import create_api_key

    other_key = create_api_key(stack.redis, stack.env.settings, "org_other", "pytest")
    theirs = ApiClient(stack.api.url, other_key)
    stack.clients.append(theirs)
    job = theirs.submit(job_body(1))
    for resp in (api.get(f"/v1/jobs/{job['id']}/events"),
                 api.get(f"/v1/jobs/{uuid.uuid4()}/events")):
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
        assert resp.headers["Content-Type"].startswith("application/json")
    assert api.get("/v1/jobs/nope/events").status_code == 400
    assert foreign.get(f"/v1/jobs/{job['id']}/events").status_code == 401


def test_open_streams_and_long_polls_do_not_block_ordinary_polls(
        stack: Stack, api: ApiClient, sse: Callable[..., SseClient]) -> None:
    """One API process holds 50 streams and 10 long polls and still answers 20 polls."""
    job = new_job(api)
    streams = [sse(job["id"]) for _ in range(50)]
    assert all(s.resp.status == 200 for s in streams)
    with ThreadPoolExecutor(max_workers=30) as pool:
        waits = [pool.submit(stack.client().get, f"/v1/jobs/{job['id']}/status",
                             params={"wait": 20, "version": 1}) for _ in range(10)]
        time.sleep(0.3)
        polls = [pool.submit(stack.client().get, f"/v1/jobs/{job['id']}/status", timeout=10)
                 for _ in range(20)]
        answers = [p.result(timeout=15) for p in polls]
        assert [a.status_code for a in answers] == [200] * 20
        assert not any(w.done() for w in waits)  # the long polls are still waiting
        stack.start_running(job["id"])
        assert all(w.result(timeout=15).json()["version"] == 2 for w in waits)
    for s in streams[:5]:
        assert (ev := s.next_event()) is not None and ev.id == 1


def test_eta_is_an_estimate_while_running_and_null_when_terminal(stack: Stack,
                                                                 api: ApiClient) -> None:
    job = new_job(api, 4)
    path = f"/v1/jobs/{job['id']}"
    assert api.get(path).json()["estimated_seconds_remaining"] is None
    stack.start_running(job["id"], exec_started_at=now_ms() - 2000)
    assert api.get(path).json()["estimated_seconds_remaining"] is None  # nothing done yet
    stack.record(job["id"], 0)
    eta = api.get(path).json()["estimated_seconds_remaining"]
    assert isinstance(eta, int) and 3 <= eta <= 60  # 1 doc in ~2 s, 3 to go: about 6 s
    stack.complete(job["id"])
    assert api.get(path).json()["estimated_seconds_remaining"] is None


def test_a_job_that_goes_quiet_says_what_it_waits_for_without_a_write(
        stack: Stack, api: ApiClient, sse: Callable[..., SseClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``waiting_for`` turns on by time alone (no write, same version): the event stream and
    a long poll answer at that moment, a conditional poll with the old ETag gets 200 and a
    new ETag (not a stale 304), and the full job withdraws its estimate at the same time."""
    job = new_job(api, 12)
    status_path, full_path = f"/v1/jobs/{job['id']}/status", f"/v1/jobs/{job['id']}"
    quiet = now_ms() + 3000  # the job stops moving 3 s from now
    last = quiet - STALE_MIN_MS
    # the workers' writes as if made at ``last`` (the job's past, without waiting it out):
    # 10 documents in 10 s, then a lost worker node's documents re-sent
    monkeypatch.setattr(store_module, "now_ms", lambda: last)
    stack.start_running(job["id"], exec_started_at=last - 10_000)
    for i in range(10):
        stack.record(job["id"], i)
    stack.store.transition(job["id"], stack.org, [JobStatus.IN_PROGRESS],
                           extra={"last_failure_code": "worker_lost"})
    monkeypatch.undo()

    moving = api.get(status_path)
    version = moving.json()["version"]
    assert moving.json()["waiting_for"] is None and now_ms() < quiet, "setup took > 3 s"
    assert moving.headers["ETag"] == f'"{version}-in_progress"'
    full = api.get(full_path).json()
    assert full["waiting_for"] is None and isinstance(full["estimated_seconds_remaining"], int)
    stream = sse(job["id"])
    first = stream.next_event()
    assert first is not None and first.data["waiting_for"] is None
    with ThreadPoolExecutor(max_workers=1) as pool:
        t0 = time.monotonic()
        long_poll = pool.submit(stack.client().get, status_path,
                                params={"wait": 20, "version": version}, timeout=30)
        ev = stream.next_event()  # sent when the rule fires, with the same version as id
        assert ev is not None and ev.id == version and now_ms() > quiet
        assert ev.data["waiting_for"] == "rescue" and ev.data["version"] == version
        answer = long_poll.result(timeout=25)
        assert time.monotonic() - t0 < 10  # woken at that moment, not at the 20 s end
    assert answer.status_code == 200 and answer.json()["waiting_for"] == "rescue"
    assert answer.json()["version"] == version

    again = api.get(status_path, headers={"If-None-Match": moving.headers["ETag"]})
    assert again.status_code == 200 and again.json()["waiting_for"] == "rescue"
    assert again.headers["ETag"] == f'"{version}-in_progress-rescue"'
    assert api.get(status_path, headers={"If-None-Match": again.headers["ETag"]}
                   ).status_code == 304
    # a long poll from a client that saw the job before it went quiet (same version, old
    # ETag) answers at once; with the current ETag it waits for a change as usual
    t0 = time.monotonic()
    stale = stack.client().get(status_path, params={"wait": 20, "version": version},
                               headers={"If-None-Match": moving.headers["ETag"]}, timeout=30)
    assert time.monotonic() - t0 < 5 and stale.status_code == 200
    assert stale.json()["waiting_for"] == "rescue"
    assert stack.client().get(status_path, params={"wait": 0.5, "version": version},
                              headers={"If-None-Match": again.headers["ETag"]}
                              ).status_code == 304
    full_resp = api.get(full_path, headers={"If-None-Match": moving.headers["ETag"]})
    assert full_resp.status_code == 200 and full_resp.headers["ETag"] == again.headers["ETag"]
    assert full_resp.json()["waiting_for"] == "rescue"
    assert full_resp.json()["estimated_seconds_remaining"] is None
    with requests.Session() as page:  # the dashboard shows the field where the ETA would be
        base = stack.api.url
        assert page.post(base + "/dashboard/login", data={"api_key": stack.key},
                         headers={"Origin": base}, allow_redirects=False).status_code == 303
        html = page.get(f"{base}/dashboard/jobs/{job['id']}").text
        assert 'id="eta">waiting for rescue</span>' in html

    # a client reconnecting with the version as Last-Event-ID may have seen it only before
    # the pause (same id): it is told the waiting state at once
    resumed = sse(job["id"], headers={"Last-Event-ID": str(version)})
    ev = resumed.next_event()
    assert ev is not None and ev.id == version and ev.data["waiting_for"] == "rescue"

    stack.record(job["id"], 10)  # the next document: moving again
    ev = stream.next_event()
    assert ev is not None and ev.id == version + 1 and ev.data["waiting_for"] is None
    assert api.get(status_path).headers["ETag"] == f'"{version + 1}-in_progress"'


# ------------------------------------------------------------- one round trip
class CountingConnection(redis.Connection):
    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def test_bulk_status_of_100_jobs_is_one_redis_round_trip(
        make_settings: Callable[..., SettingsEnv],
        make_api_key: Callable[..., tuple[str, str]]) -> None:
    env = make_settings(isolated=True, api_key_cache_seconds=60)
    app = create_app(env.settings)
    svc = app.extensions["jobgrid"]
    svc.redis.connection_pool.connection_class = CountingConnection
    svc.redis.connection_pool.disconnect()
    key, _ = make_api_key(settings=env)
    client = app.test_client()
    headers = {"Api-Key": key}
    ids = [client.post("/v1/jobs", json=job_body(1), headers=headers).get_json()["id"]
           for _ in range(60)]
    ids += [str(uuid.uuid4()) for _ in range(40)]
    query = "/v1/jobs/status?ids=" + ",".join(ids)
    assert client.get(query, headers=headers).status_code == 200  # warm: script loaded
    before = CountingConnection.sent
    body = client.get(query, headers=headers).get_json()
    assert CountingConnection.sent - before == 1
    assert len(body["data"]) == 60 and len(body["missing"]) == 40
    before = CountingConnection.sent
    assert client.get(f"/v1/jobs/{ids[0]}/status", headers=headers).status_code == 200
    assert CountingConnection.sent - before == 1  # the fast path too


def test_stream_ends_cleanly_when_redis_goes_away(
        private_redis: Callable[..., Any], tmp_path: Path,
        make_settings: Callable[..., SettingsEnv]) -> None:
    from shared.apikeys import create_api_key

    srv = private_redis(appendonly=False)
    env = make_settings(isolated=True, redis_url=srv.url, sse_heartbeat_seconds=HEARTBEAT)
    client = redis.Redis.from_url(srv.url, decode_responses=True)
    key = create_api_key(client, env.settings, "org_blip", "pytest")
    api = ProductionApi(env, tmp_path / "api.log", workers=1).start()
    try:
        job = ApiClient(api.url, key).submit(job_body(1))
        stream = SseClient(api.url, f"/v1/jobs/{job['id']}/events", {"Api-Key": key})
        assert stream.next_event() is not None
        srv.stop()
        t0 = time.monotonic()
        while stream.next_event() is not None:  # a socket timeout here fails the test
            pass
        assert time.monotonic() - t0 < 10  # the server ended the stream
        stream.close()
        log = api.log_text()
        assert "Traceback" not in log and "event stream of job" in log
    finally:
        api.close()
        client.close()


def test_held_requests_past_the_cap_are_503_and_a_gone_client_frees_its_thread(
        redis_url: str, tmp_path: Path, make_settings: Callable[..., SettingsEnv]) -> None:
    """Each open stream or waiting long poll holds one of the server's threads, so a process
    holds at most ``max_held_requests``: one more answers 503 with Retry-After while ordinary
    polls still answer, and a stream whose client went away gives its place back (the server
    closes the stream's iterator once a heartbeat finds the socket closed)."""
    from shared.apikeys import create_api_key

    env = make_settings(isolated=True, sse_heartbeat_seconds=HEARTBEAT, max_held_requests=2,
                        held_reserve=0)  # one key may fill it (shares: test_hostile_clients)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    key = create_api_key(client, env.settings, f"org_{uuid.uuid4().hex[:8]}", "pytest")
    api = ProductionApi(env, tmp_path / "api.log", workers=1).start()
    streams: list[SseClient] = []
    try:
        poller = ApiClient(api.url, key)
        job = poller.submit(job_body(1))
        path = f"/v1/jobs/{job['id']}/events"
        streams = [SseClient(api.url, path, {"Api-Key": key}) for _ in range(2)]
        assert all(s.next_event() is not None for s in streams)

        refused = poller.get(f"/v1/jobs/{job['id']}/status", params={"wait": 5})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "unavailable"
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["X-Request-Id"] and refused.headers["X-RateLimit-Limit"]
        extra = poller.get(path, stream=True)
        assert extra.status_code == 503 and extra.json()["error"]["code"] == "unavailable"
        assert poller.get(f"/v1/jobs/{job['id']}/status").status_code == 200

        streams.pop().close()  # the client goes away without a word
        deadline = time.monotonic() + 10
        while True:
            again = poller.get(f"/v1/jobs/{job['id']}/status", params={"wait": 0})
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(HEARTBEAT)
        assert again.status_code == 200, "the closed stream never gave its place back"
        assert "Traceback" not in api.log_text()
    finally:
        for s in streams:
            s.close()
        api.close()
        client.close()

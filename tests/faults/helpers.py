"""What the fault tests share: an isolated stack with the fault-injecting extractor, waits on
conditions (never bare sleeps), and the exact-count checks every fault test ends with.

Every stack is isolated (its own key prefix: own jobs, own Celery queues), so a test's
killed workers and restarted Redis never touch another test's state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis
from support.env import API_KEY_A, SettingsEnv
from support.servers import ApiClient, ApiServer, WorkerProcess

TESTS_DIR = Path(__file__).resolve().parents[1]
FAULTY = "support.extractors:FaultyExtractor"
#: Short enough that a message lost with its worker comes back within seconds in a test;
#: production keeps kombu's 3600 s (see docs/reliability.md).
TEST_VISIBILITY_TIMEOUT = 4
T = TypeVar("T")


def faulty_env(delay_ms: int = 0, transient_fails: int = 0, **extra: str) -> dict[str, str]:
    """Worker environment that loads ``support.extractors:FaultyExtractor`` with these faults."""
    return {"PYTHONPATH": str(TESTS_DIR), "JOBGRID_TEST_DELAY_MS": str(delay_ms),
            "JOBGRID_TEST_TRANSIENT_FAILS": str(transient_fails), **extra}


def wait_until(
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Calls ``probe`` until it returns something truthy, and returns that; raises
    TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not reached after {timeout:.0f}s (last probe: {last!r})")
        time.sleep(interval)


@dataclass
class FaultStack:
    """One isolated stack: API, a Redis client on the same Redis, workers started on demand."""

    env: SettingsEnv
    api: ApiServer
    start_worker_fn: Callable[..., WorkerProcess]
    worker_env: dict[str, str]
    concurrency: int = 2
    workers: list[WorkerProcess] = field(default_factory=list)
    _redis: redis.Redis | None = None

    @property
    def client(self) -> ApiClient:
        return self.api.client()

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.env.redis_url, decode_responses=True,
                                               socket_timeout=5, socket_connect_timeout=5)
        return self._redis

    @property
    def prefix(self) -> str:
        return self.env.key_prefix

    def start_worker(self, **kwargs: Any) -> WorkerProcess:
        kwargs.setdefault("concurrency", self.concurrency)
        kwargs.setdefault("extra_env", self.worker_env)
        kwargs.setdefault("ready_timeout", 60)
        w = self.start_worker_fn(self.env, **kwargs)
        self.workers.append(w)
        return w


def fault_stack(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
    *,
    worker_env: Mapping[str, str] | None = None,
    concurrency: int = 2,
    api_workers: int = 1,
    **overrides: Any,
) -> FaultStack:
    """An isolated API (no worker yet) whose workers load the fault-injecting extractor."""
    overrides.setdefault("extractor", FAULTY)
    env = make_settings(isolated=True, **overrides)
    api = start_api(env, workers=api_workers, threads=16)
    return FaultStack(env, api, worker_process, dict(worker_env or faulty_env()), concurrency)


def status(client: ApiClient, job_id: str) -> dict[str, Any]:
    resp = client.get(f"/v1/jobs/{job_id}/status")
    assert resp.status_code == 200, f"{resp.status_code}: {resp.text}"
    body: dict[str, Any] = resp.json()
    return body


def wait_progress(client: ApiClient, job_id: str, at_least: int, timeout: float) -> dict[str, Any]:
    """Until ``completed_documents >= at_least`` or the job is terminal."""
    def probe() -> dict[str, Any] | None:
        s = status(client, job_id)
        done = s["completed_documents"] >= at_least or s["status"] in TERMINAL
        return s if done else None
    return wait_until(probe, timeout, f"job {job_id} reaching {at_least} documents")


TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})


def assert_exact(client: ApiClient, job_id: str, n_docs: int, n_fields: int = 3,
                 failed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The invariants every fault must leave intact; returns (full job, result rows)."""
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "completed", job
    assert job["document_count"] == n_docs
    assert job["completed_documents"] == n_docs - failed, job
    assert job["failed_documents"] == failed, job
    grid = job["grid_stats"]
    assert grid["total_cells"] == n_docs * n_fields
    assert grid["filled"] + grid["empty"] == grid["total_cells"], grid
    assert job["progress"] == 100
    res = client.get(f"/v1/jobs/{job_id}/results").json()
    rows = res["rows"]
    assert res["total_rows"] == n_docs
    assert [r["document"]["index"] for r in rows] == list(range(n_docs))
    assert sum(r["status"] == "failed" for r in rows) == failed
    assert not [r for r in rows if r["status"] == "pending"]
    filled = sum(v is not None for r in rows for v in r["values"].values())
    assert filled == grid["filled"], (filled, grid)
    return job, rows


def assert_invoice_values(rows: list[dict[str, Any]], skip: frozenset[int] = frozenset()) -> None:
    """Each completed row holds the values of its own ``support.payloads.invoice_text``."""
    for r in rows:
        i = r["document"]["index"]
        if i in skip:
            continue
        assert r["status"] == "completed", r
        assert r["values"]["invoice_number"] == f"INV-{1000 + i}", r
        assert r["values"]["total"] == 100 + i + 0.5, r


def count_keys(r: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in r.scan_iter(match=pattern, count=1000))


@dataclass(frozen=True)
class Answer:
    at: float  # monotonic, when the request was sent
    status: int  # HTTP status; 0 for a client-side exception (timeout, reset)
    elapsed: float
    code: str | None  # error.code of an error body
    retry_after: str | None
    error: str | None = None  # the exception, when status == 0
    path: str = ""
    thread: int = 0
    version: int | None = None  # of a 200 single-job status body


class Poller:
    """Background threads polling ``paths`` round robin at about ``rate`` requests/s in total.

    Records every answer; ``stop()`` joins the threads. Used to prove the API keeps answering
    (and how) while faults happen underneath it.
    """

    def __init__(self, api: ApiServer, paths: list[str], rate: float, threads: int = 2,
                 timeout: float = 15.0, api_key: str = API_KEY_A) -> None:
        self.paths = paths
        self.interval = threads / rate
        self.timeout = timeout
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._clients = [ApiClient(api.url, api_key, timeout=timeout) for _ in range(threads)]
        self._threads = [threading.Thread(target=self._run, args=(c, i), daemon=True)
                         for i, c in enumerate(self._clients)]

    def __enter__(self) -> Poller:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Answer]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)
        for c in self._clients:
            c.close()
        return self.answers

    def _run(self, client: ApiClient, offset: int) -> None:
        n = offset
        next_at = time.monotonic()
        while not self._stop.is_set():
            path = self.paths[n % len(self.paths)]
            n += 1
            started = time.monotonic()
            try:
                resp = client.get(path)
                elapsed = time.monotonic() - started
                code, version = None, None
                try:
                    body = resp.json()
                except ValueError:
                    body = None
                if resp.status_code >= 400:
                    try:
                        code = body["error"]["code"]
                    except (KeyError, TypeError):
                        code = "<not a JSON error body>"
                elif isinstance(body, dict) and isinstance(body.get("version"), int):
                    version = body["version"]
                answer = Answer(started, resp.status_code, elapsed, code,
                                resp.headers.get("Retry-After"), None, path, offset, version)
            except Exception as e:  # noqa: BLE001 - recorded and asserted on by the test
                answer = Answer(started, 0, time.monotonic() - started, None, None, repr(e),
                                path, offset)
            with self._lock:
                self.answers.append(answer)
            next_at = max(next_at + self.interval, time.monotonic() - 1.0)
            pause = next_at - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)

    def rate(self) -> float:
        if len(self.answers) < 2:
            return 0.0
        span = self.answers[-1].at - self.answers[0].at
        return len(self.answers) / span if span > 0 else 0.0


def unacked_count(stack: FaultStack) -> int:
    return int(stack.redis.hlen(f"{stack.prefix}:q:unacked"))


def restore_unacked_now(stack: FaultStack, timeout: float = 20.0) -> int:
    """Runs kombu's restore sweep now, as if every unacked message had passed its visibility
    timeout; returns how many there were. Used after a fault that may strand a message (an
    ack lost in an outage), to prove its late redelivery is harmless without waiting 1 h."""
    from shared.celery_config import make_celery

    stranded = unacked_count(stack)
    if not stranded:
        return 0
    app = make_celery(stack.env.replace(visibility_timeout=1).settings, name="jobgrid-test-restore")
    try:
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            time.sleep(1.1)  # older than the 1 s visibility timeout of this connection

            def sweep() -> bool:
                channel.qos.restore_visible(num=1000, interval=1)
                return unacked_count(stack) == 0

            wait_until(sweep, timeout, "restoring unacked messages", interval=0.5)
    finally:
        app.close()
    return stranded

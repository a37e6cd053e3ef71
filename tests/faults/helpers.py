"""What the fault tests share: an isolated stack with the fault-injecting extractor, waits on
conditions (never bare sleeps), and the exact-count checks every fault test ends with.

Every stack is isolated (its own key prefix: own jobs, own Celery queues), so a test's
killed workers and restarted Redis never touch another test's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis

from support.env import SettingsEnv
from support.payloads import invoice_text
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
    """Calls ``probe`` until it returns something truthy (returned); TimeoutError after ``timeout``."""
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
    """Each completed row holds the values of its own document (``support.payloads``)."""
    for r in rows:
        i = r["document"]["index"]
        if i in skip:
            continue
        assert r["status"] == "completed", r
        assert r["values"]["invoice_number"] == f"INV-{1000 + i}", r
        assert r["values"]["total"] == 100 + i + 0.5, r
    assert invoice_text(0)  # the texts these values come from


def count_keys(r: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in r.scan_iter(match=pattern, count=1000))

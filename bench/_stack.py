"""Starts the parts a benchmark measures (private Redis, Celery workers) and reads Redis stats."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from jobgrid.embedded_redis import EmbeddedRedis
from jobgrid.procs import spawn, stop_groups
from shared import queues as q
from shared.celery_config import make_celery
from shared.models import JobCreate
from shared.settings import Settings
from shared.store import JobStore

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def invoice(i: int) -> str:
    return (f"ACME Corp\nInvoice No: INV-{i}\nDate: 2024-09-{i % 28 + 1:02d}\n"
            f"Total: {100 + i}.50\nCustomer email: billing{i}@example.com\n")


def job_request(n: int) -> JobCreate:
    return JobCreate.model_validate({
        "name": f"bench {n}",
        "schema": {"name": "Invoice", "fields": [
            {"name": "invoice_number", "aliases": ["Invoice No"]},
            {"name": "total", "type": "number"}, {"name": "issue_date", "type": "date",
                                                  "aliases": ["Date"]},
            {"name": "customer_email", "type": "email"}]},
        "documents": [{"filename": f"d{i}.txt", "text": invoice(i)} for i in range(n)],
    })


@contextmanager
def private_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as srv:
        yield srv


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBGRID_")}
    env.update({"JOBGRID_REDIS_URL": settings.redis_url, "JOBGRID_KEY_PREFIX":
                settings.key_prefix, "JOBGRID_EXTRACTOR": settings.extractor,
                "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)])})
    env.update(extra)
    return env


@contextmanager
def worker(settings: Settings, concurrency: int, app: str = "worker.celery_app",
           queues: list[str] | None = None, log: Path | None = None,
           nodes: int = 1) -> Iterator[None]:
    """``nodes`` worker instances (what operators add to scale out), each with
    ``concurrency`` prefork processes."""
    procs = []
    log = log or BENCH / "results" / "worker.log"
    for _ in range(nodes):
        argv = [sys.executable, "-m", "celery", "-A", app, "worker", "-Q",
                ",".join(queues or q.ALL_QUEUES), "--concurrency", str(concurrency), "--pool",
                "prefork", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--without-gossip",
                "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
        procs.append(spawn(argv, env=env_for(settings), cwd=ROOT, log_path=log))
    try:
        for _ in range(nodes):
            wait_consuming(settings, app)
        yield
    finally:
        stop_groups(procs, timeout=10)


def wait_consuming(settings: Settings, app: str, timeout: float = 60) -> None:
    """Until a ping task sent through the broker has run (the worker really consumes)."""
    r = redis.Redis.from_url(settings.redis_url)
    c = make_celery(settings, name="bench-probe")
    deadline = time.monotonic() + timeout
    key = f"{settings.key_prefix}:bench:ping:{uuid.uuid4().hex}"
    name = q.T_PING if app == "worker.celery_app" else "bare.noop"
    c.send_task(name, args=[key], queue=q.CONTROL)
    while not r.exists(key):
        if time.monotonic() > deadline:
            raise TimeoutError("worker did not consume a ping")
        time.sleep(0.05)
    r.delete(key)


def run_job(settings: Settings, n: int) -> tuple[float, str]:
    """Creates and enqueues an n-document job as the API does; returns (seconds, job id)."""
    r = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    store = JobStore(r, settings)
    req = job_request(n)
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    c = make_celery(settings, name="bench-send")
    t0 = time.perf_counter()
    store.create_job(job_id, "org_bench", req, req.schema_, None)
    c.send_task(q.T_VALIDATE, args=[job_id, "org_bench"], queue=q.CONTROL)
    while True:
        status = r.hget(store.keys.job(job_id), "status")
        if status in ("completed", "failed"):
            break
        time.sleep(0.01)
    return time.perf_counter() - t0, job_id


def run_bare(settings: Settings, n: int) -> float:
    r = redis.Redis.from_url(settings.redis_url)
    key = f"{settings.key_prefix}:bench:count:{uuid.uuid4().hex}"
    c = make_celery(settings, name="bench-send")
    t0 = time.perf_counter()
    with c.producer_or_acquire() as producer:
        for _ in range(n):
            c.send_task("bare.noop", args=[key], queue=q.EXTRACT, producer=producer)
    while int(r.get(key) or 0) < n:
        time.sleep(0.01)
    return time.perf_counter() - t0


def command_calls(r: redis.Redis) -> int:
    """Every command Redis ran since CONFIG RESETSTAT, those inside Lua scripts included."""
    stats: dict[str, Any] = r.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info"
               and k != "cmdstat_config")


def script_calls(r: redis.Redis) -> int:
    """EVALSHA/EVAL calls: what a client sends to run a script (one round trip each)."""
    stats: dict[str, Any] = r.info("commandstats")
    return sum(int(stats.get(k, {}).get("calls", 0)) for k in ("cmdstat_evalsha", "cmdstat_eval"))

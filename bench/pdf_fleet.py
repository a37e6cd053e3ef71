"""Real-PDF rows of ``bench/scaling.py``: parse-heavy jobs on 1 and 2 worker processes, time to
the first row, a bare multiprocessing floor, node-loss recovery and peak Redis memory.

    python bench/scaling.py --pdf [--pdf-docs 200] [--root /path/to/other/checkout]

The PDFs (ten pages each, a text layer on every page, invoice fields on page 1) are written
by ``fpdf2`` (the ``bench`` extra) at every run, so nothing binary is committed. The job is
created and enqueued exactly as the API does (``JobStore.create_job`` + ``validate``); the
workers are real ``celery worker`` processes with production settings. ``--root`` runs the
workers from another checkout (e.g. ``main``), which is how the "before" figures were taken
in the same run as the "after" ones.

The floor is the same work without jobgrid: a ``multiprocessing.Pool`` of the same size
calling the same ``parse_document`` and the same built-in extractor on the same bytes.
"""

from __future__ import annotations

import base64
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from multiprocessing import Pool
from pathlib import Path
from statistics import median
from typing import Any

import redis

from jobgrid.procs import spawn, stop_groups
from shared import queues as q
from shared.celery_config import make_celery
from shared.models import JobCreate, SchemaIn
from shared.settings import Settings
from shared.store import JobStore

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PAGES = 10
SCHEMA: dict[str, Any] = {"name": "Invoice", "fields": [
    {"name": "invoice_number", "aliases": ["Invoice No"]},
    {"name": "total", "type": "number"},
    {"name": "issue_date", "type": "date", "aliases": ["Date"]},
    {"name": "customer_email", "type": "email"}]}


def make_pdf(i: int) -> bytes:
    """A ten-page text PDF: the invoice fields on page 1, then pages of line items."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for page in range(PAGES):
        pdf.add_page()
        if page == 0:
            for line in (f"ACME Corp - Invoice No: INV-{i}", f"Date: 2024-09-{i % 28 + 1:02d}",
                         f"Total: {100 + i}.50", f"Customer email: billing{i}@example.com"):
                pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        for row in range(15):
            pdf.cell(0, 6, f"Item {page * 15 + row:04d}  widget type {row % 7}  qty {row % 5 + 1}"
                           f"  unit price {row % 9 + 1}.25  line total {(row % 5 + 1) * 3}.75",
                     new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


@lru_cache(maxsize=4)
def pdfs(n: int) -> tuple[bytes, ...]:
    return tuple(make_pdf(i) for i in range(n))


def job_request(n: int) -> JobCreate:
    return JobCreate.model_validate({
        "name": f"bench pdf {n}", "schema": SCHEMA,
        "documents": [{"filename": f"inv{i}.pdf", "mime_type": "application/pdf",
                       "content_base64": base64.b64encode(b).decode()}
                      for i, b in enumerate(pdfs(n))],
    })


# ------------------------------------------------------------------------------ floor
def _floor_one(data: bytes) -> int:
    from worker.extraction import get_extractor
    from worker.extraction.parsing import parse_document

    doc = parse_document("x.pdf", "application/pdf", data)
    cells = get_extractor("builtin").extract(doc, SchemaIn.model_validate(SCHEMA).fields)
    return sum(c.value is not None for c in cells.values())


def bare_floor(n: int, procs: int) -> float:
    """Documents/s of a bare ``multiprocessing.Pool`` doing the same parse + extract."""
    data = pdfs(n)
    with Pool(procs) as pool:
        pool.map(_floor_one, data[:procs * 2])  # warm-up: imports in every process
        t0 = time.perf_counter()
        filled = sum(pool.map(_floor_one, data, chunksize=1))
        secs = time.perf_counter() - t0
    assert filled == 4 * n, filled
    return n / secs


# ----------------------------------------------------------------------------- workers
def _env(settings: Settings, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBGRID_")}
    env.update({"JOBGRID_REDIS_URL": settings.redis_url,
                "JOBGRID_KEY_PREFIX": settings.key_prefix,
                "PYTHONPATH": os.pathsep.join([str(BENCH), str(root)])})
    return env


class Node:
    def __init__(self, settings: Settings, concurrency: int, root: Path, log: Path) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q",
                ",".join(q.ALL_QUEUES), "--concurrency", str(concurrency), "--pool", "prefork",
                "-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--without-gossip",
                "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
        self.proc = spawn(argv, env=_env(settings, root), cwd=root, log_path=log)

    def kill9(self) -> None:
        stop_groups([self.proc], timeout=0, sig=signal.SIGKILL)

    def stop(self) -> None:
        stop_groups([self.proc], timeout=10)


def wait_consuming(settings: Settings, timeout: float = 60) -> None:
    r = redis.Redis.from_url(settings.redis_url)
    c = make_celery(settings, name="bench-probe")
    key = f"{settings.key_prefix}:bench:ping:{uuid.uuid4().hex}"
    c.send_task(q.T_PING, args=[key], queue=q.CONTROL)
    deadline = time.monotonic() + timeout
    while not r.exists(key):
        if time.monotonic() > deadline:
            raise TimeoutError("worker did not consume a ping")
        time.sleep(0.05)
    r.delete(key)


@contextmanager
def nodes(settings: Settings, concurrency: int, root: Path, count: int = 1) -> Iterator[list[Node]]:
    log = BENCH / "results" / "worker-pdf.log"
    started = [Node(settings, concurrency, root, log) for _ in range(count)]
    try:
        for _ in started:
            wait_consuming(settings)
        yield started
    finally:
        for n in started:
            n.stop()


class MemoryPeak:
    """Samples ``used_memory`` every 50 ms while a job runs; peak minus the level before.

    Not more often: on two cores every sample (an ``INFO`` in Redis, a parse here) is CPU
    taken from the workers being measured. The documents, the bulk of the peak, stay in Redis
    for most of the job, so 50 ms does not miss it."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r
        self.base = int(r.info("memory")["used_memory"])
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, int(self.r.info("memory")["used_memory"]))

    def __enter__(self) -> MemoryPeak:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()

    @property
    def mb(self) -> float:
        return round((self.peak - self.base) / 1e6, 1)


def submit(settings: Settings, req: JobCreate) -> tuple[JobStore, str]:
    r = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    store = JobStore(r, settings)
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, "org_bench", req, req.schema_, None)
    make_celery(settings, name="bench-send").send_task(q.T_VALIDATE, args=[job_id, "org_bench"],
                                                       queue=q.CONTROL)
    return store, job_id


def wait_done(store: JobStore, job_id: str, timeout: float = 600) -> dict[str, str]:
    """Polls every 50 ms, like a client that honours a short ``X-Poll-After``. When the job
    ended is read from its own ``completed_at`` (:func:`ended`), so the poll interval does not
    add to the measured time, and a tighter loop would only take CPU from the workers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = store.read_job(job_id) or {}
        if h.get("status") in ("completed", "failed"):
            return h
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} not done")


def ended(h: dict[str, str]) -> float:
    """The job's ``completed_at`` (epoch ms, written by the worker that finished it) as a
    ``time.time()`` value; bench and workers share the machine's clock."""
    return int(h["completed_at"]) / 1000


def pdf_job(url: str, procs: int, docs: int, root: Path, tag: str, reps: int = 3,
            floor: bool = True) -> dict[str, Any]:
    """``reps`` 200-PDF jobs on one node with ``procs`` pool processes, each right after a
    floor run of the same size (``floor``), so that both see the machine in the same state.

    One pair is not enough on a shared VM: across single runs the floor alone moved from 58
    to 82 docs/s at 2 processes, more than the gap being measured. The row reports medians,
    and ``vs_floor`` is the median of the per-pair ratios."""
    s = Settings(redis_url=url, key_prefix=f"benchpdf{tag}{procs}")
    r = redis.Redis.from_url(url)
    req = job_request(docs)
    runs: list[dict[str, Any]] = []
    with nodes(s, procs, root):
        store, warm = submit(s, job_request(4))
        wait_done(store, warm)
        for _ in range(reps):
            floor_rate = bare_floor(docs, procs) if floor else None
            t0 = time.time()
            with MemoryPeak(r) as mem:
                store, job_id = submit(s, req)
                h = wait_done(store, job_id)
            secs = ended(h) - t0  # from before the submit to completed_at
            assert h["status"] == "completed" and h["completed_documents"] == str(docs), h
            runs.append({"seconds": secs, "docs_per_s": docs / secs, "floor": floor_rate,
                         "first_row_s": (int(h["first_done_at"]) - int(h["created_at"])) / 1000,
                         "redis_peak_mb": mem.mb})
    row: dict[str, Any] = {"procs": procs, "docs": docs, "reps": reps}
    for key in ("seconds", "docs_per_s", "first_row_s"):
        row[key] = round(median(x[key] for x in runs), 2)
    row["docs_per_s_range"] = [round(min(x["docs_per_s"] for x in runs), 1),
                               round(max(x["docs_per_s"] for x in runs), 1)]
    row["redis_peak_mb"] = max(x["redis_peak_mb"] for x in runs)
    if floor:
        row["floor_docs_per_s"] = round(median(x["floor"] for x in runs), 2)
        ratios = [x["docs_per_s"] / x["floor"] for x in runs]
        row["vs_floor"] = round(median(ratios), 2)
        row["vs_floor_each"] = [round(x, 2) for x in ratios]
    return row


def node_loss(url: str, docs: int, root: Path, tag: str, after: int = 0) -> dict[str, Any]:
    """A 2-process node SIGKILLed (whole group) once ``after`` documents (default: a fifth)
    are done; a replacement starts at once. Seconds from the kill to ``completed``."""
    after = after or max(1, docs // 5)
    s = Settings(redis_url=url, key_prefix=f"benchpdfloss{tag}")
    req = job_request(docs)
    log = BENCH / "results" / "worker-pdf.log"
    first = Node(s, 2, root, log)
    wait_consuming(s)
    store, job_id = submit(s, req)
    while int((store.read_job(job_id) or {}).get("processed") or 0) < after:
        time.sleep(0.01)
    first.kill9()
    killed = time.time()
    second = Node(s, 2, root, log)
    try:
        h = wait_done(store, job_id)
        secs = ended(h) - killed
    finally:
        second.stop()
    return {"recovery_s": round(secs, 1), "status": h["status"],
            "completed_documents": int(h["completed_documents"]),
            "attempt_count": int(h["attempt_count"]),
            "last_failure_code": h.get("last_failure_code") or None}

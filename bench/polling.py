"""Status polling and push, measured against bare baselines and Celery Flower in one run.

    python bench/polling.py [--seconds 10] [--warmup 2] [--size-docs 10000]
                            [--sse-watchers 1000] [--sse-jobs 100] [--sse-rate 50]
                            [--compare-servers] [--json bench/results/polling.json]
    python bench/polling.py --only-cursor [--cursor-docs 10000]

Needs wrk (``apt-get install -y wrk``) and the ``bench`` extra (Flower). Starts a private
redis-server, then serves every HTTP row with the production server (``api.server``: the same
worker class, 2 processes) and drives it with wrk at 32 connections:

  baseline-const      a bare Flask view returning a constant JSON body
  baseline-hash       a bare Flask view doing one HGETALL of a job hash
  jobgrid-status      GET /v1/jobs/{id}/status, auth and rate limit on
  jobgrid-status-304  the same with If-None-Match
  flower-task-info    Flower's /api/task/info/<id> for a finished task (peer)
  flower-task-result  Flower's /api/task/result/<id> (reads the Celery result backend)

Also: status latency for a 1-document vs a ``--size-docs`` job (both run by a real worker),
Redis memory per job, and SSE: ``--sse-watchers`` streams on ONE API process, its RSS and the
delay from a worker-side write to the event. ``--compare-servers`` adds the server-choice
table (sync, gthread, gevent, granian: status and baseline-hash, and status while 64 streams
are open). The machine is shared: run it on a quiet one and read ratios, not absolutes.

Results cursor (also alone with ``--only-cursor``: no wrk, Flower nor worker needed): a page
of 100 finished rows (``/results?after=&limit=100``) from a ``--cursor-docs``-row job, from
its middle and from its start, beside the same page from a 100-row job, in one run: the
store's read (``JobStore.row_page``) and the whole HTTP request on the production server,
median of alternating blocks; the full grid of both jobs is the baseline (what a client
re-downloaded on every poll before the cursor).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _http import (  # noqa: E402
    Server,
    Target,
    WrkResult,
    bench_env,
    interleave,
    require_wrk,
    rss_mib,
    serve,
    wrk,
)
from _sse import Timings, percentile, publisher, run_watchers  # noqa: E402
from _stack import BENCH, ROOT, env_for, job_request, private_redis, run_job, worker  # noqa: E402

from api.server import PRODUCTION, SERVER_KINDS  # noqa: E402
from jobgrid.procs import free_port, http_ok, spawn, stop_groups, tail  # noqa: E402
from shared.clock import now_ms  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.status import JobStatus, Phase  # noqa: E402
from shared.store import JobStore  # noqa: E402

KEY, ORG = "bench-polling-key", "org_bench"
AUTH = (("Api-Key", KEY),)
RESULTS = BENCH / "results"


# ------------------------------------------------------------------------ jobs
def running_job(store: JobStore, docs: int) -> str:
    """A job in execution with one document done: what a poller typically watches."""
    req = job_request(docs)
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, ORG, req, req.schema_, None)
    store.transition(job_id, ORG, [JobStatus.VALIDATING], status=JobStatus.IN_PROGRESS,
                     phase=Phase.EXECUTE, extra={"started_at": now_ms(),
                                                 "exec_started_at": now_ms()})
    return job_id


def job_memory(r: redis.Redis, store: JobStore, job_id: str) -> dict[str, Any]:
    """MEMORY USAGE (every element counted) of all of a job's keys, and per document."""
    k = store.job_keys(job_id)
    sizes = {f.name: int(r.memory_usage(getattr(k, f.name), samples=0) or 0) for f in fields(k)}
    docs = int(r.hget(store.keys.job(job_id), "document_count") or 1)
    total = sum(sizes.values())
    record = sizes["job"] + sizes["schema"] + sizes["timeline"]
    return {"documents": docs, "total_bytes": total, "bytes_per_document": round(total / docs),
            "status_record_bytes": record,
            "keys": {n: v for n, v in sizes.items() if v}}


# ------------------------------------------------------------------- HTTP rows
def etag_of(url: str) -> str:
    req = urllib.request.Request(url, headers=dict(AUTH))
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(resp.headers["ETag"])


def http_rows(env: dict[str, str], args: argparse.Namespace, poll_job: str,
              sizes: dict[str, str]) -> dict[str, WrkResult]:
    """Every HTTP row, all servers up at once, interleaved (``_http.interleave``)."""
    with ExitStack() as stack:
        base = stack.enter_context(serve(env, kind=PRODUCTION, app="baseline_app:app"))
        api = stack.enter_context(serve(env, kind=PRODUCTION))
        fl = stack.enter_context(flower(env))
        status = f"{api.url}/v1/jobs/{poll_job}/status"
        b, a = base.proc.pid, api.proc.pid
        targets: dict[str, Target] = {
            "baseline-const": (f"{base.url}/const", (), b),
            "baseline-hash": (f"{base.url}/hash/{poll_job}", (), b),
            "jobgrid-status": (status, AUTH, a),
            "jobgrid-status-304": (status, (*AUTH, ("If-None-Match", etag_of(status))), a),
            "flower-task-info": (f"{fl.url}/api/task/info/{fl.task_id}", (), fl.pgid),
            "flower-task-result": (f"{fl.url}/api/task/result/{fl.task_id}", (), fl.pgid),
        }
        for label, job_id in sizes.items():
            targets[f"status-{label}"] = (f"{api.url}/v1/jobs/{job_id}/status", AUTH, a)
        return interleave(targets, seconds=args.seconds, warmup=args.warmup,
                          rounds=args.rounds)


@dataclass(frozen=True)
class Flower:
    url: str
    task_id: str
    pgid: int  # Flower's own process (the worker runs in another group)


@contextmanager
def flower(env: dict[str, str]) -> Iterator[Flower]:
    """Flower and a worker of ``bench/flower_app.py``, and one finished task Flower saw."""
    port = free_port()
    e = {**bench_env(env), "FLOWER_UNAUTHENTICATED_API": "true"}
    log = RESULTS / "polling-flower.log"
    fl = spawn([sys.executable, "-m", "celery", "-A", "flower_app", "flower", f"--port={port}",
                "--address=127.0.0.1", "--logging=warning"], env=e, cwd=ROOT, log_path=log)
    wk = spawn([sys.executable, "-m", "celery", "-A", "flower_app", "worker", "-E", "--pool",
                "solo", "-Q", "flowerbench", "-n", "flowerbench@%h", "--without-gossip",
                "--without-mingle", "-l", "WARNING"], env=e, cwd=ROOT, log_path=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not http_ok(f"{url}/healthcheck"):
            if time.monotonic() > deadline or fl.poll() is not None:
                raise RuntimeError(f"flower did not start:\n{tail(log, 40)}")
            time.sleep(0.2)
        yield Flower(url, finished_task(url), fl.pid)
    finally:
        stop_groups([fl, wk], timeout=10)


def finished_task(url: str) -> str:
    """Sends tasks until Flower's event-fed state shows one as SUCCESS (it must be listening
    when the task runs); returns its id."""
    import flower_app

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        result = flower_app.add.delay(2, 3)
        assert result.get(timeout=60) == 5
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"{url}/api/task/info/{result.id}", timeout=2) as r:
                    if json.loads(r.read()).get("state") == "SUCCESS":
                        return str(result.id)
            except OSError:
                pass
            time.sleep(0.1)
    raise RuntimeError("flower never saw a finished task")


# --------------------------------------------------------------------------- SSE
def sse_row(env: dict[str, str], store: JobStore, args: argparse.Namespace) -> dict[str, Any]:
    writes_per_job = int(args.sse_rate * args.seconds / args.sse_jobs) + 2
    jobs = [running_job(store, writes_per_job) for _ in range(args.sse_jobs)]
    versions = {j: int(store.r.hget(store.keys.job(j), "version") or 0) for j in jobs}
    timings = Timings()
    with serve(env, kind=PRODUCTION, workers=1) as server:
        pid = server.worker_pids()[0]
        idle = rss_mib(pid)
        peak = RssPeak(pid)
        pub = publisher(store, ORG, jobs, args.sse_rate, args.seconds, timings, versions)
        host, port = server.url.removeprefix("http://").split(":")
        opened = asyncio.run(run_watchers(host, int(port), KEY, jobs, args.sse_watchers,
                                          timings, pub))
        peak.stop()
    delays = timings.delays_ms()
    expected = len(timings.written) * args.sse_watchers // args.sse_jobs
    return {"watchers": args.sse_watchers, "jobs": args.sse_jobs,
            "writes": len(timings.written), "events_expected": expected,
            "events_received": len(delays), "seconds_to_open_all": round(opened, 2),
            "rss_idle_mib": round(idle, 1), "rss_peak_mib": round(peak.value, 1),
            "delay_p50_ms": round(percentile(delays, 50), 2),
            "delay_p95_ms": round(percentile(delays, 95), 2),
            "delay_p99_ms": round(percentile(delays, 99), 2),
            "failures": timings.failures[:5], "failure_count": len(timings.failures)}


class RssPeak:
    """Samples a process's RSS every 0.2 s in the background; ``value`` is the maximum."""

    def __init__(self, pid: int) -> None:
        self.pid, self.value = pid, rss_mib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.value = max(self.value, rss_mib(self.pid))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# ----------------------------------------------------------------- server choice
def hold_streams(server: Server, job_id: str, n: int) -> list[socket.socket]:
    """``n`` open SSE requests that are never read: each one a parked stream server-side."""
    host, port = server.url.removeprefix("http://").split(":")
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(f"GET /v1/jobs/{job_id}/events HTTP/1.1\r\nHost: {host}\r\n"
                  f"Api-Key: {KEY}\r\n\r\n".encode())
        socks.append(s)
    time.sleep(1.0)
    return socks


def compare_servers(env: dict[str, str], args: argparse.Namespace,
                    job_id: str) -> list[dict[str, Any]]:
    """Per server kind: baseline-hash and status interleaved, then status while 64 SSE
    requests are held open (the streams' cost to ordinary polls)."""
    out = []
    for kind in SERVER_KINDS:
        with serve(env, kind=kind, app="baseline_app:app") as base, serve(env, kind=kind) as s:
            status = f"{s.url}/v1/jobs/{job_id}/status"
            pair = interleave({"baseline-hash": (f"{base.url}/hash/{job_id}", (), base.proc.pid),
                               "jobgrid-status": (status, AUTH, s.proc.pid)},
                              seconds=args.seconds, warmup=args.warmup, rounds=args.rounds)
            row: dict[str, Any] = {"server": kind, **{k: v.as_dict() for k, v in pair.items()}}
            socks = hold_streams(s, job_id, 64)
            try:
                row["status-with-64-streams"] = wrk(status, seconds=max(3, args.seconds / 2),
                                                    headers=dict(AUTH), pgid=s.proc.pid
                                                    ).as_dict()
            finally:
                for sock in socks:
                    sock.close()
        out.append(row)
        print(f"  {kind}: " + ", ".join(
            f"{k} {v['rps']:,.0f} req/s p99 {v['p99_ms']:.1f} ms"
            for k, v in row.items() if k != "server"), flush=True)
    return out


def status_read_us(store: JobStore, sizes: dict[str, str], calls: int = 4000,
                   block: int = 200) -> dict[str, float]:
    """The status endpoint's one Redis call (``status_read.lua``: count + HGETALL) timed from
    a client, per job, in alternating blocks so load from outside hits both alike: the
    median microseconds per call. wrk's rows of identical requests differ by more than
    10 % on a shared machine; this isolates what could depend on the job's size."""
    keys = store.keys
    timings: dict[str, list[float]] = {label: [] for label in sizes}
    for _ in range(calls // block):
        for label, job_id in sizes.items():
            for _ in range(block):
                t = time.perf_counter()
                store.scripts.status_read(keys=[keys.rate("bench", 0), keys.job(job_id)],
                                          args=[60])
                timings[label].append((time.perf_counter() - t) * 1e6)
    return {label: round(sorted(v)[len(v) // 2], 1) for label, v in timings.items()}


# ---------------------------------------------------------------- results cursor
def seeded_job(store: JobStore, docs: int) -> str:
    """A running job with every row recorded by ``record_document.lua``, as a worker would.
    Numbers are zero-padded so a row has the same size in every job: the rows compared
    differ only by the job they come from."""
    job_id = running_job(store, docs)
    schema = store.load_schema(job_id)
    assert schema is not None
    names = [f.name for f in schema.fields]
    for i in range(docs):
        row = {"document": {"index": 10**6 + i, "filename": f"d{i:06d}.txt"},
               "status": "completed", "values": {n: f"{n} value {i:06d}" for n in names},
               "confidence": dict.fromkeys(names, 0.95), "error": None,
               "detail": {n: {"label": n, "line": 2, "text": f"{n}: value {i:06d}",
                              "raw": f"value {i:06d}"} for n in names}}
        store.record_document(job_id, ORG, i, row, failed=False, filled=len(names), empty=0)
    return job_id


def _median_blocks(calls: dict[str, Any], rounds: int, block: int) -> dict[str, float]:
    """Median microseconds per call of each callable, in alternating blocks (their order
    rotating every round) so load from outside hits every row alike."""
    timings: dict[str, list[float]] = {label: [] for label in calls}
    labels = list(calls)
    for n in range(rounds):
        for label in labels[n % len(labels):] + labels[:n % len(labels)]:
            call = calls[label]
            for _ in range(block):
                t = time.perf_counter()
                call()
                timings[label].append((time.perf_counter() - t) * 1e6)
    return {label: round(sorted(v)[len(v) // 2], 1) for label, v in timings.items()}


def redis_side_us(store: JobStore, calls: dict[str, Any], rounds: int = 6,
                  per_round: int = 200) -> dict[str, float]:
    """Microseconds Redis itself spends per call (``INFO commandstats``, reset before each
    block; the bench's own private server), median over rounds: what the job's size could
    change, without the client's and the scheduler's noise of a shared machine."""
    out: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(rounds):
        for label, call in calls.items():
            store.r.config_resetstat()
            for _ in range(per_round):
                call()
            stats = store.r.info("commandstats")
            usec = sum(v["usec"] for k, v in stats.items()
                       if k not in ("cmdstat_config", "cmdstat_info"))
            out[label].append(usec / per_round)
    return {label: round(sorted(v)[len(v) // 2], 1) for label, v in out.items()}


def _http_get(conn: Any, path: str) -> None:
    conn.request("GET", path, headers=dict(AUTH))
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"GET {path}: {resp.status} {body[:200]!r}")


def cursor_row(env: dict[str, str], store: JobStore, docs: int) -> dict[str, Any]:
    """One cursor page of 100 rows: O(page), not O(job), whatever the job's size."""
    import http.client

    from api import rowcursor

    print(f"results cursor: seeding a {docs}-row and a 100-row job...", flush=True)
    big, small = seeded_job(store, docs), seeded_job(store, 100)
    middle = int(store.r.zrange(store.job_keys(big).rows, docs // 2 - 1, docs // 2 - 1,
                                withscores=True)[0][1])
    pages = {f"page-100-of-{docs}-middle": (big, middle), f"page-100-of-{docs}-start": (big, 0),
             "page-100-of-100": (small, 0)}
    out: dict[str, Any] = {"docs": docs}
    out["store_read_us"] = _median_blocks(
        {label: (lambda j=j, a=a: store.row_page(j, a, 100)) for label, (j, a) in pages.items()},
        rounds=60, block=20)
    out["redis_us_per_page"] = redis_side_us(
        store, {label: (lambda j=j, a=a: store.row_page(j, a, 100))
                for label, (j, a) in pages.items()})
    with serve(env, kind=PRODUCTION) as api:
        host, port = api.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        paths = {label: f"/v1/jobs/{j}/results?limit=100"
                        + (f"&after={rowcursor.encode(j, a)}" if a else "")
                 for label, (j, a) in pages.items()}
        # the whole grid of the 100-row job (same rows, no cursor) runs in the same blocks
        paths["full-grid-100-rows"] = f"/v1/jobs/{small}/results"
        out["http_us"] = _median_blocks(
            {label: (lambda p=p: _http_get(conn, p)) for label, p in paths.items()},
            rounds=20, block=25)
        out["baseline_full_grid_http_us"] = _median_blocks({
            f"full-grid-{docs}-rows": lambda: _http_get(conn, f"/v1/jobs/{big}/results"),
        }, rounds=3, block=3)
        conn.close()
    store_us, http_us = out["store_read_us"], out["http_us"]
    redis_us = out["redis_us_per_page"]
    out["summary"] = {
        "redis_time_page_middle_of_big_vs_small_job": ratio(
            redis_us[f"page-100-of-{docs}-middle"], redis_us["page-100-of-100"]),
        "store_page_middle_of_big_vs_small_job": ratio(
            store_us[f"page-100-of-{docs}-middle"], store_us["page-100-of-100"]),
        "http_page_middle_of_big_vs_small_job": ratio(
            http_us[f"page-100-of-{docs}-middle"], http_us["page-100-of-100"]),
        "http_page_start_of_big_vs_small_job": ratio(
            http_us[f"page-100-of-{docs}-start"], http_us["page-100-of-100"]),
        "http_page_vs_full_grid_of_the_small_job": ratio(
            http_us["page-100-of-100"], http_us["full-grid-100-rows"]),
        "http_full_grid_big_vs_page": ratio(
            out["baseline_full_grid_http_us"][f"full-grid-{docs}-rows"],
            http_us[f"page-100-of-{docs}-middle"]),
    }
    return out


# ------------------------------------------------------------------------ report
def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("nan")


def summary(rows: dict[str, WrkResult], size_docs: int) -> dict[str, Any]:
    st, h = rows["jobgrid-status"], rows["baseline-hash"]
    small, big = rows["status-1-doc"], rows[f"status-{size_docs}-docs"]
    fl = rows["flower-task-info"]
    return {
        "status_vs_baseline_hash": ratio(st.rps, h.rps),
        "status_vs_flower_task_info": ratio(st.rps, fl.rps),
        "status_304_vs_baseline_hash": ratio(rows["jobgrid-status-304"].rps, h.rps),
        "status_p99_ms": round(st.p99_ms, 2),
        "status_p50_big_vs_small_job": ratio(big.p50_ms, small.p50_ms),
        # CPU per request: what a busy shared machine distorts least (lower is better)
        "cpu_per_request_baseline_hash_vs_status": ratio(h.cpu_us or 0, st.cpu_us or 0),
        "cpu_per_request_flower_info_vs_status": ratio(fl.cpu_us or 0, st.cpu_us or 0),
    }


def print_table(rows: dict[str, WrkResult]) -> None:
    print("\n| row | req/s | p50 ms | p99 ms | server CPU us/req | non-2xx/3xx |\n"
          "|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        cpu = "-" if r.cpu_us is None else f"{r.cpu_us:,.0f}"
        print(f"| {name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {cpu} | "
              f"{r.non_2xx_3xx} |")


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "loadavg_at_end": [round(x, 2) for x in load], "server": PRODUCTION,
            "server_processes": 2, "connections": 32}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10, help="duration of each row")
    ap.add_argument("--rounds", type=int, default=5,
                    help="slices per row, run round-robin across the rows")
    ap.add_argument("--warmup", type=float, default=2, help="warm-up before each row")
    ap.add_argument("--size-docs", type=int, default=10_000)
    ap.add_argument("--sse-watchers", type=int, default=1000)
    ap.add_argument("--sse-jobs", type=int, default=100)
    ap.add_argument("--sse-rate", type=float, default=50, help="job writes per second")
    ap.add_argument("--compare-servers", action="store_true")
    ap.add_argument("--cursor-docs", type=int, default=10_000,
                    help="rows of the big job in the results cursor rows")
    ap.add_argument("--only-cursor", action="store_true",
                    help="run only the results cursor rows (no wrk, Flower nor worker)")
    ap.add_argument("--json", default=str(RESULTS / "polling.json"))
    return ap.parse_args()


def cursor_only(args: argparse.Namespace) -> int:
    """``--only-cursor``: the results cursor rows alone, on a private Redis."""
    out: dict[str, Any] = {}
    with private_redis() as srv:
        settings = Settings(redis_url=srv.url, key_prefix="bpoll", rate_limit_requests=10**9)
        env = env_for(settings, JOBGRID_API_KEYS=f"{KEY}={ORG}",
                      JOBGRID_RATE_LIMIT_REQUESTS=str(10**9))
        r = redis.Redis.from_url(srv.url, decode_responses=True)
        out["cursor"] = cursor_row(env, JobStore(r, settings), args.cursor_docs)
        r.close()
    out["machine"] = machine()
    print(json.dumps(out, indent=2))
    path = Path(args.json).with_name("polling-cursor.json") if args.json == str(
        RESULTS / "polling.json") else Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {path}")
    return 0


def main() -> int:
    args = parse_args()
    if args.only_cursor:
        return cursor_only(args)
    try:
        require_wrk()
        import flower  # type: ignore[import-untyped]  # noqa: F401 - fail early if missing
    except Exception as e:  # noqa: BLE001 - tell the user what to install
        print(f"polling bench: {e}\n(Flower: pip install -e '.[bench]')", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    for log in ("polling-server.log", "polling-flower.log"):
        (RESULTS / log).unlink(missing_ok=True)  # one run's logs only
    out: dict[str, Any] = {}
    with private_redis() as srv:
        os.environ["BENCH_REDIS_URL"] = srv.url
        settings = Settings(redis_url=srv.url, key_prefix="bpoll", rate_limit_requests=10**9)
        env = env_for(settings, JOBGRID_API_KEYS=f"{KEY}={ORG}", BENCH_REDIS_URL=srv.url,
                      JOBGRID_RATE_LIMIT_REQUESTS=str(10**9))
        r = redis.Redis.from_url(srv.url, decode_responses=True)
        store = JobStore(r, settings)
        poll_job = running_job(store, 48)
        print(f"running a 1-document and a {args.size_docs}-document job through a worker...",
              flush=True)
        with worker(settings, 2):
            _, small = run_job(settings, 1)
            _, big = run_job(settings, args.size_docs)
        sizes = {"1-doc": small, f"{args.size_docs}-docs": big}
        out["memory"] = {"1-doc": job_memory(r, store, small),
                         f"{args.size_docs}-docs": job_memory(r, store, big)}
        out["status_read_us"] = status_read_us(store, sizes)
        print("status_read.lua, median us per call: " + json.dumps(out["status_read_us"]),
              flush=True)
        print("HTTP rows (wrk, 32 connections)...", flush=True)
        rows = http_rows(env, args, poll_job, sizes)
        print_table(rows)
        out["rows"] = {k: v.as_dict() for k, v in rows.items()}
        out["summary"] = summary(rows, args.size_docs)
        reads = list(out["status_read_us"].values())
        out["summary"]["status_read_big_vs_small_job"] = ratio(reads[1], reads[0])
        print("\n" + json.dumps(out["summary"], indent=2))
        print(f"\nSSE: {args.sse_watchers} streams on one API process...", flush=True)
        out["sse"] = sse_row(env, store, args)
        print(json.dumps(out["sse"], indent=2))
        print("memory: " + json.dumps(out["memory"], indent=2))
        out["cursor"] = cursor_row(env, store, args.cursor_docs)
        print("results cursor: " + json.dumps(out["cursor"], indent=2), flush=True)
        if args.compare_servers:
            print("\nserver choice (status, baseline-hash, status with 64 open streams):")
            out["servers"] = compare_servers(env, args, poll_job)
        r.close()
    out["machine"] = machine()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

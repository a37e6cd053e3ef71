"""Worker throughput by number of worker processes, against bare Celery in the same run.

    python bench/scaling.py [--docs 2000] [--procs 1,2,4] [--json bench/results/scaling.json]
    python bench/scaling.py --pdf [--pdf-docs 200] [--pdf-procs 1,2] [--reps 3] [--root ../main]


Starts a private redis-server, then for each count P: P Celery worker instances (one process
each: how operators scale out) run an N-document job (built-in extractor, then a no-op
extractor) and, as the baseline, N bare Celery no-op tasks on the same workers' settings.
Prints documents/s, the ratio to bare Celery, Redis commands per document (INFO
commandstats, commands run inside Lua scripts included) and script calls per document (the
tracking round trips a worker makes: EVALSHA).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _stack import (  # noqa: E402
    command_calls,
    private_redis,
    run_bare,
    run_job,
    script_calls,
    worker,
)

from shared.settings import Settings  # noqa: E402


def measure(url: str, procs: int, docs: int) -> dict[str, Any]:
    row: dict[str, Any] = {"procs": procs, "docs": docs}
    r = redis.Redis.from_url(url)
    for label, extractor in (("builtin", "builtin"), ("noop", "noop_extractor:NoopExtractor")):
        s = Settings(redis_url=url, key_prefix=f"bench{procs}{label}", extractor=extractor,
                     fanout_window=max(32, procs * 8))
        with worker(s, 1, nodes=procs):
            run_job(s, 50)  # warm-up: imports, connections, script cache
            r.config_resetstat()
            secs, _ = run_job(s, docs)
            calls, scripts = command_calls(r), script_calls(r)
        row[f"{label}_docs_per_s"] = round(docs / secs, 1)
        row[f"{label}_cmds_per_doc"] = round(calls / docs, 2)
        row[f"{label}_scripts_per_doc"] = round(scripts / docs, 2)
    s = Settings(redis_url=url, key_prefix=f"bench{procs}bare")
    with worker(s, 1, app="bare_celery", queues=["control", "extract"], nodes=procs):
        run_bare(s, 50)
        r.config_resetstat()
        secs = run_bare(s, docs)
        calls = command_calls(r)
    row["bare_tasks_per_s"] = round(docs / secs, 1)
    row["bare_cmds_per_task"] = round(calls / docs, 2)
    row["noop_vs_bare"] = round(row["noop_docs_per_s"] / row["bare_tasks_per_s"], 2)
    return row


def pdf_main(args: argparse.Namespace) -> int:
    """The real-PDF rows (``bench/pdf_fleet.py``): this checkout, and ``--root`` if given, on
    1 and 2 pool processes; the bare floor; node-loss recovery (this checkout only)."""
    import pdf_fleet as pf

    roots = [("this", pf.ROOT)] + ([("root", Path(args.root).resolve())] if args.root else [])
    rows: list[dict[str, Any]] = []
    print(f"writing {args.pdf_docs} ten-page PDFs", flush=True)
    pf.pdfs(args.pdf_docs)
    procs = [int(x) for x in args.pdf_procs.split(",")]
    with private_redis() as srv:
        for label, root in roots:
            first: dict[str, Any] | None = None
            for p in procs:
                row = {"code": label, **pf.pdf_job(srv.url, p, args.pdf_docs, root, label,
                                                   reps=args.reps)}
                first = first or row
                row["speedup"] = round(row["docs_per_s"] / first["docs_per_s"], 2)
                rows.append(row)
                print(row, flush=True)
        loss = pf.node_loss(srv.url, args.pdf_docs, pf.ROOT, "this")
        print(f"node loss: {loss}", flush=True)
    cols = ["code", "procs", "docs_per_s", "docs_per_s_range", "speedup", "first_row_s",
            "floor_docs_per_s", "vs_floor", "vs_floor_each", "redis_peak_mb", "seconds"]
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "loadavg_after": os.getloadavg()},
           "pdf_rows": rows, "node_loss": loss}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.json}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument("--json", default=None)
    ap.add_argument("--pdf", action="store_true", help="the real-PDF rows instead")
    ap.add_argument("--pdf-docs", type=int, default=200)
    ap.add_argument("--pdf-procs", default="1,2", help="with --pdf: pool processes per row")
    ap.add_argument("--reps", type=int, default=3,
                    help="with --pdf: jobs per row, each paired with a floor run (medians)")
    ap.add_argument("--root", default=None,
                    help="with --pdf: also run the workers from this checkout (before/after)")
    args = ap.parse_args()
    if args.pdf:
        args.json = args.json or "bench/results/scaling_pdf.json"
        return pdf_main(args)
    args.json = args.json or "bench/results/scaling.json"
    rows = []
    with private_redis() as srv:
        for p in [int(x) for x in args.procs.split(",")]:
            rows.append(measure(srv.url, p, args.docs))
            print(rows[-1], flush=True)
    base = rows[0]["builtin_docs_per_s"]
    for row in rows:
        row["speedup_vs_1"] = round(row["builtin_docs_per_s"] / base, 2)
    cols = ["procs", "builtin_docs_per_s", "speedup_vs_1", "noop_docs_per_s",
            "bare_tasks_per_s", "noop_vs_bare", "noop_cmds_per_doc", "bare_cmds_per_task",
            "noop_scripts_per_doc"]
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
           "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

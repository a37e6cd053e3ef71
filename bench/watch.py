"""How soon ``jobgrid submit --watch`` reports a fast job: the event-stream watcher against the
poll loop it replaced, in the same run, on one local stack.

    python bench/watch.py [--jobs 20] [--json bench/results/watch.json]

Each sample is the wall time from ``POST /v1/jobs`` (one small text document) to the watcher
returning the terminal status; jobs alternate between the two watchers so both see the same
machine load. The baseline is the previous ``jobgrid.watch`` loop: ``/status`` with the ETag,
then sleep ``X-Poll-After`` (2 s while queued, 1 s while running, the production defaults).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _stack import invoice

from jobgrid.client import JSON, TERMINAL_STATUSES, Client
from jobgrid.launcher import LaunchConfig, Launcher
from jobgrid.watch import watch_job

FIELDS = [{"name": "invoice_number", "aliases": ["Invoice No"]},
          {"name": "total", "type": "number"}]


def poll_loop(client: Client, job_id: str) -> JSON:
    """The watcher before the event stream: poll, sleep what X-Poll-After says."""
    etag: str | None = None
    while True:
        resp = client.status(job_id, etag=etag)
        if resp.data is not None:
            etag = resp.etag
            if resp.data.get("status") in TERMINAL_STATUSES:
                return resp.data
        time.sleep(min(10.0, max(0.05, resp.poll_after or 1.0)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=20, help="jobs in all, half per watcher")
    ap.add_argument("--json", default="bench/results/watch.json")
    args = ap.parse_args()
    watchers: dict[str, Callable[[Client, str], JSON]] = {
        "events (now)": lambda c, j: watch_job(c, j, lambda s: None),
        "poll loop (before)": poll_loop,
    }
    samples: dict[str, list[float]] = {name: [] for name in watchers}
    logs = Path(tempfile.mkdtemp(prefix="jobgrid-bench-watch-"))
    with Launcher(LaunchConfig(port=0, concurrency=1, log_dir=logs), say=lambda m: None) as stack:
        client = Client(stack.url, stack.api_key)
        for i in range(args.jobs):
            name = list(watchers)[i % 2]
            started = time.monotonic()
            job = client.submit(f"watch {i}", schema={"name": "Invoice", "fields": FIELDS},
                                documents=[{"filename": f"{i}.txt", "text": invoice(i)}])
            final = watchers[name](client, str(job["id"]))
            samples[name].append(time.monotonic() - started)
            if final.get("status") != "completed":
                print(f"job {job['id']} ended {final.get('status')}", file=sys.stderr)
                return 1
    out = {}
    print(f"submit -> terminal status reported, {args.jobs // 2} one-document jobs each")
    for name, values in samples.items():
        row = {"median_ms": round(statistics.median(values) * 1000),
               "max_ms": round(max(values) * 1000), "n": len(values)}
        out[name] = row
        print(f"  {name:<20} median {row['median_ms']:>5} ms   max {row['max_ms']:>5} ms")
    shutil.rmtree(logs, ignore_errors=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The production HTTP server for the API, chosen by measurement (``docs/polling.md``).

Everyone who starts the API - ``jobgrid up``, the test fixtures, docker-compose - takes its
command from :func:`server_argv`, so the server measured by ``bench/polling.py`` is the
server that runs.

The choice is **granian** (HTTP in Rust, the WSGI app on a pool of Python threads). A status
poll costs about half the CPU it costs under gunicorn with gevent workers, the previous choice
(measured: 216 against 383 us per request), which is what lifts polling throughput to
about 1.7 x Celery Flower's in-memory task lookup.

Server-sent events and long polls hold a request open for seconds to minutes, and under a
thread pool each one holds a thread. Two things keep that from starving ordinary polls: the
pool has ``max_held_requests`` threads *plus* :data:`POLL_THREADS` (an idle thread costs
next to nothing and is spawned on demand), and the app refuses a held request past
``max_held_requests`` with a 503 (``api.pubsub.ChangeFeed``). So polls always find a thread.
Measured with 1,000 streams open on one process: 188 MB RSS, p95 delivery 5 ms.

gunicorn (gevent, gthread, sync) stays available for the benchmark's server comparison
(``bench/polling.py --compare-servers``, with the ``bench`` extra).
"""

from __future__ import annotations

import sys
from typing import Literal

from shared.settings import MAX_HELD_REQUESTS

ServerKind = Literal["granian", "gevent", "gthread", "sync"]
SERVER_KINDS: tuple[ServerKind, ...] = ("granian", "gevent", "gthread", "sync")
PRODUCTION: ServerKind = "granian"
WSGI_APP = "api.wsgi:app"

#: Threads per process for short requests (polls, submits, results), on top of one thread per
#: held request (``Settings.max_held_requests``, at most 1,024).
POLL_THREADS = 64
#: granian's thread pool per process: every held request plus the poll threads.
BLOCKING_THREADS = MAX_HELD_REQUESTS + POLL_THREADS

#: Open connections per gevent process (benchmark comparison only).
GEVENT_CONNECTIONS = 4000
#: Threads per process for gunicorn's gthread kind (benchmark comparison only).
THREADS = 16
#: Seconds a stopping worker lets open requests finish. Streams never finish by themselves:
#: they are cut after this and the clients (EventSource) reconnect with Last-Event-ID.
GRACEFUL_SECONDS = 5


def _gunicorn(kind: ServerKind) -> list[str]:
    if kind == "gevent":
        return ["-k", "gevent", "--worker-connections", str(GEVENT_CONNECTIONS)]
    if kind == "gthread":
        return ["-k", "gthread", "--threads", str(THREADS)]
    return ["-k", "sync"]


def server_argv(
    host: str,
    port: int,
    workers: int,
    *,
    kind: ServerKind = PRODUCTION,
    app: str = WSGI_APP,
    access_log: bool = False,
) -> list[str]:
    """The command that serves ``app`` on ``host:port`` with ``workers`` processes.

    No access log by default: one log line per poll cost about a quarter of a status
    request's CPU in the benchmark (a write per request); log requests at the proxy, or pass
    ``access_log=True`` (tests do, to show requests in a failing test's process log). Errors
    are always logged. ``kind`` and ``app`` exist for the benchmark (the same server
    settings for the baselines).
    """
    if kind == "granian":
        # --backpressure: requests in progress per process; its default (backlog / workers)
        # would queue polls behind held streams before the pool is used up.
        # The access log prints the path without the query string: no ?access_token= in it.
        return [
            sys.executable, "-m", "granian", "--interface", "wsgi",
            "--workers", str(workers), "--blocking-threads", str(BLOCKING_THREADS),
            "--backpressure", str(BLOCKING_THREADS), "--backlog", "2048",
            "--workers-kill-timeout", str(GRACEFUL_SECONDS), "--respawn-failed-workers",
            "--host", host, "--port", str(port),
            "--access-log" if access_log else "--no-access-log", app,
        ]
    return [
        sys.executable, "-m", "gunicorn", *_gunicorn(kind),
        "-w", str(workers), "-b", f"{host}:{port}",
        "--graceful-timeout", str(GRACEFUL_SECONDS),
        *(["--access-logfile", "-"] if access_log else []),
        "--error-logfile", "-",
        app,
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m api.server --host H --port P --workers N``: exec the production command,
    so docker-compose and process managers start exactly what ``server_argv`` says."""
    import argparse
    import os

    ap = argparse.ArgumentParser(prog="python -m api.server", description=main.__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--access-log", action="store_true", help="log every request")
    args = ap.parse_args(argv)
    cmd = server_argv(args.host, args.port, args.workers, access_log=args.access_log)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":  # pragma: no cover - replaces the process
    main()

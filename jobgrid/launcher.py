"""Process supervision for ``jobgrid up`` and ``jobgrid demo``: Redis, the API, one worker.

Start order: an embedded Redis (only when ``JOBGRID_REDIS_URL`` is not set), then the API
server (``api.server``) serving ``api.wsgi:app`` and one Celery worker consuming every queue,
then wait until the API's ``/readyz`` answers. Stop order: SIGTERM to the API's and the
worker's process groups together, SIGKILL whatever is left after ``stop_timeout``, then Redis
last so the worker can still ack.

With a data directory (``jobgrid up``; see ``jobgrid.state``) the embedded Redis keeps an
append-only file there and is started on it again next time, the dev key is kept there, and
``state.json`` tells the other commands where the running stack is. Without one (``jobgrid
demo``, tests) everything lives in a throw-away directory.

While running, the launcher watches all three children: if the API or the worker exits, it
stops everything; if the embedded Redis dies, it is restarted on its data directory (up to
:data:`REDIS_RESTARTS` times in :data:`REDIS_RESTART_WINDOW` seconds), or, when there is no
data directory to restart it on, everything stops with a message saying why.

Settings reach the children through ``JOBGRID_*`` environment variables only, exactly as in
production. Without ``JOBGRID_API_KEYS`` a key for org ``org_demo`` is made (kept in the data
directory when there is one) and passed in that variable, so the API accepts it at once
without writing anything to Redis.
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
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

from jobgrid import state as up_state
from jobgrid.embedded_redis import EmbeddedRedis, RedisServerNotFound, RedisStartError
from jobgrid.procs import free_port, http_ok, spawn, stop_groups, tail, wait_until

DEMO_ORG = "org_demo"
FALLBACK_QUEUES = ("control", "extract.high", "extract", "extract.low", "webhooks")
#: Restarts of a dead embedded Redis allowed within :data:`REDIS_RESTART_WINDOW` seconds;
#: one more death in that window stops everything (a Redis that keeps dying needs a human).
REDIS_RESTARTS = 3
REDIS_RESTART_WINDOW = 300.0


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
    """True when a server could not listen on ``host:port`` now.

    ``SO_REUSEADDR``, as every server sets it (granian too): without it the bind fails while
    connections of a server that just stopped sit in TIME_WAIT (up to a minute), and a
    restart right after a stop would be refused although the port is free to listen on.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((probe_host(host), port))
        except OSError:
            return True
    return False


def _port_of(url: str) -> int | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).port
    except ValueError:
        return None


def first_configured_key(api_keys: str) -> str | None:
    """The first key of a ``JOBGRID_API_KEYS`` value ("key=org,key2=org2")."""
    for part in api_keys.split(","):
        key, sep, _org = part.strip().partition("=")
        if sep and key.strip():
            return key.strip()
    return None


def check_redis(url: str, timeout: float = 3.0, *, where: str | None = None) -> str:
    """Fail in seconds, naming the URL, rather than after the whole readiness timeout; and
    refuse a server older than the oldest supported Redis, naming both versions.
    Returns the server's version."""
    import redis

    from shared.redis_client import RedisVersionError, check_redis_version

    label = where or f"JOBGRID_REDIS_URL={url}"
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                  protocol=2)  # HELLO 3 would fail on a pre-6.0 server
    try:
        client.ping()
        return check_redis_version(url, where=label, timeout=timeout) or "unknown"
    except redis.RedisError as e:
        raise LaunchError(f"{label} does not answer: {e} "
                          "(unset it to use an embedded Redis)") from None
    except RedisVersionError as e:
        hint = "upgrade it" if where else "upgrade it, or unset it to use the embedded Redis"
        raise LaunchError(f"{e}; {hint}") from None
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
    #: Where the embedded Redis keeps its append-only file, the dev key and ``state.json``
    #: (``jobgrid.state``); None: a throw-away directory, nothing kept, no state file.
    data_dir: Path | None = None
    #: Delete the data directory's Redis data and dev key before starting.
    fresh: bool = False


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
        self.dev_key_file: Path | None = None
        self.port = config.port
        self.redis_version = ""
        self.state_file: Path | None = None
        self._lock: up_state.DataDirLock | None = None
        self._redis_deaths: list[float] = []

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
    def _claim_data_dir(self) -> None:
        """Create and lock the data directory; with ``fresh``, empty it first."""
        data_dir = self.config.data_dir
        if data_dir is None:
            return
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = up_state.DataDirLock(data_dir)
            locked = lock.acquire()
        except OSError as e:
            raise LaunchError(f"cannot use data directory {data_dir}: {e}") from None
        if not locked:
            other = up_state.read_state(data_dir)
            who = f" (pid {other.pid}, {other.api_url})" if other else ""
            raise LaunchError(f"another 'jobgrid up'{who} uses the data directory {data_dir}; "
                              "stop it, or choose another with --data-dir")
        self._lock = lock
        if self.config.fresh:
            shutil.rmtree(data_dir / up_state.REDIS_SUBDIR, ignore_errors=True)
            (data_dir / up_state.DEV_KEY_FILE).unlink(missing_ok=True)
            (data_dir / up_state.STATE_FILE).unlink(missing_ok=True)

    def _start_embedded_redis(self) -> EmbeddedRedis:
        data_dir = self.config.data_dir
        if data_dir is None:
            workdir = self.config.log_dir / "redis" if self.config.log_dir else None
            server = EmbeddedRedis(workdir=workdir)
        else:
            # the port of last time when it is free, so an exported JOBGRID_REDIS_URL still works
            previous = up_state.read_state(data_dir)
            port = _port_of(previous.redis_url) if previous else None
            if port and port_in_use("127.0.0.1", port):
                port = None
            server = EmbeddedRedis(workdir=data_dir / up_state.REDIS_SUBDIR, appendonly=True,
                                   port=port)
        try:
            server.start()
        except RedisStartError as e:
            if server.port and data_dir is not None:  # the old port was taken meanwhile
                server = EmbeddedRedis(workdir=data_dir / up_state.REDIS_SUBDIR,
                                       appendonly=True)
                server.start()
            else:
                raise LaunchError(str(e)) from None
        return server

    def _prepare_env(self) -> None:
        env = dict(self.config.env if self.config.env is not None else os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        if env.get("JOBGRID_REDIS_URL"):
            self.redis_version = check_redis(env["JOBGRID_REDIS_URL"])
        else:
            try:
                self.redis = self._start_embedded_redis()
            except (RedisServerNotFound, RedisStartError) as e:
                raise LaunchError(str(e)) from None
            env["JOBGRID_REDIS_URL"] = self.redis.url
            self.redis_version = check_redis(
                self.redis.url, where=f"the embedded Redis ({self.redis.executable})")
            where = f", data in {self.redis.dir}" if self.config.data_dir else ""
            self.say(f"embedded Redis {self.redis_version} at {self.redis.url} "
                     f"(pid {self.redis.pid}{where})")
        if not env.get("JOBGRID_API_KEYS"):
            if self.config.data_dir is not None:
                self.api_key = up_state.load_or_create_dev_key(self.config.data_dir)
                self.dev_key_file = self.config.data_dir / up_state.DEV_KEY_FILE
            else:
                self.api_key = up_state.DEV_KEY_PREFIX + secrets.token_urlsafe(24)
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
        self._claim_data_dir()
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
        self._write_state()

    def _write_state(self) -> None:
        """``state.json`` in the data directory: how other commands find this stack."""
        if self.config.data_dir is None:
            return
        from shared.settings import Settings

        prefix = self.env.get("JOBGRID_KEY_PREFIX") or str(
            Settings.model_fields["key_prefix"].default)
        self.state_file = up_state.write_state(self.config.data_dir, up_state.UpState(
            pid=os.getpid(), api_url=self.url, redis_url=self.redis_url, key_prefix=prefix,
            dev_key_file=str(self.dev_key_file) if self.dev_key_file else None,
            started_at=time.time(), data_dir=str(self.config.data_dir),
        ))

    def wait(self, stop: threading.Event, *, interval: float = 0.5) -> int:
        """Block until ``stop`` is set (0) or a child dies on its own (1).

        A dead embedded Redis is restarted on its data directory when there is one (see
        :meth:`_revive_redis`); otherwise its death stops everything like the others'.
        """
        while not stop.wait(interval):
            problem = self._dead_child()
            if problem:
                self.say(f"error: {problem}")
                return 1
            if self.redis is not None and not self.redis.is_running():
                if not self._revive_redis():
                    return 1
        return 0

    def _revive_redis(self) -> bool:
        """Restart the dead embedded Redis on its directory and port; False: stop everything.

        Only with a data directory: its append-only file brings the jobs back (up to the last
        second, ``appendfsync everysec``), and the API and the worker reconnect by themselves
        (they ride out Redis restarts: docs/reliability.md). Without one the data was in
        memory only and a restart would leave every job the API knows of missing, so we stop.
        """
        assert self.redis is not None
        server = self.redis
        code = server.exit_code()
        how = f"was killed by signal {-code}" if code is not None and code < 0 else \
            f"exited with code {code}"
        log = f"\n--- last lines of {server.log_path} ---\n{tail(server.log_path, 15)}"
        head = f"embedded Redis (pid {server.pid}) {how}"
        if self.config.data_dir is None:
            self.say(f"error: {head}; its data was in memory only, so jobgrid stops{log}")
            return False
        now = time.monotonic()
        self._redis_deaths = [t for t in self._redis_deaths if now - t < REDIS_RESTART_WINDOW]
        self._redis_deaths.append(now)
        if len(self._redis_deaths) > REDIS_RESTARTS:
            self.say(f"error: {head}, the {len(self._redis_deaths)}th time within "
                     f"{REDIS_RESTART_WINDOW:.0f}s; jobgrid stops (see {server.log_path}){log}")
            return False
        self.say(f"{head}; restarting it on {server.dir} (port {server.port})")
        try:
            server.restart()
        except RedisStartError as e:
            self.say(f"error: could not restart the embedded Redis: {e}; jobgrid stops")
            return False
        self.say(f"embedded Redis restarted (pid {server.pid}, {server.url})")
        self._write_state()
        return True

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
        if self.config.data_dir is not None and self._lock is not None:
            up_state.remove_state(self.config.data_dir, os.getpid())
            self.state_file = None
            self._lock.release()
            self._lock = None

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

"""Real API (the production server) and worker (Celery) subprocesses for integration tests.

Each process:

* runs in its own session/process group (``jobgrid.procs.spawn``), so ``kill9()`` takes the
  Celery pool children with it and teardown leaves no orphan;
* dies with the test run (``PR_SET_PDEATHSIG``) even if pytest itself is SIGKILLed;
* writes stdout+stderr to a log file under pytest's tmp dir, registered with
  :data:`tests.support.logs.REGISTRY` so a failing test's report shows its part of the log.

Use them through the fixtures in ``tests/conftest.py`` (``worker_process``, ``start_api``,
``api_server``, ``live_stack``) rather than directly.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from api.server import server_argv
from jobgrid.procs import child_pids, free_port, group_pids, http_ok, spawn, stop_groups, tail
from support.env import API_KEY_A, SettingsEnv
from support.logs import REGISTRY

REPO_ROOT = Path(__file__).resolve().parents[2]
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
_READY_LINE = re.compile(r"@\S+ ready\.\s*$", re.MULTILINE)
_counter = itertools.count(1)


def all_queues() -> list[str]:
    from shared.queues import ALL_QUEUES

    return list(ALL_QUEUES)


class ManagedProcess:
    """A subprocess with a log file; stop() is idempotent and kills the whole group."""

    label = "process"

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def _spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as fh:
            fh.write(f"$ {' '.join(self.argv)}\n".encode())
        self.proc = spawn(self.argv, env=self.env, cwd=REPO_ROOT, log_path=self.log_path)
        REGISTRY.register(f"{self.label} pid {self.proc.pid}", self.log_path)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited_message(self) -> str | None:
        if self.proc is None or self.proc.poll() is None:
            return None
        return (f"{self.label} exited with code {self.proc.returncode}; log {self.log_path}:\n"
                f"{tail(self.log_path, 60)}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until the log matches the regex ``pattern``; return the match."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.log_text())
            if match:
                return match
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} not in {self.log_path} after {timeout}s:\n"
                                   f"{tail(self.log_path, 60)}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group (Celery: warm shutdown), SIGKILL after ``timeout``."""
        if self.proc is not None:
            stop_groups([self.proc], timeout=timeout)
        # keep the log registered: a failing test still shows what the process wrote

    def kill9(self) -> None:
        """SIGKILL the whole process group at once, as an OOM kill or a node loss would."""
        if self.proc is not None:
            stop_groups([self.proc], timeout=0, sig=signal.SIGKILL)

    def leftover_pids(self) -> list[int]:
        return group_pids(self.proc.pid) if self.proc is not None else []

    def close(self) -> None:
        self.stop()
        REGISTRY.unregister(self.log_path)


class WorkerProcess(ManagedProcess):
    """``python -m celery -A worker.celery_app worker`` (prefork pool) for one test stack."""

    label = "worker"

    def __init__(
        self,
        settings_env: SettingsEnv,
        log_path: Path,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 2,
        name: str | None = None,
        extra_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings_env = settings_env
        self.queues = list(queues or all_queues())
        self.node = f"{name or f'w{next(_counter)}'}-{time.monotonic_ns() % 10**6}@" \
                    f"{socket.gethostname()}"
        argv = [
            sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
            "-Q", ",".join(self.queues), "--concurrency", str(concurrency), "--pool", "prefork",
            "-n", self.node, "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-l", "INFO", *extra_args,
        ]
        super().__init__(argv, settings_env.child_env(extra_env), log_path)
        self.label = f"worker {self.node}"

    def start(self, ready_timeout: float = 30.0) -> WorkerProcess:
        self._spawn()
        self.wait_ready(ready_timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the worker consumes: its "<node> ready." log line, else a control ping.

        The log line is the fast path; the ping (after a few seconds) covers a worker whose
        logging configuration hides that line.
        """
        deadline = time.monotonic() + timeout
        next_ping = time.monotonic() + 5.0
        while True:
            if _READY_LINE.search(self.log_text()):
                return
            problem = self.exited_message()
            if problem:
                raise RuntimeError(problem)
            if time.monotonic() >= next_ping:
                if self._ping():
                    return
                next_ping = time.monotonic() + 2.0
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.label} not ready after {timeout}s; log:\n"
                                   f"{tail(self.log_path, 60)}")
            time.sleep(0.05)

    def _ping(self) -> bool:
        from shared.celery_config import make_celery

        app = make_celery(self.settings_env.settings, name="jobgrid-test-ping")
        try:
            return bool(app.control.ping(destination=[self.node], timeout=1.0))
        except Exception:  # noqa: BLE001 - any broker trouble just means "not yet"
            return False
        finally:
            app.close()

    def pool_pids(self) -> list[int]:
        """PIDs of the prefork pool processes (the ones that run tasks)."""
        return child_pids(self.pid) if self.proc is not None else []

    def kill9_pool_child(self) -> int:
        """SIGKILL one pool process (the main process replaces it); returns its pid."""
        pids = self.pool_pids()
        if not pids:
            raise RuntimeError(f"{self.label} has no pool processes")
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]


class ApiClient:
    """``requests`` against one API server, with an API key header preset.

    ``client.get("/v1/jobs/ID")`` etc. return ``requests.Response``; paths are relative to
    the server URL. Created by :meth:`ApiServer.client`, closed with the server.
    """

    def __init__(self, base_url: str, api_key: str | None = API_KEY_A, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if api_key is not None:
            self.session.headers["Api-Key"] = api_key

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def submit(self, body: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        """POST /v1/jobs, assert 202 (or 200 for an idempotent replay), return the job."""
        resp = self.post("/v1/jobs", json=dict(body), **kwargs)
        assert resp.status_code in (200, 202), f"{resp.status_code}: {resp.text}"
        job: dict[str, Any] = resp.json()
        return job

    def wait_status(
        self,
        job_id: str,
        statuses: Sequence[str] | frozenset[str] = TERMINAL,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Poll ``/status`` until the job's status is one of ``statuses``; return the payload."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            resp = self.get(f"/v1/jobs/{job_id}/status")
            if resp.status_code == 200:
                last = resp.json()
                if last.get("status") in statuses:
                    return last
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} not in {sorted(statuses)} after {timeout}s; last: {last}")

    def wait_documents(self, job_id: str, n: int, timeout: float = 60.0) -> dict[str, Any]:
        """Poll ``/status`` until at least ``n`` documents completed; return the payload."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            resp = self.get(f"/v1/jobs/{job_id}/status")
            if resp.status_code == 200:
                last = resp.json()
                if last.get("completed_documents", 0) >= n:
                    return last
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} did not reach {n} completed documents after "
                           f"{timeout}s; last: {last}")

    def close(self) -> None:
        self.session.close()


class ApiServer(ManagedProcess):
    """The production server (``api.server``) serving ``api.wsgi:app`` on a free 127.0.0.1 port."""

    label = "api"

    def __init__(
        self,
        settings_env: SettingsEnv,
        log_path: Path,
        *,
        workers: int = 2,
        threads: int = 16,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings_env = settings_env
        self.workers = workers
        self.threads = threads
        self.extra_env = dict(extra_env or {})
        self.port = 0
        self._clients: list[ApiClient] = []
        super().__init__([], {}, log_path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 30.0) -> ApiServer:
        for attempt in range(3):
            self.port = free_port()
            extra = {"JOBGRID_BASE_URL": self.url, **self.extra_env}
            if "JOBGRID_BASE_URL" in self.settings_env.env:
                extra["JOBGRID_BASE_URL"] = self.settings_env.env["JOBGRID_BASE_URL"]
            self.env = self.settings_env.child_env(extra)
            # the production server (api.server), with an access log for failing tests' reports
            self.argv = server_argv("127.0.0.1", self.port, self.workers, access_log=True)
            self._spawn()
            deadline = time.monotonic() + ready_timeout
            while time.monotonic() < deadline:
                if http_ok(self.url + "/healthz", timeout=0.5):
                    return self
                if self.exited_message():
                    break
                time.sleep(0.05)
            in_use = "in use" in tail(self.log_path, 20)
            problem = self.exited_message() or f"api not healthy after {ready_timeout}s"
            self.stop(timeout=2)
            if not (in_use and attempt < 2):
                raise RuntimeError(f"{problem}\n{tail(self.log_path, 60)}")
        raise AssertionError("unreachable")

    def client(self, api_key: str | None = API_KEY_A) -> ApiClient:
        """A requests client for this server (``api_key=None``: no key header)."""
        c = ApiClient(self.url, api_key)
        self._clients.append(c)
        return c

    def stop(self, timeout: float = 10.0) -> None:
        for c in self._clients:
            c.close()
        self._clients.clear()
        super().stop(timeout)


class ProcessSet:
    """Owns the processes a fixture started; ``close()`` stops all of them (teardown)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.items: list[ManagedProcess] = []

    def _log(self, stem: str) -> Path:
        return self.log_dir / f"{stem}-{next(_counter)}.log"

    def start_worker(self, settings_env: SettingsEnv, **kwargs: Any) -> WorkerProcess:
        ready_timeout = float(kwargs.pop("ready_timeout", 30.0))
        w = WorkerProcess(settings_env, self._log("worker"), **kwargs)
        self.items.append(w)
        return w.start(ready_timeout)

    def start_api(self, settings_env: SettingsEnv, **kwargs: Any) -> ApiServer:
        ready_timeout = float(kwargs.pop("ready_timeout", 30.0))
        a = ApiServer(settings_env, self._log("api"), **kwargs)
        self.items.append(a)
        return a.start(ready_timeout)

    def close(self) -> None:
        procs = [p.proc for p in self.items if p.proc is not None]
        for item in self.items:
            if isinstance(item, ApiServer):
                for c in item._clients:
                    c.close()
        stop_groups(procs, timeout=10.0)  # all at once: one grace period, not one each
        for item in self.items:
            REGISTRY.unregister(item.log_path)
        self.items.clear()

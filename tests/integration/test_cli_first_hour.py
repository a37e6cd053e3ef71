"""The first hour with the CLI: ``jobgrid up``'s data directory and state file, the port
probe, supervision of the embedded Redis, ``submit DIR``'s choice of files, ``--watch``.

Each test would have caught the defect it is named after (issue "the first hour"): a key from
``jobgrid keys create`` that the running ``up`` did not know, data gone after a restart, a
restart refused while TIME_WAIT sockets remained, a SIGKILLed redis-server left unnoticed,
ground-truth JSON sent as a document, and a watch that slept 2 s after a 0.13 s job.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from support.env import API_KEY_A
from support.payloads import INVOICE_FIELDS, invoice_text

from jobgrid import launcher as launcher_mod
from jobgrid import state as up_state
from jobgrid.cli import run
from jobgrid.cli_common import CliState
from jobgrid.client import DEFAULT_URL, JSON, Client
from jobgrid.documents import DOCUMENT_SUFFIXES, select_files
from jobgrid.launcher import LaunchConfig, Launcher, LaunchError, port_in_use
from jobgrid.procs import free_port, group_pids
from jobgrid.watch import watch_job

REPO = Path(__file__).resolve().parents[2]
JOBGRID = [sys.executable, "-c", "from jobgrid.cli import main; main()"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without JOBGRID_* (the user's shell), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBGRID_")}
    env[up_state.DATA_DIR_ENV] = str(data_dir)
    env.update(extra)
    return env


@pytest.fixture
def data_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """In-process commands see only JOBGRID_DATA_DIR=<tmp> (no URL, no key, no Redis URL)."""
    for name in list(os.environ):
        if name.startswith("JOBGRID_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv(up_state.DATA_DIR_ENV, str(data_dir))
    return data_dir


# ------------------------------------------------------------------ 3. port probe
def test_port_probe_ignores_time_wait() -> None:
    """A stopped server leaves TIME_WAIT connections on its port; listening there again is
    allowed (SO_REUSEADDR, as servers set it), so the probe must not call the port busy."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.close()  # the server side closes first: its end of the connection enters TIME_WAIT
    time.sleep(0.1)
    client.close()
    listener.close()
    time.sleep(0.1)
    plain = socket.socket()
    try:
        plain.bind(("127.0.0.1", port))  # what the old probe did
        pytest.skip("this kernel let a plain bind through despite TIME_WAIT")
    except OSError:
        pass  # the old probe would have said "already in use"
    finally:
        plain.close()
    assert not port_in_use("127.0.0.1", port)


def test_port_probe_still_sees_a_listener() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert port_in_use("127.0.0.1", s.getsockname()[1])


# -------------------------------------------------- 2. data directory, state, discovery
def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(up_state.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert up_state.default_data_dir() == tmp_path / "xdg" / "jobgrid"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert up_state.default_data_dir() == tmp_path / "home" / ".local" / "share" / "jobgrid"
    monkeypatch.setenv(up_state.DATA_DIR_ENV, str(tmp_path / "explicit"))
    assert up_state.default_data_dir() == tmp_path / "explicit"


def _fake_up_state(data_dir: Path, redis_url: str, key_prefix: str,
                   api_url: str = "http://127.0.0.1:1") -> up_state.DataDirLock:
    """What a running ``up`` leaves: its lock held, state.json and the dev key written."""
    lock = up_state.DataDirLock(data_dir)
    assert lock.acquire()
    key = up_state.load_or_create_dev_key(data_dir)
    assert key.startswith("jg_dev_")
    up_state.write_state(data_dir, up_state.UpState(
        pid=os.getpid(), api_url=api_url, redis_url=redis_url, key_prefix=key_prefix,
        dev_key_file=str(data_dir / up_state.DEV_KEY_FILE), started_at=time.time(),
        data_dir=str(data_dir)))
    return lock


def test_state_file_is_private_and_stale_state_is_ignored(data_dir_env: Path) -> None:
    lock = _fake_up_state(data_dir_env, "redis://127.0.0.1:1/0", "jg", "http://127.0.0.1:9")
    try:
        for name in (up_state.STATE_FILE, up_state.DEV_KEY_FILE):
            assert (data_dir_env / name).stat().st_mode & 0o077 == 0, name
        found = up_state.running_state()
        assert found is not None and found.api_url == "http://127.0.0.1:9"
        client = CliState(url=None, api_key=None).client()
        assert client.base_url == "http://127.0.0.1:9"
        assert client.api_key == (data_dir_env / "dev-key").read_text().strip()
        explicit = CliState(url="http://elsewhere:1", api_key=None).client()
        assert explicit.base_url == "http://elsewhere:1" and explicit.api_key is None
        mine = CliState(url=None, api_key="my-key").client()
        assert mine.base_url == "http://127.0.0.1:9" and mine.api_key == "my-key"
    finally:
        lock.release()
    # the lock is free: a killed up's state.json is stale and must not be used
    assert up_state.running_state() is None
    assert CliState(url=None, api_key=None).client().base_url == DEFAULT_URL


def test_keys_create_reaches_the_running_up(
    data_dir_env: Path, redis_url: str, make_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The defect: ``keys create`` wrote to 127.0.0.1:6379 while ``up`` used another Redis."""
    from shared.apikeys import list_api_keys

    settings = make_settings(isolated=True).settings
    lock = _fake_up_state(data_dir_env, redis_url, settings.key_prefix)
    try:
        assert run(["keys", "create", "--org", "org_first_hour"]) == 0
        captured = capsys.readouterr()
        key = captured.out.strip()
        assert key.startswith("jg_") and "running 'jobgrid up'" in captured.err
    finally:
        lock.release()
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        rows = list_api_keys(r, settings, "org_first_hour")
    finally:
        r.close()
    assert len(rows) == 1  # stored under the up's Redis and key prefix


def _stand_in(tmp_path: Path, *, data_dir: Path | None, env: dict[str, str] | None = None
              ) -> LaunchConfig:
    www = tmp_path / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "readyz").write_text("ok")
    port = free_port()
    return LaunchConfig(
        port=port, log_dir=tmp_path / "logs", ready_timeout=20, stop_timeout=2,
        env=env if env is not None else {"PATH": "/usr/bin:/bin"},
        api_argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                  "--directory", str(www)],
        worker_argv=[sys.executable, "-c", "import time; time.sleep(600)"],
        data_dir=data_dir,
    )


def test_one_up_per_data_dir_and_state_lifecycle(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Launcher(_stand_in(tmp_path, data_dir=data_dir), say=lambda m: None)
    with first:
        state = up_state.running_state(data_dir)
        assert state is not None and state.api_url == first.url
        assert state.redis_url == first.redis_url and state.pid == os.getpid()
        second = Launcher(_stand_in(tmp_path / "b", data_dir=data_dir), say=lambda m: None)
        with pytest.raises(LaunchError, match="another 'jobgrid up'.*uses the data directory"):
            second.start()
        second.stop()
        assert up_state.running_state(data_dir) is not None  # the refusal removed nothing
        key = first.api_key
    assert not (data_dir / up_state.STATE_FILE).exists()
    again = Launcher(_stand_in(tmp_path, data_dir=data_dir), say=lambda m: None)
    with again:
        assert again.api_key == key  # the dev key is kept: an exported key keeps working
    fresh = Launcher(_stand_in(tmp_path, data_dir=data_dir), say=lambda m: None)
    fresh.config.fresh = True
    with fresh:
        assert fresh.api_key != key


# ------------------------------------------------------ 15.11 embedded Redis supervision
def test_redis_death_without_data_dir_stops_everything(tmp_path: Path) -> None:
    messages: list[str] = []
    launcher = Launcher(_stand_in(tmp_path, data_dir=None), say=messages.append)
    with launcher:
        assert launcher.redis is not None and launcher.redis.pid is not None
        pid = launcher.redis.pid
        os.kill(pid, signal.SIGKILL)
        assert launcher.wait(threading.Event(), interval=0.05) == 1
    text = "\n".join(messages)
    assert f"embedded Redis (pid {pid}) was killed by signal 9" in text
    assert "jobgrid stops" in text


def test_redis_death_with_data_dir_restarts_it_with_its_data(tmp_path: Path) -> None:
    messages: list[str] = []
    launcher = Launcher(_stand_in(tmp_path, data_dir=tmp_path / "data"), say=messages.append)
    stop = threading.Event()
    with launcher:
        assert launcher.redis is not None
        r = redis.Redis.from_url(launcher.redis_url, decode_responses=True)
        try:
            r.set("first-hour", "kept")
            r.execute_command("BGREWRITEAOF")  # on disk now, not within the next second
            time.sleep(0.5)
        finally:
            r.close()
        old_pid, port = launcher.redis.pid, launcher.redis.port
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        waiter = threading.Thread(target=lambda: launcher.wait(stop, interval=0.05))
        waiter.start()
        deadline = time.monotonic() + 20
        while not any("restarted" in m for m in messages) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        waiter.join(10)
        assert any("restarted" in m for m in messages), messages
        assert launcher.redis.pid != old_pid and launcher.redis.port == port
        r = redis.Redis.from_url(launcher.redis_url, decode_responses=True)
        try:
            assert r.get("first-hour") == "kept"
        finally:
            r.close()
        state = up_state.running_state(tmp_path / "data")
        assert state is not None and state.redis_url == launcher.redis_url


def test_redis_that_keeps_dying_stops_everything(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher_mod, "REDIS_RESTARTS", 0)
    messages: list[str] = []
    launcher = Launcher(_stand_in(tmp_path, data_dir=tmp_path / "data"), say=messages.append)
    with launcher:
        assert launcher.redis is not None and launcher.redis.pid is not None
        os.kill(launcher.redis.pid, signal.SIGKILL)
        assert launcher.wait(threading.Event(), interval=0.05) == 1
    assert any("jobgrid stops" in m for m in messages), messages


# ------------------------------------------------------------- 8. submit DIR selection
def test_document_types_match_the_parser() -> None:
    from worker.extraction.parsing import EXTENSION_KINDS

    assert set(EXTENSION_KINDS) == DOCUMENT_SUFFIXES


def test_select_files_takes_documents_and_says_what_it_skipped(tmp_path: Path) -> None:
    for name in ("a.txt", "b.md", "c.pdf", "d.docx", "e.html", "ground_truth.json",
                 "schema copy.json", "scan.png", "notes", ".hidden.txt"):
        (tmp_path / name).write_text("x")
    schema = tmp_path / "schema.json"
    schema.write_text("{}")
    sel = select_files([tmp_path], exclude=[schema])
    assert [p.name for p in sel.files] == ["a.txt", "b.md", "c.pdf", "d.docx", "e.html"]
    skipped = dict((p.name, why) for p, why in sel.skipped)
    assert set(skipped) == {"ground_truth.json", "schema copy.json", "scan.png", "notes",
                            "schema.json"}
    assert skipped["schema.json"] == "the schema file"
    assert "not a document type" in skipped["ground_truth.json"]
    assert sel.skipped_summary().startswith("skipped 5 files: ")
    only_md = select_files([tmp_path], include_globs=["*.md", "*.png"], exclude_globs=["*.png"])
    assert [p.name for p in only_md.files] == ["b.md"]
    named = select_files([tmp_path / "scan.png"])  # named one by one: sent as asked
    assert [p.name for p in named.files] == ["scan.png"]


# ------------------------------------------------------------ 7. watch over SSE (fake)
class SseApi:
    """A stand-in API: ``/events`` streams given SSE bodies in turn, ``/status`` JSON answers."""

    def __init__(self) -> None:
        self.streams: list[tuple[int, bytes]] = []
        self.statuses: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                api.requests.append((self.path, dict(self.headers)))
                if "/events" in self.path and api.streams:
                    status, body = api.streams.pop(0)
                    self.send_response(status)
                    ctype = "text/event-stream" if status == 200 else "application/json"
                    self.send_header("Content-Type", ctype)
                    self.end_headers()
                    for chunk in body.split(b"\n\n"):
                        self.wfile.write(chunk + b"\n\n")
                        self.wfile.flush()
                    return
                if "/status" in self.path and api.statuses:
                    status, payload = api.statuses.pop(0)
                    raw = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error": {"code": "not_found", "message": "no route"}}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _event(status: str, version: int, waiting_for: str | None = None) -> bytes:
    payload = {"id": "j1", "status": status, "version": version, "progress": 0,
               "waiting_for": waiting_for}
    return b"id: %d\nevent: status\ndata: %s\n\n" % (version, json.dumps(payload).encode())


@pytest.fixture
def sse_api() -> Iterator[SseApi]:
    api = SseApi()
    yield api
    api.close()


def test_watch_follows_the_event_stream_without_polling(sse_api: SseApi) -> None:
    sse_api.streams.append((200, b"retry: 2000\n\n: heartbeat\n\n" + _event("queued", 1)
                            + _event("in_progress", 2) + _event("completed", 3)))
    sleeps: list[float] = []
    seen: list[str] = []
    final = watch_job(Client(sse_api.url, "k"), "j1", lambda s: seen.append(s["status"]),
                      sleep=sleeps.append)
    assert final["status"] == "completed" and seen == ["queued", "in_progress", "completed"]
    assert sleeps == []  # the old loop slept X-Poll-After (2 s while queued) here
    assert [p for p, _ in sse_api.requests] == ["/v1/jobs/j1/events"]
    assert sse_api.requests[0][1]["Accept"] == "text/event-stream"


def test_watch_resumes_a_cut_stream_with_last_event_id(sse_api: SseApi) -> None:
    sse_api.streams += [(200, _event("in_progress", 4)), (200, _event("completed", 5))]
    seen: list[int] = []
    final = watch_job(Client(sse_api.url, "k"), "j1", lambda s: seen.append(s["version"]))
    assert final["version"] == 5 and seen == [4, 5]
    assert sse_api.requests[1][1].get("Last-Event-ID") == "4"


def test_watch_shows_the_servers_waiting_for_as_news_of_the_same_version(
        sse_api: SseApi) -> None:
    """A pause changes ``waiting_for`` and nothing else (the server sends it with the same
    version); the watcher reports it once, and keeps no stall clock of its own."""
    sse_api.streams.append((200, _event("in_progress", 4) + _event("in_progress", 4, "rescue")
                            + _event("in_progress", 4, "rescue") + _event("in_progress", 5)
                            + _event("completed", 6)))
    seen: list[tuple[int, str | None]] = []
    final = watch_job(Client(sse_api.url, "k"), "j1",
                      lambda s: seen.append((s["version"], s["waiting_for"])))
    assert final["status"] == "completed"
    assert seen == [(4, None), (4, "rescue"), (5, None), (6, None)]


def test_watch_falls_back_to_long_poll(sse_api: SseApi) -> None:
    sse_api.streams.append((503, b'{"error": {"code": "unavailable", "message": "cap"}}'))
    sse_api.statuses += [(200, {"id": "j1", "status": "in_progress", "version": 2}),
                         (200, {"id": "j1", "status": "completed", "version": 3})]
    sleeps: list[float] = []
    final = watch_job(Client(sse_api.url, "k"), "j1", lambda s: None, sleep=sleeps.append)
    assert final["status"] == "completed" and sleeps == []
    polls = [p for p, _ in sse_api.requests if "/status" in p]
    assert "wait=30" in polls[0] and "version=2" in polls[1], polls


# ------------------------------------------------------------- integration: real stack
@pytest.mark.integration
def test_watch_reports_a_fast_job_from_the_stream(live_stack: Any) -> None:
    """A one-document job ends in a fraction of a second; the watcher learns it from the
    stream, without one status poll and without sleeping."""
    class Counting(Client):
        polls = 0

        def status(self, *args: Any, **kwargs: Any) -> Any:
            Counting.polls += 1
            return super().status(*args, **kwargs)

    client = Counting(live_stack.url, API_KEY_A)
    job = client.submit("fast", schema={"name": "Invoice", "fields": INVOICE_FIELDS},
                        documents=[{"filename": "a.txt", "text": invoice_text(1)}])
    sleeps: list[float] = []
    seen: list[JSON] = []
    final = watch_job(client, str(job["id"]), seen.append, sleep=sleeps.append)
    assert final["status"] == "completed"
    assert Counting.polls == 0 and sleeps == []


def _wait_line(pattern: str, path: Path, proc: subprocess.Popen[bytes],
               timeout: float = 90) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, path.read_text(errors="replace"), re.MULTILINE)
        if match:
            return match
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not seen (rc={proc.poll()}):\n"
                         f"{path.read_text(errors='replace')[-4000:]}")


class UpProcess:
    """``jobgrid up`` as a user runs it, on a data directory; output in files."""

    def __init__(self, tmp_path: Path, data_dir: Path, port: int, *args: str) -> None:
        self.out = tmp_path / f"up-{time.monotonic_ns()}.out"
        self.err = self.out.with_suffix(".err")
        with self.out.open("wb") as fo, self.err.open("wb") as fe:
            self.proc = subprocess.Popen(
                [*JOBGRID, "up", "--port", str(port), "--concurrency", "1", *args],
                stdout=fo, stderr=fe, env=_env(data_dir), cwd=REPO)
        self.url = _wait_line(r"jobgrid is up at (http://\S+)", self.out, self.proc).group(1)
        self.redis_pid = int(_wait_line(r"embedded Redis \S+ at \S+ \(pid (\d+)", self.err,
                                        self.proc).group(1))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        assert self.proc.wait(timeout=60) == 0, self.err.read_text()[-3000:]


def _cli(data_dir: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    extra = {"JOBGRID_API_KEY": key} if key else {}
    return subprocess.run([*JOBGRID, *args], env=_env(data_dir, **extra), cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_up_keeps_data_restarts_on_its_port_survives_redis_kill_and_fresh_starts_empty(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    up = UpProcess(tmp_path, data_dir, port)
    try:
        banner = up.out.read_text()
        dev_key = (data_dir / "dev-key").read_text().strip()
        assert dev_key not in banner + up.err.read_text()  # 15.13: never printed in clear
        assert str(data_dir) in banner and "jobgrid keys create" in banner
        # 2: a key made next to the running up works on it at once
        made = _cli(data_dir, "keys", "create", "--org", "org_hour")
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip()
        sub = _cli(data_dir, "submit", str(REPO / "samples" / "invoices"), "--schema",
                   str(REPO / "samples" / "invoices" / "schema.json"), "--watch",
                   "--idempotency-key", "hour-1", key=key)
        assert sub.returncode == 0, sub.stderr
        job_id = sub.stdout.strip().splitlines()[0]
        assert "skipped 2 files: ground_truth.json" in sub.stderr, sub.stderr  # 8
        # the README's curl example on the embedded Redis: idempotent replay, not a 500
        again = _cli(data_dir, "submit", str(REPO / "samples" / "invoices"), "--schema",
                     str(REPO / "samples" / "invoices" / "schema.json"),
                     "--idempotency-key", "hour-1", key=key)
        assert again.returncode == 0 and again.stdout.strip() == job_id, again.stderr
        # 15.11: SIGKILL the embedded redis-server; up restarts it on its data
        time.sleep(1.5)  # appendfsync everysec: what the last second wrote may be lost
        os.kill(up.redis_pid, signal.SIGKILL)
        _wait_line(r"embedded Redis restarted", up.err, up.proc, timeout=30)
        deadline = time.monotonic() + 30
        while requests.get(up.url + "/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "API not ready after the Redis restart"
            time.sleep(0.2)
        status = _cli(data_dir, "status", job_id, "--json", key=key)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["status"] == "completed"
        # demo beside a running up: its own throw-away stack, the up's state untouched
        demo = _cli(data_dir, "demo", "--concurrency", "1")
        assert demo.returncode == 0, demo.stderr[-3000:]
        assert up_state.running_state(data_dir) is not None
    finally:
        up.stop()
    assert not (data_dir / "state.json").exists()
    # 3: at once on the same port (TIME_WAIT sockets remain); 2: the data is still there
    up = UpProcess(tmp_path, data_dir, port)
    try:
        assert up.url.endswith(f":{port}")
        status = _cli(data_dir, "status", job_id, "--json", key=key)
        assert status.returncode == 0 and json.loads(status.stdout)["status"] == "completed"
        assert (data_dir / "dev-key").read_text().strip() == dev_key
    finally:
        up.stop()
    # --fresh: empty
    up = UpProcess(tmp_path, data_dir, port, "--fresh")
    try:
        status = _cli(data_dir, "status", job_id, key=key)
        assert status.returncode == 2 and "unauthorized" in status.stderr, status.stderr
        assert (data_dir / "dev-key").read_text().strip() != dev_key
    finally:
        up.stop()
    assert group_pids(up.redis_pid) == []


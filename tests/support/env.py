"""Settings for a test stack, as a ``Settings`` object and as the ``JOBGRID_*`` env of children.

Both views come from the same dict: the ``Settings`` object is parsed from exactly the
environment the API and worker subprocesses get, with the test process's own ``JOBGRID_*``
variables hidden, so in-process code and subprocesses can never disagree about a setting.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shared.settings import Settings

API_KEY_A = "test-key-a"
ORG_A = "org_a"
API_KEY_B = "test-key-b"
ORG_B = "org_b"

#: Fast poll hints: tests poll often and should not wait a second between polls.
DEFAULT_TEST_SETTINGS: dict[str, Any] = {
    "api_keys": f"{API_KEY_A}={ORG_A},{API_KEY_B}={ORG_B}",
    "poll_after_seconds": 0.1,
    "poll_after_queued_seconds": 0.1,
    "sse_heartbeat_seconds": 1.0,
    "api_key_cache_seconds": 0.0,
    "retry_backoff_base": 0.1,
    "retry_backoff_max": 1.0,
    # every test client is 127.0.0.1: the suite's deliberate 401s would share one address's
    # failed-authentication budget (tests/integration/test_hostile_clients.py runs the default)
    "auth_failure_limit": 1_000_000,
}


def env_name(setting: str) -> str:
    return "JOBGRID_" + setting.upper()


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextmanager
def only_env(env: Mapping[str, str]) -> Iterator[None]:
    """Temporarily replace the process's ``JOBGRID_*`` variables by ``env`` (for Settings())."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("JOBGRID_")}
    for k in saved:
        del os.environ[k]
    os.environ.update(env)
    try:
        yield
    finally:
        for k in env:
            os.environ.pop(k, None)
        os.environ.update(saved)


@dataclass(frozen=True)
class SettingsEnv:
    """One stack's configuration.

    ``settings``: the parsed :class:`Settings`; ``env``: only the ``JOBGRID_*`` variables;
    :meth:`child_env`: the full environment for a subprocess.
    """

    settings: Settings
    env: dict[str, str] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return self.settings.redis_url

    @property
    def key_prefix(self) -> str:
        return self.settings.key_prefix

    def child_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """os.environ without its ``JOBGRID_*`` entries, plus ours, plus ``extra``."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("JOBGRID_")}
        base.update(self.env)
        base["PYTHONUNBUFFERED"] = "1"
        base.update(extra or {})
        return base

    def replace(self, **overrides: Any) -> SettingsEnv:
        """A copy with some settings changed (names as in Settings: ``retention_seconds=5``)."""
        env = dict(self.env)
        for name, value in overrides.items():
            if value is None:
                env.pop(env_name(name), None)
            else:
                env[env_name(name)] = _env_value(value)
        return build_settings_env(env)


def build_settings_env(env: Mapping[str, str]) -> SettingsEnv:
    """Parse ``env`` (``JOBGRID_*`` names) into Settings; fails like the app would on bad values."""
    unknown = [k for k in env if k.startswith("JOBGRID_")
               and k[len("JOBGRID_"):].lower() not in Settings.model_fields]
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    with only_env(env):
        settings = Settings()
    return SettingsEnv(settings=settings, env=dict(env))


def make_settings_env(redis_url: str, key_prefix: str, **overrides: Any) -> SettingsEnv:
    values: dict[str, Any] = {"redis_url": redis_url, "key_prefix": key_prefix,
                              **DEFAULT_TEST_SETTINGS, **overrides}
    env = {env_name(k): _env_value(v) for k, v in values.items() if v is not None}
    return build_settings_env(env)

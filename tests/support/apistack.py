"""An API server on its own isolated prefix, with direct Redis access for arranging state.

The API test modules each get one (module scope: the ``stack`` fixture of
``tests/integration/conftest.py``, with ``org_key``, ``api``, ``new_client`` and ``other``)
so a worker of another test can never consume their jobs, and set job fields directly to
reach states that are slow to produce.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis

from shared.keys import Keys
from shared.store import JobStore
from support.env import SettingsEnv
from support.servers import ApiServer, ProcessSet


@dataclass(frozen=True)
class ApiStack:
    server: ApiServer
    env: SettingsEnv
    redis: redis.Redis

    @property
    def keys(self) -> Keys:
        return Keys(self.env.key_prefix)

    @property
    def store(self) -> JobStore:
        return JobStore(self.redis, self.env.settings)

    def set_job(self, job_id: str, **fields: Any) -> None:
        self.redis.hset(self.keys.job(job_id), mapping={k: str(v) for k, v in fields.items()})

    def sent_tasks(self) -> list[tuple[str, list[Any]]]:
        """(task name, args) of every message waiting on the control queue."""
        out = []
        for raw in self.redis.lrange(f"{self.keys.broker_prefix}control", 0, -1):
            msg = orjson.loads(raw)
            args = orjson.loads(base64.b64decode(msg["body"]))[0]
            out.append((msg["headers"]["task"], args))
        return out


@contextmanager
def api_stack(env: SettingsEnv, log_dir: Path) -> Iterator[ApiStack]:
    """One API process (no worker) on ``env``; stopped on exit."""
    procs = ProcessSet(log_dir)
    client = redis.Redis.from_url(env.redis_url, decode_responses=True)
    try:
        yield ApiStack(procs.start_api(env, workers=1, threads=8), env, client)
    finally:
        procs.close()
        client.close()

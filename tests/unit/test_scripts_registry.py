"""One Lua registry (``shared/scripts.py``): every script in ``shared/lua`` is registered there,
once per client, and the job and webhook stores share it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import fakeredis
import pytest

from shared import scripts as registry
from shared.models import JobCreate
from shared.scripts import Scripts, scripts_for
from shared.settings import Settings
from shared.status import JobStatus, Phase
from shared.store import JobStore
from shared.webhooks import WebhookCreate, WebhookStore, emit_job_event, emit_progress
from worker.housekeeping import sweep_deliveries, sweep_expiries

LUA = Path(registry.__file__).resolve().parent / "lua"
ORG = "org_a"


def test_every_lua_file_is_in_the_registry() -> None:
    files = {p.stem for p in LUA.glob("*.lua")} - {"_lib"}
    assert files == set(registry._NAMES)
    assert all(name in Scripts.__annotations__ for name in registry._NAMES)


def test_one_set_of_scripts_per_client(fake_redis: fakeredis.FakeRedis) -> None:
    s = Settings(key_prefix="ut")
    store = JobStore(fake_redis, s)
    assert scripts_for(fake_redis) is store.scripts
    assert WebhookStore(fake_redis, s).scripts is store.scripts
    assert JobStore(fake_redis, s.model_copy(update={"key_prefix": "ut2"})).scripts \
        is store.scripts
    other = fakeredis.FakeRedis(decode_responses=True)
    assert scripts_for(other) is not store.scripts


def test_emission_and_sweeps_register_nothing_per_call(
    fake_redis: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old webhook module registered (hashed) its script on every call; now a client's
    scripts are made once and every later call reuses them."""
    s = Settings(key_prefix="ut", webhook_secret_key="k")
    store = JobStore(fake_redis, s)
    WebhookStore(fake_redis, s).create(
        ORG, WebhookCreate(url="https://example.com/h", events=["job.completed", "job.progress"]))
    registered: list[Any] = []
    real = fake_redis.register_script
    monkeypatch.setattr(fake_redis, "register_script",
                        lambda src: registered.append(src) or real(src))
    req = JobCreate.model_validate({"schema": {"name": "s", "fields": [{"name": "f"}]},
                                    "documents": [{"filename": "d.txt", "text": "x"}]})
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    store.create_job(job_id, ORG, req, req.schema_, None)
    store.transition(job_id, ORG, [JobStatus.VALIDATING], status=JobStatus.IN_PROGRESS,
                     phase=Phase.EXECUTE)
    assert emit_progress(store, job_id, ORG) == 1
    store.transition(job_id, ORG, [JobStatus.IN_PROGRESS], status=JobStatus.COMPLETED)
    assert emit_job_event(store, job_id, ORG, "job.completed") == 1
    sent: list[tuple[str, int]] = []
    assert sweep_deliveries(store, sent.extend, 2**62) == 2
    sweep_expiries(store, 2**62)
    assert registered == []

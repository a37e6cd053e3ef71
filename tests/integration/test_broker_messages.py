"""The extract message ``record_document.lua`` pushes itself (``shared.broker_messages``).

It must be the message Celery's ``send_task`` would have written, so a real worker runs it;
and when the broker is another Redis (the script cannot reach it) the worker sends the next
document through Celery as before.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import redis
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

from shared import queues as q
from shared.broker_messages import extract_envelope, render
from shared.celery_config import make_celery
from shared.keys import Keys

pytestmark = pytest.mark.integration

IDS = {"id", "root_id", "correlation_id", "delivery_tag", "origin", "reply_to"}


@pytest.mark.parametrize("priority", ["high", "normal", "low"])
def test_envelope_is_what_send_task_writes_but_for_ids_and_raw_body(
        make_settings: Callable[..., SettingsEnv], priority: str) -> None:
    env = make_settings(isolated=True)
    app = make_celery(env.settings, name="pytest-envelope")
    queue = q.extract_queue(priority)
    job_id, org = "0b7c2d7e-2f6b-4a51-9a40-5d2c7d0f1e11", "org_env"
    app.send_task(q.T_EXTRACT, args=[job_id, org, 7, priority], queue=queue)
    r = redis.Redis.from_url(env.redis_url, decode_responses=True)
    key = Keys(env.key_prefix).broker_prefix + queue
    [sent] = r.lrange(key, 0, -1)
    r.delete(key)
    real: dict[str, Any] = orjson.loads(sent)
    ours: dict[str, Any] = orjson.loads(render(extract_envelope(job_id, org, priority), 7,
                                               "task-1"))

    assert {k for k in real if k != "body"} == {k for k in ours if k != "body"}
    assert real["properties"].pop("body_encoding") == "base64"  # ours: the raw body
    assert orjson.loads(base64.b64decode(real["body"])) == orjson.loads(ours["body"])
    for part in ("headers", "properties"):
        assert set(real[part]) == set(ours[part]), part
        assert {k: v for k, v in real[part].items() if k not in IDS} == \
            {k: v for k, v in ours[part].items() if k not in IDS}, part
    assert ours["headers"]["id"] == ours["properties"]["delivery_tag"] == "task-1"


def test_with_the_broker_on_another_redis_the_worker_sends_the_next_document(
        make_settings: Callable[..., SettingsEnv], private_redis: Callable[..., Any],
        start_api: Callable[..., ApiServer],
        worker_process: Callable[..., WorkerProcess]) -> None:
    broker = private_redis(appendonly=False)
    env = make_settings(isolated=True, broker_url=broker.url, fanout_window=2)
    api = start_api(env)
    worker_process(env, concurrency=1)
    client = api.client()
    job = client.submit(job_body(9))
    final = client.wait_status(job["id"], timeout=120)
    assert final["status"] == "completed" and final["completed_documents"] == 9
    state = redis.Redis.from_url(env.redis_url)
    assert not state.keys(Keys(env.key_prefix).broker_prefix + "*")  # nothing pushed here

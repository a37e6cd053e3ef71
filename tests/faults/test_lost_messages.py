"""Fault 8: broker messages lost for good (popped, then the worker SIGKILLed before kombu
wrote them to ``unacked``): the watchdog, or the lost-message audit of ``worker/fleet.py``
if it gets there first, re-sends the stalled job's next step.

Here every message is deleted and the stall period is 2 s, so usually the watchdog acts;
``test_node_loss.py`` proves the audit alone at the production stall period (600 s)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TESTS_DIR = Path(__file__).resolve().parents[1]


def test_a_job_whose_messages_are_lost_is_rescued(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    env = make_settings(isolated=True, extractor="support.extractors:FaultyExtractor",
                        stall_seconds=2, fanout_window=4, visibility_timeout=3600)
    slow = {"PYTHONPATH": str(TESTS_DIR), "JOBGRID_TEST_DELAY_MS": "100"}
    api = start_api(env)
    first = worker_process(env, concurrency=1, extra_env=slow)
    client = api.client()
    job = client.submit(job_body(16))
    client.wait_documents(job["id"], 3)

    first.kill9()
    # every message of the job is lost: queued, reserved and unacked alike (with a 1 h
    # visibility timeout nothing would come back during the test anyway)
    r = redis.Redis.from_url(env.redis_url, decode_responses=True)
    lost = [k for pattern in (":q:extract*", ":q:unacked*", ":q:control")
            for k in r.scan_iter(match=f"{env.key_prefix}{pattern}")]
    if lost:
        r.delete(*lost)
    stalled = client.get(f"/v1/jobs/{job['id']}/status").json()
    assert stalled["status"] == "in_progress" and stalled["completed_documents"] < 16

    second = worker_process(env, concurrency=1, extra_env=slow)
    final = client.wait_status(job["id"], timeout=90)
    assert final["status"] == "completed" and final["completed_documents"] == 16
    stats = final["grid_stats"]
    assert stats["filled"] + stats["empty"] == stats["total_cells"] == 48
    rows = client.get(f"/v1/jobs/{job['id']}/results").json()["rows"]
    assert [row["status"] for row in rows] == ["completed"] * 16
    log = second.log_text()
    assert "made no progress" in log or "lost between the broker and a worker" in log
    assert not r.zscore(f"{env.key_prefix}:running", f"org_a|{job['id']}")  # left the watch

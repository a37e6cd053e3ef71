"""Scaling by queues: several workers share a job, priorities overtake, tenants interleave.

Delays are measured in documents processed, not seconds, so a noisy machine cannot flake them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from support.env import API_KEY_B, SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

from shared import queues as q

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TESTS_DIR = Path(__file__).resolve().parents[1]
FAULTY = "support.extractors:FaultyExtractor"


def _env(delay_ms: int, tag: str = "") -> dict[str, str]:
    return {"PYTHONPATH": str(TESTS_DIR), "JOBGRID_TEST_DELAY_MS": str(delay_ms),
            "JOBGRID_TEST_WORKER_TAG": tag}


def test_three_extract_workers_share_a_600_document_job(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    env = make_settings(isolated=True, extractor=FAULTY, fanout_window=24)
    api = start_api(env)
    worker_process(env, queues=[q.CONTROL], concurrency=1, extra_env=_env(0, "control"))
    for i in range(3):
        worker_process(env, queues=q.EXTRACT_QUEUES, concurrency=1,
                       extra_env=_env(5, f"extract-{i}"))
    client = api.client()
    job = client.submit(job_body(600))
    final = client.wait_status(job["id"], timeout=180)
    assert final["status"] == "completed"
    assert final["completed_documents"] == 600
    stats = final["grid_stats"]
    assert stats["total_cells"] == 1800 and stats["filled"] + stats["empty"] == 1800
    rows = client.get(f"/v1/jobs/{job['id']}/results").json()["rows"]
    assert len(rows) == 600 and all(r["status"] == "completed" for r in rows)
    r = redis.Redis.from_url(env.redis_url, decode_responses=True)
    by_worker = {k: int(v) for k, v in r.hgetall(f"{env.key_prefix}:test:by_worker").items()}
    assert set(by_worker) == {"extract-0", "extract-1", "extract-2"}  # control ran none
    assert all(n > 0 for n in by_worker.values()), by_worker
    assert sum(by_worker.values()) == 600


def test_high_priority_job_overtakes_a_low_backlog(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    env = make_settings(isolated=True, extractor=FAULTY)
    api = start_api(env)
    worker_process(env, concurrency=2, extra_env=_env(15))
    client = api.client()
    low = client.submit(job_body(500, priority="low"))
    client.wait_documents(low["id"], 5)
    high = client.submit(job_body(10, priority="high"))
    final = client.wait_status(high["id"], timeout=60)
    low_now = client.get(f"/v1/jobs/{low['id']}/status").json()
    assert final["status"] == "completed" and final["completed_documents"] == 10
    assert low_now["status"] == "in_progress"  # the high job finished first
    assert low_now["completed_documents"] < 100
    client.post(f"/v1/jobs/{low['id']}/cancel")


def test_one_tenants_big_job_does_not_starve_another(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    window = 8
    env = make_settings(isolated=True, extractor=FAULTY, fanout_window=window)
    api = start_api(env)
    worker_process(env, concurrency=2, extra_env=_env(10))
    client_a, client_b = api.client(), api.client(API_KEY_B)
    big = client_a.submit(job_body(1000))
    client_a.wait_documents(big["id"], 20)
    before = client_a.get(f"/v1/jobs/{big['id']}/status").json()["completed_documents"]
    small = client_b.submit(job_body(10))
    final = client_b.wait_status(small["id"], timeout=60)
    after = client_a.get(f"/v1/jobs/{big['id']}/status").json()["completed_documents"]
    assert final["status"] == "completed" and final["completed_documents"] == 10
    # B waited behind at most one window of A's messages, plus A's documents that ran while
    # B's validate/parse hops and its own 10 documents went through the two processes: a few
    # documents' time, bounded by the window - not the ~980-document backlog ahead of it.
    assert after - before <= 2 * window + 20, (before, after)
    client_a.post(f"/v1/jobs/{big['id']}/cancel")

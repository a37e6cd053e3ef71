"""Fault 1: the worker (main process and pool children) is SIGKILLed mid-job, repeatedly.

acks_late + task_reject_on_worker_lost keep the in-flight messages unacknowledged; the Redis
transport restores them once they are older than ``visibility_timeout``; begin_task.lua
counts the redelivery as ``worker_lost`` and the done-set keeps every counter exact.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import pytest
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

from faults.helpers import (
    TERMINAL,
    TEST_VISIBILITY_TIMEOUT,
    assert_exact,
    assert_invoice_values,
    fault_stack,
    faulty_env,
    status,
    wait_progress,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
log = logging.getLogger(__name__)

N_DOCS = 200
KILLS = 3
STALL_SECONDS = 10


def test_kill9_worker_three_times_mid_job(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"kill moments seeded with {seed}")
    # A kill that lands between kombu's BRPOP and its unacked write loses that message for
    # good (worker/watchdog.py); the watchdog re-sends it after STALL_SECONDS, which must be
    # well within the wait below (production: 600 s) and longer than a restore takes.
    stack = fault_stack(make_settings, start_api, worker_process,
                        worker_env=faulty_env(delay_ms=50),
                        visibility_timeout=TEST_VISIBILITY_TIMEOUT,
                        stall_seconds=STALL_SECONDS)
    client = stack.client
    worker = stack.start_worker()
    job_id = client.submit(job_body(N_DOCS))["id"]

    kills: list[tuple[float, int]] = []  # (time, completed_documents at the kill)
    time.sleep(rng.uniform(0.1, 1.0))  # the first kill may land in validate or parse
    for k in range(KILLS):
        if k:  # later kills: once the new worker demonstrably consumes, at a random moment
            seen = status(client, job_id)["completed_documents"]
            wait_progress(client, job_id, seen + rng.randint(1, 8), timeout=90)
            time.sleep(rng.uniform(0.0, 0.5))
        before = status(client, job_id)
        assert before["status"] not in TERMINAL, f"job ended before kill {k + 1}: {before}"
        worker.kill9()
        kills.append((time.monotonic(), before["completed_documents"]))
        worker = stack.start_worker()

    final = client.wait_status(job_id, timeout=120)
    recovery = time.monotonic() - kills[-1][0]
    print(f"kills at completed_documents={[c for _, c in kills]}; "
          f"job completed {recovery:.1f}s after the last kill")
    job, rows = assert_exact(client, job_id, N_DOCS)
    assert_invoice_values(rows)
    assert final["attempt_count"] > 1, final
    assert final["last_failure_code"] == "worker_lost", final
    assert job["error"] is None and job["warnings"] == []

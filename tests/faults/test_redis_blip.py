"""Fault 7: Redis restarts under an idle worker; the worker must still consume afterwards.

celery/celery#8030 and #10302: after a broker reconnect a worker can look alive (PID,
even ``inspect ping``) yet never take another task. Here the only Redis is a test-owned
server, restarted twice under an idle worker (cleanly, then SIGKILLed like a crash); after
each restart a new job must complete, and ``worker.health.check_consuming`` - the
consumption probe for container health checks - must say so too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

from faults.helpers import assert_exact, assert_invoice_values, fault_stack
from jobgrid.embedded_redis import EmbeddedRedis
from worker.health import check_consuming

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_idle_worker_consumes_after_redis_restarts(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
    private_redis: Callable[..., EmbeddedRedis],
) -> None:
    srv = private_redis(appendonly=True)
    stack = fault_stack(make_settings, start_api, worker_process, redis_url=srv.url)
    stack.start_worker()
    client = stack.client
    settings = stack.env.settings
    assert check_consuming(settings, timeout=30)

    for crash in (False, True):
        srv.restart(kill=crash, down_seconds=2.0)
        started = time.monotonic()
        job_id = client.submit(job_body(6))["id"]
        final = client.wait_status(job_id, timeout=60)
        print(f"after a {'SIGKILL' if crash else 'clean'} restart: job done in "
              f"{time.monotonic() - started:.1f}s")
        assert final["status"] == "completed"
        _, rows = assert_exact(client, job_id, 6)
        assert_invoice_values(rows)
        assert check_consuming(settings, timeout=30)

    # the probe tells a dead consumer apart: Redis up, no worker -> False within its timeout
    for w in stack.workers:
        w.stop()
    started = time.monotonic()
    assert not check_consuming(settings, timeout=2)
    assert time.monotonic() - started < 10

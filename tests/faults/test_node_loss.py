"""Lost worker nodes and lost messages, healed in seconds at production defaults.

Every test here runs with the production ``visibility_timeout`` (3600 s) and
``JOBGRID_STALL_SECONDS`` (600 s), so neither the broker's redelivery nor the stall watchdog
can be what brings a document back within the test's wait: only the node heartbeats and the
lost-message audit of ``worker/fleet.py`` can. Heartbeat settings are the defaults (2 s beat,
10 s node timeout) unless a test says otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

from faults.helpers import (
    assert_exact,
    assert_invoice_values,
    fault_stack,
    faulty_env,
    status,
    wait_progress,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The issue's bound: from the kill to ``completed``, the replacement's boot included.
RECOVERY_BOUND = 30.0


def _defaults(**extra: object) -> dict[str, object]:
    return {"visibility_timeout": 3600, "stall_seconds": 600, **extra}


def test_whole_node_killed_mid_job_completes_within_30s(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    stack = fault_stack(make_settings, start_api, worker_process,
                        worker_env=faulty_env(delay_ms=300), **_defaults())
    client = stack.client
    node = stack.start_worker()
    n = 30
    job_id = client.submit(job_body(n))["id"]
    wait_progress(client, job_id, 4, timeout=60)
    before = status(client, job_id)
    assert before["status"] == "in_progress"
    node.kill9()
    killed = time.monotonic()
    stack.start_worker()  # the replacement, booted at once (its boot counts)

    final = client.wait_status(job_id, timeout=RECOVERY_BOUND + 30)
    recovery = time.monotonic() - killed
    print(f"killed at {before['completed_documents']}/{n}; completed {recovery:.1f}s later")
    assert recovery <= RECOVERY_BOUND, recovery
    job, rows = assert_exact(client, job_id, n)
    assert_invoice_values(rows)
    assert final["attempt_count"] > 1, final
    assert final["last_failure_code"] == "worker_lost", final
    assert final["waiting_for"] is None and job["waiting_for"] is None  # done: nothing waits
    assert job["warnings"] == []


def test_two_nodes_killed_at_once_and_a_node_killed_while_it_rescues(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    """Nodes A and B die together; C rescues their documents and is killed as soon as the
    rescue shows (it holds the rescued documents); D, started then, finishes the job."""
    stack = fault_stack(make_settings, start_api, worker_process,
                        worker_env=faulty_env(delay_ms=400), concurrency=1, **_defaults())
    client = stack.client
    a, b = stack.start_worker(), stack.start_worker()
    n = 24
    job_id = client.submit(job_body(n))["id"]
    wait_progress(client, job_id, 3, timeout=60)
    c = stack.start_worker()
    a.kill9()
    b.kill9()
    wait_until(lambda: status(client, job_id)["last_failure_code"] == "worker_lost", 30,
               "the rescue of A's and B's documents")
    c.kill9()
    killed = time.monotonic()
    stack.start_worker()

    client.wait_status(job_id, timeout=RECOVERY_BOUND + 30)
    recovery = time.monotonic() - killed
    print(f"completed {recovery:.1f}s after the rescuer was killed")
    assert recovery <= RECOVERY_BOUND, recovery
    job, rows = assert_exact(client, job_id, n)
    assert_invoice_values(rows)
    assert job["attempt_count"] > 1 and job["last_failure_code"] == "worker_lost", job


def test_a_live_document_longer_than_five_heartbeats_is_not_resent(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    """One document runs 11 s (5.5 default heartbeat periods, beyond the 10 s node timeout)
    on a live node while another node does the housekeeping: it runs exactly once.

    Liveness is per node, never per document: a 5-minute document is held by its node's
    heartbeat for as long as the node beats, whatever the defaults."""
    stack = fault_stack(make_settings, start_api, worker_process,
                        worker_env=faulty_env(delay_ms=11_000, JOBGRID_TEST_WORKER_TAG="w"),
                        concurrency=1, **_defaults())
    client = stack.client
    workers = [stack.start_worker(), stack.start_worker()]
    job_id = client.submit(job_body(1))["id"]
    final = client.wait_status(job_id, timeout=60)
    assert final["status"] == "completed", final
    assert final["attempt_count"] == 1 and final["last_failure_code"] is None, final
    assert stack.redis.hget(f"{stack.prefix}:test:by_worker", "w") == "1"  # extracted once
    for w in workers:
        assert "restored" not in w.log_text() and "re-sent" not in w.log_text()


def test_a_message_lost_between_pop_and_unacked_is_found_within_30s(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    """The next extract message of a running job is taken off its queue and dropped, as a
    ``BRPOP`` whose worker died before kombu wrote ``unacked`` would leave it."""
    stack = fault_stack(make_settings, start_api, worker_process,
                        worker_env=faulty_env(delay_ms=300), concurrency=1, **_defaults())
    client = stack.client
    worker = stack.start_worker()
    n = 8
    job_id = client.submit(job_body(n))["id"]
    queue = f"{stack.prefix}:q:extract"
    raw = wait_until(lambda: stack.redis.rpop(queue), 30, "an extract message to drop")
    dropped = time.monotonic()
    assert job_id in raw

    final = client.wait_status(job_id, timeout=RECOVERY_BOUND + 30)
    recovery = time.monotonic() - dropped
    print(f"completed {recovery:.1f}s after the message was dropped")
    assert recovery <= RECOVERY_BOUND, recovery
    assert_exact(client, job_id, n)
    assert final["attempt_count"] == 2 and final["last_failure_code"] == "worker_lost", final
    assert "lost between the broker and a worker" in worker.log_text()

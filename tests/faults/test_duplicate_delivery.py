"""Fault 5: the same per-document task delivered more than once, on purpose.

Copies of ``jobgrid.extract_document`` are sent straight to the broker, as a visibility
timeout redelivery or a re-sent fan-out would: for a document already recorded, for one not
yet started (the copies jump the queue and run side by side), and after the job completed.
record_document.lua's done-set counts each document once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from support.env import ORG_A, SettingsEnv
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
from shared import queues as q
from shared.celery_config import make_celery

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_DOCS = 16


def test_duplicate_extract_tasks_are_counted_once(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    stack = fault_stack(make_settings, start_api, worker_process,
                        worker_env=faulty_env(delay_ms=150))
    worker = stack.start_worker()
    client = stack.client
    app = make_celery(stack.env.settings, name="jobgrid-test-duplicates")
    job_id = client.submit(job_body(N_DOCS))["id"]

    def send(index: int, queue: str) -> str:
        args = [job_id, ORG_A, index, "normal"]
        return str(app.send_task(q.T_EXTRACT, args=args, queue=queue).id)

    def outcome(task_id: str) -> str:
        pattern = rf"\[{task_id}\] succeeded in [^:]+: '(\w+)'"
        return worker.wait_for_log(pattern, timeout=60).group(1)

    try:
        wait_progress(client, job_id, 2, timeout=60)
        rows = client.get(f"/v1/jobs/{job_id}/results").json()["rows"]
        done = next(r["document"]["index"] for r in rows if r["status"] == "completed")
        pending = N_DOCS - 1  # the last document: its own message is still far down the queue
        assert rows[pending]["status"] == "pending"
        copies_done = [send(done, q.EXTRACT), send(done, q.EXTRACT_HIGH)]
        # both copies on the high queue: they run before the original, side by side
        copies_pending = [send(pending, q.EXTRACT_HIGH), send(pending, q.EXTRACT_HIGH)]
        assert {outcome(t) for t in copies_done} == {"done"}
        assert sorted(outcome(t) for t in copies_pending) in (
            ["completed", "duplicate"], ["completed", "done"])

        final = client.wait_status(job_id, timeout=90)
        assert final["status"] == "completed"
        job, rows = assert_exact(client, job_id, N_DOCS)
        assert_invoice_values(rows)
        # the original message of `pending` ran last and found it recorded
        wait_until(lambda: len(re.findall(r"succeeded in [^:]+: 'done'", worker.log_text())) >= 3,
                   30, "the original message of the pending document")

        # after the job completed: a late copy is skipped and changes nothing
        late = send(done, q.EXTRACT)
        assert outcome(late) == "skip"
        after = status(client, job_id)
        assert after == final
    finally:
        app.close()

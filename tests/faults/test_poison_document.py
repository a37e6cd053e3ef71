"""Fault 6: a document whose extraction SIGKILLs the pool process every time.

The main worker process survives, rejects the message (task_reject_on_worker_lost) and it
comes back at once; begin_task.lua counts each lost run and, at the per-document cap
(JOBGRID_DOCUMENT_ATTEMPT_CAP), the document gets a failed ``worker_lost`` row instead of
another run. The other documents complete.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.env import SettingsEnv
from support.payloads import invoice_text, job_body
from support.servers import ApiServer, WorkerProcess

from faults.helpers import assert_exact, assert_invoice_values, fault_stack, faulty_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CAP = 3
N_DOCS = 8
POISON = 5


def test_poison_document_is_failed_after_the_attempt_cap(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    stack = fault_stack(make_settings, start_api, worker_process,
                        worker_env=faulty_env(delay_ms=20), document_attempt_cap=CAP)
    worker = stack.start_worker()
    client = stack.client
    texts = [invoice_text(i) for i in range(N_DOCS)]
    texts[POISON] = "POISON-KILL\n" + texts[POISON]
    job_id = client.submit(job_body(texts=texts))["id"]

    final = client.wait_status(job_id, timeout=90)
    job, rows = assert_exact(client, job_id, N_DOCS, failed=1)
    assert_invoice_values(rows, skip=frozenset({POISON}))
    row = rows[POISON]
    assert row["status"] == "failed" and row["error"]["code"] == "worker_lost", row
    assert all(v is None for v in row["values"].values())
    # each of the CAP runs that died was counted once, on top of the first start
    assert final["attempt_count"] == 1 + CAP, final
    assert final["last_failure_code"] == "worker_lost"
    assert [w["document"] for w in job["warnings"]] == [POISON]
    assert job["warnings"][0]["code"] == "worker_lost"
    # exactly CAP pool processes died on it; the main process lived on
    assert worker.log_text().count("WorkerLostError") >= CAP
    assert worker.is_running()

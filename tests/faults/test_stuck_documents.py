"""A document must always end in a row, whatever the extractor does (pitfall 2 in docs/pitfalls.md).

An extractor that raises an unexpected exception (a bug in a plug-in) or hangs must not
leave its document - and so the whole job - unrecorded forever: the per-document task's
soft time limit (``JOBGRID_DOCUMENT_SOFT_TIME_LIMIT``, well below ``visibility_timeout``)
stops a hang, and either failure becomes that document's failed row.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.env import SettingsEnv
from support.payloads import invoice_text, job_body
from support.servers import ApiServer, WorkerProcess

from faults.helpers import assert_exact, assert_invoice_values, fault_stack, faulty_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_DOCS = 5
BUGGY, HANGING = 1, 3


def test_buggy_and_hanging_extractions_become_failed_rows(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    stack = fault_stack(make_settings, start_api, worker_process, worker_env=faulty_env(),
                        extractor="faults.plugins:BuggyExtractor", document_soft_time_limit=2)
    stack.start_worker()
    client = stack.client
    texts = [invoice_text(i) for i in range(N_DOCS)]
    texts[BUGGY] = "BUG-RAISE\n" + texts[BUGGY]
    texts[HANGING] = "HANG-FOREVER\n" + texts[HANGING]
    job_id = client.submit(job_body(texts=texts))["id"]

    final = client.wait_status(job_id, timeout=60)
    assert final["status"] == "completed", final
    job, rows = assert_exact(client, job_id, N_DOCS, failed=2)
    assert_invoice_values(rows, skip=frozenset({BUGGY, HANGING}))
    assert rows[BUGGY]["error"]["code"] == "extractor_error", rows[BUGGY]
    assert "KeyError" not in rows[BUGGY]["error"]["message"]  # no internals in the API
    assert rows[HANGING]["error"]["code"] == "document_timeout", rows[HANGING]
    assert sorted(w["document"] for w in job["warnings"]) == [BUGGY, HANGING]

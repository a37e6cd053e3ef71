"""Fault 3: the extractor times out twice on every document, then succeeds; one document
is refused outright.

Retryable errors are retried by Celery with exponential backoff and jitter
(``worker.tasks._backoff``); note_failure.lua counts each one in ``attempt_count`` and
``last_failure_code``. A non-retryable error fails that document's row at once.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable

import pytest
from support.env import DEFAULT_TEST_SETTINGS, SettingsEnv
from support.payloads import invoice_text, job_body
from support.servers import ApiServer, WorkerProcess

from faults.helpers import assert_exact, assert_invoice_values, fault_stack, faulty_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_DOCS = 10
REFUSED = 4
FAILS = 2
_RETRY = re.compile(r"retry: Retry in ([0-9.]+)s: RetryLater\('simulated timeout (\d)'\)")


def test_transient_errors_retry_with_backoff_and_permanent_ones_do_not(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    stack = fault_stack(make_settings, start_api, worker_process,
                        worker_env=faulty_env(transient_fails=FAILS), transient_retry_max=3)
    worker = stack.start_worker()
    client = stack.client
    texts = [invoice_text(i) for i in range(N_DOCS)]
    texts[REFUSED] = "PERMANENT-FAIL\n" + texts[REFUSED]
    job_id = client.submit(job_body(texts=texts))["id"]

    final = client.wait_status(job_id, timeout=90)
    job, rows = assert_exact(client, job_id, N_DOCS, failed=1)
    assert_invoice_values(rows, skip=frozenset({REFUSED}))
    assert rows[REFUSED]["error"]["code"] == "extractor_rejected"
    # 1 for the first start, +1 per retryable failure; the refused document adds nothing
    retried = N_DOCS - 1
    assert final["attempt_count"] == 1 + FAILS * retried, final
    assert final["last_failure_code"] == "extractor_timeout"
    assert [w["document"] for w in job["warnings"]] == [REFUSED]

    delays: dict[int, list[float]] = {1: [], 2: []}
    for seconds, nth in _RETRY.findall(worker.log_text()):
        delays[int(nth)].append(float(seconds))
    assert len(delays[1]) == len(delays[2]) == retried, delays
    base = float(DEFAULT_TEST_SETTINGS["retry_backoff_base"])
    for nth, values in delays.items():  # base * 2**retries, times a jitter in [0.5, 1.5]
        expected = base * 2 ** (nth - 1)
        assert all(0.5 * expected <= d <= 1.5 * expected for d in values), (nth, values)
        assert len(set(values)) > 1, f"no jitter in retry {nth}: {values}"
    assert statistics.mean(delays[2]) > statistics.mean(delays[1])

"""Fault 4: load. Ten jobs of two organizations submitted at once, two workers, while clients
poll status at ~200 requests/s.

Every job completes with exact counts, each job's grid holds only its own documents' values,
an organization never sees the other's jobs, and no poll fails or sees a job go back in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from support.env import API_KEY_A, API_KEY_B, SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

from faults.helpers import Answer, Poller, assert_exact, fault_stack, faulty_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_JOBS = 10
N_DOCS = 15
POLL_RATE = 200.0


def job_texts(j: int) -> list[str]:
    """Documents whose every value names its job and index."""
    return [f"Globex Ltd\nInvoice No: J{j:02d}-{i:03d}\nDate: 2024-10-{(i % 28) + 1:02d}\n"
            f"Total: {1000 * (j + 1) + i}.25\n" for i in range(N_DOCS)]


def _per_thread_monotonic(answers: list[Answer]) -> list[tuple[Answer, Answer]]:
    """Pairs where one thread's later poll of a job saw a smaller version than its earlier one."""
    last: dict[tuple[int, str], Answer] = {}
    back: list[tuple[Answer, Answer]] = []
    for a in sorted(answers, key=lambda a: a.at):
        if a.version is None:
            continue
        key = (a.thread, a.path)
        prev = last.get(key)
        if prev is not None and prev.version is not None and a.version < prev.version:
            back.append((prev, a))
        last[key] = a
    return back


def test_ten_jobs_two_workers_heavy_polling(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    stack = fault_stack(make_settings, start_api, worker_process, api_workers=2,
                        worker_env=faulty_env(delay_ms=20), rate_limit_requests=1_000_000)
    stack.start_worker()
    stack.start_worker()
    keys = [API_KEY_A if j % 2 == 0 else API_KEY_B for j in range(N_JOBS)]
    clients = {k: stack.api.client(k) for k in (API_KEY_A, API_KEY_B)}

    def submit(j: int) -> str:
        return str(clients[keys[j]].submit(job_body(texts=job_texts(j), name=f"job {j}"))["id"])

    with ThreadPoolExecutor(N_JOBS) as pool:  # all ten at once
        ids = list(pool.map(submit, range(N_JOBS)))

    def paths(key: str) -> list[str]:
        own = [ids[j] for j in range(N_JOBS) if keys[j] == key]
        return [f"/v1/jobs/{i}/status" for i in own] + [f"/v1/jobs/status?ids={','.join(own)}"]

    started = time.monotonic()
    with Poller(stack.api, paths(API_KEY_A), POLL_RATE / 2, threads=3) as poll_a, \
            Poller(stack.api, paths(API_KEY_B), POLL_RATE / 2, threads=3, api_key=API_KEY_B) \
            as poll_b:
        finals = [clients[keys[j]].wait_status(ids[j], timeout=120) for j in range(N_JOBS)]
        elapsed = time.monotonic() - started
    answers = poll_a.answers + poll_b.answers
    rate = len(answers) / max(elapsed, 1e-6)
    slowest = max(a.elapsed for a in answers)
    print(f"{N_JOBS} jobs done in {elapsed:.1f}s; {len(answers)} polls ({rate:.0f}/s), "
          f"slowest {slowest:.2f}s")

    assert all(f["status"] == "completed" for f in finals), finals
    failed_polls = [a for a in answers if a.status != 200]
    assert not failed_polls, failed_polls[:5]
    assert not _per_thread_monotonic(answers)
    assert rate >= 0.4 * POLL_RATE, f"pollers reached only {rate:.0f} requests/s"

    for j in range(N_JOBS):
        client = clients[keys[j]]
        _, rows = assert_exact(client, ids[j], N_DOCS)
        for r in rows:  # only this job's own values
            i = r["document"]["index"]
            assert r["values"] == {"invoice_number": f"J{j:02d}-{i:03d}",
                                   "total": 1000 * (j + 1) + i + 0.25,
                                   "issue_date": f"2024-10-{(i % 28) + 1:02d}"}, (j, r)
        other = clients[API_KEY_B if keys[j] == API_KEY_A else API_KEY_A]
        assert other.get(f"/v1/jobs/{ids[j]}/status").status_code == 404

    listed: dict[str, Any] = {
        k: {job["id"] for job in c.get("/v1/jobs", params={"limit": 100}).json()["data"]}
        for k, c in clients.items()}
    assert listed[API_KEY_A] == {ids[j] for j in range(N_JOBS) if keys[j] == API_KEY_A}
    assert listed[API_KEY_B] == {ids[j] for j in range(N_JOBS) if keys[j] == API_KEY_B}

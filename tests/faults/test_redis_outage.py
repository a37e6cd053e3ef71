"""Fault 2: the only Redis goes away while a job runs and clients poll, then comes back.

While Redis is down (stopped, then frozen with SIGSTOP like a hung host) every /v1 answer is
503 ``unavailable`` with ``Retry-After`` within a bounded time - never a 500, never a hang.
The worker waits the outage out in-process (``worker.tasks._through_outage``), and after the
restart (same port, AOF on) the job finishes with exact counts.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiClient, ApiServer, WorkerProcess

from faults.helpers import (
    Answer,
    Poller,
    assert_exact,
    assert_invoice_values,
    fault_stack,
    faulty_env,
    restore_unacked_now,
    status,
    unacked_count,
    wait_progress,
    wait_until,
)
from jobgrid.embedded_redis import EmbeddedRedis

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_DOCS = 60
SOCKET_TIMEOUT = 1.0
#: An answer during an outage may take one socket timeout per attempt redis-py makes;
#: anything beyond this bound is a hang.
ANSWER_BOUND = 4 * SOCKET_TIMEOUT + 2.0
DOWN_SECONDS = 3.0


def _assert_unavailable(client: ApiClient, method: str, path: str, **kwargs: Any) -> None:
    started = time.monotonic()
    resp = client.request(method, path, **kwargs)
    elapsed = time.monotonic() - started
    assert resp.status_code == 503, f"{method} {path}: {resp.status_code} {resp.text}"
    assert resp.json()["error"]["code"] == "unavailable"
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.headers.get("X-Request-Id")
    assert elapsed < ANSWER_BOUND, f"{method} {path} took {elapsed:.1f}s"


def _after(answers: list[Answer], t: float, status: int) -> list[Answer]:
    return [a for a in answers if a.at >= t and a.status == status]


def test_redis_outage_answers_503_and_the_job_finishes_after(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
    private_redis: Callable[..., EmbeddedRedis],
) -> None:
    srv = private_redis(appendonly=True)
    stack = fault_stack(make_settings, start_api, worker_process, redis_url=srv.url,
                        worker_env=faulty_env(delay_ms=100), api_workers=2,
                        redis_socket_timeout=SOCKET_TIMEOUT)
    stack.start_worker()
    client = stack.client
    job_id = client.submit(job_body(N_DOCS))["id"]
    wait_progress(client, job_id, 5, timeout=60)
    paths = [f"/v1/jobs/{job_id}/status", f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/results",
             "/v1/jobs", f"/v1/jobs/status?ids={job_id}"]

    with Poller(stack.api, paths, rate=40, threads=4) as poller:
        # --- Redis stopped: connections refused
        srv.stop()
        down = time.monotonic()
        for path in paths:
            _assert_unavailable(client, "GET", path)
        _assert_unavailable(client, "POST", "/v1/jobs", json=job_body(2))
        _assert_unavailable(client, "POST", f"/v1/jobs/{job_id}/cancel")
        _assert_unavailable(client, "GET", "/readyz")
        assert client.get("/healthz").status_code == 200
        wait_until(lambda: [a for a in _after(poller.answers, down, 503)
                            if a.at >= down + DOWN_SECONDS], 30, "pollers seeing the outage")
        srv.restart()
        up = time.monotonic()
        wait_until(lambda: _after(poller.answers, up, 200), 30, "pollers served again")

        # --- Redis frozen (SIGSTOP): connections open but nothing answers
        assert srv.pid is not None
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            frozen = time.monotonic()
            _assert_unavailable(client, "GET", f"/v1/jobs/{job_id}/status")
            wait_until(lambda: [a for a in _after(poller.answers, frozen, 503)
                                if a.at >= frozen + DOWN_SECONDS], 30,
                       "pollers seeing the frozen Redis")
        finally:
            os.kill(srv.pid, signal.SIGCONT)
        thawed = time.monotonic()
        wait_until(lambda: _after(poller.answers, thawed, 200), 30, "pollers served again")

    answers = poller.answers
    unexpected = [a for a in answers if a.status not in (200, 503)]
    assert not unexpected, unexpected[:5]
    bad_503 = [a for a in answers if a.status == 503
               and (a.code != "unavailable" or not a.retry_after)]
    assert not bad_503, bad_503[:5]
    slowest = max(a.elapsed for a in answers)
    print(f"{len(answers)} polls, {sum(a.status == 503 for a in answers)} x 503; "
          f"slowest answer {slowest:.2f}s")
    assert slowest < ANSWER_BOUND, sorted(answers, key=lambda a: -a.elapsed)[:3]

    final = client.wait_status(job_id, timeout=120)
    print(f"final: attempt_count={final['attempt_count']} "
          f"last_failure_code={final['last_failure_code']}")
    job, rows = assert_exact(client, job_id, N_DOCS)
    assert_invoice_values(rows)
    assert final["attempt_count"] > 1, final
    # the runs caught by the outage waited it out and were noted, not taken for crashes
    assert final["last_failure_code"] == "redis_unavailable", final
    assert "Traceback" not in stack.api.log_text()
    # An ack sent while Redis was down is lost: that message stays unacknowledged and runs
    # again once visibility_timeout (1 h) has passed. Run it now; it must change nothing.
    settled = status(client, job_id)
    stranded = restore_unacked_now(stack)
    print(f"{stranded} message(s) stranded by lost acks, redelivered")
    wait_until(lambda: unacked_count(stack) == 0 and not stack.redis.llen(
        f"{stack.prefix}:q:extract") or None, 30, "the redelivered messages consumed")
    assert status(client, job_id) == settled
    assert_exact(client, job_id, N_DOCS)

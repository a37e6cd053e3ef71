"""Workers come and go: a SIGTERM finishes the current document and loses nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TESTS_DIR = Path(__file__).resolve().parents[1]


def test_sigterm_finishes_the_current_document_and_loses_none(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    env = make_settings(isolated=True, extractor="support.extractors:FaultyExtractor",
                        fanout_window=8)
    slow = {"PYTHONPATH": str(TESTS_DIR), "JOBGRID_TEST_DELAY_MS": "300"}
    api = start_api(env)
    first = worker_process(env, concurrency=2, extra_env=slow)
    client = api.client()
    job = client.submit(job_body(24))
    client.wait_documents(job["id"], 3)

    assert first.proc is not None
    first.proc.send_signal(signal.SIGTERM)  # warm shutdown: running documents finish
    first.proc.wait(timeout=30)
    assert "Warm shutdown" in first.log_text() or "warm shutdown" in first.log_text().lower()
    stopped_at = client.get(f"/v1/jobs/{job['id']}/status").json()
    assert stopped_at["status"] == "in_progress"

    worker_process(env, concurrency=2, extra_env=slow)
    final = client.wait_status(job["id"], timeout=90)
    assert final["status"] == "completed" and final["completed_documents"] == 24
    stats = final["grid_stats"]
    assert stats["filled"] + stats["empty"] == stats["total_cells"] == 72
    # nothing died: no run was lost, so no attempt was counted as a failure
    assert final["attempt_count"] == 1 and final["last_failure_code"] is None
    rows = client.get(f"/v1/jobs/{job['id']}/results").json()["rows"]
    assert [r["status"] for r in rows] == ["completed"] * 24


def test_worker_health_proves_consumption(
    make_settings: Callable[..., SettingsEnv],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    env = make_settings(isolated=True)
    argv = [sys.executable, "-m", "jobgrid", "worker-health", "--timeout", "3"]
    nobody = subprocess.run(argv, env=env.child_env(), capture_output=True, text=True,
                            timeout=60)
    assert nobody.returncode == 2 and "no worker consumed" in nobody.stderr
    worker_process(env, queues=["control"], concurrency=1)
    ok = subprocess.run(argv, env=env.child_env(), capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("extractor", ["no_such_module:Extractor", "no_such_builtin"])
def test_a_worker_that_cannot_load_its_extractor_refuses_to_start(
    make_settings: Callable[..., SettingsEnv], extractor: str,
) -> None:
    """Celery swallows a start-up hook's ordinary exception; the worker used to run on and
    fail (and ack) every document. It now exits non-zero, naming the setting and the cause."""
    env = make_settings(isolated=True, extractor=extractor)
    argv = [sys.executable, "-m", "jobgrid", "worker", "-Q", "control", "--concurrency", "1"]
    done = subprocess.run(argv, env=env.child_env(), capture_output=True, text=True,
                          timeout=90)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert f"JOBGRID_EXTRACTOR={extractor!r} cannot be loaded" in out

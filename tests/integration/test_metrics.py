"""``/metrics``: the workers' Redis-kept counters, the job census, queue depth, and the HTTP
latency histogram summed over the server's processes.

The first tests run on fakeredis (the pieces); the ``integration`` ones scrape a real
API server with a real worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import fakeredis
import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.env import SettingsEnv
from support.payloads import invoice_text, job_body
from support.servers import ApiServer, WorkerProcess

from api import census
from api.metrics import extraction_histogram
from shared.keys import Keys
from worker import metrics as wm

TESTS_DIR = Path(__file__).resolve().parents[1]
FAULTY = "support.extractors:FaultyExtractor"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


# ------------------------------------------------------------------------ worker side
def test_buffer_flushes_counters_and_uncumulated_buckets(fake_redis: fakeredis.FakeRedis) -> None:
    buf = wm.MetricsBuffer(lambda: fake_redis, lambda: "jgu", autostart=False)
    buf.add_document(failed=False, filled=2, empty=1)
    buf.add_document(failed=False, filled=3, empty=0)
    buf.add_document(failed=True, filled=0, empty=3)
    for seconds in (0.003, 0.2, 0.21, 1000.0):
        buf.add_extraction(seconds)
    assert buf.flush()
    keys = wm.metric_keys("jgu")
    assert fake_redis.hgetall(keys.counters) == {
        "documents_completed": "2", "documents_failed": "1", "cells_filled": "5",
        "cells_empty": "4"}
    hist = fake_redis.hgetall(keys.extraction)
    assert hist["le:0.005"] == "1" and hist["le:0.25"] == "2" and hist["le:+Inf"] == "1"
    assert hist["count"] == "4" and float(hist["sum"]) == pytest.approx(1000.413)
    assert buf.flush() and fake_redis.hget(keys.counters, "documents_completed") == "2"


def test_a_failed_flush_keeps_its_counts_for_the_next(fake_redis: fakeredis.FakeRedis) -> None:
    down = {"now": True}

    def client() -> redis.Redis:
        if down["now"]:
            raise redis.ConnectionError("Redis is down")
        return fake_redis

    buf = wm.MetricsBuffer(client, lambda: "jgu", autostart=False)
    buf.add_document(failed=False, filled=1, empty=0)
    buf.add_extraction(0.5)
    assert not buf.flush()
    buf.add_document(failed=False, filled=1, empty=0)
    down["now"] = False
    assert buf.flush()
    keys = wm.metric_keys("jgu")
    assert fake_redis.hget(keys.counters, "documents_completed") == "2"
    assert fake_redis.hget(keys.extraction, "count") == "1"


def test_document_recorded_ignores_redeliveries(monkeypatch: pytest.MonkeyPatch,
                                                fake_redis: fakeredis.FakeRedis) -> None:
    buf = wm.MetricsBuffer(lambda: fake_redis, lambda: "jgu", autostart=False)
    monkeypatch.setattr(wm, "BUFFER", buf)
    wm.document_recorded(added=True, failed=False, filled=3, empty=0)
    wm.document_recorded(added=False, failed=False, filled=3, empty=0)
    with pytest.raises(ValueError), wm.extraction_timer():
        raise ValueError("an extractor error is timed too")
    assert wm.flush()
    keys = wm.metric_keys("jgu")
    assert fake_redis.hget(keys.counters, "cells_filled") == "3"
    assert fake_redis.hget(keys.extraction, "count") == "1"


def test_extraction_histogram_is_cumulative() -> None:
    fam = extraction_histogram({"le:0.005": "2", "le:1": "3", "le:+Inf": "1", "sum": "9.5",
                                "count": "6"})
    got = {(s.name, s.labels.get("le")): s.value for s in fam.samples}
    assert got[("jobgrid_extraction_seconds_bucket", "0.005")] == 2
    assert got[("jobgrid_extraction_seconds_bucket", "0.5")] == 2
    assert got[("jobgrid_extraction_seconds_bucket", "1")] == 5
    assert got[("jobgrid_extraction_seconds_bucket", "+Inf")] == 6
    assert got[("jobgrid_extraction_seconds_count", None)] == 6
    assert got[("jobgrid_extraction_seconds_sum", None)] == 9.5


# ----------------------------------------------------------------------------- census
def _job(r: fakeredis.FakeRedis, keys: Keys, n: int, status: str, expires_ms: int) -> None:
    job_id = f"00000000-0000-4000-8000-{n:012d}"
    r.hset(keys.job(job_id), mapping={"status": status, "expires_at": expires_ms})
    r.hset(keys.job_keys(job_id).docs, mapping={"0": "{}"})  # a sub-key: never counted


def test_census_counts_effective_status_across_steps(
    fake_redis: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys, other = Keys("jgc"), Keys("jgc.other")
    mk = wm.metric_keys("jgc")
    future, past = int(time.time() * 1000) + 60_000, int(time.time() * 1000) - 1
    for n in range(6):
        _job(fake_redis, keys, n, "in_progress", future)
    _job(fake_redis, keys, 6, "completed", future)
    _job(fake_redis, keys, 7, "completed", past)  # expired by now
    _job(fake_redis, other, 8, "queued", future)  # another deployment's job
    monkeypatch.setattr(census, "SCAN_COUNT", 3)
    steps = 0
    while not fake_redis.exists(mk.census):
        census.step(fake_redis, keys, mk, budget=0.0)
        steps += 1
        assert steps < 50
    assert steps > 1, "a small SCAN_COUNT and no budget should take several steps"
    published = fake_redis.hgetall(mk.census)
    assert {s: published[s] for s in ("in_progress", "completed", "expired", "queued")} == {
        "in_progress": "6", "completed": "1", "expired": "1", "queued": "0"}
    assert not fake_redis.exists(mk.census_work)
    assert census.maybe_step(fake_redis, keys, mk)
    assert not census.maybe_step(fake_redis, keys, mk), "one step per interval"


# ------------------------------------------------------------------------ live stack
def _scrape(api: ApiServer, accept: str | None = None) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    resp = requests.get(api.url + "/metrics", headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp


def _fresh_census(env: SettingsEnv, r: redis.Redis) -> None:
    """Lets the next scrape run a census step now (the test owns this isolated prefix)."""
    r.delete(wm.metric_keys(env.key_prefix).census_lock)


@pytest.mark.integration
def test_metrics_over_a_live_stack(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    env = make_settings(isolated=True, extractor=FAULTY)
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    api = start_api(env, workers=2, extra_env={"PROMETHEUS_MULTIPROC_DIR": str(multiproc)})
    worker_process(env, concurrency=1, extra_env={"PYTHONPATH": str(TESTS_DIR)})
    client = api.client()
    texts = [invoice_text(i) for i in range(4)] + ["PERMANENT-FAIL please\n"]
    job = client.submit(job_body(texts=texts))
    assert client.wait_status(job["id"], timeout=60)["status"] == "completed"
    probes = ("jobgrid_http_request_duration_seconds_count", {"method": "GET",
              "route": "/healthz", "status": "200"})
    before = value(samples(_scrape(api).text), probes[0], **probes[1])  # start-up probes
    for _ in range(12):
        assert requests.get(api.url + "/healthz", timeout=5).status_code == 200

    _fresh_census(env, redis_client)
    resp = _scrape(api)
    assert resp.headers["Content-Type"].startswith("text/plain")
    found = samples(resp.text)
    assert value(found, "jobgrid_jobs", status="completed") == 1
    assert value(found, "jobgrid_jobs", status="in_progress") == 0
    assert value(found, "jobgrid_jobs_census_timestamp_seconds") > time.time() - 60
    for queue in ("control", "extract.high", "extract", "extract.low", "webhooks"):
        assert value(found, "jobgrid_queue_depth", queue=queue) == 0
    # 12 probes over two server processes: the multiprocess directory sums them
    assert value(found, probes[0], **probes[1]) == before + 12
    assert value(found, "jobgrid_http_request_duration_seconds_count", method="POST",
                 route="/v1/jobs", status="202") == 1

    worker_side = _wait_for_worker_counters(api)
    assert value(worker_side, "jobgrid_documents_processed_total", outcome="completed") == 4
    assert value(worker_side, "jobgrid_documents_processed_total", outcome="failed") == 1
    assert value(worker_side, "jobgrid_cells_processed_total", state="filled") == 12
    assert value(worker_side, "jobgrid_cells_processed_total", state="empty") == 3
    assert value(worker_side, "jobgrid_extraction_seconds_count") == 5


def _wait_for_worker_counters(api: ApiServer, timeout: float = 10.0) -> Samples:
    """Workers flush their counts about once a second."""
    deadline = time.monotonic() + timeout
    while True:
        found = samples(_scrape(api).text)
        done = value(found, "jobgrid_documents_processed_total", outcome="completed")
        failed = value(found, "jobgrid_documents_processed_total", outcome="failed")
        if done + failed >= 5 or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.mark.integration
def test_queue_depth_and_census_without_workers(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    redis_client: redis.Redis,
) -> None:
    env = make_settings(isolated=True)
    api = start_api(env, workers=1)
    client = api.client()
    for _ in range(3):
        client.submit(job_body(1))
    client.submit(job_body(1, priority="high"))
    _fresh_census(env, redis_client)
    resp = _scrape(api, accept="application/openmetrics-text; version=1.0.0")
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
    assert resp.text.rstrip().endswith("# EOF")
    found = samples(_scrape(api).text)
    assert value(found, "jobgrid_queue_depth", queue="control") == 4  # validate tasks
    assert value(found, "jobgrid_jobs", status="validating") == 4
    assert value(found, "jobgrid_webhook_deliveries_due") == 0
    assert requests.get(api.url + "/metrics", timeout=5).status_code == 200  # no key

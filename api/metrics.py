"""``GET /metrics``: Prometheus text, from the API's own request timings and from Redis.

Two sources, because the truth lives in two places:

* **HTTP request latency** is measured in each API server process. With
  ``PROMETHEUS_MULTIPROC_DIR`` set (the launcher points it at a fresh empty directory before
  the server starts), prometheus-client keeps the histogram in per-process files there and a
  scrape, answered by any process, sums all of them. Without it each process keeps its own
  histogram and a scrape shows only the process that answered it: fine for one process,
  misleading for several (documented in ``docs/operations.md``).
* **Everything else is read from Redis at scrape time**, so every API process gives the
  same answer: queue depth per Celery queue (LLEN of kombu's lists, what an autoscaler
  scales on), the workers' counters and extraction histogram (``worker.metrics``), the
  webhook backlog, and jobs by effective status from a bounded census (``api.census``).
  All of it costs one pipelined round trip per scrape, plus at most one census step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from api import census
from api.services import Services
from shared import metric_keys as wm
from shared.keys import Keys
from shared.queues import ALL_QUEUES

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: kombu's Redis transport keeps messages with priority 3/6/9 in lists named queue + sep + n.
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)
_START = "_jobgrid_metrics_start"

# *_created series would double the output, and no dashboard or alert reads them
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_LATENCY = Histogram(
    "jobgrid_http_request_duration_seconds",
    "Time from the request reaching the app to its response being ready (streams: to the "
    "first byte), by route template.",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
    registry=None,  # not the global registry: apps are built several times in tests
)


# ------------------------------------------------------------------------ HTTP timing
def _start_timer() -> None:
    g.setdefault(_START, time.perf_counter())


def _observe(resp: Response) -> Response:
    started = g.get(_START)
    if started is not None:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        HTTP_LATENCY.labels(request.method, rule, str(resp.status_code)).observe(
            time.perf_counter() - started)
    return resp


def register(app: Flask) -> None:
    """Times every request; the timer runs first so a 401 from the /v1 gate is timed too.

    Labels use the route template (``/v1/jobs/<job_id>``), never the path, so the number of
    series stays bounded whatever clients send.
    """
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)


# ------------------------------------------------------------------------ Redis reads
def queue_keys(keys: Keys, queue: str) -> list[str]:
    """The kombu lists of one queue: the plain one and one per priority step."""
    base = keys.broker_prefix + queue
    return [base, *(f"{base}{KOMBU_PRIORITY_SEP}{p}" for p in KOMBU_PRIORITY_STEPS)]


class RedisCollector(Collector):
    """Builds the Redis-backed metric families for one scrape."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        svc = self.svc
        mk = wm.metric_keys(svc.settings.key_prefix)
        census.maybe_step(svc.redis, svc.keys, mk)
        pipe = svc.redis.pipeline(transaction=False)
        for queue in ALL_QUEUES:
            for key in queue_keys(svc.keys, queue):
                pipe.llen(key)
        pipe.hlen(svc.keys.broker_prefix + "unacked")
        pipe.zcard(svc.keys.webhooks_due)
        pipe.hgetall(mk.counters)
        pipe.hgetall(mk.extraction)
        pipe.hgetall(mk.census)
        out = pipe.execute()
        n = len(KOMBU_PRIORITY_STEPS) + 1
        lengths = [sum(out[i * n:(i + 1) * n]) for i in range(len(ALL_QUEUES))]
        unacked, due, counters, extraction, jobs = out[len(ALL_QUEUES) * n:]
        yield queue_depth(lengths)
        yield GaugeMetricFamily("jobgrid_queue_unacked",
                                "Messages delivered to workers and not yet acknowledged "
                                "(running or prefetched), all queues.", value=int(unacked))
        yield GaugeMetricFamily("jobgrid_webhook_deliveries_due",
                                "Webhook deliveries waiting for their next attempt.",
                                value=int(due))
        yield from worker_counters(counters)
        yield extraction_histogram(extraction)
        yield from census.families(jobs)


def queue_depth(lengths: list[int]) -> GaugeMetricFamily:
    fam = GaugeMetricFamily("jobgrid_queue_depth",
                            "Messages waiting in each Celery queue (scale workers on this).",
                            labels=["queue"])
    for queue, length in zip(ALL_QUEUES, lengths, strict=True):
        fam.add_metric([queue], int(length))
    return fam


def worker_counters(h: dict[str, str]) -> Iterator[Metric]:
    docs = CounterMetricFamily("jobgrid_documents_processed",
                               "Documents recorded by workers, by outcome.", labels=["outcome"])
    docs.add_metric(["completed"], int(h.get(wm.DOCUMENTS_COMPLETED, 0)))
    docs.add_metric(["failed"], int(h.get(wm.DOCUMENTS_FAILED, 0)))
    yield docs
    cells = CounterMetricFamily("jobgrid_cells_processed",
                                "Grid cells recorded by workers, filled (a valid value) or "
                                "empty.", labels=["state"])
    cells.add_metric(["filled"], int(h.get(wm.CELLS_FILLED, 0)))
    cells.add_metric(["empty"], int(h.get(wm.CELLS_EMPTY, 0)))
    yield cells


def extraction_histogram(h: dict[str, str]) -> HistogramMetricFamily:
    """Cumulates the workers' per-bucket counts into Prometheus' ``le`` buckets."""
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound in wm.EXTRACTION_BUCKETS:
        running += int(h.get(wm.bucket_field(bound), 0))
        buckets.append((f"{bound:g}", running))
    running += int(h.get(wm.INF_BUCKET, 0))
    buckets.append(("+Inf", running))
    return HistogramMetricFamily("jobgrid_extraction_seconds",
                                 "Time of one extractor call per document (all workers).",
                                 buckets=buckets, sum_value=float(h.get(wm.SUM_FIELD, 0.0)))


# --------------------------------------------------------------------------- exposition
def _http_collector() -> Collector:
    """The latency histogram of every server process (multiprocess) or of this process."""
    path = os.environ.get(MULTIPROC_ENV)
    if path and os.path.isdir(path):
        from prometheus_client import multiprocess

        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg, path=path)  # type: ignore[no-untyped-call]
        return reg
    return HTTP_LATENCY


def render(svc: Services, accept: str | None) -> Response:
    """The whole exposition, in the format the scraper asked for (text or OpenMetrics)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_http_collector())
    reg.register(RedisCollector(svc))
    encoder, content_type = choose_encoder(accept or "")
    return Response(encoder(reg), status=200, headers={"Content-Type": content_type,
                                                       "Cache-Control": "no-store"})

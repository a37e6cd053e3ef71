"""The names the worker metrics are stored under: Redis keys, hash fields and buckets.

Workers write these (``worker.metrics`` buffers and flushes them) and the API reads them at
scrape time (``api.metrics``, ``api.census``). The names live here, below both, so the API
never imports worker code and the two sides cannot drift apart.

| key                                   | type | TTL  | written by             |
| ------------------------------------- | ---- | ---- | ---------------------- |
| ``{p}:metrics:counters``              | hash | none | workers (flush)        |
| ``{p}:metrics:extraction_seconds``    | hash | none | workers (flush)        |
| ``{p}:metrics:jobs_by_status``        | hash | none | API (census publish)   |
| ``{p}:metrics:census_work``           | hash | none | API (census step)      |
| ``{p}:metrics:census_lock``           | str  | step | API (census ``SET NX``) |
"""

from __future__ import annotations

from dataclasses import dataclass

#: Upper bounds (seconds) of the extraction histogram: a regex pass takes milliseconds, an
#: LLM call seconds to minutes (the soft time limit defaults to 300 s).
EXTRACTION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)
INF_BUCKET = "le:+Inf"

DOCUMENTS_COMPLETED = "documents_completed"
DOCUMENTS_FAILED = "documents_failed"
CELLS_FILLED = "cells_filled"
CELLS_EMPTY = "cells_empty"
COUNTER_FIELDS = (DOCUMENTS_COMPLETED, DOCUMENTS_FAILED, CELLS_FILLED, CELLS_EMPTY)
SUM_FIELD = "sum"
COUNT_FIELD = "count"


@dataclass(frozen=True, slots=True)
class MetricKeys:
    """The Redis keys of the metrics, shared by the workers (writers) and the API (reader)."""

    counters: str
    extraction: str
    census: str
    census_work: str
    census_lock: str


def metric_keys(prefix: str) -> MetricKeys:
    """All metric keys under ``{prefix}:metrics``."""
    base = f"{prefix}:metrics"
    return MetricKeys(
        counters=f"{base}:counters",
        extraction=f"{base}:extraction_seconds",
        census=f"{base}:jobs_by_status",
        census_work=f"{base}:census_work",
        census_lock=f"{base}:census_lock",
    )


def bucket_field(bound: float) -> str:
    """The hash field of one histogram bucket, e.g. ``le:0.25``."""
    return f"le:{bound:g}"


def bucket_for(seconds: float) -> str:
    """The field of the smallest bucket holding ``seconds`` (buckets are stored uncumulated)."""
    for bound in EXTRACTION_BUCKETS:
        if seconds <= bound:
            return bucket_field(bound)
    return INF_BUCKET

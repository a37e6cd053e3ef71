"""Worker-side metrics, kept in Redis so the API's ``/metrics`` shows the whole worker fleet.

Why Redis and not a Prometheus endpoint per worker: Celery workers have no HTTP server, run
as several prefork processes per host and on many hosts, and come and go with autoscaling.
Counters and histogram buckets incremented in Redis (``HINCRBY`` under ``{prefix}:metrics:``)
are fleet-wide totals the moment they are written, survive worker restarts, and need no
service discovery: the API reads them at scrape time (``api.metrics``).

Why buffered: the pipeline costs two Redis round trips per document, and a third one per
document for metrics would cost throughput. Observations are summed in-process and a
daemon thread writes them every ``FLUSH_INTERVAL_SECONDS`` in one pipelined round trip (only
when something changed). A failed flush (Redis down) puts its deltas back, so an outage
delays counts but never loses or doubles them; a process killed with SIGKILL loses at most
the last interval's observations, which is acceptable for rate metrics.

Keys, fields and buckets: ``shared/metric_keys.py`` (the API reads them from there).

Wiring (the lead's): ``document_recorded`` after each first-time ``record_document`` and
``extraction_timer`` around ``extractor.extract`` in ``worker/pipeline.py``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from shared.keys import Keys
from shared.metric_keys import (
    CELLS_EMPTY,
    CELLS_FILLED,
    COUNT_FIELD,
    DOCUMENTS_COMPLETED,
    DOCUMENTS_FAILED,
    bucket_for,
    metric_keys,
)
from shared.metrics_store import MetricsStore

log = logging.getLogger("jobgrid.worker.metrics")

FLUSH_INTERVAL_SECONDS = 1.0


class MetricsBuffer:
    """In-process sums of observations, flushed to Redis by a daemon thread.

    Fork-safe: a Celery prefork child inherits the parent's object, so state is reset (and the
    flush thread started anew) the first time a new pid observes something.
    """

    def __init__(
        self,
        client: Callable[[], redis.Redis],
        prefix: Callable[[], str],
        flush_interval: float = FLUSH_INTERVAL_SECONDS,
        autostart: bool = True,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.flush_interval = flush_interval
        self.autostart = autostart
        self._pid = -1
        self._lock = threading.Lock()
        self._ints: Counter[str] = Counter()
        self._seconds = 0.0
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ observe
    def add_document(self, *, failed: bool, filled: int, empty: int) -> None:
        """One document recorded for the first time (a duplicate delivery is not counted)."""
        with self._own_lock():
            self._ints[DOCUMENTS_FAILED if failed else DOCUMENTS_COMPLETED] += 1
            self._ints[CELLS_FILLED] += max(0, filled)
            self._ints[CELLS_EMPTY] += max(0, empty)

    def add_extraction(self, seconds: float) -> None:
        """One call of the extractor, successful or not, and how long it took."""
        with self._own_lock():
            self._ints["x:" + bucket_for(seconds)] += 1
            self._ints["x:" + COUNT_FIELD] += 1
            self._seconds += max(0.0, seconds)

    @contextmanager
    def _own_lock(self) -> Iterator[None]:
        if self._pid != os.getpid():
            self._reset_after_fork()
        with self._lock:
            yield
        if self.autostart and self._thread is None:
            self._start_thread()

    def _reset_after_fork(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._ints = Counter()
        self._seconds = 0.0
        self._thread = None

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="jobgrid-metrics",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.flush_interval)
            self.flush()

    # -------------------------------------------------------------------- flush
    def _take(self) -> tuple[Counter[str], float]:
        with self._lock:
            ints, seconds = self._ints, self._seconds
            self._ints, self._seconds = Counter(), 0.0
        return ints, seconds

    def _give_back(self, ints: Counter[str], seconds: float) -> None:
        with self._lock:
            self._ints.update(ints)
            self._seconds += seconds

    def flush(self) -> bool:
        """Writes the pending sums in one round trip; False (sums kept) if Redis failed."""
        if self._pid != os.getpid():
            return True  # nothing was observed in this process
        ints, seconds = self._take()
        if not ints:
            return True
        prefix = self._prefix()
        counters = {n: v for n, v in ints.items() if not n.startswith("x:")}
        extraction = {n[2:]: v for n, v in ints.items() if n.startswith("x:")}
        try:
            store = MetricsStore(self._client(), Keys(prefix), metric_keys(prefix))
            store.add_worker_sums(counters, extraction,
                                  seconds if ints.get("x:" + COUNT_FIELD) else None)
        except redis.RedisError as e:
            log.warning("metrics flush failed (kept for the next one): %s", e)
            self._give_back(ints, seconds)
            return False
        return True


def _default_client() -> redis.Redis:
    from worker import runtime  # lazily: the worker's per-process client, built after fork

    return runtime.store().r


def _default_prefix() -> str:
    from worker import runtime

    return runtime.settings().key_prefix


BUFFER = MetricsBuffer(_default_client, _default_prefix)


def document_recorded(*, added: bool, failed: bool, filled: int, empty: int) -> None:
    """Counts a document and its cells once ``record_document`` reports it new (``added``).

    Call it after every ``ctx.store.record_document(...)`` in ``worker/pipeline.py`` with the
    same ``failed``/``filled``/``empty`` and ``rec.added``; redeliveries are then not counted.
    """
    if added:
        BUFFER.add_document(failed=failed, filled=filled, empty=empty)


@contextmanager
def extraction_timer() -> Iterator[None]:
    """Times one ``extractor.extract`` call into the histogram, whether it returns or raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        BUFFER.add_extraction(time.perf_counter() - started)


def flush() -> bool:
    """Writes what this process observed so far (e.g. from Celery's worker_process_shutdown)."""
    return BUFFER.flush()

"""A fault-injecting extractor plug-in for tests: the real built-in extractor, plus faults.

Workers load it through the documented plug-in point
(``JOBGRID_EXTRACTOR=support.extractors:FaultyExtractor`` with ``tests/`` on PYTHONPATH),
so tests exercise the production pipeline end to end and only the faults are synthetic.

Environment (all optional):
``JOBGRID_TEST_DELAY_MS``        sleep this long per document (a slow extractor);
``JOBGRID_TEST_TRANSIENT_FAILS`` the first N calls per document raise a retryable error;
``JOBGRID_TEST_WORKER_TAG``      count documents per worker tag in ``{prefix}:test:by_worker``.
Document text containing ``POISON-KILL`` SIGKILLs the process running it; ``PERMANENT-FAIL``
raises a non-retryable error; ``FAIL-ONCE`` raises one on the first run of that text only
(so a retry of the job's failed rows succeeds).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Sequence
from functools import cached_property

import redis

from shared.models import FieldSpec
from shared.settings import get_settings
from worker.extraction import Cell, ParsedDocument, get_extractor
from worker.extraction.errors import PermanentExtractorError, TransientExtractorError


class FaultyExtractor:
    name = "faulty"

    def __init__(self) -> None:
        self.inner = get_extractor("builtin")
        self.delay = int(os.environ.get("JOBGRID_TEST_DELAY_MS", "0")) / 1000
        self.transient_fails = int(os.environ.get("JOBGRID_TEST_TRANSIENT_FAILS", "0"))
        self.tag = os.environ.get("JOBGRID_TEST_WORKER_TAG", "")
        self.prefix = get_settings().key_prefix

    @cached_property
    def r(self) -> redis.Redis:
        return redis.Redis.from_url(get_settings().redis_url, decode_responses=True)

    def extract(self, doc: ParsedDocument, fields: Sequence[FieldSpec]) -> dict[str, Cell]:
        if "POISON-KILL" in doc.text:
            os.kill(os.getpid(), signal.SIGKILL)
        if "PERMANENT-FAIL" in doc.text:
            raise PermanentExtractorError("extractor_rejected", "the document was refused")
        if "FAIL-ONCE" in doc.text and self.r.hsetnx(
                f"{self.prefix}:test:failed_once",
                hashlib.sha256(doc.text.encode()).hexdigest()[:24], 1):
            raise PermanentExtractorError("extractor_rejected", "refused on its first run")
        if self.transient_fails:
            digest = hashlib.sha256(doc.text.encode()).hexdigest()[:24]
            calls = int(self.r.hincrby(f"{self.prefix}:test:calls", digest, 1))
            if calls <= self.transient_fails:
                raise TransientExtractorError("extractor_timeout", f"simulated timeout {calls}")
        if self.delay:
            time.sleep(self.delay)
        if self.tag:
            self.r.hincrby(f"{self.prefix}:test:by_worker", self.tag, 1)
        return self.inner.extract(doc, fields)

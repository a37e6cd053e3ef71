"""Stops a document's parse or extraction when its job is cancelled while it runs.

A cancel is a flag on the job (``transition.lua`` sets ``cancelled``); ``begin_task`` reads it
before a document starts and ``run_extract`` reads it again between parse and extraction.
But one document can parse for a long time (crafted PDFs of long runs of text operators take
pypdf tens of seconds), and a cancel should not have to wait for it. So while a document's
parse or extraction runs, a daemon thread of the pool process reads the flag once a second;
when it is set, the thread interrupts the main thread (``_thread.interrupt_main`` with a
private signal number whose handler raises :class:`DocumentCancelled`).

:class:`DocumentCancelled` derives from ``BaseException`` on purpose: parsing and extraction
turn every ``Exception`` into a row error, and a cancel must not become a
``corrupt_document`` row. The interrupt is armed only inside :func:`guard_document`, and the
handler checks that the document it was fired for is still the one running, so it can never
land in the recording step or in another document.
"""

from __future__ import annotations

import _thread
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import redis

from shared.store import JobStore

log = logging.getLogger("jobgrid.worker")

#: How often the watcher reads the cancel flag of the running document's job.
POLL_SECONDS = 1.0
#: Not used by Celery's prefork children (SIGUSR1 is the soft time limit there).
_SIGNAL = signal.SIGUSR2
_SOFT_LIMIT_SIGNAL = signal.SIGUSR1


class DocumentCancelled(BaseException):  # noqa: N818 - an instruction, not an error
    """Raised inside a document's parse or extraction when its job was cancelled."""


class DocumentTimeLimit(BaseException):  # noqa: N818 - an instruction, not an error
    """Raised inside a document's parse or extraction at the per-document soft time limit.

    Celery's own ``SoftTimeLimitExceeded`` is an ``Exception``, and pypdf swallows it in its
    content-stream loop (``except Exception``): a crafted PDF then parsed on for 30 s past a
    2 s limit and was recorded as completed. While a document is guarded, the soft limit's
    signal (SIGUSR1 in a prefork child) raises this instead, which no library catches.
    """


def _time_limit(signum: int, frame: FrameType | None) -> None:
    raise DocumentTimeLimit()


class _Watch:
    def __init__(self) -> None:
        self.lock = threading.RLock()  # the handler runs on the thread that may hold it
        self.wake = threading.Event()
        self.armed: tuple[int, JobStore, str] | None = None  # (token, store, job id)
        self.fired = 0
        self.token = 0
        self.thread: threading.Thread | None = None
        self.installed = False
        self.stopped = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        with self.lock:
            if self.armed is None or self.fired != self.armed[0]:
                return  # fired for a document that has finished since
            self.armed = None
        raise DocumentCancelled()

    def loop(self) -> None:
        while not self.stopped:
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()
            with self.lock:
                armed = self.armed
            if armed is None:
                continue
            token, store, job_id = armed
            try:
                cancelled = store.is_cancelled(job_id)
            except redis.RedisError:
                continue  # the task itself deals with outages
            if not cancelled:
                continue
            with self.lock:
                if self.armed is None or self.armed[0] != token:
                    continue
                self.fired = token
            log.info("job %s cancelled: interrupting its running document", job_id)
            _thread.interrupt_main(_SIGNAL)


_WATCH = _Watch()


def _ready() -> bool:
    """Installs the handler and starts the watcher once per process. Only possible from the
    main thread (prefork children run tasks there); elsewhere the flag is still read
    between parse and extraction, just not during them."""
    if _WATCH.installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(_SIGNAL, _WATCH.handler)
    _WATCH.thread = threading.Thread(target=_WATCH.loop, name="jobgrid-cancel-watch",
                                     daemon=True)
    _WATCH.thread.start()
    _WATCH.installed = True
    return True


def stop() -> None:
    """Ends the watcher before its pool process exits (``worker_process_shutdown``), so the
    process never finalizes while the thread is inside a Redis call."""
    if _WATCH.thread is not None:
        _WATCH.stopped = True
        _WATCH.wake.set()
        _WATCH.thread.join(POLL_SECONDS + 1)


@contextmanager
def guard_document(store: JobStore, job_id: str) -> Iterator[None]:
    """Arms the cancel interrupt and the uncatchable soft time limit for the block (one
    document's parse or extraction); outside it Celery's own handler is back."""
    if not _ready():
        yield
        return
    previous = signal.signal(_SOFT_LIMIT_SIGNAL, _time_limit)
    with _WATCH.lock:
        _WATCH.token += 1
        _WATCH.armed = (_WATCH.token, store, job_id)
    try:
        yield
    finally:
        with _WATCH.lock:
            _WATCH.armed = None
        signal.signal(_SOFT_LIMIT_SIGNAL, previous)

"""One Redis subscription per API process, fanned out to every long poll and SSE watcher.

Workers publish ``"<job id> <version>"`` on ``{prefix}:events`` with every job write (inside
the same Lua script), so a watcher wakes on a change without polling Redis. A watcher always
registers *before* reading the job, then re-reads after each wake-up: a change published
between the read and the wait is therefore never missed. When the subscription drops (Redis
restart) every watcher is woken so it re-reads; nothing relies on a message being delivered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

log = logging.getLogger("jobgrid.api.pubsub")


class Watch:
    """A registration for one job's changes; ``wait`` returns True when woken."""

    __slots__ = ("job_id", "_event")

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._event = threading.Event()

    def wake(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken


class ChangeFeed:
    """Subscribes lazily on first use; a daemon thread reads and dispatches messages."""

    def __init__(self, client_factory: Callable[[], redis.Redis], channel: str) -> None:
        self._client_factory = client_factory
        self._channel = channel
        self._lock = threading.Lock()
        self._watchers: dict[str, set[Watch]] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.connected = threading.Event()

    # ------------------------------------------------------------------ watchers
    @contextmanager
    def watch(self, job_id: str) -> Iterator[Watch]:
        self._ensure_started()
        w = Watch(job_id)
        with self._lock:
            self._watchers.setdefault(job_id, set()).add(w)
        try:
            yield w
        finally:
            with self._lock:
                group = self._watchers.get(job_id)
                if group is not None:
                    group.discard(w)
                    if not group:
                        del self._watchers[job_id]

    def watcher_count(self) -> int:
        with self._lock:
            return sum(len(g) for g in self._watchers.values())

    def _dispatch(self, job_id: str) -> None:
        with self._lock:
            group = list(self._watchers.get(job_id, ()))
        for w in group:
            w.wake()

    def _wake_all(self) -> None:
        with self._lock:
            everyone = [w for g in self._watchers.values() for w in g]
        for w in everyone:
            w.wake()

    # -------------------------------------------------------------- subscriber
    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="jobgrid-feed",
                                                daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                self._listen()
                backoff = 0.1
            except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
                log.warning("change feed lost Redis (%s); resubscribing", e.__class__.__name__)
            self.connected.clear()
            self._wake_all()
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _listen(self) -> None:
        client = self._client_factory()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self._channel)
            self.connected.set()
            self._wake_all()  # anything may have changed while we were not listening
            while not self._stopping.is_set():
                msg: dict[str, Any] | None = pubsub.get_message(timeout=1.0)
                if msg is None or msg.get("type") != "message":
                    continue
                data = msg["data"]
                if isinstance(data, bytes):
                    data = data.decode()
                self._dispatch(str(data).split(" ", 1)[0])
        finally:
            pubsub.close()
            client.close()

"""One Redis subscription per API process, fanned out to every long poll and SSE watcher.

Workers publish ``"<job id> <version>"`` on ``{prefix}:events`` with every job write (inside
the same Lua script), so a watcher wakes on a change without polling Redis. A watcher always
registers *before* reading the job, then re-reads after each wake-up: a change published
between the read and the wait is therefore never missed. When the subscription drops (Redis
restart) every watcher is woken so it re-reads; nothing relies on a message being delivered.

Re-reads go through :class:`SharedReads`: when one change wakes many watchers of the same job
(a dashboard open in 500 tabs), one HGETALL answers all of them. Push traffic uses its own
Redis client with a *blocking* pool, so a thousand streams waking at once wait a moment for a
connection instead of failing with "Too many connections", and never take the connections
that ordinary polls use.

Everything here works with real threads (the production server, granian, runs WSGI on a pool
of threads) and with gevent's monkey-patched ``threading``. A held request (a stream or a
waiting long poll) keeps its thread, so the feed caps them per process
(``max_held_requests``): past the cap a new one answers 503 and ordinary polls keep threads.

Within that cap each API key and each organization gets a fair share (``max_held_per_key``,
``max_held_per_org``; 429 ``rate_limited`` past it), and the last ``held_reserve`` places are
kept for organizations holding none yet: one tenant filling its share, or several filling the
shared part, still leaves room for a newcomer's first streams.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.errors import RateLimited, Unavailable
from shared.keys import Keys
from shared.scripts import Scripts, scripts_for
from shared.settings import MAX_HELD_REQUESTS, Settings
from shared.store import JobStore

log = logging.getLogger("jobgrid.api.pubsub")

PUSH_EXTENSION = "jobgrid.push"
#: Connections of the push client per process; readers queue for one beyond this.
PUSH_POOL_SIZE = 32
#: Retry-After (seconds) of a held request refused for its key's or organization's share.
HELD_RETRY_AFTER = 5
_create_lock = threading.Lock()


class Watch:
    """A registration for one job's changes; ``wait`` returns True when woken.

    ``woken_at`` (monotonic) is the time of the latest wake-up: a read that started after it
    is guaranteed to see the change that caused it (see :class:`SharedReads`).
    """

    __slots__ = ("job_id", "_event", "woken_at")

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._event = threading.Event()
        self.woken_at = time.monotonic()

    def wake(self) -> None:
        self.woken_at = time.monotonic()
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """True when woken within ``timeout``; the wake is consumed only then, so a wake that
        races a timeout is seen by the next call."""
        if not self._event.wait(max(0.0, timeout)):
            return False
        self._event.clear()
        return True


@dataclass(frozen=True, slots=True)
class Shares:
    """How the held requests of one process are shared (see the module docstring)."""

    per_key: int = MAX_HELD_REQUESTS
    per_org: int = MAX_HELD_REQUESTS
    reserve: int = 0


class ChangeFeed:
    """Subscribes lazily on first use; a daemon thread reads and dispatches messages.

    At most ``max_watchers`` watches at once: every one is a request holding a server thread.
    A watch taken for a holder ``(org, key_id)`` also counts against that key's and
    organization's share (:class:`Shares`).
    """

    def __init__(self, client_factory: Callable[[], redis.Redis], channel: str,
                 max_watchers: int = MAX_HELD_REQUESTS, shares: Shares | None = None) -> None:
        self._client_factory = client_factory
        self._channel = channel
        self._max_watchers = max_watchers
        self._shares = shares or Shares()
        self._reserve = min(self._shares.reserve, max_watchers - 1)
        self._count = 0
        self._by_org: dict[str, int] = {}
        self._by_key: dict[str, int] = {}
        self._lock = threading.Lock()
        self._watchers: dict[str, set[Watch]] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.connected = threading.Event()

    # ------------------------------------------------------------------ watchers
    @contextmanager
    def watch(self, job_id: str, holder: tuple[str, str] | None = None) -> Iterator[Watch]:
        """Registers a watch for ``holder`` (org, key id); 429 ``rate_limited`` past the
        key's or organization's share, 503 ``unavailable`` when this process holds its
        maximum (or all but the reserve, for an organization that already holds some)."""
        self._ensure_started()
        w = Watch(job_id)
        with self._lock:
            self._admit(holder)
            self._watchers.setdefault(job_id, set()).add(w)
            self._count += 1
            if holder is not None:
                self._by_org[holder[0]] = self._by_org.get(holder[0], 0) + 1
                self._by_key[holder[1]] = self._by_key.get(holder[1], 0) + 1
        try:
            yield w
        finally:
            with self._lock:
                group = self._watchers.get(job_id)
                if group is not None and w in group:
                    group.discard(w)
                    self._count -= 1
                    if not group:
                        del self._watchers[job_id]
                    if holder is not None:
                        _decrement(self._by_org, holder[0])
                        _decrement(self._by_key, holder[1])

    def _admit(self, holder: tuple[str, str] | None) -> None:
        """Raises unless one more watch fits (under the lock)."""
        full = Unavailable(
            f"this server is holding its maximum of {self._max_watchers} open event "
            "streams and long polls; retry shortly, or poll /status without wait")
        if self._count >= self._max_watchers:
            raise full
        if holder is None:
            return
        org_count = self._by_org.get(holder[0], 0)
        shares = self._shares
        if self._by_key.get(holder[1], 0) >= shares.per_key:
            raise RateLimited(
                f"this API key holds {shares.per_key} open event streams and long polls on "
                "this server, its share; close one, or poll /status without wait",
                retry_after=HELD_RETRY_AFTER)
        if org_count >= shares.per_org:
            raise RateLimited(
                f"this organization holds {shares.per_org} open event streams and long polls "
                "on this server, its share; close one, or poll /status without wait",
                retry_after=HELD_RETRY_AFTER)
        if org_count and self._count >= self._max_watchers - self._reserve:
            raise Unavailable(  # the rest is kept for organizations that hold nothing yet
                f"this server holds {self._count} open event streams and long polls; its last "
                f"{self._reserve} places are kept for organizations holding none; retry "
                "shortly, or poll /status without wait")

    def held_by(self, org: str) -> int:
        """Watches held for ``org`` in this process."""
        with self._lock:
            return self._by_org.get(org, 0)

    def watcher_count(self) -> int:
        with self._lock:
            return self._count

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
            except Exception:  # noqa: BLE001 - the feed must outlive any bad message
                log.exception("change feed failed; resubscribing")
            self.connected.clear()
            self._wake_all()
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _listen(self) -> None:
        client = self._client_factory()
        # The one direct Redis call in api/ (docs/architecture.md): a subscription, not data.
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
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


def _decrement(counts: dict[str, int], name: str) -> None:
    left = counts.get(name, 0) - 1
    if left > 0:
        counts[name] = left
    else:
        counts.pop(name, None)


class _Flight:
    """One read in progress; followers wait on ``done`` and share its outcome."""

    __slots__ = ("started", "done", "result", "error")

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.done = threading.Event()
        self.result: dict[str, str] = {}
        self.error: BaseException | None = None


class SharedReads:
    """Coalesces concurrent reads of one job into one Redis call ("single flight").

    A caller passes ``fresh_after``, the time of the change it must see; it joins a read in
    progress only if that read started at or after that time, otherwise it starts its own.
    So sharing never hands anyone a snapshot older than its wake-up.
    """

    def __init__(self, fetch: Callable[[str], dict[str, str]], wait_timeout: float) -> None:
        self._fetch = fetch
        self._wait_timeout = wait_timeout
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def read(self, job_id: str, fresh_after: float) -> dict[str, str]:
        """The job's hash (empty when the job is gone)."""
        with self._lock:
            flight = self._flights.get(job_id)
            lead = flight is None or flight.started < fresh_after
            if lead:
                flight = self._flights[job_id] = _Flight()
        assert flight is not None
        if lead:
            return self._lead(job_id, flight)
        if not flight.done.wait(self._wait_timeout):
            raise redis.TimeoutError(f"shared read of job {job_id} did not finish")
        if flight.error is not None:
            raise redis.ConnectionError(f"shared read of job {job_id} failed") from flight.error
        return flight.result

    def _lead(self, job_id: str, flight: _Flight) -> dict[str, str]:
        try:
            flight.result = self._fetch(job_id)
            return flight.result
        except BaseException as e:
            flight.error = e
            raise
        finally:
            with self._lock:
                if self._flights.get(job_id) is flight:
                    del self._flights[job_id]
            flight.done.set()


def push_client(settings: Settings, *, pubsub: bool = False) -> redis.Redis:
    """A client for push traffic: a blocking pool (wait for a connection, up to the socket
    timeout, rather than fail), or for the subscriber one connection that never retries
    silently, so a reconnect always surfaces and wakes every watcher to re-read."""
    timeout = settings.redis_socket_timeout
    common: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": timeout,
                              "health_check_interval": 10}
    if pubsub:
        return redis.Redis.from_url(settings.redis_url, socket_timeout=timeout,
                                    retry=Retry(NoBackoff(), 0), **common)
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=PUSH_POOL_SIZE, timeout=timeout,
        socket_timeout=timeout, retry=Retry(NoBackoff(), 1, supported_errors=(
            redis.ConnectionError,)), **common)
    return redis.Redis(connection_pool=pool)


@dataclass(frozen=True)
class Push:
    """The per-process machinery of long polls and SSE: the feed, shared re-reads, and the
    scripts (on the push client) for the one counted read each request starts with."""

    feed: ChangeFeed
    reads: SharedReads
    scripts: Scripts
    keys: Keys
    settings: Settings


def build_push(settings: Settings) -> Push:
    client = push_client(settings)
    keys = Keys(settings.key_prefix)
    store = JobStore(client, settings)

    def fetch(job_id: str) -> dict[str, str]:
        return store.read_job(job_id) or {}

    shares = Shares(per_key=settings.max_held_per_key, per_org=settings.max_held_per_org,
                    reserve=settings.held_reserve)
    feed = ChangeFeed(lambda: push_client(settings, pubsub=True), keys.events_channel,
                      max_watchers=settings.max_held_requests, shares=shares)
    reads = SharedReads(fetch, wait_timeout=settings.redis_socket_timeout * 2)
    return Push(feed, reads, scripts_for(client), keys, settings)


def push_for(app: Flask, settings: Settings) -> Push:
    """The app's Push, built on first use in this process (after the server forked, so the
    subscriber thread and sockets belong to the worker that uses them)."""
    push = app.extensions.get(PUSH_EXTENSION)
    if push is None:
        with _create_lock:
            push = app.extensions.get(PUSH_EXTENSION)
            if push is None:
                push = app.extensions[PUSH_EXTENSION] = build_push(settings)
    return cast(Push, push)

"""The SSE part of ``bench/polling.py``: many EventSource-like clients on one API process.

The clients are asyncio streams in this one process (not a thread each), speaking just enough
HTTP/1.1 to read a chunked ``text/event-stream``. A publisher thread writes job changes through
the real worker-side Lua script (``record_document.lua``, via ``JobStore``), noting when each
write was sent; each client notes when the event carrying that version arrives. The delay is
arrival minus write, so it includes Redis PUBLISH, the API's ChangeFeed, the shared re-read,
building the event, the socket, and this client's own scheduling (a conservative number).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.store import JobStore


@dataclass
class Timings:
    """When each (job, version) was written and when each client saw it."""

    written: dict[tuple[str, int], float] = field(default_factory=dict)
    arrived: list[tuple[str, int, float]] = field(default_factory=list)
    first_events: int = 0
    failures: list[str] = field(default_factory=list)

    def delays_ms(self) -> list[float]:
        out = []
        for job_id, version, at in self.arrived:
            sent = self.written.get((job_id, version))
            if sent is not None:
                out.append((at - sent) * 1000)
        return sorted(out)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def _read_head(reader: asyncio.StreamReader) -> str:
    head = await reader.readuntil(b"\r\n\r\n")
    return head.decode("latin-1")


def _event_version(chunk: bytes) -> int | None:
    if not chunk.startswith(b"id: "):
        return None
    return int(chunk[4:chunk.index(b"\n")])


@dataclass
class Gate:
    """Set once ``target`` clients got their first event (every stream is open)."""

    target: int
    event: asyncio.Event = field(default_factory=asyncio.Event)


async def watch(host: str, port: int, job_id: str, key: str, timings: Timings,
                ready: Gate, stop: asyncio.Event) -> None:
    """One client: reads chunks until ``stop``; each ``id:`` chunk is one event."""
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    except OSError as e:
        timings.failures.append(f"connect: {e}")
        return
    writer.write(f"GET /v1/jobs/{job_id}/events HTTP/1.1\r\nHost: {host}\r\n"
                 f"Api-Key: {key}\r\nAccept: text/event-stream\r\n\r\n".encode())
    try:
        head = await _read_head(reader)
        if " 200 " not in head.split("\r\n", 1)[0]:
            timings.failures.append(head.split("\r\n", 1)[0])
            return
        first = True
        while not stop.is_set():
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size + 2)
            version = _event_version(chunk)
            if version is None:
                continue
            if first:
                first = False
                timings.first_events += 1
                if timings.first_events >= ready.target:
                    ready.event.set()
                continue
            timings.arrived.append((job_id, version, time.perf_counter()))
    except (asyncio.IncompleteReadError, ConnectionError) as e:
        if not stop.is_set():
            timings.failures.append(f"stream: {type(e).__name__}")
    finally:
        writer.close()


def publisher(store: JobStore, org: str, jobs: Sequence[str], rate: float, seconds: float,
              timings: Timings, versions: dict[str, int]) -> threading.Thread:
    """Writes one document record per tick, round-robin over ``jobs``, at ``rate``/s."""

    def run() -> None:
        interval = 1 / rate
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            job_id = jobs[n % len(jobs)]
            index = n // len(jobs)
            row = {"document": {"index": index, "filename": f"d{index}.txt"},
                   "status": "completed", "values": {}, "confidence": {}, "error": None}
            timings.written[(job_id, versions[job_id] + 1)] = time.perf_counter()
            store.record_document(job_id, org, index, row, failed=False, filled=1, empty=1)
            versions[job_id] += 1
            n += 1
            pause = start + n * interval - time.perf_counter()
            if pause > 0:
                time.sleep(pause)

    t = threading.Thread(target=run, name="bench-publisher", daemon=True)
    return t


async def run_watchers(host: str, port: int, key: str, jobs: Sequence[str], watchers: int,
                       timings: Timings, start_publisher: threading.Thread,
                       connect_timeout: float = 120) -> float:
    """Opens ``watchers`` streams spread over ``jobs``, waits for every first event, runs the
    publisher, then closes everything. Returns the seconds it took to open all streams."""
    ready = Gate(watchers)
    stop = asyncio.Event()
    t0 = time.perf_counter()
    tasks = []
    for i in range(watchers):
        tasks.append(asyncio.create_task(
            watch(host, port, jobs[i % len(jobs)], key, timings, ready, stop)))
        if i % 50 == 49:
            await asyncio.sleep(0.01)  # a burst of 50 connects at a time, like real clients
    await asyncio.wait_for(ready.event.wait(), connect_timeout)
    opened = time.perf_counter() - t0
    start_publisher.start()
    while start_publisher.is_alive():
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # the last events in flight
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return opened

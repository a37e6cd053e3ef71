"""Worker nodes' heartbeats, and the rescue of what a lost node held, in seconds.

Why: acks-late keeps a task's message in kombu's ``unacked`` hash while it runs, and the
broker's visibility timeout (3600 s, long enough for the slowest document) puts it back
only an hour after its delivery. A worker node that disappears (SIGKILL of the whole process
group, a lost VM, an OOM-killed container) therefore used to stall its jobs for up to an
hour, or for ``JOBGRID_STALL_SECONDS`` once the stall watchdog noticed.

What runs here, in a daemon thread of every worker node's main process:

1. **Heartbeat.** Every ``JOBGRID_HEARTBEAT_SECONDS`` (2 s) the node rewrites
   ``{p}:node:{name}``: a set holding ``"@"`` and the delivery tags of every broker message
   the node holds (running, prefetched, or waiting for a retry countdown; read from kombu's
   own bookkeeping of the consumer channel), with a TTL of ``JOBGRID_NODE_TIMEOUT_SECONDS``
   (10 s). ``{p}:nodes`` scores each node by its last beat.
2. **Rescue of lost nodes' messages.** A message in ``unacked`` whose tag no live node lists,
   delivered before every live node's last beat, belongs to a node that stopped beating: it
   is put back at the head of its queue with kombu's own ``restore_by_tag`` (a WATCH
   transaction, so two rescuers or a rescuer and the visibility sweep cannot both restore
   it). The next run of each such task is counted by ``begin_task.lua`` as a ``worker_lost``
   attempt, exactly like a visibility-timeout redelivery, crash cap included.
3. **Lost-message audit.** A message popped by ``BRPOP`` but not yet written to ``unacked``
   when its worker died is nowhere: not queued, not unacked, not held. For every running job
   that has been quiet for two beats, the audit lists the messages the job is waiting for
   (validate, parse, finalize, or the documents handed out and not yet recorded) and looks for
   them in the queues and in ``unacked`` in one atomic read (``find_messages.lua``). What is
   missing on two passes in a row, with the job unchanged in between, is re-sent through the
   ordinary idempotent path and noted as a ``worker_lost`` attempt.

Steps 2 and 3 run on one node per beat (``{p}:housekeeping``, SET NX). A node rescues only
after it has beaten without error for a while (after a Redis outage, every live node gets a
chance to beat again before anybody judges it), so a live slow document is never taken from
its node: its tag stays in that node's set for as long as the node lives. The stall watchdog
(``worker/watchdog.py``) stays as the last line of defence.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from shared import queues as q
from shared.clock import now_ms
from shared.fleet_store import BrokerView, FleetStore
from shared.job import F
from shared.keys import Keys
from shared.status import TERMINAL, JobStatus, Phase
from shared.store import JobStore
from worker.dispatch import Dispatcher
from worker.loops import PeriodicThread

log = logging.getLogger("jobgrid.worker.fleet")

#: Jobs audited per pass at most (the quietest are not favoured; the rest wait a pass).
AUDIT_BATCH = 200
#: How long the audit remembers what it missed (a pass is one beat).
MISSING_TTL_MS = 60_000
_TASKS = {q.T_VALIDATE: "validate", q.T_PARSE: "parse", q.T_FINALIZE: "finalize",
          q.T_EXTRACT: "extract"}
_JOB_FIELDS = (F.STATUS, F.CURRENT_PHASE, F.UPDATED_AT, F.FANOUT_DONE, F.PROCESSED,
               F.DOCUMENT_COUNT, F.PRIORITY, F.VERSION, F.EXPIRES_AT)

#: (task short name, document index or -1)
Msg = tuple[str, int]
#: restores the given delivery tags to their queues (kombu ``restore_by_tag``)
Restorer = Callable[[list[str]], None]


def held_tags(consumer: Any) -> list[str] | None:
    """Delivery tags the node's task consumer holds unacknowledged, or None while it has no
    channel (starting, reconnecting). kombu's virtual QoS keeps them in ``_delivered``."""
    try:
        delivered = consumer.task_consumer.channel.qos._delivered
        return [str(t) for t in tuple(delivered)]
    except (AttributeError, RuntimeError):
        return None


def message_of(raw: str) -> tuple[str, str, str, int] | None:
    """(task short name, job id, org, index or -1) of a job task's broker message, given as
    a queue element or an ``unacked`` value; None for anything else (pings, webhooks)."""
    try:
        payload = orjson.loads(raw)
        if isinstance(payload, list):  # unacked: [payload, exchange, routing key]
            payload = payload[0]
        task = _TASKS.get(payload["headers"]["task"])
        if task is None:
            return None
        body = payload["body"]
        if payload.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = orjson.loads(body)[0]
        return task, str(args[0]), str(args[1]), int(args[2]) if task == "extract" else -1
    except (ValueError, KeyError, IndexError, TypeError):
        return None


@dataclass
class Housekeeper:
    """Steps 2 and 3 of the module docstring, as plain methods (tests drive them directly).

    ``broker`` is the Redis holding kombu's keys: the state Redis unless
    ``JOBGRID_BROKER_URL`` points elsewhere.
    """

    store: JobStore
    broker: redis.Redis
    dispatch: Dispatcher
    restore: Restorer

    @property
    def keys(self) -> Keys:
        return self.store.keys

    @property
    def fleet(self) -> FleetStore:
        return FleetStore(self.store.r, self.store.keys)

    # ------------------------------------------------------------------ lost nodes
    def rescue_lost_nodes(self) -> int:
        """Restores every unacked message no live node holds; returns how many."""
        fleet, s = self.fleet, self.store.settings
        nodes = fleet.nodes()
        if not nodes:
            return 0
        held: set[str] = set()
        beats: list[float] = []
        gone: list[str] = []
        holdings = fleet.holdings([name for name, _ in nodes])
        for (name, beat), members in zip(nodes, holdings, strict=True):
            if members:
                held.update(members)
                beats.append(beat)
            else:
                gone.append(name)
        if gone:
            fleet.drop_nodes(gone)
            for name in gone:
                log.warning("worker node %s lost: no heartbeat for %.0f s", name,
                            s.node_timeout_seconds)
        if not beats:
            return 0
        # a tag delivered after some live node's last beat may be that node's: wait a beat
        ceiling = min(beats) / 1000 - s.heartbeat_seconds
        view = BrokerView(self.broker, self.keys)
        candidates = view.unacked_before(ceiling, 1000)
        orphans = [t for t in candidates if t not in held]
        if not orphans:
            return 0
        raws = view.unacked(orphans)
        self.restore(orphans)
        jobs: dict[str, str] = {}
        for raw in raws:
            m = message_of(raw) if raw else None
            if m is not None:
                jobs[m[1]] = m[2]
        for job_id, org in jobs.items():
            self._mark_lost(job_id, org)
        log.warning("restored %d message(s) held by lost worker nodes (jobs: %s)",
                    len(orphans), ", ".join(sorted(jobs)) or "-")
        return len(orphans)

    def _mark_lost(self, job_id: str, org: str) -> None:
        """Shows the loss at once (``last_failure_code``); the re-run counts the attempt."""
        self.store.transition(job_id, org, [JobStatus.VALIDATING, JobStatus.QUEUED,
                                            JobStatus.IN_PROGRESS],
                              extra={F.LAST_FAILURE_CODE: "worker_lost"})

    # ------------------------------------------------------------------ lost messages
    def audit_lost_messages(self, now: int | None = None) -> int:
        """Re-sends job messages missing on two passes in a row; returns how many."""
        now = now if now is not None else now_ms()
        s = self.store.settings
        quiet_ms = int(2 * s.heartbeat_seconds * 1000)
        running = self.store.running_before(now - quiet_ms)
        if not running:
            return 0
        records = self.store.job_fields_many([job_id for _, _, job_id in running], _JOB_FIELDS)
        quiet: list[tuple[str, str, dict[str, str]]] = []
        for (_, org, job_id), values in zip(running, records, strict=True):
            h = {k: v for k, v in values.items() if v is not None}
            if not h.get(F.STATUS) or h[F.STATUS] in TERMINAL:
                continue
            if h.get(F.EXPIRES_AT) and now >= int(h[F.EXPIRES_AT]):
                continue
            if now - int(h.get(F.UPDATED_AT) or 0) >= quiet_ms:
                quiet.append((org, job_id, h))
            if len(quiet) >= AUDIT_BATCH:
                break
        if not quiet:
            return 0
        expected = {job_id: self._expected(job_id, h) for _, job_id, h in quiet}
        found = self._find_messages([j for j, e in expected.items() if e])
        sent = 0
        for org, job_id, h in quiet:
            missing = expected[job_id] - found.get(job_id, set())
            sent += self._confirm(job_id, org, h, missing, now)
        return sent

    def _expected(self, job_id: str, h: dict[str, str]) -> set[Msg]:
        """The messages a job that is not moving must have somewhere in the broker."""
        status, phase = h.get(F.STATUS), h.get(F.CURRENT_PHASE)
        if status == JobStatus.VALIDATING:
            return {("validate", -1)}
        if status == JobStatus.QUEUED:
            return {("parse", -1)}
        if phase == Phase.FINALIZE or h.get(F.PROCESSED) == h.get(F.DOCUMENT_COUNT):
            return {("finalize", -1)}
        if phase == Phase.PARSE or h.get(F.FANOUT_DONE) != "1":
            return {("parse", -1)}
        not_handed = self.store.not_handed_out(job_id)
        n = int(h.get(F.DOCUMENT_COUNT) or 0)
        return {("extract", i) for i in range(n) if i not in not_handed}

    def _find_messages(self, job_ids: list[str]) -> dict[str, set[Msg]]:
        if not job_ids:
            return {}
        queues = [self.keys.broker_queue(name) for name in (q.CONTROL, *q.EXTRACT_QUEUES)]
        raws = BrokerView(self.broker, self.keys).find_messages(queues, job_ids)
        found: dict[str, set[Msg]] = {}
        for raw in raws:
            m = message_of(raw)
            if m is not None:
                found.setdefault(m[1], set()).add((m[0], m[3]))
        return found

    def _confirm(
        self, job_id: str, org: str, h: dict[str, str], missing: set[Msg], now: int
    ) -> int:
        """Re-sends what was missing on the previous pass too, the job unchanged since."""
        fleet = self.fleet
        if not missing:
            fleet.forget_missed(job_id)
            return 0
        before = fleet.missed(job_id)
        seen = orjson.loads(before) if before else None
        confirmed: set[Msg] = set()
        if seen and seen["v"] == h.get(F.VERSION):
            confirmed = missing & {(str(t), int(i)) for t, i in seen["m"]}
        if not confirmed:
            fleet.remember_missed(
                job_id, orjson.dumps({"v": h.get(F.VERSION), "m": sorted(missing), "at": now}),
                MISSING_TTL_MS)
            return 0
        fleet.forget_missed(job_id)
        self._resend(job_id, org, h, confirmed)
        return len(confirmed)

    def _resend(self, job_id: str, org: str, h: dict[str, str], msgs: set[Msg]) -> None:
        indexes = sorted(i for t, i in msgs if t == "extract")
        for task, _ in msgs:
            if task != "extract":
                self.store.note_failure(job_id, org, task, "worker_lost")
        for i in indexes:
            self.store.note_failure(job_id, org, f"d:{i}", "worker_lost")
        for task, _ in msgs:
            if task == "validate":
                self.dispatch.validate(job_id, org)
            elif task == "parse":
                self.dispatch.parse(job_id, org)
            elif task == "finalize":
                self.dispatch.finalize(job_id, org)
        if indexes:
            self.dispatch.extract(job_id, org, indexes, h.get(F.PRIORITY) or "normal")
        log.warning("job %s: re-sent %s, lost between the broker and a worker",
                    job_id, ", ".join(f"{t}" if i < 0 else f"document {i}"
                                      for t, i in sorted(msgs)))


class NodeKeeper:
    """The heartbeat thread of one worker node; runs the housekeeping when its turn comes."""

    def __init__(
        self, name: str, store: JobStore, tags: Callable[[], list[str] | None],
        housekeeper: Housekeeper | None,
    ) -> None:
        self.name = name
        self.store = store
        self.fleet = FleetStore(store.r, store.keys)
        self.tags = tags
        self.housekeeper = housekeeper
        s = store.settings
        self.interval = s.heartbeat_seconds
        self.ttl_ms = int(s.node_timeout_seconds * 1000)
        self._streak_since: float | None = None
        self._failed_once = False
        # beats at once on start: the node is live from its first second
        self._loop = PeriodicThread("jobgrid-node-heartbeat", self.interval, self.run_once,
                                      log, at_once=True, quiet=(redis.RedisError,))

    def beat(self) -> bool:
        """Publishes this node's held tags; False when they could not be read this time
        (the previous set is kept alive, with its older beat time, until they can)."""
        now = now_ms()  # before reading the tags: anything delivered earlier is in them
        tags = self.tags()
        self.fleet.beat(self.name, tags, now, self.ttl_ms)
        return tags is not None

    def may_rescue(self) -> bool:
        """True once this node has beaten without error long enough for every live node to
        have beaten too (after an outage: a whole node timeout)."""
        if self._streak_since is None:
            return False
        need = self.ttl_ms / 1000 if self._failed_once else 2 * self.interval
        return time.monotonic() - self._streak_since >= need

    def run_once(self) -> None:
        try:
            self.beat()
        except redis.RedisError as e:
            if not self._failed_once or self._streak_since is not None:
                log.warning("node heartbeat failed: %s (will keep trying)", e)
            self._streak_since = None
            self._failed_once = True
            return
        if self._streak_since is None:
            self._streak_since = time.monotonic()
        if self.housekeeper is None or not self.may_rescue():
            return
        lock_ms = max(1, int(self.interval * 1000) - 100)
        if not self.fleet.take_housekeeping_turn(self.name, lock_ms):
            return
        try:
            self.housekeeper.rescue_lost_nodes()
            self.housekeeper.audit_lost_messages()
        except redis.RedisError as e:
            log.warning("housekeeping pass failed: %s", e)

    def start(self) -> None:
        """The heartbeat thread (``worker.loops.PeriodicThread``: daemon, stop event, a
        failing pass logged once per streak and never the end of the loop)."""
        self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        """On warm shutdown: the node leaves at once (kombu restores what it held)."""
        self._loop.stop(timeout)
        try:
            self.fleet.leave(self.name)
        except redis.RedisError:
            pass


def kombu_restorer(app: Any) -> Restorer:
    """Restores tags with kombu's own ``restore_by_tag`` (head of the queue, WATCH-guarded),
    exactly what the visibility sweep does an hour later."""
    def restore(tags: Iterable[str]) -> None:
        with app.connection_for_write() as conn:
            qos = conn.default_channel.qos
            for tag in tags:
                qos.restore_by_tag(tag)
    return restore

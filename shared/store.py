"""Reads and writes of job state in Redis, shared by the API and the workers.

Every write that changes a job goes through a Lua script in ``shared/lua`` so it is atomic,
bumps ``version`` and publishes one event. The functions here only pack arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import orjson
import redis

from shared.clock import now_ms
from shared.documents import DocumentStore, RedisDocumentStore
from shared.expiry import register_expiry, unregister_expiry
from shared.job import F, RetryResult, TransitionResult, Verdict
from shared.keys import JobKeys, Keys
from shared.models import JobCreate, SchemaIn
from shared.scripts import scripts_for
from shared.settings import Settings
from shared.status import JobStatus, Phase


@dataclass(frozen=True, slots=True)
class Begin:
    """What begin_task.lua decided for one run of a task."""

    verdict: Verdict
    runs: int
    code: str
    parsed: str = ""  # a document's parsed JSON (documents only)


@dataclass(frozen=True, slots=True)
class Recorded:
    added: bool
    processed: int
    document_count: int
    next_index: int = -1  # the job's next document to send (fan-out window), -1: none
    sent: bool = False  # the script pushed next_index's broker message itself

    @property
    def is_last(self) -> bool:
        return self.added and self.processed == self.document_count


@dataclass(frozen=True, slots=True)
class Transition:
    """``transition.lua``'s raw ``{ok, detail}``; ``result`` says which ``detail`` it is."""

    ok: bool
    detail: str  # new version when ok, else the job's current status ("gone": no job)

    @property
    def result(self) -> TransitionResult:
        """The reply decoded: moved (with the new version), refused (with the status) or
        gone."""
        return TransitionResult.decode(self.ok, self.detail)


def _csv(statuses: tuple[JobStatus, ...] | list[JobStatus]) -> str:
    return ",".join(str(s) for s in statuses)


class JobStore:
    """All job-state operations over one Redis client."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.r = client
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.scripts = scripts_for(client)
        self.documents: DocumentStore = RedisDocumentStore(client, self.keys)

    # ------------------------------------------------------------------ create
    def create_job(
        self,
        job_id: str,
        org: str,
        req: JobCreate,
        schema: SchemaIn,
        schema_id: str | None,
        created: int | None = None,
    ) -> dict[str, str]:
        """Writes the job record, its documents and schema in one MULTI transaction."""
        created = created if created is not None else now_ms()
        expires = created + self.settings.retention_seconds * 1000
        purge = expires + self.settings.expired_grace_seconds * 1000
        n, f = len(req.documents), len(schema.fields)
        record: dict[str, str] = {
            F.ID: job_id, F.ORG: org, F.NAME: req.name or "", F.ENDPOINT: req.endpoint,
            F.PRIORITY: str(req.priority), F.SCHEMA_ID: schema_id or "",
            F.SCHEMA_NAME: schema.name, F.METADATA: orjson.dumps(req.metadata).decode(),
            F.STATUS: JobStatus.VALIDATING, F.CURRENT_PHASE: Phase.VALIDATE,
            F.DOCUMENT_COUNT: str(n), F.FIELD_COUNT: str(f), F.TOTAL_CELLS: str(n * f),
            F.PROCESSED: "0", F.COMPLETED_DOCUMENTS: "0", F.FAILED_DOCUMENTS: "0",
            F.FILLED: "0", F.EMPTY: "0", F.VERSION: "1",
            F.CREATED_AT: str(created), F.UPDATED_AT: str(created), F.STARTED_AT: "",
            F.COMPLETED_AT: "", F.EXPIRES_AT: str(expires), F.PURGE_AT: str(purge),
            F.ATTEMPT_COUNT: "0", F.LAST_ATTEMPT_AT: "", F.LAST_FAILURE_CODE: "",
            F.CANCELLED: "0", F.ERROR_CODE: "", F.ERROR_MESSAGE: "", F.WARNINGS: "[]",
            F.FIRST_DONE_AT: "", F.EXEC_STARTED_AT: "", F.EXEC_PROCESSED_BASE: "0",
        }
        docs = {i: d.model_dump(exclude_none=True) for i, d in enumerate(req.documents)}
        names = {str(i): d.filename for i, d in enumerate(req.documents)}
        k = self.keys.job_keys(job_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(k.job, mapping=cast(Any, record))
        self.documents.stage(pipe, job_id, docs, expires)
        pipe.hset(k.names, mapping=cast(Any, names))
        pipe.set(k.schema, schema.model_dump_json())
        pipe.rpush(k.timeline, f"{JobStatus.VALIDATING}|{Phase.VALIDATE}|{created}")
        for key in (k.job, k.schema, k.timeline):
            pipe.pexpireat(key, purge)
        pipe.pexpireat(k.names, expires)
        pipe.zadd(self.keys.org_jobs(org), {job_id: created})
        pipe.zadd(self.keys.org_updated(org), {job_id: created})
        register_expiry(pipe, self.keys, org, job_id, expires)
        pipe.zadd(self.keys.running, {f"{org}|{job_id}": created})
        pipe.publish(self.keys.events_channel, f"{job_id} 1")
        pipe.execute()
        return record

    # ------------------------------------------------------------------- reads
    def job_keys(self, job_id: str) -> JobKeys:
        return self.keys.job_keys(job_id)

    def read_job(self, job_id: str) -> dict[str, str] | None:
        h = cast(dict[str, str], self.r.hgetall(self.keys.job(job_id)))
        return h or None

    def read_full(self, job_id: str) -> tuple[dict[str, str] | None, list[str]]:
        """The record and its timeline, in one round trip."""
        k = self.keys.job_keys(job_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(k.job)
        pipe.lrange(k.timeline, 0, -1)
        h, timeline = pipe.execute()
        return (h or None), timeline

    def load_schema(self, job_id: str) -> SchemaIn | None:
        raw = self.r.get(self.keys.job_keys(job_id).schema)
        return SchemaIn.model_validate_json(raw) if raw else None

    def document_names(self, job_id: str) -> dict[int, str]:
        """Index -> filename for every document, for result rows still pending (a small hash
        written at submit, so this never reads the documents themselves)."""
        raw = cast(dict[str, str], self.r.hgetall(self.keys.job_keys(job_id).names))
        return {int(i): name for i, name in raw.items()}

    def is_cancelled(self, job_id: str) -> bool:
        """The cancel flag alone: read between a document's parse and its extraction."""
        return bool(self.r.hget(self.keys.job(job_id), F.CANCELLED) == "1")

    def pending_indexes(self, job_id: str, document_count: int) -> list[int]:
        done = {int(x) for x in self.r.smembers(self.keys.job_keys(job_id).done)}
        return [i for i in range(document_count) if i not in done]

    def running_before(self, before: int) -> list[tuple[str, str, str]]:
        """(member, org, job id) of every running job registered at or before ``before``
        (ms): the watchdog's and the lost-message audit's candidates."""
        out: list[tuple[str, str, str]] = []
        for m in self.r.zrangebyscore(self.keys.running, "-inf", before):
            org, job_id = str(m).split("|", 1)
            out.append((str(m), org, job_id))
        return out

    def job_fields_many(
        self, job_ids: list[str], fields: tuple[str, ...]
    ) -> list[dict[str, str | None]]:
        """``fields`` (names from ``shared.job.F``) of each job, in one round trip; a value
        is None when the field (or the whole job) is absent."""
        pipe = self.r.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self.keys.job(job_id), fields)
        return [dict(zip(fields, values, strict=True)) for values in pipe.execute()]

    def forget_running(self, member: str) -> None:
        """Drops a finished job's ``org|id`` from the running set."""
        self.r.zrem(self.keys.running, member)

    def take_rescue_lock(self, job_id: str, px: int) -> bool:
        """True for the one worker that rescues ``job_id`` in the next ``px`` ms."""
        return bool(self.r.set(self.keys.rescue_lock(job_id), "1", nx=True, px=px))

    def not_handed_out(self, job_id: str) -> set[int]:
        """Document indexes that are recorded or still waiting in the job's fan-out queue,
        read atomically: every other index was handed out to the broker."""
        k = self.keys.job_keys(job_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.smembers(k.done)
        pipe.lrange(k.queue, 0, -1)
        done, waiting = pipe.execute()
        return {int(i) for i in done} | {int(i) for i in waiting}

    # ------------------------------------------------------------------ writes
    def begin_task(self, job_id: str, org: str, task: str, index: int | None = None) -> Begin:
        k = self.keys.job_keys(job_id)
        keys = [k.job, k.attempts, k.done, self.keys.org_updated(org)]
        if index is not None:
            keys.append(k.parsed)
        verdict, runs, code, parsed = self.scripts.begin_task(
            keys=keys,
            args=[task, now_ms(), self.keys.events_channel, job_id,
                  self.settings.document_attempt_cap, "" if index is None else index],
        )
        return Begin(Verdict(str(verdict)), int(runs), str(code), str(parsed or ""))

    def begin_document(
        self, job_id: str, org: str, index: int
    ) -> tuple[Begin, dict[str, Any] | None]:
        """``begin_task`` for document ``index`` that also returns the document (when the
        run may go ahead): with documents in Redis, in the same round trip, since
        ``begin_task.lua`` returns the field ``index`` of the hash it is given as KEYS[5]."""
        if not isinstance(self.documents, RedisDocumentStore):
            b = self.begin_task(job_id, org, f"d:{index}", index)
            doc = self.documents.load(job_id, [index]).get(index) if b.verdict in (
                Verdict.RUN, Verdict.CAP) else None
            return b, doc
        k = self.keys.job_keys(job_id)
        verdict, runs, code, raw = self.scripts.begin_task(
            keys=[k.job, k.attempts, k.done, self.keys.org_updated(org), k.docs],
            args=[f"d:{index}", now_ms(), self.keys.events_channel, job_id,
                  self.settings.document_attempt_cap, index],
        )
        b = Begin(Verdict(str(verdict)), int(runs), str(code))
        return b, (orjson.loads(raw) if raw else None)

    def note_failure(self, job_id: str, org: str, task: str, code: str) -> int:
        k = self.keys.job_keys(job_id)
        return int(self.scripts.note_failure(
            keys=[k.job, k.attempts, self.keys.org_updated(org)],
            args=[task, code, now_ms(), self.keys.events_channel, job_id],
        ))

    def record_document(
        self, job_id: str, org: str, index: int, row: dict[str, Any], *,
        failed: bool, filled: int, empty: int, warning: dict[str, Any] | None = None,
        push: tuple[str, str] | None = None,
    ) -> Recorded:
        """``push``: (broker queue key, envelope) to have the script send the next document
        itself (``shared.broker_messages``); without it the caller sends ``next_index``."""
        k = self.keys.job_keys(job_id)
        keys = [k.job, k.done, k.failed, k.results, self.keys.org_updated(org), k.queue,
                k.claims, k.rows]
        if push is not None:
            keys.append(push[0])
        added, processed, count, nxt, sent = self.scripts.record_document(
            keys=keys,
            args=[index, orjson.dumps(row), "failed" if failed else "completed", filled, empty,
                  now_ms(), self.keys.events_channel, job_id,
                  orjson.dumps(warning) if warning else "", push[1] if push else ""],
        )
        return Recorded(int(added) == 1, int(processed), int(count), int(nxt), int(sent) == 1)

    def transition(
        self, job_id: str, org: str, allowed: tuple[JobStatus, ...] | list[JobStatus], *,
        status: JobStatus | None = None, phase: Phase | None = None,
        extra: dict[str, str | int] | None = None,
    ) -> Transition:
        k = self.keys.job_keys(job_id)
        args: list[str | int] = [job_id, now_ms(), self.keys.events_channel, _csv(allowed),
                                 status or "", phase or ""]
        for field, value in (extra or {}).items():
            args += [field, value]
        ok, detail = self.scripts.transition(
            keys=[k.job, k.timeline, self.keys.org_updated(org), self.keys.running], args=args
        )
        return Transition(int(ok) == 1, str(detail))

    def mark_fanout_done(self, job_id: str, org: str) -> Transition:
        """Notes that parse sent the first window (``F.FANOUT_DONE``), through
        ``transition.lua`` like every job write, so ``version`` moves with it. Only a job
        still in progress needs the note: a finished or cancelled one is refused, harmlessly."""
        return self.transition(job_id, org, [JobStatus.IN_PROGRESS],
                               extra={F.FANOUT_DONE: "1"})

    def retry(self, job_id: str, org: str, phase: Phase, only: str = "") -> RetryResult:
        """Re-opens the job: REOPENED (new version), REFUSED (its status, or "gone") or
        DATA_EXPIRED; ``only="failed"`` also re-opens a completed job with failed rows
        (REFUSED with status "no_failed_rows" without)."""
        k = self.keys.job_keys(job_id)
        now = now_ms()
        expires = now + self.settings.retention_seconds * 1000
        purge = expires + self.settings.expired_grace_seconds * 1000
        res, detail = self.scripts.retry_job(
            keys=[k.job, k.timeline, self.keys.org_updated(org), k.done, k.failed, k.attempts,
                  k.docs, k.parsed, k.results, k.schema, k.names, k.rows, k.rerun],
            args=[job_id, now, self.keys.events_channel, expires, purge, phase, only],
        )
        if int(res) == 1:
            register_expiry(self.r, self.keys, org, job_id, expires)
            self.r.zadd(self.keys.running, {f"{org}|{job_id}": now})
        return RetryResult.decode(int(res), str(detail))

    def start_fanout(self, job_id: str, pending: list[int], window: int) -> list[int]:
        """Queues every pending index in Redis and takes the first ``window`` to send now.

        The rest are handed out one per recorded document (record_document.lua), so each job
        holds at most ``window`` messages in the broker and jobs of other tenants interleave.
        """
        k = self.keys.job_keys(job_id)
        expires = self.r.hget(k.job, F.EXPIRES_AT)
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(k.queue, k.claims)
        if pending:
            pipe.rpush(k.queue, *pending)
            pipe.lpop(k.queue, window)
            if expires:
                # hashes the per-document scripts write get the data TTL once, here
                pipe.hset(k.claims, "_", "")
                pipe.hset(k.attempts, "_", "")
                for key in (k.queue, k.claims, k.attempts):
                    pipe.pexpireat(key, int(expires))
        res = pipe.execute()
        return [int(i) for i in (res[2] or [])] if pending else []

    def claimed(self, job_id: str, index: int) -> int:
        """The index that recording ``index`` handed out, or -1."""
        v = self.r.hget(self.keys.job_keys(job_id).claims, str(index))
        return int(v) if v else -1

    def drop_working_keys(self, job_id: str) -> None:
        """After a job is finished, its parsed text and fan-out bookkeeping are dead weight
        (a retry re-parses what it needs); only documents, results and the record stay."""
        k = self.keys.job_keys(job_id)
        self.r.unlink(k.parsed, k.queue, k.claims, k.attempts)

    # ------------------------------------------------------- results cursor (rows)
    def row_page(self, job_id: str, after: int, limit: int) -> RowPage:
        """The job hash, its schema and up to ``limit`` rows finished after position ``after``
        (the job version that recorded them), in completion order.

        The job hash is read before the rows in the same pipeline, so when it says the job is
        terminal every row is already in the page's range. Cost: O(log N + limit) in the rows
        zset plus two HMGETs of the page's indexes, whatever the job's size.
        """
        k = self.keys.job_keys(job_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(k.job)
        pipe.get(k.schema)
        pipe.exists(k.docs)
        pipe.zrangebyscore(k.rows, f"({after}", "+inf", start=0, num=limit + 1,
                           withscores=True)
        h, schema, docs, entries = pipe.execute()
        rows = self._finished_rows(k, entries[:limit])
        return RowPage(h or {}, schema, bool(docs), rows, len(entries) > limit)

    def rows_after(self, job_id: str, after: int, limit: int,
                   until: int | None = None) -> tuple[list[FinishedRow], bool]:
        """Up to ``limit`` rows finished after position ``after`` (and at or before ``until``,
        a job version already read), and whether more follow."""
        k = self.keys.job_keys(job_id)
        entries = cast(list[tuple[str, float]], self.r.zrangebyscore(
            k.rows, f"({after}", "+inf" if until is None else until, start=0, num=limit + 1,
            withscores=True))
        return self._finished_rows(k, entries[:limit]), len(entries) > limit

    def _finished_rows(self, k: JobKeys, entries: list[tuple[str, float]]) -> list[FinishedRow]:
        """Row JSON and re-run count of each (index, position); a row re-opened by a retry
        between the two reads is left out (it comes again, later, with its new values)."""
        if not entries:
            return []
        indexes = [str(i) for i, _ in entries]
        pipe = self.r.pipeline(transaction=False)
        pipe.hmget(k.results, indexes)
        pipe.hmget(k.rerun, indexes)
        raws, reruns = pipe.execute()
        return [FinishedRow(int(i), int(pos), raw, int(rerun or 0))
                for (i, pos), raw, rerun in zip(entries, raws, reruns, strict=True) if raw]

    # ------------------------------------------------------------- expiry registry
    # The deadlines ``shared.expiry`` registers; the housekeeping thread sweeps them.
    def claim_expiries(self, now: int, lease_ms: int, limit: int) -> list[str]:
        """Members of ``{prefix}:expiries`` due at ``now`` (see ``shared.expiry``), claimed
        for ``lease_ms``: a worker that dies before releasing them leaves them to the next."""
        members = self.scripts.webhook_claim(keys=[self.keys.expiries],
                                             args=[now, lease_ms, limit])
        return [str(m) for m in members]

    def defer_expiry(self, member: str, expires_at: int) -> None:
        """Moves a claimed member to its job's later deadline (the job was retried)."""
        self.r.zadd(self.keys.expiries, {member: expires_at})

    def release_expiry(self, member: str, leased_score: int) -> bool:
        """Drops a claimed member, unless it was registered again since ``leased_score``."""
        return int(self.scripts.webhook_release(keys=[self.keys.expiries],
                                                args=[member, leased_score])) == 1


    # ------------------------------------------------------- reads for listings, removal
    def read_full_many(self, job_ids: list[str]) -> list[tuple[dict[str, str], list[str]]]:
        """Record and timeline of each job, in one round trip; an empty record when purged."""
        pipe = self.r.pipeline(transaction=False)
        for job_id in job_ids:
            k = self.keys.job_keys(job_id)
            pipe.hgetall(k.job)
            pipe.lrange(k.timeline, 0, -1)
        res = pipe.execute()
        return [(res[i], res[i + 1]) for i in range(0, len(res), 2)]

    def job_indexes(self, org: str, job_id: str) -> dict[str, str]:
        """The sorted sets a job is a member of from submit on: index key -> its member.
        (The expiry registry, kept by ``shared.expiry``, comes on top.)"""
        return {self.keys.org_jobs(org): job_id, self.keys.org_updated(org): job_id,
                self.keys.running: f"{org}|{job_id}"}

    def discard(self, job_id: str, org: str, also: str | None = None) -> None:
        """Undoes ``create_job`` (a job written but never enqueued): every key it created and
        every index it joined, plus ``also`` (the submission's idempotency claim), in one
        transaction. Raises ``redis.RedisError`` for the caller to log."""
        k = self.keys.job_keys(job_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.unlink(*k.record_keys(), *k.data_keys())
        for key, member in self.job_indexes(org, job_id).items():
            pipe.zrem(key, member)
        unregister_expiry(pipe, self.keys, org, job_id)
        if also is not None:
            pipe.delete(also)
        pipe.execute()

    def ping(self) -> bool:
        """Redis answers (readiness); raises ``redis.RedisError`` when it does not."""
        return bool(self.r.ping())

    # ------------------------------------------------------- reads for the results grid
    def results_read(self, job_id: str, all_rows: bool) -> ResultsRead:
        """What decides whether a job's results can be served (its hash, its schema snapshot,
        whether its documents still exist) and, with ``all_rows``, every recorded row, in one
        round trip. The dashboard's paged grid reads its page's rows with ``rows_at``."""
        k = self.keys.job_keys(job_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(k.job)
        pipe.get(k.schema)
        pipe.exists(k.docs)
        if all_rows:
            pipe.hgetall(k.results)
        res = pipe.execute()
        return ResultsRead(res[0] or {}, res[1], bool(res[2]), res[3] if all_rows else {})

    def rows_at(self, job_id: str, indexes: list[str]) -> tuple[list[str | None],
                                                                list[str | None]]:
        """The recorded row JSON and the filename of each index (None where absent), in one
        round trip: one page of the grid costs the same whatever the job's size."""
        k = self.keys.job_keys(job_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.hmget(k.results, indexes)
        pipe.hmget(k.names, indexes)
        recorded, names = pipe.execute()
        return recorded, names

@dataclass(frozen=True, slots=True)
class FinishedRow:
    """One finished row as the results cursor serves it."""

    index: int
    position: int  # the job version that recorded it: the cursor after this row
    raw: str  # the row JSON as the worker wrote it
    reruns: int  # how many times a retry re-opened this row (0: first run)


@dataclass(frozen=True, slots=True)
class RowPage:
    """What one cursor page read returns (``job`` is empty when the job is unknown)."""

    job: dict[str, str]
    schema: str | None
    docs_exist: bool
    rows: list[FinishedRow]
    has_more: bool


@dataclass(frozen=True, slots=True)
class ResultsRead:
    """``JobStore.results_read``: ``job`` is empty when the job is unknown; ``rows`` maps an
    index (as stored, a string) to its row JSON, empty unless every row was asked for."""

    job: dict[str, str]
    schema: str | None
    docs_exist: bool
    rows: dict[str, str]

"""The job record (``shared/job.py``) against everything that writes the job hash.

The field constants are only worth having if they cannot drift from the writers: every field
the Lua scripts name on the job hash, every field ``create_job`` writes and every field a
caller passes to ``transition(extra=...)`` must be a constant of ``F``; the script answers
must match their enums. Each check reads the writers' source, so a new field added to a script
or a route fails here until it is named in ``F``.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import fakeredis
import pytest

from shared import jobview
from shared.job import (
    F,
    Job,
    RetryOutcome,
    RetryResult,
    TransitionOutcome,
    TransitionResult,
    Verdict,
    effective_status,
)
from shared.models import JobCreate
from shared.settings import Settings
from shared.status import JobStatus, Phase, Priority
from shared.store import JobStore

ROOT = Path(__file__).resolve().parents[2]
LUA = ROOT / "shared" / "lua"
ORG = "org_rec"
#: Hash commands, and where their field arguments sit among the arguments after the key.
_HASH_FIELDS = {"HSET": "pairs", "HSETNX": "pairs", "HMGET": "all", "HDEL": "all",
                "HGET": "first", "HINCRBY": "first", "HEXISTS": "first"}
_LITERAL = re.compile(r"^'([^']*)'$")


def _calls(source: str) -> list[list[str]]:
    """The arguments (source text, split at top-level commas) of every ``redis.call(...)``."""
    out: list[list[str]] = []
    for m in re.finditer(r"redis\.call\(", source):
        depth, args, cur, i = 1, [], "", m.end()
        while depth:
            ch = source[i]
            if ch in "({":
                depth += 1
            elif ch in ")}":
                depth -= 1
            if depth == 1 and ch == ",":
                args.append(cur.strip())
                cur = ""
            elif depth:
                cur += ch
            i += 1
        args.append(cur.strip())
        out.append(args)
    return out


def _table_fields(source: str, name: str) -> set[str]:
    """Field names put into a Lua table that is later ``unpack``-ed into an HSET: the keys of
    its ``{'field', value, ...}`` constructor and every ``t[#t + 1] = 'field'`` append."""
    found: set[str] = set()
    ctor = re.search(rf"local {name} = \{{(.*?)\}}\n", source, re.S)
    if ctor:
        items = [a.strip() for a in re.split(r",(?![^(]*\))", ctor.group(1))]
        found |= {m.group(1) for a in items[::2] if (m := _LITERAL.match(a)) is not None}
    found |= set(re.findall(rf"{name}\[#{name} \+ 1\] = '([a-z_]+)'", source))
    return found


def lua_job_fields() -> dict[str, set[str]]:
    """Script name -> job-hash fields it names (the job hash is the variable ``job``)."""
    out: dict[str, set[str]] = {}
    for path in sorted(LUA.glob("*.lua")):
        source = path.read_text(encoding="utf-8")
        fields: set[str] = set()
        for args in _calls(source):
            cmd = _LITERAL.match(args[0])
            if not cmd or cmd.group(1) not in _HASH_FIELDS or len(args) < 3 or args[1] != "job":
                continue
            rest = args[2:]
            where = _HASH_FIELDS[cmd.group(1)]
            named = rest[::2] if where == "pairs" else rest if where == "all" else rest[:1]
            for arg in named:
                lit = _LITERAL.match(arg)
                if lit:
                    fields.add(lit.group(1))
                elif (table := re.fullmatch(r"unpack\((\w+)\)", arg)) is not None:
                    fields |= _table_fields(source, table.group(1))
        if fields:
            out[path.name] = fields
    return out


def test_the_lua_parser_finds_the_known_writes() -> None:
    """Guards the parser itself: a regex that silently matched nothing would pass below."""
    found = lua_job_fields()
    assert {"_lib.lua", "begin_task.lua", "note_failure.lua", "record_document.lua",
            "retry_job.lua", "transition.lua"} <= set(found)
    assert {F.VERSION, F.UPDATED_AT, F.EXPIRES_AT} <= found["_lib.lua"]
    assert {F.FIRST_DONE_AT, F.WARNINGS, F.FILLED, F.PROCESSED} <= found["record_document.lua"]
    assert {F.EXEC_PROCESSED_BASE, F.FANOUT_DONE, F.PURGE_AT} <= found["retry_job.lua"]
    assert {F.STARTED_AT, F.ATTEMPT_COUNT, F.LAST_FAILURE_CODE} <= found["begin_task.lua"]


def test_every_field_the_lua_scripts_name_is_a_constant() -> None:
    unknown = {script: sorted(fields - F.ALL) for script, fields in lua_job_fields().items()
               if fields - F.ALL}
    assert not unknown, f"job-hash fields missing from shared.job.F: {unknown}"


def test_every_transition_extra_is_a_constant() -> None:
    """``transition(extra={...})`` sets fields through transition.lua's ARGV pairs, named
    by string literal or by an ``F`` constant."""
    found: set[str] = set()
    constants: set[str] = set()
    for package in ("api", "worker", "shared"):
        for path in (ROOT / package).rglob("*.py"):
            for block in re.findall(r"extra=\{([^}]*)\}", path.read_text(encoding="utf-8")):
                found |= set(re.findall(r"\"([a-z_]+)\"\s*:", block))
                constants |= set(re.findall(r"\bF\.([A-Z_]+)\s*:", block))
    assert found or constants, "no transition extras found: the pattern no longer matches"
    assert found <= F.ALL, f"missing from shared.job.F: {sorted(found - F.ALL)}"
    unknown = sorted(c for c in constants if getattr(F, c, None) not in F.ALL)
    assert not unknown, f"not fields of shared.job.F: {unknown}"


def _store() -> JobStore:
    return JobStore(fakeredis.FakeRedis(decode_responses=True), Settings(key_prefix="rec"))


def _create(store: JobStore, n: int = 2) -> tuple[str, dict[str, str]]:
    req = JobCreate.model_validate({
        "name": "batch", "priority": "high", "metadata": {"k": "v"},
        "schema": {"name": "s", "fields": [{"name": "a"}, {"name": "b"}]},
        "documents": [{"filename": f"d{i}.txt", "text": "x"} for i in range(n)],
    })
    assert req.schema_ is not None
    job_id = str(uuid.uuid4())
    return job_id, store.create_job(job_id, ORG, req, req.schema_, None)


def test_create_job_writes_exactly_the_constants() -> None:
    """Every field but the few a later write adds (``F.NOT_AT_SUBMIT``) is written at submit."""
    _, record = _create(_store())
    assert set(record) <= F.ALL, sorted(set(record) - F.ALL)
    assert F.ALL - set(record) == F.NOT_AT_SUBMIT


def test_job_decodes_a_fresh_record() -> None:
    store = _store()
    job_id, _ = _create(store, n=3)
    job = Job.from_hash(store.read_job(job_id))
    assert job is not None
    assert (job.id, job.org, job.name, job.endpoint) == (job_id, ORG, "batch", job.endpoint)
    assert job.owned_by(ORG) and not job.owned_by("other")
    assert job.status is JobStatus.VALIDATING and job.phase is Phase.VALIDATE
    assert job.priority is Priority.HIGH and job.metadata == {"k": "v"}
    assert (job.document_count, job.field_count, job.total_cells) == (3, 2, 6)
    assert (job.processed, job.filled, job.empty, job.version) == (0, 0, 0, 1)
    assert job.created_at == job.updated_at > 0
    assert job.expires_at > job.created_at and job.purge_at > job.expires_at
    assert job.started_at is None and job.completed_at is None and job.last_attempt_at is None
    assert job.warnings == [] and job.error_code is None and job.last_failure_code is None
    assert not job.cancelled and not job.fanout_done and not job.all_recorded
    assert job.needs_review == 0
    assert job.schema_id is None and job.schema_name == "s"
    assert job.effective_status(job.expires_at) is JobStatus.EXPIRED
    assert job.is_expired(job.expires_at) and not job.is_expired(job.expires_at - 1)
    assert Job.from_hash(None) is None and Job.from_hash({}) is None


def test_job_decodes_counters_written_by_the_scripts() -> None:
    store = _store()
    job_id, _ = _create(store, n=2)
    store.transition(job_id, ORG, [JobStatus.VALIDATING], status=JobStatus.IN_PROGRESS,
                     phase=Phase.EXECUTE, extra={F.EXEC_STARTED_AT: 5})
    store.begin_task(job_id, ORG, "d:0", 0)
    store.record_document(job_id, ORG, 0, {"i": 0, "needs_review": ["b"],
                                           "document": {"filename": "d0.txt"}},
                          failed=False, filled=1, empty=1)
    store.record_document(job_id, ORG, 1, {"i": 1}, failed=True, filled=0, empty=2,
                          warning={"code": "w"})
    job = Job.from_hash(store.read_job(job_id))
    assert job is not None
    assert (job.processed, job.completed_documents, job.failed_documents) == (2, 1, 1)
    assert (job.filled, job.empty, job.attempt_count) == (1, 3, 1)
    assert job.all_recorded and job.needs_review == 1
    assert [w["code"] for w in job.warnings] == ["required_missing", "w"]
    assert job.exec_started_at == 5 and job.first_done_at is not None
    assert job.started_at is not None and job.version > 1


@pytest.mark.parametrize(("status", "expires", "now"), [
    ("queued", "", 10), ("queued", "20", 10), ("completed", "20", 20), ("failed", "0", 99),
])
def test_effective_status_matches_the_payload_module(status: str, expires: str,
                                                     now: int) -> None:
    """One rule until ``shared.jobview`` delegates to ``shared.job`` (then this is moot)."""
    h = {F.STATUS: status, F.EXPIRES_AT: expires}
    assert effective_status(h, now) is jobview.effective_status(h, now)


def test_verdicts_are_the_ones_begin_task_returns() -> None:
    source = (LUA / "begin_task.lua").read_text(encoding="utf-8")
    code = "\n".join(line for line in source.splitlines() if not line.startswith("--"))
    returned = set(re.findall(r"return \{'([a-z]+)'", code))
    returned |= set(re.findall(r"verdict = '([a-z]+)'", code))
    assert returned == {v.value for v in Verdict}


def test_transition_and_retry_replies_decode() -> None:
    store = _store()
    job_id, _ = _create(store)
    t = store.transition(job_id, ORG, [JobStatus.VALIDATING], status=JobStatus.QUEUED)
    assert TransitionResult.decode(t.ok, t.detail) == TransitionResult(
        TransitionOutcome.MOVED, version=2)
    t = store.transition(job_id, ORG, [JobStatus.VALIDATING], status=JobStatus.QUEUED)
    assert TransitionResult.decode(t.ok, t.detail) == TransitionResult(
        TransitionOutcome.REFUSED, status="queued")
    t = store.transition("nope", ORG, [JobStatus.QUEUED], status=JobStatus.FAILED)
    assert TransitionResult.decode(t.ok, t.detail).outcome is TransitionOutcome.GONE
    assert t.result.outcome is TransitionOutcome.GONE

    assert store.retry(job_id, ORG, Phase.PARSE) == RetryResult(
        RetryOutcome.REFUSED, status="queued")
    store.transition(job_id, ORG, [JobStatus.QUEUED], status=JobStatus.FAILED)
    reopened = store.retry(job_id, ORG, Phase.PARSE)
    assert reopened.outcome is RetryOutcome.REOPENED and reopened.version == 4
    store.transition(job_id, ORG, [JobStatus.QUEUED], status=JobStatus.CANCELLED)
    store.r.delete(store.job_keys(job_id).docs)
    assert store.retry(job_id, ORG, Phase.PARSE) == RetryResult(
        RetryOutcome.DATA_EXPIRED)


def test_discard_removes_what_create_job_wrote() -> None:
    """``JobStore.discard`` undoes ``create_job`` key for key, index for index."""
    store = _store()
    before = set(store.r.keys("*"))
    job_id, _ = _create(store)
    store.r.set("rec:claim", "x")
    store.discard(job_id, ORG, also="rec:claim")
    assert set(store.r.keys("*")) == before

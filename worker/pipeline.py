"""The four phases of a job as plain functions; the Celery tasks in ``worker.tasks`` are
thin wrappers, so tests and benchmarks can drive these directly.

Every phase starts with ``begin_task`` (counts the run, honours cancel and expiry) and every
change is written by one Lua script, so any phase may run twice without harm.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import redis

from shared.clock import now_ms
from shared.job import F, Verdict
from shared.models import SchemaIn
from shared.status import JobStatus, Phase
from shared.store import Begin, JobStore, Recorded
from shared.webhooks import emit_progress, emit_terminal_event
from worker import metrics
from worker.dispatch import Dispatcher
from worker.docwatch import DocumentCancelled, DocumentTimeLimit, guard_document
from worker.extraction import Extractor
from worker.extraction.document import ParsedDocument
from worker.extraction.errors import ExtractorError, ParseError
from worker.extraction.parsing import parse_document
from worker.rows import completed_row, failed_row

log = logging.getLogger("jobgrid.worker")

S = JobStatus


class Outcome(StrEnum):
    """What one run of a phase did: the Celery task's return value, logged and asserted by
    tests. The first four are ``begin_task``'s verdicts passed through (``Verdict``)."""

    SKIP = "skip"  #: cancelled, terminal or expired job, or refused by a transition
    DONE = "done"  #: this document was already recorded (a redelivery)
    CAP = "cap"  #: the crash cap was reached; the job or document was failed
    GONE = "gone"  #: job, schema or document no longer exists
    OK = "ok"  #: validate passed and parse was sent
    FAILED = "failed"  #: the job (validate) or the document got a failed row
    ALREADY = "already"  #: parse had already fanned out
    FINALIZE = "finalize"  #: parse found nothing pending and sent finalize
    FANNED_OUT = "fanned_out"  #: parse sent the first window of documents
    COMPLETED = "completed"  #: the document got its completed row
    DUPLICATE = "duplicate"  #: the document's row was already recorded by another run
    NOT_READY = "not_ready"  #: finalize ran before every document was recorded
    FINALIZED = "finalized"  #: the job reached completed or failed


#: A parse at least this long is followed by a fresh read of the job's cancel flag.
CANCEL_RECHECK_SECONDS = 0.5
TIMEOUT = ("document_timeout",
           "Parsing and extraction took longer than the per-document time limit.")


class RetryLater(Exception):  # noqa: N818 - it is an instruction, not an error
    """Raised when a transient failure should be retried after ``countdown`` seconds."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Ctx:
    store: JobStore
    dispatch: Dispatcher
    job_id: str
    org: str
    priority: str = "normal"


def _fail_job(ctx: Ctx, code: str, message: str) -> None:
    t = ctx.store.transition(ctx.job_id, ctx.org, [S.VALIDATING, S.QUEUED, S.IN_PROGRESS],
                             status=S.FAILED,
                             extra={F.ERROR_CODE: code, F.ERROR_MESSAGE: message})
    if t.ok:
        emit_terminal_event(ctx.store, ctx.job_id, ctx.org)


def _should_run(ctx: Ctx, b: Begin, what: str) -> bool:
    if b.verdict is Verdict.CAP:
        log.error("job %s: %s lost its worker %d times; giving up", ctx.job_id, what, b.runs)
        _fail_job(ctx, "worker_lost", f"The {what} step lost its worker repeatedly.")
        return False
    return b.verdict is Verdict.RUN


# --------------------------------------------------------------------------- validate
def run_validate(ctx: Ctx) -> Outcome:
    b = ctx.store.begin_task(ctx.job_id, ctx.org, "validate")
    if not _should_run(ctx, b, "validate"):
        return Outcome(b.verdict)
    schema = ctx.store.load_schema(ctx.job_id)
    if schema is None or not schema.fields:
        _fail_job(ctx, "schema_invalid", "The job's schema is missing or has no fields.")
        return Outcome.FAILED
    t = ctx.store.transition(ctx.job_id, ctx.org, [S.VALIDATING], status=S.QUEUED,
                             phase=Phase.PARSE)
    # a redelivered validate re-sends parse; parse is idempotent
    if t.ok or t.result.status == S.QUEUED:
        ctx.dispatch.parse(ctx.job_id, ctx.org)
    return Outcome.OK


# ------------------------------------------------------------------------------ parse
def run_parse(ctx: Ctx) -> Outcome:
    """The short fan-out step (``phase_1_parse``): no document is parsed here.

    Each document is parsed by its own ``extract_document`` task (``run_extract``), so parsing
    spreads over every extract process, runs under the per-document time limit, and the
    first rows land while the rest of the batch is still waiting.
    """
    b = ctx.store.begin_task(ctx.job_id, ctx.org, "parse")
    if not _should_run(ctx, b, "parse"):
        return Outcome(b.verdict)
    h = ctx.store.read_job(ctx.job_id)
    if h is None or _schema(ctx) is None:
        return Outcome.GONE
    if h.get(F.CURRENT_PHASE) == Phase.EXECUTE and h.get(F.FANOUT_DONE) == "1":
        return Outcome.ALREADY
    if h.get(F.CURRENT_PHASE) != Phase.EXECUTE:
        t = ctx.store.transition(ctx.job_id, ctx.org, [S.QUEUED, S.IN_PROGRESS],
                                 status=S.IN_PROGRESS, phase=Phase.PARSE)
        if not t.ok:
            return Outcome.SKIP
    n = int(h[F.DOCUMENT_COUNT])
    pending = ctx.store.pending_indexes(ctx.job_id, n)
    if not pending:
        ctx.dispatch.finalize(ctx.job_id, ctx.org)
        return Outcome.FINALIZE
    fresh = ctx.store.read_job(ctx.job_id) or h
    t = ctx.store.transition(
        ctx.job_id, ctx.org, [S.IN_PROGRESS], phase=Phase.EXECUTE,
        extra={F.EXEC_STARTED_AT: now_ms(), F.EXEC_PROCESSED_BASE: fresh.get(F.PROCESSED, "0")},
    )
    if not t.ok:
        return Outcome.SKIP
    window = ctx.store.settings.fanout_window
    first = ctx.store.start_fanout(ctx.job_id, pending, window)
    ctx.dispatch.extract(ctx.job_id, ctx.org, first, h.get(F.PRIORITY, "normal"))
    ctx.store.mark_fanout_done(ctx.job_id, ctx.org)
    return Outcome.FANNED_OUT


def _parse(filename: str, doc: dict[str, Any]) -> ParsedDocument | ParseError:
    """The document's text, or the ParseError that becomes its failed row."""
    try:
        return parse_document(filename, doc.get("mime_type"), _raw(doc))
    except ParseError as e:
        return e


def _raw(doc: dict[str, str]) -> bytes:
    if "content_base64" in doc:
        return base64.b64decode(doc["content_base64"])
    return doc.get("text", "").encode("utf-8")


def _record_parse_failure(
    ctx: Ctx, schema: SchemaIn, index: int, filename: str, e: ParseError
) -> Outcome:
    """An unparseable document becomes a failed row whose warning says it could not be read
    (``finalize`` tells "no parseable documents" from other failures by these codes)."""
    message = f"Document {index} ({filename}) could not be parsed: {e.message}"
    row = failed_row(index, filename, schema.fields, e.code, e.message)
    rec = _record(ctx, index, row, failed=True, filled=0, empty=len(schema.fields),
                  warning={"code": e.code, "message": message, "document": index})
    _after_record(ctx, rec)
    return Outcome.FAILED


def _record(
    ctx: Ctx, index: int, row: dict[str, Any], *, failed: bool, filled: int, empty: int,
    warning: dict[str, Any] | None = None,
) -> Recorded:
    """Every document outcome goes through here: the idempotent record, then its metrics."""
    rec = ctx.store.record_document(ctx.job_id, ctx.org, index, row, failed=failed,
                                    filled=filled, empty=empty, warning=warning,
                                    push=ctx.dispatch.extract_push(ctx.job_id, ctx.org,
                                                                   ctx.priority))
    metrics.document_recorded(added=rec.added, failed=failed, filled=filled, empty=empty)
    return rec


# ---------------------------------------------------------------------------- extract
def run_extract(ctx: Ctx, extractor: Extractor, index: int, may_retry: bool) -> Outcome:
    """Parses and extracts one document. Raises RetryLater for a transient error while
    retries remain.

    The parse happens here, once per delivery, inside the task's per-document time limit:
    a document that cannot be parsed becomes a failed row with a warning, one that parses
    too slowly a ``document_timeout`` row, and a cancel that arrives while it parses stops
    the document (``worker.docwatch``). Two round trips on the happy path: begin (which
    returns the document) and record.
    """
    b, doc = ctx.store.begin_document(ctx.job_id, ctx.org, index)
    if b.verdict is Verdict.DONE:
        _resend_claim(ctx, index)
        _maybe_finalize(ctx)
        return Outcome.DONE
    if b.verdict not in (Verdict.RUN, Verdict.CAP):
        return Outcome(b.verdict)
    schema = _schema(ctx)
    if schema is None or doc is None:
        return Outcome.GONE
    filename = str(doc["filename"])
    if b.verdict is Verdict.CAP:
        code = b.code or "worker_lost"
        return _record_failure(ctx, schema, index, filename, code,
                               f"Gave up after {b.runs - 1} attempts that lost their worker.")
    try:
        began = time.monotonic()
        with guard_document(ctx.store, ctx.job_id):
            parsed = _parse(filename, doc)
        del doc
        if isinstance(parsed, ParseError):
            return _record_parse_failure(ctx, schema, index, filename, parsed)
        # begin_task read the flag just before; a long parse reads it again
        if time.monotonic() - began >= CANCEL_RECHECK_SECONDS and \
                ctx.store.is_cancelled(ctx.job_id):
            return Outcome.SKIP
        with guard_document(ctx.store, ctx.job_id), metrics.extraction_timer():
            cells = extractor.extract(parsed, schema.fields)
    except DocumentCancelled:
        log.info("job %s document %d: stopped by cancel", ctx.job_id, index)
        return Outcome.SKIP
    except DocumentTimeLimit:
        log.warning("job %s document %d: parse and extraction hit the time limit",
                    ctx.job_id, index)
        return _record_failure(ctx, schema, index, filename, *TIMEOUT)
    except ParseError as e:
        return _record_failure(ctx, schema, index, filename, e.code, e.message)
    except ExtractorError as e:
        if e.retryable and may_retry:
            ctx.store.note_failure(ctx.job_id, ctx.org, f"d:{index}", e.code)
            raise RetryLater(e.code, e.message) from e
        return _record_failure(ctx, schema, index, filename, e.code, e.message)
    except redis.RedisError:
        raise  # an outage, waited out by the task (worker.tasks._through_outage)
    except Exception as e:  # the document's boundary: a bug or a hang still ends in a row
        return _record_failure(ctx, schema, index, filename, *_unexpected(ctx, index, e))
    row, filled = completed_row(index, filename, schema.fields, cells)
    rec = _record(ctx, index, row, failed=False, filled=filled,
                  empty=len(schema.fields) - filled)
    _after_record(ctx, rec)
    return Outcome.COMPLETED if rec.added else Outcome.DUPLICATE


def _unexpected(ctx: Ctx, index: int, e: Exception) -> tuple[str, str]:
    """Code and message for an extractor failure that is not an ExtractorError: the
    per-document soft time limit (Celery's exception, matched by name like
    ``worker.extraction.parsing`` does) or a bug. Acknowledged without a row, the document
    would leave its job in progress forever."""
    if type(e).__name__ == "SoftTimeLimitExceeded":
        log.warning("job %s document %d: parse and extraction hit the time limit",
                    ctx.job_id, index)
        return TIMEOUT
    log.exception("job %s document %d: the extractor failed unexpectedly", ctx.job_id, index)
    return "extractor_error", "The extractor failed unexpectedly on this document."


_SCHEMAS: OrderedDict[str, SchemaIn] = OrderedDict()


def _schema(ctx: Ctx) -> SchemaIn | None:
    """A job's schema never changes, so each process reads it once per job."""
    schema = _SCHEMAS.get(ctx.job_id)
    if schema is None:
        schema = ctx.store.load_schema(ctx.job_id)
        if schema is None:
            return None
        _SCHEMAS[ctx.job_id] = schema
        if len(_SCHEMAS) > 256:
            _SCHEMAS.popitem(last=False)
    return schema


def _record_failure(
    ctx: Ctx, schema: SchemaIn, index: int, filename: str, code: str, message: str
) -> Outcome:
    row = failed_row(index, filename, schema.fields, code, message)
    rec = _record(ctx, index, row, failed=True, filled=0, empty=len(schema.fields),
                  warning={"code": code, "document": index,
                           "message": f"Document {index} ({filename}) failed: {message}"})
    _after_record(ctx, rec)
    return Outcome.FAILED


def _after_record(ctx: Ctx, rec: Recorded) -> None:
    """Slides the job's fan-out window (unless the script sent the next document itself) and,
    for the last document, enqueues finalize."""
    if rec.next_index >= 0 and not rec.sent:
        ctx.dispatch.extract(ctx.job_id, ctx.org, [rec.next_index], ctx.priority)
    if rec.is_last:
        ctx.dispatch.finalize(ctx.job_id, ctx.org)
    elif rec.added:
        emit_progress(ctx.store, ctx.job_id, ctx.org)  # throttled: one SET NX per document


def _resend_claim(ctx: Ctx, index: int) -> None:
    """A redelivered task whose document is recorded may have died before sending the next
    document it was handed; send it again (a duplicate is a no-op for the done set)."""
    nxt = ctx.store.claimed(ctx.job_id, index)
    if nxt >= 0:
        ctx.dispatch.extract(ctx.job_id, ctx.org, [nxt], ctx.priority)



def _maybe_finalize(ctx: Ctx) -> None:
    """A redelivered task whose document is already recorded may be the one whose first run
    died before sending finalize: send it again when everything is processed."""
    h = ctx.store.read_job(ctx.job_id)
    if h and h.get(F.STATUS) == S.IN_PROGRESS and h.get(F.PROCESSED) == h.get(F.DOCUMENT_COUNT):
        ctx.dispatch.finalize(ctx.job_id, ctx.org)


# --------------------------------------------------------------------------- finalize
def run_finalize(ctx: Ctx) -> Outcome:
    b = ctx.store.begin_task(ctx.job_id, ctx.org, "finalize")
    if not _should_run(ctx, b, "finalize"):
        if b.verdict is Verdict.SKIP:  # a first run may have died between the status and the event
            emit_terminal_event(ctx.store, ctx.job_id, ctx.org)
        return Outcome(b.verdict)
    h = ctx.store.read_job(ctx.job_id)
    if h is None or h.get(F.STATUS) != S.IN_PROGRESS:
        return Outcome.SKIP
    if h.get(F.PROCESSED) != h.get(F.DOCUMENT_COUNT):
        return Outcome.NOT_READY
    ctx.store.transition(ctx.job_id, ctx.org, [S.IN_PROGRESS], phase=Phase.FINALIZE)
    if int(h.get(F.COMPLETED_DOCUMENTS) or 0) == 0:
        code, message = _all_failed_reason(h)
        t = ctx.store.transition(ctx.job_id, ctx.org, [S.IN_PROGRESS], status=S.FAILED,
                                 extra={F.ERROR_CODE: code, F.ERROR_MESSAGE: message})
    else:
        t = ctx.store.transition(ctx.job_id, ctx.org, [S.IN_PROGRESS], status=S.COMPLETED)
    if not t.ok:
        return Outcome.SKIP
    emit_terminal_event(ctx.store, ctx.job_id, ctx.org)  # once per transition (guarded)
    ctx.store.drop_working_keys(ctx.job_id)
    return Outcome.FINALIZED


def _all_failed_reason(h: dict[str, str]) -> tuple[str, str]:
    warnings = orjson.loads(h.get(F.WARNINGS) or "[]")
    parse_codes = {"unsupported_type", "corrupt_document", "empty_document", "encoding_error",
                   "encrypted_document", "document_too_large"}
    if warnings and all(w.get("code") in parse_codes for w in warnings):
        return "no_parseable_documents", "None of the job's documents could be parsed."
    return "all_documents_failed", "Every document of the job failed."

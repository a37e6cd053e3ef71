"""The job record: the field names of the job hash, one typed view over it, and the words the
store's scripts answer with.

Why it exists: the job hash (``{p}:job:{id}``) is written by ``JobStore.create_job`` and the
Lua scripts in ``shared/lua/`` and read all over the API and the workers. Naming its fields
by string literal in each module let the writers and readers drift apart silently. Here every
field has one constant (``F``), and ``tests/unit/test_job_record.py`` checks that every
field the Lua scripts read or write, and every field ``create_job`` writes, is one of them.

``Job`` is a frozen view over the raw hash, in the spirit of rq's and saq's ``Job``: it keeps
the hash as Redis returned it (``raw``, all strings) and decodes a field only when asked, so
building one costs one object and the status hot path, which turns the hash straight into a
payload, pays nothing for it. Every accessor knows its field's stored form: integers default
to 0, timestamps (epoch ms) that may be unset are ``None``, flags are ``"1"``/``"0"``.

The enums name the loose answers of the store: what ``begin_task.lua`` decided
(``Verdict``), what ``transition.lua`` did (``TransitionResult``) and what ``retry_job.lua``
did (``RetryResult``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Final

import orjson

from shared.status import JobStatus, Phase, Priority


class F:
    """Field names of the job hash. Written at submit (``create_job``) unless noted."""

    ID: Final = "id"
    ORG: Final = "org"
    NAME: Final = "name"  #: "" when the client gave none
    ENDPOINT: Final = "endpoint"
    PRIORITY: Final = "priority"  #: a ``Priority`` word
    SCHEMA_ID: Final = "schema_id"  #: "" for an inline schema
    SCHEMA_NAME: Final = "schema_name"
    METADATA: Final = "metadata"  #: JSON object
    STATUS: Final = "status"  #: the stored ``JobStatus`` (see ``effective_status``)
    CURRENT_PHASE: Final = "current_phase"  #: a ``Phase`` word
    DOCUMENT_COUNT: Final = "document_count"
    FIELD_COUNT: Final = "field_count"
    TOTAL_CELLS: Final = "total_cells"  #: document_count x field_count
    PROCESSED: Final = "processed"  #: documents recorded, completed or failed
    COMPLETED_DOCUMENTS: Final = "completed_documents"
    FAILED_DOCUMENTS: Final = "failed_documents"
    FILLED: Final = "filled"  #: cells with a valid value
    EMPTY: Final = "empty"  #: cells without one
    VERSION: Final = "version"  #: + 1 on every write (``touch()`` in ``_lib.lua``)
    CREATED_AT: Final = "created_at"  #: epoch ms
    UPDATED_AT: Final = "updated_at"  #: epoch ms of the last write
    STARTED_AT: Final = "started_at"  #: epoch ms of the first run, "" before it
    COMPLETED_AT: Final = "completed_at"  #: epoch ms of reaching a terminal status, or ""
    EXPIRES_AT: Final = "expires_at"  #: epoch ms: documents and results go, status "expired"
    PURGE_AT: Final = "purge_at"  #: epoch ms: the record itself goes
    ATTEMPT_COUNT: Final = "attempt_count"  #: runs counted by begin_task / note_failure
    LAST_ATTEMPT_AT: Final = "last_attempt_at"  #: epoch ms, or ""
    LAST_FAILURE_CODE: Final = "last_failure_code"  #: "" when no run failed
    CANCELLED: Final = "cancelled"  #: "1" once cancel was accepted
    ERROR_CODE: Final = "error_code"  #: set when the job failed, else ""
    ERROR_MESSAGE: Final = "error_message"
    WARNINGS: Final = "warnings"  #: JSON list, at most 100 (record_document.lua)
    FIRST_DONE_AT: Final = "first_done_at"  #: epoch ms of the first recorded document
    EXEC_STARTED_AT: Final = "exec_started_at"  #: epoch ms the fan-out started (the ETA)
    EXEC_PROCESSED_BASE: Final = "exec_processed_base"  #: processed when it started
    FANOUT_DONE: Final = "fanout_done"  #: "1" once parse sent the first window (not at submit)
    NEEDS_REVIEW: Final = "needs_review"  #: completed documents missing a required field

    #: Every field above.
    ALL: Final[frozenset[str]] = frozenset({
        ID, ORG, NAME, ENDPOINT, PRIORITY, SCHEMA_ID, SCHEMA_NAME, METADATA, STATUS,
        CURRENT_PHASE, DOCUMENT_COUNT, FIELD_COUNT, TOTAL_CELLS, PROCESSED,
        COMPLETED_DOCUMENTS, FAILED_DOCUMENTS, FILLED, EMPTY, VERSION, CREATED_AT, UPDATED_AT,
        STARTED_AT, COMPLETED_AT, EXPIRES_AT, PURGE_AT, ATTEMPT_COUNT, LAST_ATTEMPT_AT,
        LAST_FAILURE_CODE, CANCELLED, ERROR_CODE, ERROR_MESSAGE, WARNINGS, FIRST_DONE_AT,
        EXEC_STARTED_AT, EXEC_PROCESSED_BASE, FANOUT_DONE, NEEDS_REVIEW,
    })
    #: Fields a later write adds; ``create_job`` writes all the others. Absent reads as unset.
    NOT_AT_SUBMIT: Final[frozenset[str]] = frozenset({FANOUT_DONE, NEEDS_REVIEW})


def _int(h: Mapping[str, str], name: str) -> int:
    v = h.get(name, "")
    return int(v) if v else 0


def _opt_ms(h: Mapping[str, str], name: str) -> int | None:
    v = h.get(name, "")
    return int(v) if v else None


_STATUS, _EXPIRES_AT = F.STATUS, F.EXPIRES_AT  # module globals: this runs on every poll


def effective_status(h: Mapping[str, str], now: int) -> JobStatus:
    """The stored status, or ``expired`` once ``expires_at`` has passed (no write marks
    expiry, so every reader derives it the same way, from these two fields)."""
    exp = _int(h, _EXPIRES_AT)
    if exp and now >= exp:
        return JobStatus.EXPIRED
    return JobStatus(h[_STATUS])


@dataclass(frozen=True, slots=True)
class Job:
    """A typed, read-only view of one job hash (``raw``: exactly what HGETALL returned)."""

    raw: Mapping[str, str]

    @classmethod
    def from_hash(cls, h: Mapping[str, str] | None) -> Job | None:
        """The record, or None for an empty or missing hash (unknown or purged job)."""
        return cls(h) if h else None

    def _str(self, name: str) -> str:
        return self.raw.get(name, "")

    # ------------------------------------------------------------------- identity
    @property
    def id(self) -> str:
        return self._str(F.ID)

    @property
    def org(self) -> str:
        return self._str(F.ORG)

    def owned_by(self, org: str) -> bool:
        """Tenancy: another organization's job is treated as absent (404), never 403."""
        return self.raw.get(F.ORG) == org

    @property
    def name(self) -> str | None:
        return self._str(F.NAME) or None

    @property
    def endpoint(self) -> str:
        return self._str(F.ENDPOINT)

    @property
    def priority(self) -> Priority:
        return Priority(self._str(F.PRIORITY) or Priority.NORMAL)

    @property
    def schema_id(self) -> str | None:
        return self._str(F.SCHEMA_ID) or None

    @property
    def schema_name(self) -> str:
        return self._str(F.SCHEMA_NAME)

    @property
    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self._str(F.METADATA) or "{}")
        return data

    # --------------------------------------------------------------------- state
    @property
    def status(self) -> JobStatus:
        """The stored status; use ``effective_status`` for what clients see."""
        return JobStatus(self.raw[F.STATUS])

    def effective_status(self, now: int) -> JobStatus:
        return effective_status(self.raw, now)

    @property
    def phase(self) -> Phase | None:
        value = self._str(F.CURRENT_PHASE)
        return Phase(value) if value else None

    @property
    def version(self) -> int:
        return _int(self.raw, F.VERSION)

    @property
    def cancelled(self) -> bool:
        return self.raw.get(F.CANCELLED) == "1"

    @property
    def fanout_done(self) -> bool:
        return self.raw.get(F.FANOUT_DONE) == "1"

    @property
    def error_code(self) -> str | None:
        return self._str(F.ERROR_CODE) or None

    @property
    def error_message(self) -> str:
        return self._str(F.ERROR_MESSAGE)

    @property
    def warnings(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = orjson.loads(self._str(F.WARNINGS) or "[]")
        return data

    @property
    def attempt_count(self) -> int:
        return _int(self.raw, F.ATTEMPT_COUNT)

    @property
    def last_failure_code(self) -> str | None:
        return self._str(F.LAST_FAILURE_CODE) or None

    # ------------------------------------------------------------------- counters
    @property
    def document_count(self) -> int:
        return _int(self.raw, F.DOCUMENT_COUNT)

    @property
    def field_count(self) -> int:
        return _int(self.raw, F.FIELD_COUNT)

    @property
    def total_cells(self) -> int:
        return _int(self.raw, F.TOTAL_CELLS)

    @property
    def processed(self) -> int:
        return _int(self.raw, F.PROCESSED)

    @property
    def completed_documents(self) -> int:
        return _int(self.raw, F.COMPLETED_DOCUMENTS)

    @property
    def failed_documents(self) -> int:
        return _int(self.raw, F.FAILED_DOCUMENTS)

    @property
    def filled(self) -> int:
        return _int(self.raw, F.FILLED)

    @property
    def empty(self) -> int:
        return _int(self.raw, F.EMPTY)

    @property
    def needs_review(self) -> int:
        return _int(self.raw, F.NEEDS_REVIEW)

    @property
    def exec_processed_base(self) -> int:
        return _int(self.raw, F.EXEC_PROCESSED_BASE)

    @property
    def all_recorded(self) -> bool:
        """Every document recorded (the condition for finalize)."""
        return self.processed == self.document_count

    # ----------------------------------------------------------------- timestamps
    @property
    def created_at(self) -> int:
        return _int(self.raw, F.CREATED_AT)

    @property
    def updated_at(self) -> int:
        return _int(self.raw, F.UPDATED_AT)

    @property
    def expires_at(self) -> int:
        return _int(self.raw, F.EXPIRES_AT)

    @property
    def purge_at(self) -> int:
        return _int(self.raw, F.PURGE_AT)

    @property
    def started_at(self) -> int | None:
        return _opt_ms(self.raw, F.STARTED_AT)

    @property
    def completed_at(self) -> int | None:
        return _opt_ms(self.raw, F.COMPLETED_AT)

    @property
    def last_attempt_at(self) -> int | None:
        return _opt_ms(self.raw, F.LAST_ATTEMPT_AT)

    @property
    def first_done_at(self) -> int | None:
        return _opt_ms(self.raw, F.FIRST_DONE_AT)

    @property
    def exec_started_at(self) -> int | None:
        return _opt_ms(self.raw, F.EXEC_STARTED_AT)

    def is_expired(self, now: int) -> bool:
        return bool(self.expires_at) and now >= self.expires_at


# ------------------------------------------------------------------ script answers
class Verdict(StrEnum):
    """What ``begin_task.lua`` decided for one run of a task (``Begin.verdict``)."""

    RUN = "run"  #: go ahead
    SKIP = "skip"  #: job cancelled, terminal or expired (code = its status)
    DONE = "done"  #: this document is already recorded
    CAP = "cap"  #: the crash cap is reached (code = the last failure code)
    GONE = "gone"  #: job unknown or purged


class TransitionOutcome(StrEnum):
    """What ``transition.lua`` did."""

    MOVED = "moved"  #: applied; ``version`` is the new version
    REFUSED = "refused"  #: the current status is not one the caller allowed (``status``)
    GONE = "gone"  #: no such job


@dataclass(frozen=True, slots=True)
class TransitionResult:
    """``transition.lua``'s ``{ok, detail}`` with its two meanings of ``detail`` separated."""

    outcome: TransitionOutcome
    version: int | None = None  #: when MOVED
    status: str | None = None  #: the job's current status when REFUSED ("expired" included)

    @classmethod
    def decode(cls, ok: bool, detail: str) -> TransitionResult:
        """From ``Transition(ok, detail)`` or the script's raw reply."""
        if ok:
            return cls(TransitionOutcome.MOVED, version=int(detail))
        if detail == "gone":
            return cls(TransitionOutcome.GONE)
        return cls(TransitionOutcome.REFUSED, status=detail)


class RetryOutcome(IntEnum):
    """What ``retry_job.lua`` did; the values are the script's first reply element."""

    REOPENED = 1  #: queued again; ``version`` is the new version
    REFUSED = 0  #: the status does not allow a retry (``status``; "gone" when no job)
    DATA_EXPIRED = -1  #: the documents are gone: nothing to run again


@dataclass(frozen=True, slots=True)
class RetryResult:
    """What ``JobStore.retry`` returns: ``retry_job.lua``'s ``(-1|0|1, detail)`` decoded."""

    outcome: RetryOutcome
    version: int | None = None  #: when REOPENED
    status: str | None = None  #: when REFUSED: the job's status, or "gone"

    @classmethod
    def decode(cls, code: int, detail: str) -> RetryResult:
        outcome = RetryOutcome(code)
        if outcome is RetryOutcome.REOPENED:
            return cls(outcome, version=int(detail))
        if outcome is RetryOutcome.REFUSED:
            return cls(outcome, status=detail)
        return cls(outcome)

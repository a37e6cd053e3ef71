"""The one status and phase vocabulary, imported by the API and the workers alike."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    VALIDATING = "validating"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


TERMINAL: frozenset[JobStatus] = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED}
)
ACTIVE: frozenset[JobStatus] = frozenset(JobStatus) - TERMINAL
RETRYABLE: frozenset[JobStatus] = frozenset(
    {JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED}
)


class Phase(StrEnum):
    VALIDATE = "phase_0_validate"
    PARSE = "phase_1_parse"
    EXECUTE = "phase_2_execute"
    FINALIZE = "phase_3_finalize"


class WaitingFor(StrEnum):
    """What a running job that stopped moving waits for (``waiting_for`` in its payloads;
    decided by ``shared.jobview.waiting_for``)."""

    RESCUE = "rescue"  # its last failure is a lost worker node: its documents are re-sent
    WORKERS = "workers"  # a backlog ahead of it, or no worker consuming its queue


class RowStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    PENDING = "pending"
    CANCELLED = "cancelled"  # never ran: its job was cancelled first


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    EMAIL = "email"
    CURRENCY = "currency"
    ENUM = "enum"

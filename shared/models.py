"""Pydantic models: the single source for API payloads, worker inputs and the OpenAPI document.

Request models reject unknown fields (a typo should fail loudly, not be ignored); response
models mirror ``docs/contract.md`` field for field.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.patterns import PatternRefused, compile_pattern
from shared.status import FieldType, JobStatus, Phase, Priority, RowStatus, WaitingFor

MAX_FIELDS = 200
MAX_ALIASES = 32
METADATA_MAX_KEYS = 16
METADATA_MAX_KEY_LEN = 64
METADATA_MAX_VALUE_LEN = 512

#: Matched with ``fullmatch``: with ``match`` and ``$`` a trailing newline would pass.
FIELD_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
#: A schema's size as stored (its JSON, in bytes). Every part is bounded on its own too
#: (fields, aliases, values, description, pattern); this bounds their product, so one
#: schema can never grow to the megabytes 200 fields x 500 values x 256 characters allow.
MAX_SCHEMA_BYTES = 128 * 1024


#: Validation context for a schema read back from Redis: it was checked when it arrived, maybe
#: under older rules (a Python-only pattern, a name ending in a newline), so it must still
#: load - to be shown, listed, updated or deleted - rather than fail with a 500.
STORED: dict[str, bool] = {"stored": True}


def _stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("stored"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# ----------------------------------------------------------------------------- schemas
class FieldSpec(_Strict):
    """One column of the grid."""

    name: Annotated[str, Field(min_length=1, max_length=64, examples=["invoice_number"])]
    type: FieldType = FieldType.STRING
    description: Annotated[str | None, Field(max_length=2000)] = None
    aliases: Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]],
                       Field(max_length=MAX_ALIASES)] = []
    values: Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]] | None,
                      Field(max_length=500)] = None
    pattern: Annotated[str | None, Field(max_length=500)] = None
    required: bool = False
    value_aliases: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=256)],
             Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]],
                       Field(max_length=MAX_ALIASES)]] | None,
        Field(max_length=500)] = None
    """Enum only: other wordings of each value (``{"card": ["Visa", "Amex"]}``)."""

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str, info: ValidationInfo) -> str:
        if not FIELD_NAME_RE.fullmatch(v) and not _stored(info):
            raise ValueError(
                "field name must start with a letter or underscore and hold only letters, "
                "digits, '_' or '-' (at most 64 characters)"
            )
        return v

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and not _stored(info):
            try:
                compile_pattern(v)
            except PatternRefused as e:
                raise ValueError(
                    f"pattern is not a regular expression RE2 can run ({e}); patterns use "
                    "RE2 syntax: no backreferences or lookaround (docs/api.md)") from e
        return v

    @model_validator(mode="after")
    def _enum_values(self) -> FieldSpec:
        if self.type is FieldType.ENUM and not self.values:
            raise ValueError(f"field '{self.name}' has type 'enum' and needs a non-empty 'values'")
        if self.value_aliases is not None:
            if self.type is not FieldType.ENUM:
                raise ValueError(f"field '{self.name}': 'value_aliases' is for enum fields")
            unknown = sorted(set(self.value_aliases) - set(self.values or []))
            if unknown:
                raise ValueError(f"field '{self.name}': 'value_aliases' names values not in "
                                 f"'values': {', '.join(unknown[:5])}")
        return self


class SchemaIn(_Strict):
    """An extraction schema: a name and its fields (may be empty here; empty is a 422 at submit)."""

    name: Annotated[str, Field(min_length=1, max_length=200, examples=["Invoice"])]
    fields: Annotated[list[FieldSpec], Field(max_length=MAX_FIELDS)]

    @field_validator("fields")
    @classmethod
    def _unique_names(cls, v: list[FieldSpec]) -> list[FieldSpec]:
        seen: set[str] = set()
        for f in v:
            if f.name in seen:
                raise ValueError(f"duplicate field name '{f.name}'")
            seen.add(f.name)
        return v


def schema_problem(schema: SchemaIn) -> str | None:
    """Why a schema the API is given cannot be accepted (400), or None.

    Checked where a schema enters (``POST``/``PUT /v1/schemas``, an inline schema at submit)
    rather than in the models' validators, so a schema stored before these rules existed
    still loads in the worker and in the API.
    """
    for i, f in enumerate(schema.fields):
        if f.values is not None and f.type is not FieldType.ENUM:
            return (f"fields.{i}.values: only fields of type 'enum' take 'values'; field "
                    f"'{f.name}' has type '{f.type.value}'")
    return None


def schema_size(schema: SchemaIn) -> int:
    """Bytes of the schema's JSON as stored, compared with :data:`MAX_SCHEMA_BYTES` (413)."""
    return len(orjson.dumps(schema.model_dump(mode="json")))


class SchemaOut(BaseModel):
    """A stored schema. ``version`` starts at 1 and grows with every ``PUT``; a job keeps the
    fields it was submitted with whatever happens to the stored schema later."""

    id: str = Field(examples=["sch_3f9a0c2e1b7d4e8f"])
    object: Literal["schema"] = "schema"
    name: str
    fields: list[FieldSpec]
    created_at: str
    version: int = 1
    updated_at: str | None = None


class SchemaList(BaseModel):
    """``GET /v1/schemas``: one page of the organization's schemas, oldest first, with an
    opaque cursor like ``GET /v1/jobs``."""

    object: Literal["list"] = "list"
    data: list[SchemaOut]
    has_more: bool = False
    next_cursor: str | None = None


class SchemaDeleted(BaseModel):
    id: str
    object: Literal["schema"] = "schema"
    deleted: Literal[True] = True


class SchemaRef(BaseModel):
    id: str | None
    name: str


# --------------------------------------------------------------------------- documents
class DocumentIn(_Strict):
    """One document of a batch: inline ``text`` or ``content_base64``, exactly one."""

    filename: Annotated[str, Field(min_length=1, max_length=255, examples=["a.txt"])]
    mime_type: Annotated[str | None, Field(max_length=127, examples=["text/plain"])] = None
    text: str | None = None
    content_base64: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> DocumentIn:
        if (self.text is None) == (self.content_base64 is None):
            raise ValueError("each document needs exactly one of 'text' or 'content_base64'")
        if self.content_base64 is not None:
            try:
                base64.b64decode(self.content_base64, validate=True)
            except (binascii.Error, ValueError) as e:
                raise ValueError("content_base64 is not valid base64") from e
        return self

    def raw_bytes(self) -> bytes:
        if self.content_base64 is not None:
            return base64.b64decode(self.content_base64, validate=True)
        return (self.text or "").encode("utf-8")

    def size(self) -> int:
        """Decoded size in bytes, the unit of the per-document limit. Exact without decoding:
        the base64 was validated (alphabet only, length a multiple of 4), and each ``=`` of
        padding stands for one byte fewer."""
        if self.content_base64 is not None:
            b64 = self.content_base64
            return len(b64) * 3 // 4 - (len(b64) - len(b64.rstrip("=")))
        return len((self.text or "").encode("utf-8"))


Metadata = dict[str, str]


class JobCreate(_Strict):
    name: Annotated[str | None, Field(max_length=200, examples=["Q4 Invoice Run"])] = None
    endpoint: Annotated[str, Field(pattern=r"^/v1/[A-Za-z0-9_/\-]{1,120}$")] = (
        "/v1/documents/extract"
    )
    schema_: Annotated[SchemaIn | None, Field(alias="schema")] = None
    schema_id: Annotated[str | None, Field(max_length=64)] = None
    documents: list[DocumentIn]
    metadata: Metadata = {}
    priority: Priority = Priority.NORMAL

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, v: Metadata) -> Metadata:
        if len(v) > METADATA_MAX_KEYS:
            raise ValueError(f"metadata holds at most {METADATA_MAX_KEYS} keys")
        for k, val in v.items():
            if not 1 <= len(k) <= METADATA_MAX_KEY_LEN:
                raise ValueError(f"metadata keys are 1 to {METADATA_MAX_KEY_LEN} characters")
            if len(val) > METADATA_MAX_VALUE_LEN:
                raise ValueError(f"metadata values are at most {METADATA_MAX_VALUE_LEN} characters")
        return v

    @model_validator(mode="after")
    def _schema_xor_id(self) -> JobCreate:
        if (self.schema_ is None) == (self.schema_id is None):
            raise ValueError("give exactly one of 'schema' or 'schema_id'")
        return self


# ------------------------------------------------------------------------------ errors
class ErrorDetail(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


# --------------------------------------------------------------------------------- job
class GridStats(BaseModel):
    total_cells: int
    filled: int
    empty: int
    fill_rate: float


class JobError(BaseModel):
    code: str
    message: str


class JobWarning(BaseModel):
    code: str
    message: str
    document: int | None = None


class TimelineEntry(BaseModel):
    status: JobStatus
    phase: Phase | None
    at: str


class JobLinks(BaseModel):
    self_: str = Field(alias="self")
    status: str
    results: str
    cancel: str | None = None
    events: str
    dashboard: str

    model_config = ConfigDict(populate_by_name=True)


#: ``waiting_for`` of both job payloads (the rule: ``shared.jobview.quiet_at``).
WAITING_FOR_DOC = (
    "Null while the job moves, and in terminal states. Once a running job has stopped moving "
    "(nothing recorded for 4 times the average gap between its documents, and at least 10 s; "
    "from its fifth document on): 'rescue' when its last failure is a lost worker node (its "
    "documents are being re-sent), else 'workers' (a backlog ahead of it, or no worker "
    "consuming). The estimate is withdrawn at the same moment.")


class JobStatusOut(BaseModel):
    """``GET /v1/jobs/{id}/status``: flat, integer Unix timestamps."""

    id: str
    object: Literal["job"] = "job"
    status: JobStatus
    endpoint: str
    error: JobError | None
    warnings: list[JobWarning] | None
    created_at: int
    started_at: int | None
    completed_at: int | None
    expires_at: int
    organization_id: str
    metadata: Metadata
    cancelled: bool
    attempt_count: int
    last_attempt_at: int | None
    last_failure_code: str | None
    waiting_for: WaitingFor | None = Field(description=WAITING_FOR_DOC)
    version: int
    progress: int
    current_phase: Phase | None
    document_count: int
    completed_documents: int
    grid_stats: GridStats
    needs_review: int = Field(
        0, description="Completed documents whose required fields were left empty.")


class JobOut(BaseModel):
    """``GET /v1/jobs/{id}``: the full job, ISO 8601 timestamps."""

    id: str
    object: Literal["job"] = "job"
    name: str | None
    status: JobStatus
    endpoint: str
    progress: int
    estimated_seconds_remaining: int | None
    waiting_for: WaitingFor | None = Field(description=WAITING_FOR_DOC)
    schema_: SchemaRef = Field(alias="schema")
    document_count: int
    completed_documents: int
    failed_documents: int
    grid_stats: GridStats
    current_phase: Phase | None
    error: JobError | None
    warnings: list[JobWarning]
    attempt_count: int
    last_attempt_at: str | None
    last_failure_code: str | None
    cancelled: bool
    organization_id: str
    metadata: Metadata
    priority: Priority
    version: int
    created_at: str
    started_at: str | None
    updated_at: str
    completed_at: str | None
    expires_at: str
    timeline: list[TimelineEntry]
    links: JobLinks
    needs_review: int = Field(
        0, description="Completed documents whose required fields were left empty.")

    model_config = ConfigDict(populate_by_name=True)


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobOut]
    first_id: str | None
    last_id: str | None
    has_more: bool
    next_cursor: str | None


class StatusList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobStatusOut]
    missing: list[str]


# ----------------------------------------------------------------------------- results
class CellDetail(BaseModel):
    """Where a value was found: the label that matched and the line it came from."""

    label: str | None = None
    line: int | None = None
    text: str | None = None
    raw: str | None = None
    page: int | None = None  # PDF page (1-based)
    start: int | None = None  # offsets of ``raw`` in the document's extracted text
    end: int | None = None
    method: str | None = None  # label | lexicon | fuzzy | rule
    rule: str | None = None  # the unlabelled-value rule, when method is "rule"


class RowDocument(BaseModel):
    index: int
    filename: str


class ResultRow(BaseModel):
    document: RowDocument
    status: RowStatus
    values: dict[str, Any]
    confidence: dict[str, float]
    error: JobError | None = None
    detail: dict[str, CellDetail | None] | None = None
    needs_review: list[str] | None = Field(
        None, description="With ?detail=true: required fields this completed row left empty.")
    rerun: bool | None = Field(
        None, description="Cursor pages and row events only: true when a retry re-ran the "
                          "row (its earlier values are void).")


class Results(BaseModel):
    job_id: str
    job_status: JobStatus
    schema_: SchemaOut | SchemaIn = Field(alias="schema")
    total_rows: int
    rows: list[ResultRow]

    model_config = ConfigDict(populate_by_name=True)


class ResultsPage(Results):
    """``GET /v1/jobs/{id}/results?limit=N[&after=cursor]``: finished rows only, in
    completion order."""

    next_cursor: str = Field(description="Pass as ?after= for the rows finished after these "
                                         "(the same position when the page is empty).")
    has_more: bool


class RetryRequest(_Strict):
    """Optional body of ``POST /v1/jobs/{id}/retry``."""

    only: Literal["failed"] | None = Field(
        None, description="'failed': re-run only the rows that did not complete, and accept a "
                          "completed job that has failed rows (409 if it has none).")

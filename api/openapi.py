"""The OpenAPI 3.1 document of the whole contract, generated from the pydantic models.

Bodies come from ``shared.models`` and ``shared.webhooks`` through pydantic's JSON Schema
(draft 2020-12, which OpenAPI 3.1 uses as is), so a model change shows up here without
anyone editing a YAML file. What the models cannot say is added here, next to the
operation it belongs to: parameters and their constraints, every error status with the one
error body, response headers, security schemes, and checks that live in validators
(``LIMITS`` below). ``tests/integration/test_openapi.py`` runs schemathesis against a live
server with this document, so a drift between the two fails CI.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared import models as m
from shared import webhooks as wh
from shared.status import JobStatus

Json = dict[str, Any]
REF = "#/components/schemas/{model}"
EXAMPLE_JOB_ID = "a1b2c3d4-e5f6-4890-abcd-ef1234567890"

REQUEST_MODELS: tuple[type[BaseModel], ...] = (m.JobCreate, m.SchemaIn, wh.WebhookCreate,
                                               m.RetryRequest)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    m.JobOut, m.JobStatusOut, m.JobList, m.StatusList, m.Results, m.ResultsPage, m.SchemaOut,
    m.ErrorBody, m.SchemaList, m.SchemaDeleted,
    wh.WebhookCreated, wh.WebhookOut, wh.WebhookList, wh.WebhookDeleted, wh.DeliveryList,
    wh.DeliveryOut, wh.WebhookEvent,
)

ERROR_TEXT = {
    304: "Not modified: `If-None-Match` holds the current ETag. No body.",
    400: "`validation_error`: malformed JSON, wrong types, a job id that is not a UUID, or "
         "a bad query value.",
    401: "`unauthorized`: the API key is missing or unknown.",
    404: "`not_found`: no such resource in the caller's organization (another "
         "organization's id answers the same).",
    409: "`conflict`: the resource's state forbids this, or an Idempotency-Key was reused "
         "with a different body.",
    413: "`payload_too_large`: the request, a document or the batch is above the limits.",
    422: "`unprocessable`: well formed, but it cannot run.",
    429: "`rate_limited`: the key used up its requests for this window; see `Retry-After`.",
    500: "`internal_error`: an unexpected error; the message quotes the request id.",
    503: "`unavailable`: Redis or the broker cannot be reached; see `Retry-After`.",
}
V1_ERRORS = (401, 429, 500, 503)

BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
UUID_RE = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"


def _exactly_one(a: str, a_type: str, b: str, b_type: str) -> Json:
    """``oneOf`` two non-null properties: what the models' "exactly one of" validators say."""
    return {"oneOf": [{"required": [a], "properties": {a: {"type": a_type}}},
                      {"required": [b], "properties": {b: {"type": b_type}}}]}


#: Model-level rules of pydantic validators, as JSON Schema keywords on the whole object.
OBJECT_RULES: dict[str, Json] = {
    "JobCreate": _exactly_one("schema", "object", "schema_id", "string"),
    "DocumentIn": _exactly_one("text", "string", "content_base64", "string"),
    "FieldSpec": {"if": {"required": ["type"], "properties": {"type": {"const": "enum"}}},
                  "then": {"required": ["values"],
                           "properties": {"values": {"type": "array", "minItems": 1}}},
                  "else": {"properties": {"values": {"type": "null"}}}},
}

#: Checks that pydantic validators make but JSON Schema cannot see; merged into the schemas.
LIMITS: dict[str, dict[str, Json]] = {
    "JobCreate": {
        "metadata": {"maxProperties": m.METADATA_MAX_KEYS,
                     "propertyNames": {"minLength": 1, "maxLength": m.METADATA_MAX_KEY_LEN},
                     "additionalProperties": {"type": "string",
                                              "maxLength": m.METADATA_MAX_VALUE_LEN}},
        "documents": {"description": "At most `JOBGRID_MAX_DOCUMENTS` (default 10,000) "
                      "documents (413 above); an empty list is 422."},
        "schema_id": {"description": "A stored schema's id (`sch_...`); give exactly one of "
                      "`schema` and `schema_id`."},
    },
    "DocumentIn": {
        "content_base64": {"description": "Standard base64 of the file's bytes; give exactly "
                           "one of `text` and `content_base64`. At most "
                           "`JOBGRID_MAX_DOCUMENT_BYTES` decoded (413 above).",
                           "pattern": BASE64_PATTERN},
    },
    "FieldSpec": {
        "name": {"pattern": r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$"},
        "values": {"description": "Required (non-empty) when `type` is `enum`; refused (400) "
                   "on any other type."},
        "pattern": {"description": "A regular expression the whole value must match, in RE2 "
                    "syntax (no backreferences or lookaround; `\\d`, `\\w` are ASCII); "
                    "anything RE2 cannot run is 400."},
    },
    "SchemaIn": {
        "fields": {"description": f"At most {m.MAX_FIELDS} fields; the whole schema at most "
                   f"{m.MAX_SCHEMA_BYTES} bytes as JSON (413 above)."},
    },
}


# ------------------------------------------------------------------------- components
def component_schemas() -> Json:
    """Every model's JSON Schema under ``#/components/schemas``, plus the small extras."""
    pairs = [(model, "validation") for model in REQUEST_MODELS]
    pairs += [(model, "serialization") for model in RESPONSE_MODELS]
    _, top = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
    schemas: Json = top["$defs"]
    for model_name, props in LIMITS.items():
        for prop, extra in props.items():
            target = schemas[model_name]["properties"][prop]
            _merge_limit(target, extra)
    for model_name, rules in OBJECT_RULES.items():
        schemas[model_name].update(copy.deepcopy(rules))
    schemas["Health"] = {"type": "object", "required": ["status"],
                         "properties": {"status": {"const": "ok"}}}
    return schemas


def _merge_limit(target: Json, extra: Json) -> None:
    """Puts constraints on the non-null branch of an ``anyOf`` (optional fields)."""
    branch = target
    for option in target.get("anyOf", []):
        if option.get("type") != "null":
            branch = option
    for key, value in extra.items():
        (target if key == "description" else branch)[key] = value


def security_schemes() -> Json:
    return {
        "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "Api-Key"},
        "BearerAuth": {"type": "http", "scheme": "bearer",
                       "description": "`Authorization: Bearer <API key>`"},
        "AccessToken": {"type": "apiKey", "in": "query", "name": "access_token",
                        "description": "For browser EventSource and links; redacted from "
                                       "access logs."},
    }


def _header(description: str, schema: Json) -> Json:
    return {"description": description, "schema": schema}


def component_headers() -> Json:
    return {
        "X-Request-Id": _header("The request's id (the caller's own when sane).",
                                {"type": "string"}),
        "X-RateLimit-Limit": _header("Requests allowed per window.", {"type": "integer"}),
        "X-RateLimit-Remaining": _header("Requests left in this window.", {"type": "integer"}),
        "X-RateLimit-Reset": _header("Unix seconds when the window ends.", {"type": "integer"}),
        "Retry-After": _header("Seconds to wait before trying again.", {"type": "integer"}),
        "Location": _header("Where the created or found resource lives.", {"type": "string"}),
        "ETag": _header('`"<version>-<status>"`, for `If-None-Match`.', {"type": "string"}),
        "X-Poll-After": _header("Seconds until the next useful poll; absent once terminal.",
                                {"type": "string"}),
    }


# ------------------------------------------------------------------------- responses
def _headers(names: tuple[str, ...]) -> Json:
    return {n: {"$ref": f"#/components/headers/{n}"} for n in names}


def _rate_headers(v1: bool) -> tuple[str, ...]:
    base = ("X-Request-Id",)
    return base + ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset") if v1 \
        else base


ERROR_NAMES = {304: "NotModified", 400: "BadRequest", 401: "Unauthorized", 404: "NotFound",
               409: "Conflict", 413: "PayloadTooLarge", 422: "Unprocessable",
               429: "RateLimited", 500: "InternalError", 503: "Unavailable"}


def _response_name(status: int, v1: bool) -> str:
    return ERROR_NAMES[status] + ("" if v1 else "Public")


def error_response(status: int, v1: bool = True) -> Json:
    """A reference to the shared error response of ``status`` (errors differ only there)."""
    return {"$ref": f"#/components/responses/{_response_name(status, v1)}"}


def _error_component(status: int, v1: bool) -> Json:
    names = _rate_headers(v1)
    if status in (429, 503):
        names += ("Retry-After",)
    return {"description": ERROR_TEXT[status], "headers": _headers(names),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")},
                                             "example": _error_example(status)}}}


def component_responses() -> Json:
    out = {_response_name(code, True): _error_component(code, True)
           for code in ERROR_TEXT if code != 304}
    out[_response_name(503, False)] = _error_component(503, False)
    return out


def _error_example(status: int) -> Json:
    code = ERROR_TEXT[status].split("`")[1]
    return {"error": {"code": code, "message": "A human sentence saying what went wrong."}}


def links(param: str, *op_ids: str) -> Json:
    """OpenAPI links: the created resource's ``id`` feeds ``param`` of the other operations."""
    return {op: {"operationId": op, "parameters": {param: "$response.body#/id"}}
            for op in op_ids}


def ok(description: str, model: str | None = None, *, status_headers: tuple[str, ...] = (),
       v1: bool = True, content: Json | None = None, example: Any = None,
       follow: Json | None = None) -> Json:
    """A success response whose JSON body is ``model`` (or the given ``content``)."""
    out: Json = {"description": description,
                 "headers": _headers(_rate_headers(v1) + status_headers)}
    if follow:
        out["links"] = follow
    if content is not None:
        out["content"] = content
    elif model is not None:
        media: Json = {"schema": {"$ref": REF.format(model=model)}}
        if example is not None:
            media["example"] = example
        out["content"] = {"application/json": media}
    return out


def operation(op_id: str, summary: str, tag: str, responses: dict[int, Json], *,
              errors: tuple[int, ...] = (), params: list[Json] | None = None,
              body: str | None = None, description: str = "", public: bool = False,
              body_example: Any = None) -> Json:
    """One operation with every error status it can answer, each with the error body."""
    all_errors = errors if public else tuple(sorted(set(errors) | set(V1_ERRORS)))
    resp: Json = {str(code): r for code, r in responses.items()}
    for code in all_errors:
        resp.setdefault(str(code), error_response(code, v1=not public))
    op: Json = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": resp}
    if description:
        op["description"] = description
    if params:
        op["parameters"] = params
    if body is not None:
        media: Json = {"schema": {"$ref": REF.format(model=body)}}
        if body_example is not None:
            media["example"] = body_example
        op["requestBody"] = {"required": True, "content": {"application/json": media}}
    if public:
        op["security"] = []
    return op


# ------------------------------------------------------------------------ parameters
def path_param(name: str, schema: Json, description: str, example: str) -> Json:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema, "example": example}


def query_param(name: str, schema: Json, description: str, required: bool = False) -> Json:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


def header_param(name: str, schema: Json, description: str) -> Json:
    return {"name": name, "in": "header", "required": False, "description": description,
            "schema": schema}


JOB_ID = path_param("job_id", {"type": "string", "format": "uuid", "pattern": f"^{UUID_RE}$"},
                    "The job's id (a UUID, any case).", EXAMPLE_JOB_ID)
WEBHOOK_ID = path_param("webhook_id", {"type": "string", "pattern": "^wh_[0-9a-f]{16}$"},
                        "The webhook's id.", "wh_3f9a0c2e1b7d4e8f")
DELIVERY_ID = path_param("delivery_id", {"type": "string", "pattern": "^dlv_[0-9a-f]{24}$"},
                         "A delivery of that webhook (from its deliveries list).",
                         "dlv_6e6ad131b96d37fa29c32872")
SCHEMA_ID = path_param("schema_id", {"type": "string", "pattern": "^sch_[0-9a-f]{16}$"},
                       "The stored schema's id.", "sch_3f9a0c2e1b7d4e8f")
BOOL_WORDS = ["true", "false", "1", "0", "yes", "no"]
STATUSES = [s.value for s in JobStatus]

JOB_BODY_EXAMPLE: Json = {
    "name": "Q4 Invoice Run",
    "schema": {"name": "Invoice", "fields": [
        {"name": "invoice_number", "type": "string", "aliases": ["Invoice No"]},
        {"name": "total", "type": "number"}, {"name": "issue_date", "type": "date"}]},
    "documents": [{"filename": "a.txt", "mime_type": "text/plain",
                   "text": "Invoice No: INV-42\nTotal: 99.50\nDate: 2024-09-14"}],
    "metadata": {"batch_id": "batch_001"},
    "priority": "normal",
}
SCHEMA_BODY_EXAMPLE: Json = {"name": "Invoice", "fields": [
    {"name": "invoice_number", "type": "string"}, {"name": "total", "type": "number"}]}
WEBHOOK_BODY_EXAMPLE: Json = {"url": "https://example.com/hooks/jobgrid",
                              "events": ["job.completed", "job.failed"]}
TEXT = {"type": "string"}
#: One server-sent event (how SSE-aware tools read a ``text/event-stream`` schema).
def _sse_event(name: str, model: str, id_description: str) -> Json:
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "id": {"type": "string", "description": id_description},
            "retry": {"type": "string", "pattern": "^[0-9]+$"},
            "data": {"type": "string", "contentMediaType": "application/json",
                     "contentSchema": {"$ref": REF.format(model=model)}},
        },
    }


SSE_EVENT: Json = {"oneOf": [
    _sse_event("status", "JobStatusOut", "The job's version (with `rows=true`: a results "
                                         "cursor at that version)."),
    _sse_event("row", "ResultRow", "The results cursor after this row (`rows=true` only)."),
]}


# ----------------------------------------------------------------------------- paths
def job_paths() -> Json:
    idem = header_param("Idempotency-Key", {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
                        "The same key and body within 24 h returns the same job (200); a "
                        "different body is 409.")
    return {
        "/v1/jobs": {
            "post": operation(
                "submitJob", "Submit a batch", "jobs",
                {202: ok("Accepted: the new job.", "JobOut", status_headers=("Location",),
                         follow=links("job_id", "getJob", "getJobStatus", "getJobResults",
                                      "cancelJob", "retryJob")),
                 200: ok("An earlier job with the same Idempotency-Key and body.", "JobOut",
                         status_headers=("Location",))},
                errors=(400, 409, 413, 422), params=[idem], body="JobCreate",
                body_example=JOB_BODY_EXAMPLE),
            "get": operation(
                "listJobs", "This organization's jobs", "jobs",
                {200: ok("One page, newest first (or oldest change first with "
                         "`updated_since`).", "JobList")},
                errors=(400,), params=[
                    query_param("status", {"type": "string", "enum": STATUSES},
                                "Only jobs whose effective status is this."),
                    query_param("limit", {"type": "integer", "minimum": 1, "maximum": 100,
                                          "default": 20}, "Page size."),
                    query_param("cursor", TEXT, "`next_cursor` of the previous page, "
                                "unchanged (same other parameters)."),
                    query_param("updated_since", TEXT, "ISO 8601 or Unix seconds: jobs "
                                "changed since then (inclusive), oldest change first."),
                ]),
        },
        "/v1/jobs/{job_id}": {"get": operation(
            "getJob", "The full job", "jobs", {200: ok("The job.", "JobOut")},
            errors=(400, 404), params=[JOB_ID])},
        "/v1/jobs/{job_id}/cancel": {"post": operation(
            "cancelJob", "Cancel a job", "jobs",
            {200: ok("The job, now `cancelled`.", "JobOut")}, errors=(400, 404, 409),
            params=[JOB_ID])},
        "/v1/jobs/{job_id}/retry": {"post": retry_operation()},
    }


def retry_operation() -> Json:
    """The body is optional: without it (or with ``{}``) the contract's retry."""
    op = operation(
        "retryJob", "Run a failed, cancelled or expired job again", "jobs",
        {202: ok("The job, queued again under the same id.", "JobOut",
                 status_headers=("Location",))},
        errors=(400, 404, 409, 422), params=[JOB_ID], body="RetryRequest",
        body_example={"only": "failed"},
        description="422 when the job's documents already expired. With `{\"only\": "
                    "\"failed\"}` only the rows that did not complete run again (completed "
                    "rows stay byte-identical) and a `completed` job with failed rows is "
                    "accepted too; 409 when it has no failed rows. Without a body, 409 for a "
                    "completed job as before.")
    op["requestBody"]["required"] = False
    return op


def status_paths() -> Json:
    ctl = ("ETag", "X-Poll-After")
    return {
        "/v1/jobs/{job_id}/status": {"get": operation(
            "getJobStatus", "Minimal status for polling", "status",
            {200: ok("The status payload.", "JobStatusOut", status_headers=ctl),
             304: {"description": ERROR_TEXT[304],
                   "headers": _headers(_rate_headers(True) + ctl)}},
            errors=(400, 404), params=[
                JOB_ID,
                query_param("wait", {"type": "number", "minimum": 0, "maximum": 60},
                            "Long poll: wait up to this many seconds for a version above "
                            "`version`."),
                query_param("version", {"type": "integer", "minimum": 0},
                            "Long poll: the version the client already has."),
                header_param("If-None-Match", TEXT, "An ETag from an earlier answer."),
            ])},
        "/v1/jobs/status": {"get": operation(
            "bulkJobStatus", "Status of up to 100 jobs", "status",
            {200: ok("Found jobs in the order asked; unknown or foreign ids in `missing`.",
                     "StatusList")},
            errors=(400,), params=[query_param(
                "ids", {"type": "string", "pattern": f"^{UUID_RE}(?:,{UUID_RE}){{0,99}}$"},
                "1 to 100 comma-separated job ids.", required=True)])},
        "/v1/jobs/{job_id}/events": {"get": operation(
            "jobEvents", "Server-sent events for one job", "status",
            {200: ok("A `text/event-stream`: an event `status` with the status payload "
                     "(`JobStatusOut`) on connect and on every change, `id` = version; "
                     "closes after the terminal event. With `rows=true` also an event `row` "
                     "(a `ResultRow` with `rerun`) per finished row, before the status of "
                     "the version that recorded it; every `id` is then a results cursor.",
                     content={"text/event-stream": {"schema": SSE_EVENT}})},
            errors=(400, 404), params=[
                JOB_ID,
                header_param("Last-Event-ID", TEXT, "Resume after this version (with "
                             "`rows=true`: after this results cursor)."),
                query_param("rows", {"type": "string", "enum": BOOL_WORDS,
                                     "default": "false"},
                            "Add `row` events for finished rows."),
                query_param("after", TEXT, "With `rows=true`: start after this results "
                                           "cursor (400 if malformed or another job's)."),
            ])},
    }


def results_paths() -> Json:
    content = {
        "application/json": {"schema": {"anyOf": [
            {"$ref": REF.format(model="Results")},
            {"$ref": REF.format(model="ResultsPage")}]}},
        "text/csv": {"schema": TEXT},
        "application/x-ndjson": {"schema": TEXT},
    }
    return {"/v1/jobs/{job_id}/results": {"get": operation(
        "getJobResults", "The grid (partial while running)", "results",
        {200: ok("JSON by default; `format=csv` or `format=jsonl` for the other media types. "
                 "With `limit` or `after`: a `ResultsPage` of finished rows (JSON Lines: the "
                 "rows, with `X-Next-Cursor`, `X-Has-More` and `X-Job-Status` headers).",
                 content=content)},
        errors=(400, 404), params=[
            JOB_ID,
            query_param("format", {"type": "string", "enum": ["json", "csv", "jsonl"],
                                   "default": "json"}, "The body's format."),
            query_param("detail", {"type": "string", "enum": BOOL_WORDS, "default": "false"},
                        "Add, per cell, where the value was found and the required fields "
                        "left empty (JSON, JSON Lines); CSV: a confidence column per field "
                        "and error and review columns."),
            query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                        "A page of at most this many finished rows, in completion order "
                        "(default 100 with `after`). Not with `format=csv`."),
            query_param("after", TEXT, "Rows finished after this cursor (`next_cursor` of "
                                       "an earlier page); 400 if malformed or another job's."),
        ],
        description="404 also once the job's data expired. Rows of a cancelled job that never "
                    "ran read `cancelled`. CSV cells that a spreadsheet would run as a "
                    "formula start with `'`.")}}


def webhook_paths() -> Json:
    return {
        "/v1/webhooks": {
            "post": operation(
                "createWebhook", "Register a webhook", "webhooks",
                {201: ok("The webhook with its secret (shown only here).", "WebhookCreated",
                         status_headers=("Location",),
                         follow=links("webhook_id", "getWebhook", "listDeliveries",
                                      "deleteWebhook"))},
                errors=(400, 413, 422), body="WebhookCreate",
                body_example=WEBHOOK_BODY_EXAMPLE),
            "get": operation("listWebhooks", "This organization's webhooks", "webhooks",
                             {200: ok("All of them.", "WebhookList")}),
        },
        "/v1/webhooks/{webhook_id}": {
            "get": operation("getWebhook", "One webhook", "webhooks",
                             {200: ok("The webhook.", "WebhookOut")}, errors=(404,),
                             params=[WEBHOOK_ID]),
            "delete": operation("deleteWebhook", "Delete a webhook", "webhooks",
                                {200: ok("Deleted.", "WebhookDeleted")}, errors=(404,),
                                params=[WEBHOOK_ID]),
        },
        "/v1/webhooks/{webhook_id}/deliveries": {"get": operation(
            "listDeliveries", "Recent deliveries and their attempts", "webhooks",
            {200: ok("Newest first.", "DeliveryList")}, errors=(404,), params=[WEBHOOK_ID])},
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}": {"get": operation(
            "getDelivery", "One delivery and its attempts", "webhooks",
            {200: ok("The delivery.", "DeliveryOut")}, errors=(404,),
            params=[WEBHOOK_ID, DELIVERY_ID],
            description="404 for an unknown or expired delivery, one of another webhook, or "
                        "another organization's.")},
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {"post": operation(
            "redeliverDelivery", "Send a past delivery again", "webhooks",
            {202: ok("The new delivery: a new id, the same event id and body, `redelivery_of` "
                     "the original; sent within about a second and retried on the usual "
                     "schedule.", "DeliveryOut", status_headers=("Location",))},
            errors=(404, 409), params=[WEBHOOK_ID, DELIVERY_ID],
            description="No request body. 404 for an unknown or expired delivery, one of "
                        "another webhook, or another organization's; 409 `conflict` while the "
                        "delivery is still pending (redeliver once it succeeded or failed). "
                        "Counted by the rate limit like every `/v1` request.")},
    }


def schema_paths() -> Json:
    return {
        "/v1/schemas": {
            "post": operation(
                "createSchema", "Store an extraction schema", "schemas",
                {201: ok("The stored schema (version 1).", "SchemaOut",
                         status_headers=("Location",),
                         follow=links("schema_id", "getSchema", "updateSchema",
                                      "deleteSchema"))},
                errors=(400, 413, 422), body="SchemaIn", body_example=SCHEMA_BODY_EXAMPLE,
                description="422 once the organization stores `JOBGRID_MAX_SCHEMAS_PER_ORG` "
                            "(default 100) schemas."),
            "get": operation(
                "listSchemas", "The organization's stored schemas", "schemas",
                {200: ok("One page, oldest first.", "SchemaList")},
                errors=(400,), params=[
                    query_param("limit", {"type": "integer", "minimum": 1, "maximum": 100,
                                          "default": 20}, "Page size."),
                    query_param("cursor", TEXT, "`next_cursor` of the previous page, "
                                "unchanged."),
                ]),
        },
        "/v1/schemas/{schema_id}": {
            "get": operation(
                "getSchema", "A stored schema", "schemas",
                {200: ok("The schema.", "SchemaOut")}, errors=(404,), params=[SCHEMA_ID]),
            "put": operation(
                "updateSchema", "Store a new version of a schema", "schemas",
                {200: ok("The new version: same id, `version` + 1.", "SchemaOut")},
                errors=(400, 404, 409, 413, 422), params=[SCHEMA_ID], body="SchemaIn",
                body_example=SCHEMA_BODY_EXAMPLE,
                description="Jobs already submitted keep the fields they were submitted "
                            "with."),
            "delete": operation(
                "deleteSchema", "Delete a stored schema", "schemas",
                {200: ok("Deleted.", "SchemaDeleted")}, errors=(404,), params=[SCHEMA_ID],
                description="Jobs submitted with it keep their copy; new submissions naming "
                            "it get 422."),
        },
    }


def ops_paths() -> Json:
    health = ok("The process serves requests.", "Health", v1=False)
    return {
        "/healthz": {"get": operation("healthz", "Liveness", "operations", {200: health},
                                      public=True)},
        "/readyz": {"get": operation("readyz", "Readiness (Redis answers)", "operations",
                                     {200: ok("Redis answers.", "Health", v1=False)},
                                     errors=(503,), public=True)},
        "/metrics": {"get": operation(
            "metrics", "Prometheus metrics", "operations",
            {200: ok("Prometheus text (or OpenMetrics when asked by `Accept`).", v1=False,
                     content={"text/plain": {"schema": TEXT},
                              "application/openmetrics-text": {"schema": TEXT}})},
            errors=(503,), public=True,
            description="No API key: restrict it at the proxy (docs/operations.md).")},
        "/openapi.json": {"get": operation(
            "openapi", "This document", "operations",
            {200: ok("OpenAPI 3.1.", v1=False,
                     content={"application/json": {"schema": {"type": "object"}}})},
            public=True)},
    }


def webhook_events() -> Json:
    """Outgoing deliveries, as OpenAPI 3.1 ``webhooks``."""
    out: Json = {}
    for event in wh.EVENTS:
        out[event] = {"post": {
            "summary": f"`{event}` delivered to a registered URL",
            "description": "Headers `Jobgrid-Event`, `Jobgrid-Delivery-Id` (same on every "
                           "retry) and `Jobgrid-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "
                           "\"t.body\">` keyed with the whole `secret`; also the Standard "
                           "Webhooks headers `webhook-id` (the event id), `webhook-timestamp` "
                           "and `webhook-signature: v1,<base64 HMAC-SHA256 of "
                           "\"id.timestamp.body\">` keyed with the bytes of "
                           "`standard_webhooks_secret`. A non-2xx answer or a 10 s timeout "
                           "is retried.",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": REF.format(model="WebhookEvent")}}}},
            "responses": {"2XX": {"description": "Received."}},
        }}
    return out


# -------------------------------------------------------------------------- document
@cache
def _build() -> Json:
    paths: Json = {}
    for part in (job_paths(), status_paths(), results_paths(), webhook_paths(),
                 schema_paths(), ops_paths()):
        paths.update(part)
    return {
        "openapi": "3.1.0",
        "info": {"title": "jobgrid API", "version": "1.0.0",
                 "description": "Submit document batches, follow them, read the grid. The "
                                "contract is docs/contract.md; docs/api.md and "
                                "docs/operations.md describe the details."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"ApiKeyHeader": []}, {"BearerAuth": []}, {"AccessToken": []}],
        "tags": [{"name": t} for t in ("jobs", "status", "results", "webhooks", "schemas",
                                       "operations")],
        "paths": paths,
        "webhooks": webhook_events(),
        "components": {"schemas": component_schemas(), "securitySchemes": security_schemes(),
                       "headers": component_headers(), "responses": component_responses()},
    }


def document() -> Json:
    """The document (a copy: callers may not change the cached one)."""
    return copy.deepcopy(_build())


@cache
def document_json() -> bytes:
    """The document serialized once per process: it never changes while the process runs."""
    return orjson.dumps(_build())

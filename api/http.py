"""Small request/response helpers shared by the views: orjson bodies, id and body parsing.

orjson instead of Flask's json provider because the status hot path serializes on every
poll and orjson is several times faster; every JSON body in the API goes through here so
the output format is the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from flask import Request, Response, request
from pydantic import BaseModel, ValidationError

from shared.errors import PayloadTooLarge, ValidationFailed

JSON_MIMETYPE = "application/json"
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no", ""})
_MAX_REPORTED_ERRORS = 3
_CHUNK = 64 * 1024

M = TypeVar("M", bound=BaseModel)


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response serialized with orjson."""
    return Response(orjson.dumps(payload), status=status, headers=dict(headers or {}),
                    mimetype=JSON_MIMETYPE)


def is_job_id(value: str) -> bool:
    """True for the canonical 8-4-4-4-12 hex form (job ids are uuid4 strings)."""
    return bool(_UUID_RE.match(value))


def parse_job_id(value: str) -> str:
    """The job id in canonical lower case, or 400: a malformed id can never name a job."""
    if not is_job_id(value):
        raise ValidationFailed(f"job id '{value[:80]}' is not a UUID")
    return value.lower()


def read_body(req: Request, max_bytes: int) -> bytes:
    """The raw body, refusing an oversized one from its Content-Length before reading it.

    A chunked body has no Content-Length: it is read in pieces and refused (413) as soon as
    it passes the limit, so a client cannot make the process buffer more than the limit.
    """
    length = req.content_length
    if length is not None:
        if length > max_bytes:
            raise PayloadTooLarge(f"the request body is {length} bytes; the limit is {max_bytes}")
        return req.get_data(cache=False)
    if not req.environ.get("wsgi.input_terminated"):
        return req.get_data(cache=False)  # server without chunked support: werkzeug's rules
    stream = req.environ["wsgi.input"]
    body = bytearray()
    while chunk := stream.read(_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"the request body is above the limit of {max_bytes} bytes")
    return bytes(body)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body decoded as a JSON object, or 400 naming what is wrong with it."""
    if not raw.strip():
        raise ValidationFailed("the request body is empty; send a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ValidationFailed(f"the request body is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ValidationFailed("the request body must be a JSON object")
    return data


def validation_message(err: ValidationError) -> str:
    """A human sentence naming the field path of each problem, e.g. ``documents.0.filename``."""
    parts = []
    for item in err.errors()[:_MAX_REPORTED_ERRORS]:
        path = ".".join(str(p) for p in item["loc"]) or "body"
        msg = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{path}: {msg}")
    extra = err.error_count() - len(parts)
    more = f" (and {extra} more)" if extra > 0 else ""
    return "; ".join(parts) + more


def validate_model(model: type[M], data: dict[str, Any]) -> M:
    """``model`` validated from ``data``, or 400 with the field paths that failed."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ValidationFailed(validation_message(e)) from e


def json_body(model: type[M], max_bytes: int) -> tuple[M, dict[str, Any]]:
    """Reads, decodes and validates the current request's body; returns model and raw dict."""
    data = parse_json_object(read_body(request, max_bytes))
    return validate_model(model, data), data


def query_flag(name: str, default: bool = False) -> bool:
    """A boolean query parameter (true/false/1/0/yes/no), or 400 for anything else."""
    raw = request.args.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationFailed(f"query parameter '{name}' must be true or false")

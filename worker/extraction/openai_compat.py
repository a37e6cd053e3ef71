"""Extractor backed by any OpenAI-compatible ``/chat/completions`` endpoint (stdlib only).

The model is asked for every field at once through a strict JSON schema whose properties are
all ``string | null``: it copies values as written, and *our* type parsers decide what they
mean, exactly as for the built-in extractor. A value that does not validate leaves the cell
empty, so a hallucinated "N/A" or a malformed date never fills a cell.

Errors: a timeout is ``extractor_timeout``; connection failures, 429 and 5xx are
``extractor_unavailable`` (both :class:`TransientExtractorError`, the pipeline retries);
other 4xx answers are ``extractor_rejected`` and unreadable answers ``extractor_bad_response``
(:class:`PermanentExtractorError`).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from shared.models import FieldSpec
from shared.settings import Settings
from shared.status import FieldType
from worker.extraction.cell import Cell
from worker.extraction.document import ParsedDocument
from worker.extraction.errors import PermanentExtractorError, TransientExtractorError
from worker.extraction.lexicon import enum_from_phrase
from worker.extraction.types import LENIENT, parse_scored, typed_text

MAX_DOCUMENT_CHARS = 120_000
"""Text sent to the model is cut here (about 30k tokens); labels are usually near the top."""
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
FOUND_IN_TEXT, NOT_FOUND_IN_TEXT = 0.85, 0.6
"""Confidence of a valid value that appears verbatim in the document, and of one that doesn't."""

SYSTEM_PROMPT = (
    "You extract fields from a business document. For every field return the value exactly "
    "as it is written in the document (keep currency symbols, date formats and thousands "
    "separators), or null when the document does not state it. Never guess or compute values."
)
_TYPE_HINTS: dict[FieldType, str] = {
    FieldType.STRING: "text",
    FieldType.NUMBER: "a number",
    FieldType.INTEGER: "a whole number",
    FieldType.BOOLEAN: "yes/no",
    FieldType.DATE: "a date",
    FieldType.EMAIL: "an e-mail address",
    FieldType.CURRENCY: "an amount with its currency symbol or code",
    FieldType.ENUM: "one of the allowed values",
}


def _describe(field: FieldSpec) -> str:
    parts = [f"Type: {_TYPE_HINTS[field.type]}."]
    if field.description:
        parts.insert(0, field.description.strip())
    if field.aliases:
        parts.append("Also labelled: " + ", ".join(field.aliases) + ".")
    if field.values:
        parts.append("Allowed values: " + ", ".join(field.values) + ".")
    for value, words in (field.value_aliases or {}).items():
        parts.append(f"{value} is also written: " + ", ".join(words) + ".")
    return " ".join(parts)


def response_format(fields: Sequence[FieldSpec]) -> dict[str, Any]:
    """The ``response_format`` asking for one nullable string per field."""
    properties = {
        f.name: {"type": ["string", "null"], "description": _describe(f)} for f in fields
    }
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "extraction",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": properties,
                "required": [f.name for f in fields],
                "additionalProperties": False,
            },
        },
    }


def build_request(model: str, doc: ParsedDocument, fields: Sequence[FieldSpec]) -> dict[str, Any]:
    return {
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "Document:\n" + doc.text[:MAX_DOCUMENT_CHARS]},
        ],
        "response_format": response_format(fields),
    }


def parse_answer(body: bytes) -> dict[str, Any]:
    """The field/value object from a chat completion body, or ``extractor_bad_response``."""
    try:
        answer = json.loads(body)
        message = answer["choices"][0]["message"]
        if message.get("refusal"):
            raise PermanentExtractorError("extractor_rejected", "the model refused the request")
        content = message["content"]
        values = json.loads(content) if isinstance(content, str) else content
    except PermanentExtractorError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise PermanentExtractorError(
            "extractor_bad_response", f"the extractor's answer is not the expected JSON: {e}"
        ) from e
    if not isinstance(values, dict):
        raise PermanentExtractorError("extractor_bad_response", "the answer is not a JSON object")
    return values


def _is_money(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"amount", "currency"}


def _raw(value: Any) -> str | None:
    """The model's value as the string our parsers read (models sometimes send numbers)."""
    if _is_money(value):
        return f"{value['amount']} {value['currency']}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return typed_text(value)
    return None


def _locate(doc: ParsedDocument, raw: str) -> tuple[int, str] | None:
    needle = raw.strip().casefold()
    if not needle:
        return None
    for number, line in enumerate(doc.lines, start=1):
        if needle in line.casefold():
            return number, line
    return None


def to_cell(field: FieldSpec, value: Any, doc: ParsedDocument) -> Cell:
    raw = _raw(value)
    scored = parse_scored(field, raw) if raw is not None else None
    if raw is not None and scored is None and field.type is FieldType.ENUM and len(raw) <= 80:
        # ``Visa`` for ``card``: the lexicon's phrasings and the schema's value aliases
        named = enum_from_phrase(raw, field.values or [], field.value_aliases or {})
        scored = None if named is None else (named, LENIENT)
    if raw is None or scored is None:
        return Cell.empty()
    where = _locate(doc, raw)
    base = FOUND_IN_TEXT if where else NOT_FOUND_IN_TEXT
    return Cell(
        value=scored[0],
        confidence=round(base * scored[1], 4),
        line=where[0] if where else None,
        text=where[1] if where else None,
        raw=raw,
    )


class OpenAICompatExtractor:
    """Sends the parsed text to ``{base_url}/chat/completions`` and type-checks the answer."""

    name = "openai"

    def __init__(
        self, *, base_url: str, model: str, api_key: str | None, timeout: float
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatExtractor:
        return cls(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            timeout=settings.openai_timeout_seconds,
        )

    def extract(self, doc: ParsedDocument, fields: Sequence[FieldSpec]) -> dict[str, Cell]:
        if not fields:
            return {}
        values = parse_answer(self._post(build_request(self.model, doc, fields)))
        return {f.name: to_cell(f, values.get(f.name), doc) for f in fields}

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        elif urlparse(self.url).hostname == "api.openai.com":
            raise PermanentExtractorError(
                "extractor_misconfigured", "JOBGRID_OPENAI_API_KEY is not set"
            )
        return headers

    def _post(self, payload: dict[str, Any]) -> bytes:
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode(), headers=self._headers(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as e:
            with e:
                raise _http_error(e.code, e.headers.get("Retry-After")) from e
        except TimeoutError as e:
            raise _timeout(self.timeout) from e
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError):
                raise _timeout(self.timeout) from e
            raise TransientExtractorError(
                "extractor_unavailable", f"cannot reach the extractor: {e.reason}"
            ) from e
        except (http.client.HTTPException, OSError) as e:
            raise TransientExtractorError(
                "extractor_unavailable", f"the extractor connection failed: {e}"
            ) from e
        if len(body) > MAX_RESPONSE_BYTES:
            raise PermanentExtractorError("extractor_bad_response", "the answer is too large")
        return body


def _timeout(seconds: float) -> TransientExtractorError:
    return TransientExtractorError(
        "extractor_timeout", f"the extractor did not answer within {seconds:g} s"
    )


def _http_error(status: int, retry_after: str | None) -> Exception:
    if status == 408:
        return TransientExtractorError("extractor_timeout", "the extractor timed out (HTTP 408)")
    if status == 429 or status >= 500:
        hint = f"; retry after {retry_after} s" if retry_after else ""
        return TransientExtractorError(
            "extractor_unavailable", f"the extractor answered HTTP {status}{hint}"
        )
    return PermanentExtractorError("extractor_rejected", f"the extractor answered HTTP {status}")

"""The OpenAI-compatible extractor against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared.models import FieldSpec
from shared.settings import Settings
from shared.status import FieldType
from worker.extraction import (
    ParsedDocument,
    PermanentExtractorError,
    TransientExtractorError,
)
from worker.extraction.openai_compat import OpenAICompatExtractor, response_format

DOC = ParsedDocument(
    text="ACME Corp\nInvoice No: INV-7\nDate: 14 September 2024\nTotal: $1,234.50", kind="text"
)
FIELDS = [
    FieldSpec(name="invoice_number", aliases=["Invoice No"]),
    FieldSpec(name="invoice_date", type=FieldType.DATE),
    FieldSpec(name="total", type=FieldType.CURRENCY),
    FieldSpec(name="paid", type=FieldType.BOOLEAN),
    FieldSpec(name="method", type=FieldType.ENUM, values=["card", "cash"]),
]

Reply = tuple[int, dict[str, str], bytes]


def completion(values: dict[str, Any]) -> Reply:
    body = {"choices": [{"message": {"role": "assistant", "content": json.dumps(values)}}]}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@dataclass
class FakeServer:
    reply: Callable[[], Reply] = lambda: completion({})
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
            state.headers.append(dict(self.headers))
            time.sleep(state.delay)
            status, headers, body = state.reply()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def extractor(server: FakeServer, timeout: float = 5.0) -> OpenAICompatExtractor:
    return OpenAICompatExtractor(
        base_url=server.url, model="test-model", api_key="sk-test", timeout=timeout
    )


def test_success_parses_every_value_with_our_type_rules(server: FakeServer) -> None:
    server.reply = lambda: completion({
        "invoice_number": "INV-7", "invoice_date": "14 September 2024",
        "total": "$1,234.50", "paid": None, "method": "Card"})
    cells = extractor(server).extract(DOC, FIELDS)
    assert {k: c.value for k, c in cells.items()} == {
        "invoice_number": "INV-7", "invoice_date": "2024-09-14",
        "total": {"amount": 1234.5, "currency": "USD"}, "paid": None, "method": "card"}
    assert cells["invoice_number"].line == 2 and cells["invoice_number"].text == "Invoice No: INV-7"
    assert 0.0 < cells["total"].confidence <= 1.0 and cells["paid"].confidence == 0.0
    # values found verbatim in the document are trusted more than ones that are not
    assert cells["invoice_number"].confidence > cells["method"].confidence


def test_request_shape(server: FakeServer) -> None:
    extractor(server).extract(DOC, FIELDS)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["model"] == "test-model"
    assert "Invoice No: INV-7" in body["messages"][-1]["content"]
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert schema["required"] == [f.name for f in FIELDS]
    assert schema["additionalProperties"] is False
    assert "card, cash" in schema["properties"]["method"]["description"]
    assert server.headers[0]["Authorization"] == "Bearer sk-test"


def test_invalid_values_leave_cells_empty(server: FakeServer) -> None:
    server.reply = lambda: completion({
        "invoice_number": "", "invoice_date": "2024-02-30", "total": "1234.50",
        "paid": "maybe", "method": "bitcoin"})
    cells = extractor(server).extract(DOC, FIELDS)
    assert all(cell.value is None and cell.confidence == 0.0 for cell in cells.values())


def test_non_string_values_are_read_too(server: FakeServer) -> None:
    server.reply = lambda: completion({
        "paid": True, "total": {"amount": 5, "currency": "EUR"}, "invoice_number": 42,
        "method": ["card"]})
    cells = extractor(server).extract(DOC, FIELDS)
    assert cells["paid"].value is True
    assert cells["total"].value == {"amount": 5.0, "currency": "EUR"}
    assert cells["invoice_number"].value == "42"
    assert cells["method"].value is None  # a list is not a value


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_are_transient(server: FakeServer, status: int) -> None:
    server.reply = lambda: (status, {"Retry-After": "3"}, b'{"error": "busy"}')
    with pytest.raises(TransientExtractorError) as info:
        extractor(server).extract(DOC, FIELDS)
    assert info.value.code == "extractor_unavailable" and info.value.retryable
    assert str(status) in info.value.message


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_permanent(server: FakeServer, status: int) -> None:
    server.reply = lambda: (status, {}, b'{"error": {"message": "bad request"}}')
    with pytest.raises(PermanentExtractorError) as info:
        extractor(server).extract(DOC, FIELDS)
    assert info.value.code == "extractor_rejected" and not info.value.retryable


def test_timeout_is_transient_extractor_timeout(server: FakeServer) -> None:
    server.delay = 1.0
    started = time.monotonic()
    with pytest.raises(TransientExtractorError) as info:
        extractor(server, timeout=0.2).extract(DOC, FIELDS)
    assert info.value.code == "extractor_timeout"
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"choices": []}', b'{"choices": [{"message": {"content": "nope"}}]}',
     b'{"choices": [{"message": {"content": "[1, 2]"}}]}'],
)
def test_unreadable_answers_are_permanent(server: FakeServer, body: bytes) -> None:
    server.reply = lambda: (200, {"Content-Type": "application/json"}, body)
    with pytest.raises(PermanentExtractorError) as info:
        extractor(server).extract(DOC, FIELDS)
    assert info.value.code == "extractor_bad_response"


def test_refusal_is_permanent(server: FakeServer) -> None:
    body = {"choices": [{"message": {"content": None, "refusal": "I can't help with that"}}]}
    server.reply = lambda: (200, {}, json.dumps(body).encode())
    with pytest.raises(PermanentExtractorError, match="refused"):
        extractor(server).extract(DOC, FIELDS)


def test_connection_refused_is_transient() -> None:
    import socket

    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = OpenAICompatExtractor(base_url=f"http://127.0.0.1:{port}/v1", model="m",
                                 api_key=None, timeout=2)
    with pytest.raises(TransientExtractorError) as info:
        dead.extract(DOC, FIELDS)
    assert info.value.code == "extractor_unavailable"


def test_from_settings_and_missing_key_for_openai() -> None:
    settings = Settings(openai_base_url="https://api.openai.com/v1/", openai_model="m",
                        openai_api_key=None, openai_timeout_seconds=7)
    built = OpenAICompatExtractor.from_settings(settings)
    assert built.url == "https://api.openai.com/v1/chat/completions" and built.timeout == 7
    with pytest.raises(PermanentExtractorError) as info:
        built.extract(DOC, FIELDS)  # refused before any network call
    assert info.value.code == "extractor_misconfigured"


def test_no_fields_means_no_call(server: FakeServer) -> None:
    assert extractor(server).extract(DOC, []) == {}
    assert server.requests == []


def test_response_format_is_strict_json_schema() -> None:
    fmt = response_format(FIELDS)
    props = fmt["json_schema"]["schema"]["properties"]
    assert fmt["json_schema"]["strict"] is True
    assert all(p["type"] == ["string", "null"] for p in props.values())
    assert "Also labelled: Invoice No." in props["invoice_number"]["description"]


def test_enum_answers_worded_as_people_write_them(server: FakeServer) -> None:
    """``Visa`` is a card through the lexicon; a schema's value aliases are sent and read."""
    method = FieldSpec(name="method", type=FieldType.ENUM, values=["card", "cash", "wire"],
                       value_aliases={"wire": ["Überweisung"]})
    server.reply = lambda: completion({"method": "Visa ending 4411"})
    assert extractor(server).extract(DOC, [method])["method"].value == "card"
    server.reply = lambda: completion({"method": "Überweisung"})
    assert extractor(server).extract(DOC, [method])["method"].value == "wire"
    described = response_format([method])["json_schema"]["schema"]["properties"]["method"]
    assert "wire is also written: Überweisung." in described["description"]

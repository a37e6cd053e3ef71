"""A document that parses for a very long time (issue: hostile input, item 2).

A tiny PDF whose content stream is one long run of text operators keeps pypdf busy for
tens of seconds (about 0.1 ms per operator on the test machine). Parsing happens in the
document's own extract task, so it runs under the per-document soft time limit, a cancel
stops it, and one attempt parses it once.
"""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from support.env import SettingsEnv
from support.payloads import invoice_text, job_body
from support.servers import ApiServer, WorkerProcess

from faults.helpers import fault_stack, faulty_env, status, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def slow_pdf(operators: int = 300_000) -> bytes:
    """A valid one-page PDF of ``operators`` ``(a) Tj`` text operators (a few KB)."""
    ops = b"BT /F1 1 Tf " + b"(a) Tj " * operators + b"ET"
    stream = zlib.compress(ops)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
            + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1,
                                                                              xref)
    return out


def _with_slow_pdf(n_text: int) -> dict[str, Any]:
    body = job_body(n_text)
    body["documents"].insert(0, {"filename": "slow.pdf", "mime_type": "application/pdf",
                                 "content_base64": base64.b64encode(slow_pdf()).decode()})
    return body


def test_a_slow_parse_ends_at_the_document_time_limit_and_runs_once(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    stack = fault_stack(make_settings, start_api, worker_process, worker_env=faulty_env(),
                        document_soft_time_limit=2)
    stack.start_worker()
    client = stack.client
    started = time.monotonic()
    job_id = client.submit(_with_slow_pdf(3))["id"]
    final = client.wait_status(job_id, timeout=60)
    took = time.monotonic() - started
    assert final["status"] == "completed", final
    assert final["completed_documents"] == 3
    rows = client.get(f"/v1/jobs/{job_id}/results").json()["rows"]
    assert rows[0]["status"] == "failed" and rows[0]["error"]["code"] == "document_timeout"
    assert [r["status"] for r in rows[1:]] == ["completed"] * 3
    # one attempt, one parse: no redelivery, no second run counted as a lost worker
    assert final["attempt_count"] == 1 and final["last_failure_code"] is None, final
    assert took < 20, took  # the parse alone would take about 30 s


def test_cancel_stops_a_document_while_it_parses(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
) -> None:
    """One pool process: while it parses the slow PDF nothing else runs. After the cancel,
    another job runs at once instead of waiting for the parse to end."""
    stack = fault_stack(make_settings, start_api, worker_process, worker_env=faulty_env(),
                        concurrency=1)
    worker = stack.start_worker()
    client = stack.client
    slow = client.submit(_with_slow_pdf(0))["id"]
    wait_until(lambda: status(client, slow)["current_phase"] == "phase_2_execute", 30,
               "the slow document starting")
    time.sleep(1.0)  # well inside its parse
    resp = client.post(f"/v1/jobs/{slow}/cancel")
    assert resp.status_code == 200, resp.text
    cancelled = time.monotonic()
    other = client.submit(job_body(1, texts=[invoice_text(7)]))["id"]
    final = client.wait_status(other, timeout=30)
    waited = time.monotonic() - cancelled
    assert final["status"] == "completed", final
    assert waited < 10, waited  # the parse had about 30 s to go
    assert "stopped by cancel" in worker.log_text()
    assert status(client, slow)["status"] == "cancelled"

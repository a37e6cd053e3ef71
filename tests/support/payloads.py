"""Small, valid request bodies for ``POST /v1/jobs``, so tests state only what they vary."""

from __future__ import annotations

import copy
from typing import Any

INVOICE_FIELDS: list[dict[str, Any]] = [
    {"name": "invoice_number", "type": "string", "aliases": ["Invoice No", "Invoice #"]},
    {"name": "total", "type": "number", "aliases": ["Total", "Amount due"]},
    {"name": "issue_date", "type": "date", "aliases": ["Date", "Issue date"]},
]


def invoice_text(i: int) -> str:
    """A tiny invoice whose three fields the builtin extractor should find."""
    return (
        f"ACME Corp\nInvoice No: INV-{1000 + i}\nDate: 2024-09-{(i % 28) + 1:02d}\n"
        f"Total: {100 + i}.50\n"
    )


def job_body(
    n_docs: int = 3,
    *,
    fields: list[dict[str, Any]] | None = None,
    name: str = "test batch",
    priority: str = "normal",
    metadata: dict[str, str] | None = None,
    texts: list[str] | None = None,
) -> dict[str, Any]:
    """A job of ``n_docs`` text invoices (or the given ``texts``) and a 3-field schema."""
    docs = texts if texts is not None else [invoice_text(i) for i in range(n_docs)]
    return {
        "name": name,
        # a fresh copy every call: a test that edits its body must not change the next one's
        "schema": {"name": "Invoice", "fields": copy.deepcopy(fields or INVOICE_FIELDS)},
        "documents": [
            {"filename": f"doc{i}.txt", "mime_type": "text/plain", "text": t}
            for i, t in enumerate(docs)
        ],
        "metadata": metadata or {"suite": "pytest"},
        "priority": priority,
    }

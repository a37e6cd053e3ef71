"""Rich rendering for the CLI: the live progress view, the result grid and small tables.

Kept apart from the commands so the commands stay about HTTP and exit codes, and so the
rendering can be tested by printing into a string console.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

JSON = dict[str, Any]

#: How an empty cell (no value that validates against the field's type) is shown.
EMPTY_MARK = "∅"

_STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "expired": "magenta",
    "in_progress": "cyan",
    "queued": "blue",
    "validating": "blue",
    "pending": "dim",
}


def status_text(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def _stats(status: JSON) -> tuple[int, int]:
    grid = status.get("grid_stats") or {}
    return int(grid.get("filled") or 0), int(grid.get("total_cells") or 0)


def grid_stats_line(grid: JSON) -> str:
    total = int(grid.get("total_cells") or 0)
    filled = int(grid.get("filled") or 0)
    empty = int(grid.get("empty") or (total - filled))
    rate = float(grid.get("fill_rate") or (filled / total if total else 0.0))
    return f"{total} cells: {filled} filled, {empty} empty ({rate:.1%} fill rate)"


def phase_text(status: JSON) -> str:
    """The phase, and what a job that stopped moving waits for: the server decides that
    (``waiting_for``, ``rescue`` or ``workers``); the CLI only shows it."""
    phase = str(status.get("current_phase") or "-")
    waiting = status.get("waiting_for")
    return f"{phase} (waiting for {waiting})" if waiting else phase


class ProgressView:
    """Live view of a job: a bar (share of cells processed), documents, cells filled, phase.

    On a terminal it is a rich progress bar; elsewhere (CI logs, pipes) it prints one line
    whenever the status or phase changes, so logs stay readable.
    """

    def __init__(self, console: Console, job_id: str) -> None:
        self.console = console
        self.job_id = job_id
        self._live = console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_line: tuple[str, str] | None = None

    def __enter__(self) -> ProgressView:
        if self._live:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("docs {task.fields[docs]}"),
                TextColumn("cells filled {task.fields[cells]}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "submitted", total=100, docs="-", cells="-"
            )
        return self

    def update(self, status: JSON) -> None:
        phase = phase_text(status)
        state = str(status.get("status") or "?")
        docs = f"{status.get('completed_documents', 0)}/{status.get('document_count', 0)}"
        filled, total = _stats(status)
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                completed=int(status.get("progress") or 0),
                description=f"{state} · {phase}",
                docs=docs,
                cells=f"{filled}/{total}",
            )
            return
        if (state, phase) != self._last_line:
            self._last_line = (state, phase)
            self.console.print(
                f"{self.job_id}: {state} {phase} progress {status.get('progress', 0)}% "
                f"docs {docs} cells filled {filled}/{total}"
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


#: ISO 4217 minor units of the currencies that do not use two decimals.
CURRENCY_DECIMALS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def format_money(amount: Any, currency: Any) -> str:
    """``351.5`` USD reads ``351.50 USD``, JPY ``1200 JPY``, KWD ``12.500 KWD``: the
    currency's own number of decimals (two when the currency is unknown or missing)."""
    code = str(currency or "").strip().upper()
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return f"{amount} {code}".strip()
    return f"{amount:.{CURRENCY_DECIMALS.get(code, 2)}f} {code}".strip()


def format_value(value: Any) -> str:
    """A cell value as short text: currency objects read ``351.54 USD``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        if "amount" in value and len(value) <= 2:
            return format_money(value["amount"], value.get("currency"))
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cell(value: Any, confidence: Any = None) -> Text:
    """A value (``∅`` when empty); with ``confidence`` (``--detail``) its score after it."""
    if value is None or value == "":
        return Text(EMPTY_MARK, style="bold red")
    text = Text(format_value(value))
    if isinstance(confidence, int | float):
        text.append(f" ({confidence:.2f})", style="dim")
    return text


def field_names(results: JSON) -> list[str]:
    schema = results.get("schema") or {}
    names = [str(f.get("name")) for f in schema.get("fields") or [] if isinstance(f, dict)]
    if names:
        return names
    seen: dict[str, None] = {}
    for row in results.get("rows") or []:
        for name in row.get("values") or {}:
            seen.setdefault(name, None)
    return list(seen)


def _row_label(row: JSON, detail: bool = False) -> Text:
    """The file name; a row that did not complete says so (and why), with ``detail`` the
    error message and the required fields left empty too."""
    doc = row.get("document") or {}
    label = Text(str(doc.get("filename", "")))
    state = str(row.get("status") or "?")
    error = row.get("error")
    if state != "completed":
        why = f": {error['code']}" if isinstance(error, dict) and error.get("code") else ""
        label.append(f" [{state}{why}]", style=_STATUS_STYLE.get(state, ""))
    if detail and isinstance(error, dict) and error.get("message"):
        label.append(f" {error['message']}", style="red")
    if detail and row.get("needs_review"):
        label.append(f" [review: {', '.join(map(str, row['needs_review']))}]", style="yellow")
    return label


def _cells(row: JSON, fields: list[str], detail: bool) -> list[Text]:
    values = row.get("values") or {}
    confidence = row.get("confidence") or {} if detail else {}
    return [_cell(values.get(name), confidence.get(name)) for name in fields]


def _title(results: JSON) -> str:
    return f"Results of {results.get('job_id', '?')} ({results.get('job_status', '?')})"


def results_table(results: JSON, detail: bool = False) -> Table:
    """Documents x fields, one line per document; empty cells show ``∅``.

    Long values wrap inside their column instead of being cut: every character of a value
    stays readable (``results_view`` switches to one block per document when the grid is
    too wide for the terminal).
    """
    fields = field_names(results)
    table = Table(title=_title(results), expand=False)
    table.add_column("#", justify="right", style="dim", no_wrap=True, min_width=2)
    table.add_column("document", overflow="fold", min_width=8)
    for name in fields:
        table.add_column(name, overflow="fold", min_width=min(len(name), 10))
    for row in results.get("rows") or []:
        doc = row.get("document") or {}
        table.add_row(str(doc.get("index", "")), _row_label(row, detail),
                      *_cells(row, fields, detail))
    return table


def results_records(results: JSON, detail: bool = False) -> Group:
    """The grid transposed: one block per document, one line per field (``field  value``),
    so a schema of many fields reads top to bottom instead of being squeezed."""
    fields = field_names(results)
    blocks: list[Any] = [Text(_title(results), style="italic")]
    for row in results.get("rows") or []:
        doc = row.get("document") or {}
        head = Text(f"#{doc.get('index', '')} ", style="bold")
        head.append_text(_row_label(row, detail))
        table = Table(title=head, title_justify="left", show_header=False, box=None,
                      pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, cell in zip(fields, _cells(row, fields, detail), strict=True):
            table.add_row(name, cell)
        blocks.append(table)
    return Group(*blocks)


def _natural_width(results: JSON, detail: bool) -> int:
    """Columns the wide table needs to show every value on one line."""
    fields = field_names(results)
    rows = results.get("rows") or []
    widths = [max([2] + [len(str((r.get("document") or {}).get("index", ""))) for r in rows]),
              max([8] + [_row_label(r, detail).cell_len for r in rows])]
    for name in fields:
        widths.append(max([len(name)] + [_cell((r.get("values") or {}).get(name),
                                               0.0 if detail else None).cell_len
                                         for r in rows]))
    return sum(widths) + 3 * len(widths) + 1


def results_view(results: JSON, width: int, detail: bool = False) -> Table | Group:
    """The wide table when it fits ``width`` (wrapping long values if it is close), else
    one block per document: nothing is ever cut off."""
    fields = field_names(results)
    min_width = sum(max(4, min(len(f), 10)) + 3 for f in fields) + 40
    if _natural_width(results, detail) <= width or (min_width <= width and len(fields) <= 8):
        return results_table(results, detail)
    return results_records(results, detail)


def row_line(row: JSON, fields: list[str], detail: bool = False) -> Text:
    """One finished row on one line, for ``jobgrid results --follow``."""
    doc = row.get("document") or {}
    line = Text(f"#{doc.get('index', '')} ", style="bold")
    line.append_text(_row_label(row, detail))
    if row.get("rerun"):
        line.append(" (re-run)", style="cyan")
    for name, cell in zip(fields, _cells(row, fields, detail), strict=True):
        line.append(f"  {name}=")
        line.append_text(cell)
    return line


def results_stats(results: JSON) -> str:
    """Grid stats computed from the rows themselves (what the table shows)."""
    fields = field_names(results)
    rows = results.get("rows") or []
    total = len(rows) * len(fields)
    filled = sum(
        1 for row in rows for f in fields if (row.get("values") or {}).get(f) not in (None, "")
    )
    return (
        f"{len(rows)} documents x {len(fields)} fields = "
        + grid_stats_line({"total_cells": total, "filled": filled})
    )


def job_table(job: JSON) -> Table:
    """Key facts of one job (``jobgrid status``)."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("id", str(job.get("id")))
    if job.get("name"):
        table.add_row("name", str(job["name"]))
    table.add_row("status", status_text(str(job.get("status"))))
    table.add_row("phase", phase_text(job))
    table.add_row("progress", f"{job.get('progress', 0)}%")
    docs = f"{job.get('completed_documents', 0)}/{job.get('document_count', 0)} completed"
    if job.get("failed_documents"):
        docs += f", {job['failed_documents']} failed"
    table.add_row("documents", docs)
    table.add_row("grid", grid_stats_line(job.get("grid_stats") or {}))
    if job.get("estimated_seconds_remaining") is not None:
        table.add_row("remaining", f"~{job['estimated_seconds_remaining']} s")
    table.add_row("attempts", str(job.get("attempt_count", 0)))
    error = job.get("error")
    if isinstance(error, dict):
        table.add_row("error", Text(f"{error.get('code')}: {error.get('message')}", style="red"))
    for key in ("created_at", "completed_at", "expires_at"):
        if job.get(key):
            table.add_row(key, str(job[key]))
    links = job.get("links") or {}
    if links.get("dashboard"):
        table.add_row("dashboard", str(links["dashboard"]))
    return table


def jobs_table(jobs: Iterable[JSON]) -> Table:
    table = Table()
    for name in ("id", "name", "status", "progress", "docs", "filled", "created_at"):
        table.add_column(name, overflow="fold")
    for job in jobs:
        filled, total = _stats(job)
        table.add_row(
            str(job.get("id")),
            str(job.get("name") or ""),
            status_text(str(job.get("status"))),
            f"{job.get('progress', 0)}%",
            f"{job.get('completed_documents', 0)}/{job.get('document_count', 0)}",
            f"{filled}/{total}",
            str(job.get("created_at", "")),
        )
    return table


def keys_table(keys: Iterable[JSON]) -> Table:
    table = Table()
    for name in ("id", "org", "name", "created_at", "revoked"):
        table.add_column(name)
    for key in keys:
        table.add_row(
            str(key.get("id")),
            str(key.get("org")),
            str(key.get("name") or ""),
            str(key.get("created_at") or ""),
            "yes" if key.get("revoked") else "no",
        )
    return table

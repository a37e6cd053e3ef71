"""Rich rendering for the CLI: the live progress view, the result grid and small tables.

Kept apart from the commands so the commands stay about HTTP and exit codes, and so the
rendering can be tested by printing into a string console.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from rich.console import Console
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
        phase = str(status.get("current_phase") or "-")
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


def format_value(value: Any) -> str:
    """A cell value as short text: currency objects read ``351.54 USD``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        if "amount" in value and len(value) <= 2:
            return f"{value['amount']} {value.get('currency') or ''}".strip()
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cell(value: Any) -> Text:
    if value is None or value == "":
        return Text(EMPTY_MARK, style="bold red")
    return Text(format_value(value))


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


def results_table(results: JSON) -> Table:
    """Documents x fields, one line per document; empty cells show ``∅``.

    Rows that did not complete say so (and why) next to the file name. Long values are cut
    with an ellipsis rather than wrapped: a grid is read across, row by row.
    """
    fields = field_names(results)
    table = Table(
        title=f"Results of {results.get('job_id', '?')} ({results.get('job_status', '?')})",
        expand=False,
    )
    table.add_column("#", justify="right", style="dim", no_wrap=True, min_width=2)
    table.add_column("document", no_wrap=True, overflow="ellipsis", max_width=28)
    for name in fields:
        table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=28,
                         min_width=min(len(name), 10))
    for row in results.get("rows") or []:
        doc = row.get("document") or {}
        label = Text(str(doc.get("filename", "")))
        state = str(row.get("status") or "?")
        if state != "completed":
            error = row.get("error")
            why = f": {error['code']}" if isinstance(error, dict) and error.get("code") else ""
            label.append(f" [{state}{why}]", style=_STATUS_STYLE.get(state, ""))
        values = row.get("values") or {}
        table.add_row(
            str(doc.get("index", "")), label, *(_cell(values.get(name)) for name in fields)
        )
    return table


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
    table.add_row("phase", str(job.get("current_phase") or "-"))
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

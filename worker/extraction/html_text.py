"""HTML to plain lines with the stdlib parser: visible text only, tables as ``label: value``.

Dropped: ``<head>``, ``<script>``, ``<style>``, ``<template>``, ``<noscript>``, ``<svg>`` and any
element marked ``hidden`` or styled ``display:none`` / ``visibility:hidden``: a person reading
the page would not see that text, so it must not fill a cell. Block elements end lines; table
rows go through :func:`worker.extraction.tables.format_table`; ``<dt>``/``<dd>`` pairs become
``term: definition``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from worker.extraction.limits import MAX_HTML_DEPTH
from worker.extraction.tables import format_table

SKIP_TAGS = frozenset(
    {"head", "script", "style", "template", "noscript", "svg", "math", "iframe", "object",
     "select", "title"}
)
VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)
BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
     "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1",
     "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "html", "legend", "li", "main", "nav",
     "ol", "p", "pre", "section", "summary", "ul"}
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass
class _Table:
    rows: list[list[str]] = field(default_factory=list)
    header_flags: list[bool] = field(default_factory=list)
    row: list[str] | None = None
    row_th: list[bool] = field(default_factory=list)
    cell: list[str] | None = None
    cell_th: bool = False

    def end_cell(self) -> None:
        if self.cell is not None:
            if self.row is None:
                self.row, self.row_th = [], []
            self.row.append("".join(self.cell))
            self.row_th.append(self.cell_th)
            self.cell = None

    def end_row(self) -> None:
        self.end_cell()
        if self.row is not None:
            self.rows.append(self.row)
            self.header_flags.append(bool(self.row_th) and all(self.row_th))
            self.row, self.row_th = None, []

    def lines(self) -> list[str]:
        self.end_row()
        header = bool(self.header_flags) and self.header_flags[0]
        return format_table(self.rows, header=header, min_across_columns=2)

    def pending(self) -> list[str]:
        """Everything read so far, as lines, when a nested table interrupts this one."""
        self.end_cell()
        done = format_table(self.rows, header=False)
        partial = [c for c in (self.row or []) if c.strip()]
        self.rows, self.header_flags, self.row, self.row_th = [], [], None, []
        return done + partial


def _hidden(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    if tag in SKIP_TAGS:
        return True
    for name, value in attrs:
        if name == "hidden":
            return True
        if name == "style" and value and _HIDDEN_STYLE.search(value):
            return True
    return False


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._buf: list[str] = []
        self._stack: list[tuple[str, bool]] = []
        self._hidden_depth = 0
        self._tables: list[_Table] = []
        self._dt_index: int | None = None
        self._pre = 0

    # ---------------------------------------------------------------- line buffer
    def _flush(self) -> None:
        text = "".join(self._buf)
        text = text.strip() if self._pre else _SPACES.sub(" ", text).strip()
        self._buf = []
        if text:
            self.lines.append(text)

    def _cell(self) -> list[str] | None:
        return self._tables[-1].cell if self._tables else None

    def _break(self) -> None:
        cell = self._cell()
        if cell is not None:
            cell.append(" ")
        else:
            self._flush()

    # ---------------------------------------------------------------- tags
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_TAGS:
            if not self._hidden_depth and tag in ("br", "hr"):
                self._break()
            return
        hidden = _hidden(tag, attrs)
        if len(self._stack) < MAX_HTML_DEPTH:
            self._stack.append((tag, hidden))
            self._hidden_depth += hidden
        if not self._hidden_depth:
            self._open(tag)

    def _open(self, tag: str) -> None:
        if tag == "table":
            self._open_table()
        elif tag == "tr" and self._tables:
            self._tables[-1].end_row()
        elif tag in ("td", "th") and self._tables:
            table = self._tables[-1]
            table.end_cell()
            table.cell, table.cell_th = [], tag == "th"
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag in BLOCK_TAGS:
            self._break()

    def _open_table(self) -> None:
        if self._tables and self._tables[-1].cell is not None:
            self.lines.extend(self._tables[-1].pending())
        self._flush()
        self._tables.append(_Table())

    def handle_endtag(self, tag: str) -> None:
        for pos in range(len(self._stack) - 1, -1, -1):
            if self._stack[pos][0] == tag:
                break
        else:
            return
        while len(self._stack) > pos:
            name, hidden = self._stack.pop()
            if not self._hidden_depth:
                self._close(name)
            self._hidden_depth -= hidden

    def _close(self, tag: str) -> None:
        if tag == "table" and self._tables:
            self.lines.extend(self._tables.pop().lines())
        elif tag == "tr" and self._tables:
            self._tables[-1].end_row()
        elif tag in ("td", "th") and self._tables:
            self._tables[-1].end_cell()
        elif tag == "pre":
            self._flush()
            self._pre = max(0, self._pre - 1)
        elif tag == "dt":
            self._break()
            self._dt_index = len(self.lines) - 1
        elif tag == "dd":
            self._break()
            self._join_definition()
        elif tag in BLOCK_TAGS:
            self._break()

    def _join_definition(self) -> None:
        if self._dt_index is not None and self._dt_index == len(self.lines) - 2:
            term, definition = self.lines[-2].rstrip(" :"), self.lines.pop()
            self.lines[-1] = f"{term}: {definition}"
        self._dt_index = None

    # ---------------------------------------------------------------- text
    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        cell = self._cell()
        if cell is not None:
            cell.append(data)
        elif self._tables and not data.strip():
            return
        elif self._pre:
            parts = data.split("\n")
            for part in parts[:-1]:
                self._buf.append(part)
                self._flush()
            self._buf.append(parts[-1])
        else:
            self._buf.append(data)

    def finish(self) -> list[str]:
        self.close()
        while self._tables:
            self.lines.extend(self._tables.pop().lines())
        self._flush()
        return self.lines


def html_to_lines(text: str) -> list[str]:
    """Convert an HTML document to its visible text lines."""
    parser = _TextParser()
    parser.feed(text)
    return parser.finish()

"""Markdown to plain lines: markup stripped, tables turned into ``label: value`` lines.

A hand-written reader rather than a Markdown library: we need text, not HTML, and the rules
below cover what documents use (CommonMark blocks, GFM tables, emphasis, links).
"""

from __future__ import annotations

import re

from worker.extraction.tables import format_table

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_SEPARATOR_ROW = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_SETEXT_OR_RULE = re.compile(r"^\s{0,3}([-=*_])(\s*\1){2,}\s*$")
_REF_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_BLOCK_PREFIX = re.compile(
    r"^\s{0,3}(?:>\s?)*\s*(?:#{1,6}(?=\s|$)|[-*+](?=\s)|\d{1,3}[.)](?=\s))?\s*"
)
_CLOSING_HASHES = re.compile(r"\s+#+\s*$")
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^>\s]+|[^>\s@]+@[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), ""),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])"), r"\1"),
)
_INLINE_MAX = 5_000  # longer lines skip the inline rules: they are not worth quadratic work


def strip_inline(text: str) -> str:
    """Remove emphasis, code spans, links (keeping their text) and inline HTML tags."""
    if len(text) > _INLINE_MAX:
        return text
    for pattern, repl in _INLINE_RULES:
        text = pattern.sub(repl, text)
    return text


def _strip_block(line: str) -> str:
    line = _BLOCK_PREFIX.sub("", line, count=1)
    return _CLOSING_HASHES.sub("", line)


def _split_row(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    cells = re.split(r"(?<!\\)\|", body)
    return [strip_inline(c.replace("\\|", "|")).strip() for c in cells]


def _is_row(lines: list[str], i: int) -> bool:
    s = lines[i].strip()
    if s.startswith("|") or (s.endswith("|") and "|" in s[:-1]):
        return True
    return "|" in s and i + 1 < len(lines) and bool(_SEPARATOR_ROW.match(lines[i + 1]))


def _table(lines: list[str], start: int) -> tuple[list[str], int]:
    """Read the table starting at ``start``; return its lines and the index after it."""
    end = start
    while end < len(lines) and lines[end].strip() and (
        _is_row(lines, end) or _SEPARATOR_ROW.match(lines[end])
    ):
        end += 1
    block = lines[start:end]
    header = len(block) > 1 and bool(_SEPARATOR_ROW.match(block[1]))
    rows = [_split_row(r) for r in block if not _SEPARATOR_ROW.match(r)]
    return format_table(rows, header=header), end


def markdown_to_lines(text: str) -> list[str]:
    """Convert Markdown source to plain lines (see the module docstring)."""
    lines = text.split("\n")
    out: list[str] = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
            i += 1
        elif in_fence:
            out.append(line)
            i += 1
        elif _is_row(lines, i):
            table_lines, i = _table(lines, i)
            out.extend(["", *table_lines, ""])
        else:
            if _SETEXT_OR_RULE.match(line) or _REF_DEFINITION.match(line):
                out.append("")
            else:
                out.append(strip_inline(_strip_block(line)))
            i += 1
    return out

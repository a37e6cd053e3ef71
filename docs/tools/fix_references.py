#!/usr/bin/env python3
"""Rewrite references to files outside the repository so they point at the in-repo docs.

Older code and docs cite the HTTP contract and the list of Celery + Redis traps as files that
sit beside the repository, which someone who clones it does not have. Both now live in
``docs/``: the contract in ``docs/contract.md``, the traps in ``docs/pitfalls.md`` (numbered
headings with stable anchors). This script rewrites every such reference in place:

* a trap cited by number becomes "pitfall 3 (docs/pitfalls.md)" in code, or "pitfall 3 in
  docs/pitfalls.md" inside parentheses; several numbers become "pitfalls 1 and 4 ..."; in
  Markdown, a link to the trap's heading (``[pitfall 3](pitfalls.md#3-...)``);
* the trap list by file name becomes ``docs/pitfalls.md`` (a link in Markdown);
* the contract by file name, with or without a folder, becomes ``docs/contract.md`` (a link in
  Markdown, to the named section when the text names one; "the contract" in a heading).

One code rewrite rides along because it belongs to the same merge: ``from jobgrid.cli import
load_schema`` becomes ``from jobgrid.schema_file import load_schema`` (the loader's new home;
importing it from the CLI module closes an import cycle).

A Python comment or docstring line that grows past 100 characters is wrapped onto a new line
with the same indentation and comment marker, so ``ruff`` stays clean; so are comment lines in
Lua and YAML. Any other line that would pass 100 characters is listed for a hand edit.

Usage (from anywhere; the repository is the folder above ``docs/``)::

    python docs/tools/fix_references.py            # rewrite, listing every change
    python docs/tools/fix_references.py --check    # list only; exit 1 if anything would change

Running it again changes nothing: none of the rewritten forms matches a pattern.
``python -m tests.support.layering`` and ``tests/unit/test_layering.py`` check the result.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "docs/contract.md"
PITFALLS = "docs/pitfalls.md"
MAX_LINE = 100
#: Never rewritten: this tool and the two targets.
SKIP = frozenset({"docs/tools/fix_references.py", CONTRACT, PITFALLS})
SKIP_DIRS = frozenset({".git", ".venv", "venv", "__pycache__", ".mypy_cache", ".ruff_cache",
                       ".pytest_cache", "build", "dist", "node_modules", "artifacts"})

_TRAPS = "PITFALL" + "S"  # spelled apart so that this file's source does not match itself
_TRAP_FILE = rf"(?:\.\./)?(?:shared/)?{_TRAPS}\.md"
_CONTRACT_FILE = r"(?<![\w/.-])(?:\.\./)?(?:shared/)?API\.md"
_NUMBERS = r"(\d+(?:\s*(?:,|and)\s*\d+)*)"
_LEADING = re.compile(r"""^\s*(?:#:?|--|\"\"\"|''')?\s*$""")


# --------------------------------------------------------------------------- anchors
def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(path: Path) -> dict[str, str]:
    """Heading text (and, for numbered ones, the number) -> anchor."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#{2,3}\s+(.*?)\s*$", line)
        if not m:
            continue
        title = m.group(1)
        out[title.lower()] = slug(title)
        num = re.match(r"^(\d+)\.\s", title)
        if num:
            out[num.group(1)] = slug(title)
    return out


# -------------------------------------------------------------------------- rewrites
@dataclass
class Context:
    """What a rewrite needs to know about the file it is in."""

    rel: str
    markdown: bool
    pitfall_anchors: dict[str, str]
    contract_anchors: dict[str, str]

    def link(self, target: str) -> str:
        """``target`` (a repo path) relative to this file's folder, for a Markdown link."""
        return os.path.relpath(ROOT / target, (ROOT / self.rel).parent).replace(os.sep, "/")


def _numbers(raw: str) -> list[str]:
    return re.findall(r"\d+", raw)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _trap_numbers_md(m: re.Match[str], ctx: Context) -> str:
    nums = _numbers(m.group(1))
    target = ctx.link(PITFALLS)
    links = [f"[{n}]({target}#{ctx.pitfall_anchors[n]})" if n in ctx.pitfall_anchors
             else f"[{n}]({target})" for n in nums]
    if len(nums) == 1:
        return f"[pitfall {nums[0]}]({links[0].split('](', 1)[1]}"
    return "pitfalls " + _join(links)


def _trap_numbers_code(m: re.Match[str], line: str) -> str:
    nums = _numbers(m.group(1))
    word = "pitfall" if len(nums) == 1 else "pitfalls"
    if _LEADING.match(line[:m.start()]):
        word = word.capitalize()
    inside = m.start() > 0 and line[m.start() - 1] == "("
    return f"{word} {_join(nums)} " + (f"in {PITFALLS}" if inside else f"({PITFALLS})")


def _section_link(m: re.Match[str], ctx: Context) -> str:
    anchor = ctx.contract_anchors.get(m.group(1).lower())
    target = ctx.link(CONTRACT) + (f"#{anchor}" if anchor else "")
    return f'"{m.group(1)}" section of [`{CONTRACT}`]({target})'


Rule = tuple[re.Pattern[str], Callable[[re.Match[str], Context, str], str]]

MARKDOWN_RULES: list[Rule] = [
    (re.compile(r'"([^"]+)" section of `' + _CONTRACT_FILE + "`"),
     lambda m, c, line: _section_link(m, c)),
    (re.compile("`" + _CONTRACT_FILE + "`"),
     lambda m, c, line: f"[`{CONTRACT}`]({c.link(CONTRACT)})"),
    (re.compile("`" + _TRAP_FILE + "`"),
     lambda m, c, line: f"[`{PITFALLS}`]({c.link(PITFALLS)})"),
    (re.compile(rf"\b{_TRAPS}\s+{_NUMBERS}"), lambda m, c, line: _trap_numbers_md(m, c)),
    (re.compile(_CONTRACT_FILE),
     lambda m, c, line: "the contract" if line.lstrip().startswith("#") else CONTRACT),
    (re.compile(_TRAP_FILE), lambda m, c, line: PITFALLS),
]

CODE_RULES: list[Rule] = [
    (re.compile(r"(``|`|)" + _TRAP_FILE + r"\1\s+(\d+)\b"),
     lambda m, c, line: f"pitfall {m.group(2)} in {m.group(1) or ''}{PITFALLS}{m.group(1) or ''}"),
    (re.compile(r"(``|`|)" + _TRAP_FILE + r"\1"),
     lambda m, c, line: f"{m.group(1) or ''}{PITFALLS}{m.group(1) or ''}"),
    (re.compile(rf"\b{_TRAPS}\s+{_NUMBERS}"), lambda m, c, line: _trap_numbers_code(m, line)),
    (re.compile(r"(``|`|)" + _CONTRACT_FILE + r"\1"),
     lambda m, c, line: f"{m.group(1) or ''}{CONTRACT}{m.group(1) or ''}"),
    # Not a reference, but the same merge: the schema-file loader left jobgrid.cli (whose
    # importers closed an import cycle through it) for its own module.
    (re.compile(r"^(\s*)from jobgrid\.cli import load_schema\b(?:\s*#.*)?$"),
     lambda m, c, line: f"{m.group(1)}from jobgrid.schema_file import load_schema"),
]


def rewrite_line(line: str, ctx: Context) -> str:
    """One line with every rule applied, left to right, each rule to the rule's output."""
    for pattern, make in MARKDOWN_RULES if ctx.markdown else CODE_RULES:
        out, pos = [], 0
        for m in pattern.finditer(line):
            out.append(line[pos:m.start()])
            out.append(make(m, ctx, line))
            pos = m.end()
        out.append(line[pos:])
        line = "".join(out)
    return line


# -------------------------------------------------------------------------- wrapping
def _docstring_rows(source: str) -> set[int]:
    """1-based rows inside triple-quoted strings that stand alone as a statement."""
    rows: set[int] = set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return rows
    previous = tokenize.NEWLINE
    for tok in tokens:
        if tok.type == tokenize.STRING and previous in (tokenize.NEWLINE, tokenize.INDENT,
                                                         tokenize.DEDENT, tokenize.NL,
                                                         tokenize.ENCODING):
            if tok.string.lstrip("rbuRBU").startswith(('"""', "'''")):
                rows.update(range(tok.start[0], tok.end[0] + 1))
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            previous = tok.type
        elif tok.type == tokenize.NL:
            previous = tokenize.NL
    return rows


def _split_at(text: str, limit: int) -> int:
    """The last space before ``limit`` that is outside a ````literal````; -1 if none."""
    best = -1
    for m in re.finditer(" ", text[: limit + 1]):
        if text[: m.start()].count("``") % 2 == 0:
            best = m.start()
    return best


def wrap(line: str, prefix: str) -> list[str]:
    """``line`` cut into lines of at most MAX_LINE characters, continuations after ``prefix``."""
    out: list[str] = []
    while len(line) > MAX_LINE:
        cut = _split_at(line, MAX_LINE)
        if cut <= len(prefix):
            break
        out.append(line[:cut].rstrip())
        line = prefix + line[cut + 1:].lstrip()
    out.append(line)
    return out


_NOT_PROSE = re.compile(r"""^(?:\s|[-*+|>#]|\d+[.)]\s|\.\.|>>>|KEYS|ARGV|"{3}|'{3}|$)""")


def is_continuation(line: str, prefix: str) -> bool:
    """Whether ``line`` goes on the paragraph of a line wrapped with ``prefix``: same prefix,
    then prose (not blank, not indented further, not a list item, table or code)."""
    if not line.startswith(prefix):
        return False
    return not _NOT_PROSE.match(line[len(prefix):])


def reflow(first: str, following: list[str], prefix: str) -> tuple[list[str], int]:
    """Wraps ``first`` and carries its overflow into the paragraph's next lines until it fits.

    Returns the new lines and how many of ``following`` they replace. Lines after the point
    where the carried words fit are left as they are.
    """
    out: list[str] = []
    line, used = first, 0
    while True:
        pieces = wrap(line, prefix)
        if len(pieces) == 1 or used == len(following) \
                or not is_continuation(following[used], prefix):
            return out + pieces, used
        out.extend(pieces[:-1])
        line = pieces[-1] + " " + following[used][len(prefix):].lstrip()
        used += 1


def continuation_prefix(line: str, suffix: str, in_docstring: bool) -> str | None:
    """The prefix a wrapped continuation of ``line`` needs, or None if it cannot be wrapped."""
    indent = line[: len(line) - len(line.lstrip())]
    body = line.lstrip()
    if suffix in (".py", ".yml", ".yaml", ".toml", ".sh") and body.startswith("#"):
        marker = "#:" if body.startswith("#:") else "#"
        return f"{indent}{marker} "
    if suffix == ".lua" and body.startswith("--"):
        return f"{indent}-- "
    if suffix == ".py" and in_docstring:
        return indent
    return None


# ----------------------------------------------------------------------------- files
def repo_files(root: Path) -> list[Path]:
    """Tracked and untracked, not ignored files; a filtered walk when git is not there."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, check=True, timeout=30,
        ).stdout.decode()
        return sorted(root / n for n in set(out.split("\0")) if n and (root / n).is_file())
    except (OSError, subprocess.SubprocessError):
        return sorted(_walk(root))


def _walk(root: Path) -> Iterator[Path]:
    for p in root.rglob("*"):
        parts = p.relative_to(root).parts
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in parts):
            continue
        if p.is_file():
            yield p


@dataclass
class Change:
    rel: str
    line: int
    old: str
    new: list[str]


def fix_file(path: Path, root: Path, pitfall_anchors: dict[str, str],
             contract_anchors: dict[str, str]) -> tuple[str | None, list[Change], list[str]]:
    """The file's new text (None if unchanged), its changes, and lines left too long."""
    try:
        data = path.read_bytes()
    except OSError:
        return None, [], []
    if b"\0" in data[:8192]:
        return None, [], []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, [], []
    rel = path.relative_to(root).as_posix()
    ctx = Context(rel, path.suffix == ".md", pitfall_anchors, contract_anchors)
    lines = text.split("\n")
    docstrings = _docstring_rows(text) if path.suffix == ".py" else set()
    changes: list[Change] = []
    too_long: list[str] = []
    out: list[str] = []
    n = 0
    while n < len(lines):
        line = lines[n]
        new = rewrite_line(line, ctx)
        if new == line:
            out.append(line)
            n += 1
            continue
        pieces, used = [new], 0
        if len(new) > MAX_LINE and not ctx.markdown:
            prefix = continuation_prefix(line, path.suffix, n + 1 in docstrings)
            if prefix is not None:
                following: list[str] = []
                for row in range(n + 2, min(n + 42, len(lines) + 1)):
                    if n + 1 in docstrings and row not in docstrings:
                        break  # stay inside this docstring
                    following.append(rewrite_line(lines[row - 1], ctx))
                pieces, used = reflow(new, following, prefix)
            if any(len(p) > MAX_LINE for p in pieces):
                too_long.append(f"{rel}:{n + 1}: now {max(map(len, pieces))} characters")
        out.extend(pieces)
        changes.append(Change(rel, n + 1, "\n".join(lines[n:n + 1 + used]), pieces))
        n += 1 + used
    if not changes:
        return None, [], []
    return "\n".join(out), changes, too_long


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true",
                        help="list what would change, write nothing, exit 1 if anything would")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository to rewrite (default: the one holding this file)")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    pitfall_anchors = headings(root / PITFALLS)
    contract_anchors = headings(root / CONTRACT)
    if not pitfall_anchors:
        print(f"error: {root / PITFALLS} has no numbered headings", file=sys.stderr)
        return 2
    total, files, long_lines = 0, 0, []
    for path in repo_files(root):
        rel = path.relative_to(root).as_posix()
        if rel in SKIP:
            continue
        new_text, changes, too_long = fix_file(path, root, pitfall_anchors, contract_anchors)
        if new_text is None:
            continue
        files += 1
        total += len(changes)
        long_lines.extend(too_long)
        for c in changes:
            print(f"{c.rel}:{c.line}:")
            for old in c.old.split("\n"):
                print(f"  - {old.strip()}")
            for piece in c.new:
                print(f"  + {piece.strip()}")
        if not args.check:
            path.write_text(new_text, encoding="utf-8")
    verb = "would rewrite" if args.check else "rewrote"
    print(f"{verb} {total} line(s) in {files} file(s)")
    for item in long_lines:
        print(f"too long, wrap by hand: {item}")
    return 1 if args.check and total else 0


if __name__ == "__main__":
    sys.exit(main())

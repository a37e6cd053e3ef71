"""Layering figures for the whole repository: run ``python -m tests.support.layering``.

What it measures, and why each one matters to someone reading or changing the code:

* **References to files outside the repository.** The contract and the Celery + Redis traps
  live in ``docs/contract.md`` and ``docs/pitfalls.md``; a comment that points anywhere else
  sends a reader who cloned the repo to a file they do not have. The old forms were all
  rewritten once (the one-off rewriting tool is gone with its job: 0 left); this check
  keeps any from coming back.
* **Import cycles** among our packages (``shared``, ``worker``, ``api``, ``jobgrid``), found
  as strongly connected components of the module import graph. Imports made only for type
  checking (under ``if TYPE_CHECKING:``) are left out: they never run. An import deferred into
  a function body still counts: it is still a dependency in both directions.
* **``api`` -> ``worker`` imports**: the API must run without worker code (names both need,
  such as the metric keys, belong in ``shared``). Counted with type-checking imports too.
* **Direct Redis calls in ``api/`` and ``worker/``**: calls of a Redis command on a client
  object (``svc.redis.get``, ``store.r.pipeline``, ``r.scan`` ...), each ``pipeline()`` counted
  once and the commands queued on it not at all. At most five (today one: the API's pub/sub
  subscription); everything else goes through store methods in ``shared/``.

``tests/unit/test_layering.py`` asserts all four and runs the ``import-linter`` contracts
from ``pyproject.toml``. The exit status here is 1 when any of the first three is not zero.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "worker", "api", "jobgrid")

#: The forms a reference to a file outside the repository took. Character classes keep these
#: patterns from matching their own source text.
OUTSIDE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("trap list by number or file", re.compile(r"PITFALL[S]")),
    ("contract file", re.compile(r"\bAPI[.]md")),
    ("style notes file", re.compile(r"\bSTYLE[.]md")),
    ("sibling shared folder", re.compile(r"[.][.]/shared\b")),
)
#: Never scanned: installs, caches and generated output.
SKIP_DIRS = frozenset({".git", ".venv", "venv", "__pycache__", ".mypy_cache", ".ruff_cache",
                       ".pytest_cache", "build", "dist", "node_modules", "artifacts"})

#: Receivers that are Redis clients in ``api/`` and ``worker/`` (``svc.redis``, ``store.r``,
#: a parameter ``r``, a factory call ``self._client()``).
_CLIENT_RECEIVER = re.compile(r"(^|\.)(r|redis|_r|_redis|client|redis_client)$"
                              r"|(^|\.)_?client\(\)$")
#: Client methods that send nothing (connection management).
_NOT_COMMANDS = frozenset({"close", "connection_pool", "get_connection_kwargs", "get_encoder",
                           "set_response_callback", "set_retry", "get_retry"})


@dataclass(frozen=True, slots=True)
class Hit:
    """One match in a file: where, and the text of its line."""

    path: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.kind}] {self.text.strip()}"


# ----------------------------------------------------------------------- references
def repo_files(root: Path = ROOT) -> list[Path]:
    """Tracked and untracked, not ignored files (``git ls-files``), else a filtered walk."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, check=True, timeout=30,
        ).stdout.decode()
        names = sorted({n for n in out.split("\0") if n})
        return [root / n for n in names if (root / n).is_file()]
    except (OSError, subprocess.SubprocessError):
        return sorted(_walk(root))


def _walk(root: Path) -> Iterator[Path]:
    for p in root.rglob("*"):
        rel = p.relative_to(root).parts
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel):
            continue
        if p.is_file():
            yield p


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None  # binary (images)
    return data.decode("utf-8", errors="replace")


def outside_references(root: Path = ROOT, files: Iterable[Path] | None = None) -> list[Hit]:
    """Every line that still points at a file outside the repository."""
    hits: list[Hit] = []
    for path in files if files is not None else repo_files(root):
        rel = path.relative_to(root).as_posix()
        text = _text(path)
        if text is None:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            for kind, pattern in OUTSIDE_PATTERNS:
                if pattern.search(line):
                    hits.append(Hit(rel, n, kind, line))
                    break
    return hits


# --------------------------------------------------------------------- import graph
def import_graph(exclude_type_checking: bool = True) -> dict[str, set[str]]:
    """Module -> modules it imports directly, within our packages (grimp, no cache)."""
    import grimp  # the test extra (import-linter's own graph builder)

    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=exclude_type_checking,
                              cache_dir=None)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def cross_imports(graph: dict[str, set[str]], source: str, target: str) -> list[tuple[str, str]]:
    """Direct imports from package ``source`` into package ``target``."""
    return sorted((m, t) for m, imported in graph.items() if _in(m, source)
                  for t in imported if _in(t, target))


# ---------------------------------------------------------------------- Redis calls
def _redis_commands() -> frozenset[str]:
    import redis

    return frozenset(n for n in dir(redis.Redis) if not n.startswith("_")
                     and callable(getattr(redis.Redis, n))) - _NOT_COMMANDS


def redis_calls(root: Path = ROOT, packages: Iterable[str] = ("api", "worker")) -> list[Hit]:
    """Direct calls of a Redis command on a client object (see the module docstring)."""
    commands = _redis_commands()
    hits: list[Hit] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            for node in ast.walk(ast.parse(source)):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                if node.func.attr not in commands:
                    continue
                receiver = ast.unparse(node.func.value)
                if _CLIENT_RECEIVER.search(receiver):
                    rel = path.relative_to(root).as_posix()
                    hits.append(Hit(rel, node.lineno, f"{receiver}.{node.func.attr}",
                                    lines[node.lineno - 1]))
    return sorted(hits, key=lambda h: (h.path, h.line))


# -------------------------------------------------------------------------- report
def main() -> int:
    """Prints every figure with its offenders; 1 if a figure that must be zero is not."""
    refs = outside_references()
    graph = import_graph(exclude_type_checking=True)
    found = cycles(graph)
    api_worker = cross_imports(import_graph(exclude_type_checking=False), "api", "worker")
    calls = redis_calls()

    print(f"references to files outside the repository: {len(refs)}")
    for hit in refs:
        print(f"  {hit}")
    if refs:
        print("  fix: cite docs/contract.md or docs/pitfalls.md instead")
    print(f"import cycles (TYPE_CHECKING imports aside): {len(found)}")
    for component in found:
        print(f"  {' <-> '.join(component)}")
    print(f"api -> worker imports: {len(api_worker)}")
    for importer, imported in api_worker:
        print(f"  {importer} -> {imported}")
    print(f"direct Redis calls in api/ and worker/ (at most 5): {len(calls)}")
    for hit in calls:
        print(f"  {hit.path}:{hit.line}: {hit.kind}")
    return 1 if refs or found or api_worker else 0


if __name__ == "__main__":
    sys.exit(main())

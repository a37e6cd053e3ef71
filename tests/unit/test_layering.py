"""The layering stays as ``docs/architecture.md`` draws it.

Five checks, each with the offenders in its failure message:

* no reference to a file outside the repository (the contract and the pitfalls are in
  ``docs/``);
* no import cycle between our modules (type-checking imports aside);
* no import from ``api`` into ``worker``;
* at most five direct Redis calls in ``api/`` and ``worker/`` (stores in ``shared/`` own
  Redis; today the one exception is the API's pub/sub subscription in ``api/pubsub.py``);
* the ``import-linter`` contracts in ``pyproject.toml`` (layers, independence of ``api`` and
  ``worker``, an extraction engine on ``shared`` only, no cycles between sibling modules).

``python -m tests.support.layering`` prints the same figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import layering

LINT = ("import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True, no_logo=True))")


def test_no_reference_to_files_outside_the_repository() -> None:
    hits = layering.outside_references()
    assert not hits, ("cite docs/contract.md / docs/pitfalls.md instead:\n"
                      + "\n".join(map(str, hits)))


MAX_DIRECT_REDIS_CALLS = 5


def test_stores_own_redis() -> None:
    calls = layering.redis_calls()
    assert len(calls) <= MAX_DIRECT_REDIS_CALLS, (
        "direct Redis calls in api/ and worker/ (move them into a store in shared/):\n"
        + "\n".join(map(str, calls)))


def test_no_import_cycles() -> None:
    found = layering.cycles(layering.import_graph(exclude_type_checking=True))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_api_never_imports_worker() -> None:
    graph = layering.import_graph(exclude_type_checking=False)
    found = layering.cross_imports(graph, "api", "worker")
    assert not found, "move what both need to shared/:\n" + "\n".join(
        f"{a} -> {b}" for a, b in found)


def test_import_linter_contracts_are_kept() -> None:
    proc = subprocess.run([sys.executable, "-c", LINT], cwd=layering.ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout, proc.stdout


# ------------------------------------------------------------- the checks themselves
def test_cycle_finder_finds_every_cycle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"f", "a"},
             "g": {"outside"}}
    assert layering.cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert layering.cycles({"x": set(), "y": {"x"}}) == []


def test_cross_imports_match_whole_package_names() -> None:
    graph = {"api.metrics": {"worker.metrics", "workers.x", "shared.keys"}, "apix": {"worker"}}
    assert layering.cross_imports(graph, "api", "worker") == [("api.metrics", "worker.metrics")]


def test_every_outside_reference_form_is_found(tmp_path: Path) -> None:
    traps, contract, style = "PITFALL" + "S", "API" + ".md", "STYLE" + ".md"  # not matched here
    lines = [f"see {traps} 3", f"the contract ({contract})", f"read ..{'/'}shared/{style}",
             f"docs: ``shared/{contract}``", "fine: docs/api.md and docs/pitfalls.md#3-counters"]
    files = []
    for n, line in enumerate(lines):
        path = tmp_path / f"f{n}.py"
        path.write_text(f"# {line}\n", encoding="utf-8")
        files.append(path)
    (tmp_path / "img.png").write_bytes(b"\x89PNG\0" + traps.encode())
    hits = layering.outside_references(tmp_path, [*files, tmp_path / "img.png"])
    assert sorted(h.path for h in hits) == ["f0.py", "f1.py", "f2.py", "f3.py"]


def test_redis_call_counter_counts_client_calls_only(tmp_path: Path) -> None:
    pkg = tmp_path / "api"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        "def f(svc, store, r, pipe, d, m):\n"
        "    svc.redis.get('k')\n"           # counted
        "    p = store.r.pipeline()\n"       # counted once ...
        "    p.hgetall('k')\n"               # ... not the commands queued on it
        "    r.scan(0)\n"                    # counted
        "    d.get('k')\n"                   # a dict
        "    m.group(1)\n"
        "    svc.redis.close()\n",           # sends nothing
        encoding="utf-8")
    hits = layering.redis_calls(tmp_path, ("api",))
    assert [h.kind for h in hits] == ["svc.redis.get", "store.r.pipeline", "r.scan"]

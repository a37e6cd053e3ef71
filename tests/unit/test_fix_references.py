"""``docs/tools/fix_references.py``: every old reference form, idempotence, wrapping.

The tool runs on a throw-away repository in ``tmp_path`` that holds copies of the real
``docs/pitfalls.md`` and ``docs/contract.md`` (for their anchors) and files with the old forms.
The old forms are assembled at run time so that this file does not itself contain them.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "docs" / "tools" / "fix_references.py"
TRAPS = "PITFALL" + "S"
SIBLING = "." + "./shared"  # the folder beside the repository
TRAPS_FILE = f"{SIBLING}/{TRAPS}.md"
CONTRACT = "API" + ".md"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fix_references", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fix_references"] = module
    spec.loader.exec_module(module)
    return module


fix = _load()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    for name in ("pitfalls.md", "contract.md"):
        shutil.copy(REPO / "docs" / name, tmp_path / "docs" / name)
    return tmp_path


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), "--root", str(repo), *args],
                          capture_output=True, text=True, timeout=60)


def test_code_forms(repo: Path) -> None:
    src = repo / "m.py"
    src.write_text(
        f'"""Answers to ``{TRAPS_FILE}``: see ({TRAPS} 1, 4) and (``{TRAPS_FILE}`` 2).\n'
        "\n"
        f"{TRAPS} 9: a worker must prove it consumes; models mirror ``{SIBLING}/{CONTRACT}``.\n"
        '"""\n'
        f"#: {TRAPS} 2: short tasks\n"
        f'DESCRIPTION = "contract is shared/{CONTRACT}; details in docs/api.md"\n'
        f"# the error table ({CONTRACT} \"Errors\")\n",
        encoding="utf-8")
    assert _run(repo).returncode == 0
    assert src.read_text(encoding="utf-8") == (
        '"""Answers to ``docs/pitfalls.md``: see (pitfalls 1 and 4 in docs/pitfalls.md) and '
        "(pitfall 2 in\n"
        '``docs/pitfalls.md``).\n'
        "\n"
        "Pitfall 9 (docs/pitfalls.md): a worker must prove it consumes; models mirror "
        "``docs/contract.md``.\n"
        '"""\n'
        "#: Pitfall 2 (docs/pitfalls.md): short tasks\n"
        'DESCRIPTION = "contract is docs/contract.md; details in docs/api.md"\n'
        '# the error table (docs/contract.md "Errors")\n')


def test_markdown_forms_link_to_the_anchors(repo: Path) -> None:
    doc = repo / "docs" / "notes.md"
    doc.write_text(
        f"The contract is the \"Webhooks\" section of `shared/{CONTRACT}`.\n"
        f"### Done-set fan-in ({TRAPS} 3, 6)\n"
        f"Every trap in `shared/{TRAPS}.md`; AOF on ({TRAPS} 10).\n"
        f"## Decisions where {CONTRACT} is silent\n",
        encoding="utf-8")
    readme = repo / "README.md"
    readme.write_text(f"implements the contract in `{CONTRACT}`.\n", encoding="utf-8")
    assert _run(repo).returncode == 0
    assert doc.read_text(encoding="utf-8").splitlines() == [
        'The contract is the "Webhooks" section of [`docs/contract.md`](contract.md#webhooks).',
        "### Done-set fan-in (pitfalls [3](pitfalls.md#3-counters-must-be-idempotent) and "
        "[6](pitfalls.md#6-fan-in-without-chords))",
        "Every trap in [`docs/pitfalls.md`](pitfalls.md); AOF on "
        "([pitfall 10](pitfalls.md#10-redis-must-not-evict-or-forget-job-state)).",
        "## Decisions where the contract is silent",
    ]
    assert readme.read_text(encoding="utf-8") == (
        "implements the contract in [`docs/contract.md`](docs/contract.md).\n")


def test_long_comment_lines_reflow_within_their_paragraph(repo: Path) -> None:
    lua = repo / "s.lua"
    head = "-- " + "word " * 16
    lua.write_text(f"{head}({TRAPS} 3), and the caller\n"
                   "-- that adds the last member enqueues finalize.\n"
                   "--\n"
                   "-- KEYS[1] job hash\n", encoding="utf-8")
    assert _run(repo).returncode == 0
    lines = lua.read_text(encoding="utf-8").splitlines()
    assert all(len(line) <= fix.MAX_LINE for line in lines)
    assert lines[-2:] == ["--", "-- KEYS[1] job hash"]
    words = " ".join(line[3:] for line in lines[:-2])
    assert words.endswith("(pitfall 3 in docs/pitfalls.md), and the caller that adds the "
                          "last member enqueues finalize.")


def test_schema_loader_import_follows_its_move(repo: Path) -> None:
    src = repo / "cli_x.py"
    old = "from jobgrid" + ".cli import load_schema"
    src.write_text(f"def f() -> None:\n    {old}  # cli imports this module: late\n"
                   f'HELP = "{old}"\n', encoding="utf-8")
    assert _run(repo).returncode == 0
    assert src.read_text(encoding="utf-8") == (
        "def f() -> None:\n    from jobgrid.schema_file import load_schema\n"
        f'HELP = "{old}"\n')  # only import statements change


def test_second_run_changes_nothing_and_check_reports_it(repo: Path) -> None:
    (repo / "m.py").write_text(f"# see {TRAPS} 7\n", encoding="utf-8")
    first = _run(repo, "--check")
    assert first.returncode == 1 and "would rewrite 1 line(s) in 1 file(s)" in first.stdout
    assert (repo / "m.py").read_text(encoding="utf-8") == f"# see {TRAPS} 7\n"
    assert _run(repo).returncode == 0
    again = _run(repo, "--check")
    assert again.returncode == 0 and "would rewrite 0 line(s)" in again.stdout


def test_missing_pitfalls_page_is_an_error(tmp_path: Path) -> None:
    proc = _run(tmp_path)
    assert proc.returncode == 2 and "no numbered headings" in proc.stderr


def test_slug_matches_github_anchors() -> None:
    assert fix.slug("3. Counters must be idempotent") == "3-counters-must-be-idempotent"
    assert fix.slug("Authentication and tenancy") == "authentication-and-tenancy"
    assert fix.slug("GET /v1/jobs/{id}: the full job") == "get-v1jobsid-the-full-job"

"""Process logs shown in a failing test's report.

Every subprocess the fixtures start writes to a file under pytest's tmp dir and registers it
here. When a test fails, ``tests/conftest.py`` appends to its report what each registered log
gained *during that test* (the tail of it), so a failure in a test that shares a session-wide
stack shows the worker's and the API's lines of that test, not of the whole run.
"""

from __future__ import annotations

import threading
from pathlib import Path

MAX_LINES_PER_LOG = 200


class LogRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[Path, str] = {}

    def register(self, label: str, path: Path) -> None:
        with self._lock:
            self._logs[path] = label

    def unregister(self, path: Path) -> None:
        with self._lock:
            self._logs.pop(path, None)

    def mark(self) -> dict[Path, int]:
        """Current size of every registered log (where a test's share of it starts)."""
        with self._lock:
            paths = list(self._logs)
        out: dict[Path, int] = {}
        for path in paths:
            try:
                out[path] = path.stat().st_size
            except OSError:
                out[path] = 0
        return out

    def report_since(self, marks: dict[Path, int]) -> str:
        """The tail of what each registered log gained since ``marks`` (new logs: all of it)."""
        with self._lock:
            logs = dict(self._logs)
        parts: list[str] = []
        for path, label in logs.items():
            try:
                with path.open("rb") as fh:
                    fh.seek(marks.get(path, 0))
                    text = fh.read().decode("utf-8", errors="replace")
            except OSError:
                continue
            if not text.strip():
                continue
            lines = text.splitlines()
            cut = len(lines) - MAX_LINES_PER_LOG
            if cut > 0:
                lines = [f"... ({cut} earlier lines in {path})", *lines[cut:]]
            parts.append(f"===== {label} ({path}) =====\n" + "\n".join(lines))
        return "\n".join(parts)


REGISTRY = LogRegistry()

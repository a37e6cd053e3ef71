"""Child-process plumbing shared by the launcher and the test fixtures.

Every child runs in its own session (``start_new_session=True``) so that

* a Ctrl-C in the terminal reaches only the launcher, which then stops the children in order
  instead of all of them racing to die at once, and
* a child's whole tree (the API server's workers, Celery's pool processes) can be signalled with one
  ``killpg`` — the only reliable way to leave no orphan behind.

On Linux each child also gets ``PR_SET_PDEATHSIG`` = SIGTERM, so a launcher or a test run that
is itself killed with SIGKILL does not leak servers that keep a port or a Redis busy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """preexec_fn: ask the kernel to SIGTERM this child when its parent dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (callers retry if someone grabs it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    log_path: Path | None = None,
    die_with_parent: bool = True,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session; stdout and stderr go to ``log_path`` (or are inherited).

    The log file is opened in append mode and closed here right after the fork: the child holds
    its own descriptor, so nothing leaks in this process (pytest turns ResourceWarnings into
    errors) and the log survives the child being killed.
    """
    log = open(log_path, "ab") if log_path is not None else None
    try:
        return subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent if (die_with_parent and _LIBC is not None) else None,
        )
    finally:
        if log is not None:
            log.close()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _live_processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, stat fields after the command name) of every live, non-zombie process.

    ``fields[0]`` is the state, ``fields[1]`` the parent pid, ``fields[2]`` the process group.
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] not in ("Z", "X"):
            yield int(entry.name), fields


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``.

    Reads ``/proc`` so that zombies, which a non-reaping PID 1 in a container may keep forever,
    do not count as leftovers. Elsewhere it falls back to ``killpg(pgid, 0)``.
    """
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    return [pid for pid, fields in _live_processes() if fields[2] == str(pgid)]


def child_pids(pid: int) -> list[int]:
    """Direct, live children of ``pid`` (e.g. Celery's pool processes), from ``/proc``."""
    if not Path("/proc").is_dir():
        return []
    return [child for child, fields in _live_processes() if fields[1] == str(pid)]


def stop_groups(
    procs: Sequence[subprocess.Popen[bytes]],
    *,
    timeout: float = 10.0,
    sig: int = signal.SIGTERM,
    force: Callable[[], bool] | None = None,
) -> None:
    """Signal every process group, wait up to ``timeout`` for all members, then SIGKILL the rest.

    All groups are signalled first and waited for together, so stopping N children costs one
    timeout, not N. ``force`` (checked while waiting) lets a second Ctrl-C skip the grace period.
    """
    live = [p for p in procs if p.poll() is None or group_pids(p.pid)]
    for p in live:
        _killpg(p.pid, sig)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline and not (force and force()):
        for p in live:
            p.poll()
        live = [p for p in live if p.returncode is None or group_pids(p.pid)]
        if live:
            time.sleep(0.05)
    for p in live:
        _killpg(p.pid, signal.SIGKILL)
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
            pass
    # SIGKILLed pool children may need a moment to be reaped by their (dead) parent's reaper.
    end = time.monotonic() + 5
    while any(group_pids(p.pid) for p in procs) and time.monotonic() < end:
        time.sleep(0.05)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when GET ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except urllib.error.HTTPError as e:
        e.close()
        return False
    except (OSError, ValueError):
        return False


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.1,
    alive: Callable[[], str | None] | None = None,
) -> bool:
    """Poll ``check`` until it is true (True) or ``timeout`` passes (False).

    ``alive`` returns an error text once a process we are waiting for has died; that is raised
    as ``RuntimeError`` at once instead of waiting out the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if alive is not None:
            problem = alive()
            if problem:
                raise RuntimeError(problem)
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(path: Path, max_lines: int = 40) -> str:
    """The last ``max_lines`` lines of a log file ('' if it does not exist)."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-max_lines:])

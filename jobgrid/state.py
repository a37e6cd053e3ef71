"""Where ``jobgrid up`` keeps its data, and how the other commands find a running ``up``.

The data directory (``--data-dir``, else ``$JOBGRID_DATA_DIR``, else
``$XDG_DATA_HOME/jobgrid``, else ``~/.local/share/jobgrid``) holds:

``redis/``      the embedded Redis's working directory: its append-only file (``appendonly.aof``)
                and ``redis.log``. Reused on the next ``up``, so keys, jobs and webhooks survive
                a restart; ``up --fresh`` deletes it first.
``dev-key``     the API key ``up`` made for org ``org_demo`` when ``JOBGRID_API_KEYS`` is unset
                (mode 0600; kept across restarts, so an exported key keeps working).
``state.json``  written once the stack answers, removed when it stops: the API URL, the Redis
                URL, the key prefix, the pid of ``up`` and where the dev key is (not the key).
``up.lock``     held (``flock``) by the running ``up``: a second ``up`` on the same directory is
                refused, and a ``state.json`` whose lock is free is stale (a killed ``up``).

Client commands (``submit``, ``status`` ...) and ``keys`` read ``state.json`` only when neither
``JOBGRID_URL``/``--url`` nor ``JOBGRID_REDIS_URL`` says where to go.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

DATA_DIR_ENV = "JOBGRID_DATA_DIR"
STATE_FILE = "state.json"
DEV_KEY_FILE = "dev-key"
LOCK_FILE = "up.lock"
REDIS_SUBDIR = "redis"
DEV_KEY_PREFIX = "jg_dev_"


def default_data_dir() -> Path:
    """``$JOBGRID_DATA_DIR``, else the XDG data directory's ``jobgrid`` folder."""
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "jobgrid"


@dataclass(frozen=True)
class UpState:
    """What a running ``jobgrid up`` tells the other commands (``state.json``)."""

    pid: int
    api_url: str
    redis_url: str
    key_prefix: str
    #: Path of the dev key file, or None when the keys came from ``JOBGRID_API_KEYS``.
    dev_key_file: str | None
    started_at: float
    data_dir: str = ""

    def dev_key(self) -> str | None:
        """The dev key, read from its file (None if there is none or it is unreadable)."""
        if not self.dev_key_file:
            return None
        try:
            return Path(self.dev_key_file).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically (temp file + rename), readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_state(data_dir: Path, state: UpState) -> Path:
    path = data_dir / STATE_FILE
    _write_private(path, json.dumps(asdict(state), indent=2) + "\n")
    return path


def read_state(data_dir: Path) -> UpState | None:
    """The state file's content, or None when it is missing or not ours."""
    try:
        raw: Any = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
        return UpState(
            pid=int(raw["pid"]), api_url=str(raw["api_url"]), redis_url=str(raw["redis_url"]),
            key_prefix=str(raw.get("key_prefix") or "jg"),
            dev_key_file=raw.get("dev_key_file") or None,
            started_at=float(raw.get("started_at") or 0.0),
            data_dir=str(raw.get("data_dir") or data_dir),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_state(data_dir: Path, pid: int) -> None:
    """Remove the state file if it is this process's (never another ``up``'s)."""
    current = read_state(data_dir)
    if current is not None and current.pid == pid:
        (data_dir / STATE_FILE).unlink(missing_ok=True)


def lock_is_held(data_dir: Path) -> bool:
    """True while some ``jobgrid up`` holds the data directory's lock."""
    try:
        fh = open(data_dir / LOCK_FILE, "rb")  # noqa: SIM115 - closed right below
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def running_state(data_dir: Path | None = None) -> UpState | None:
    """The state of the ``jobgrid up`` running on ``data_dir`` (default: the default one), or
    None when none runs there (no state file, or a stale one left by a killed ``up``)."""
    folder = data_dir or default_data_dir()
    state = read_state(folder)
    if state is None or not lock_is_held(folder):
        return None
    return state


class DataDirLock:
    """The exclusive ``flock`` a running ``up`` holds on its data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fh: IO[bytes] | None = None

    def acquire(self, timeout: float = 2.0) -> bool:
        """Take the lock (retrying up to ``timeout``: a client may be peeking at it)."""
        fh = open(self.path, "a+b")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fh = fh
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    fh.close()
                    return False
                time.sleep(0.05)

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def load_or_create_dev_key(data_dir: Path) -> str:
    """The data directory's dev key, made (mode 0600) on first use."""
    path = data_dir / DEV_KEY_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
        if key.startswith(DEV_KEY_PREFIX):
            return key
    except OSError:
        pass
    key = DEV_KEY_PREFIX + secrets.token_urlsafe(24)
    _write_private(path, key + "\n")
    return key


def mask_key(key: str) -> str:
    """``jg_dev_AbCd…`` : enough to recognise a key, not enough to use it."""
    visible = len(DEV_KEY_PREFIX) + 4 if key.startswith(DEV_KEY_PREFIX) else 4
    return key[:visible] + "…" if len(key) > visible else "…"

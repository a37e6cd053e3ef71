"""Time in the units Redis records use (epoch milliseconds) and the two formats the API shows."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_ms(ms: int | None) -> str | None:
    """ISO 8601 UTC with milliseconds and ``Z``, as the full job view shows times."""
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def unix_s(ms: int | None) -> int | None:
    """Integer Unix seconds, as the status view shows times."""
    return None if ms is None else ms // 1000

"""Loads the Lua scripts in ``shared/lua/`` once per Redis client.

Each script gets ``_lib.lua`` prepended, so helpers like ``touch()`` exist once. redis-py's
``Script`` runs EVALSHA and reloads on NOSCRIPT, which also covers a Redis restart.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.commands.core import Script

_NAMES = (
    "begin_task",
    "note_failure",
    "record_document",
    "transition",
    "retry_job",
    "status_read",
)


@cache
def _source(name: str) -> str:
    lua = resources.files("shared") / "lua"
    lib = (lua / "_lib.lua").read_text(encoding="utf-8")
    return lib + "\n" + (lua / f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """The registered scripts, one attribute each."""

    begin_task: Script
    note_failure: Script
    record_document: Script
    transition: Script
    retry_job: Script
    status_read: Script

    def __init__(self, client: redis.Redis | Any) -> None:
        for name in _NAMES:
            setattr(self, name, client.register_script(_source(name)))

"""Per-process resources of a worker: Redis client, job store, extractor, dispatcher.

Built lazily, after the prefork pool has forked, so no child inherits a parent's socket.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from shared.redis_client import redis_from_settings
from shared.settings import Settings, get_settings
from shared.store import JobStore
from worker.extraction import Extractor, get_extractor


def load_extractor(name: str) -> Extractor:
    """A built-in extractor by name, or any ``package.module:Class`` plug-in."""
    if ":" in name:
        module, _, attr = name.partition(":")
        factory: Any = getattr(importlib.import_module(module), attr)
        extractor: Extractor = factory()
        return extractor
    return get_extractor(name)


@cache
def settings() -> Settings:
    return get_settings()


@cache
def store() -> JobStore:
    s = settings()
    return JobStore(redis_from_settings(s), s)


@cache
def extractor() -> Extractor:
    return load_extractor(settings().extractor)

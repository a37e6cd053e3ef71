"""The kombu workaround turns a crash on a closed broker connection into a connection error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redis
from kombu.transport import redis as kombu_redis

from shared import kombu_fixes


def test_closed_connection_raises_an_error_the_cleanup_ignores() -> None:
    kombu_fixes.apply()
    # what a lost connection leaves behind: the channel's transport has no client any more
    closed = SimpleNamespace(connection=SimpleNamespace(client=None))
    with pytest.raises(redis.ConnectionError):
        kombu_redis.Channel._connparams(closed)
    assert redis.ConnectionError in kombu_redis.Transport.connection_errors  # ignored on close


def test_apply_is_idempotent_and_keeps_the_normal_path() -> None:
    kombu_fixes.apply()
    first = kombu_redis.Channel._connparams
    kombu_fixes.apply()
    assert kombu_redis.Channel._connparams is first
    assert kombu_fixes._original is not first  # the original still does the real work

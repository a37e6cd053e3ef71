"""The kombu fixes: a closed broker connection fails as a connection error, and a channel
keeps one Redis client per connection pool instead of building one per operation."""

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
    assert kombu_redis.Channel.conn_or_acquire is kombu_fixes._conn_or_acquire


def test_a_channel_reuses_its_client_until_the_pool_is_replaced() -> None:
    """Against a real kombu channel on the shared Redis (nothing is written)."""
    from kombu import Connection  # type: ignore[attr-defined]

    kombu_fixes.apply()
    with Connection("redis://127.0.0.1:6379/0",  # type: ignore[no-untyped-call]
                    transport_options={"global_keyprefix": "jgtest:kombufix:"}) as conn:
        try:
            channel = conn.default_channel
        except Exception as e:  # pragma: no cover - no Redis here
            pytest.skip(f"no Redis at 127.0.0.1:6379: {e}")
        with channel.conn_or_acquire() as first:
            assert first.ping()
        with channel.conn_or_acquire() as second:
            assert second is first  # no new client (and callback table) per operation
            assert second.connection_pool is channel.pool
        given = object()
        with channel.conn_or_acquire(given) as passed:
            assert passed is given  # a client passed in is used as is
        channel._disconnect_pools()  # what kombu does after a connection error
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool
            assert third.ping()

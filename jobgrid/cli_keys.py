"""``jobgrid keys``: manage API keys stored (hashed) in Redis, via ``shared.apikeys``.

These commands talk to Redis directly (``JOBGRID_REDIS_URL``, ``JOBGRID_KEY_PREFIX``), not to
the API: creating the first key must not need a key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from jobgrid import render
from jobgrid.cli_common import EXIT_OK, CliFailure, stdout_console

T = TypeVar("T")


def _with_redis(action: Callable[..., T]) -> T:
    """Run ``action(redis, settings)``; turn config and connection problems into one line."""
    import redis
    from pydantic import ValidationError

    from shared.redis_client import make_redis
    from shared.settings import Settings

    try:
        settings = Settings()
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise CliFailure(f"invalid JOBGRID_{where.upper()}: {first.get('msg')}") from None
    r = make_redis(settings.redis_url, socket_timeout=settings.redis_socket_timeout)
    try:
        return action(r, settings)
    except redis.RedisError as e:
        raise CliFailure(f"cannot use Redis at {settings.redis_url}: {e}") from None
    finally:
        r.close()


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (writes to Redis directly)."""


@keys.command("create")
@click.option("--org", required=True, help="Organization the key belongs to.")
@click.option("--name", default=None, help="A label to recognise the key by.")
def create(org: str, name: str | None) -> int:
    """Create a key and print it (shown only this once) on one line."""
    from shared.apikeys import create_api_key

    key = _with_redis(lambda r, s: create_api_key(r, s, org, name))
    click.echo(key)
    return EXIT_OK


@keys.command("list")
@click.option("--org", required=True)
def list_(org: str) -> int:
    """List an organization's keys (ids only; keys are stored hashed)."""
    from shared.apikeys import list_api_keys

    rows = _with_redis(lambda r, s: list_api_keys(r, s, org))
    stdout_console().print(render.keys_table(rows))
    return EXIT_OK


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> int:
    """Revoke a key by its id (or the unique id prefix that 'keys list' shows)."""
    from shared.apikeys import revoke_api_key

    if not _with_redis(lambda r, s: revoke_api_key(r, s, key_id)):
        raise CliFailure(f"no API key with id {key_id}")
    click.echo(f"revoked {key_id}")
    return EXIT_OK

"""``jobgrid keys``: manage API keys stored (hashed) in Redis, via ``shared.apikeys``.

These commands talk to Redis directly (``JOBGRID_REDIS_URL``, ``JOBGRID_KEY_PREFIX``), not to
the API: creating the first key must not need a key. Without ``JOBGRID_REDIS_URL`` they use
the Redis of the ``jobgrid up`` running on the default data directory (its ``state.json``),
so a key made next to a running ``up`` works on that stack at once.
"""

from __future__ import annotations

import os
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

    from jobgrid.state import default_data_dir, running_state
    from shared.redis_client import RedisVersionError, check_redis_version, make_redis
    from shared.settings import Settings

    overrides: dict[str, str] = {}
    hint = ""
    if not os.environ.get("JOBGRID_REDIS_URL"):
        found = running_state()
        if found is not None:
            overrides["redis_url"] = found.redis_url
            if not os.environ.get("JOBGRID_KEY_PREFIX"):
                overrides["key_prefix"] = found.key_prefix
            click.echo(f"using the Redis of the running 'jobgrid up' (pid {found.pid}, "
                       f"data dir {found.data_dir}): {found.redis_url}", err=True)
        else:
            hint = (f" (no running 'jobgrid up' found in {default_data_dir()}; "
                    "start one, or set JOBGRID_REDIS_URL)")
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise CliFailure(f"invalid JOBGRID_{where.upper()}: {first.get('msg')}") from None
    try:
        check_redis_version(settings.redis_url, where=f"the Redis at {settings.redis_url}",
                            timeout=settings.redis_socket_timeout)
    except RedisVersionError as e:
        raise CliFailure(str(e)) from None
    r = make_redis(settings.redis_url, socket_timeout=settings.redis_socket_timeout)
    try:
        return action(r, settings)
    except redis.RedisError as e:
        raise CliFailure(f"cannot use Redis at {settings.redis_url}: {e}{hint}") from None
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

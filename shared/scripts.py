"""The one registry of the Lua scripts in ``shared/lua/``: each is registered once per client.

Each script gets ``_lib.lua`` prepended, so helpers like ``touch()`` exist once. redis-py's
``Script`` runs EVALSHA and reloads on NOSCRIPT, which also covers a Redis restart.

``scripts_for(client)`` hands every store the same ``Scripts`` for one client: the job
scripts (``JobStore``) and the webhook ones (``WebhookStore``, the delivery and the
housekeeping sweeps) alike, so no caller hashes and registers a script per call.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any
from weakref import WeakKeyDictionary

import redis
from redis.commands.core import Script

_NAMES = (
    "begin_task",
    "note_failure",
    "record_document",
    "transition",
    "retry_job",
    "status_read",
    "find_messages",
    "idempotency_claim",
    "schema_create",
    "webhook_attempt",
    "webhook_claim",
    "webhook_create",
    "webhook_emit",
    "webhook_redeliver",
    "webhook_release",
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
    #: the broker messages of given jobs in the queues and in unacked (``worker/fleet.py``)
    find_messages: Script
    #: an Idempotency-Key claim: ``SET NX GET`` for Redis 6.2 (``shared/idempotency.py``)
    idempotency_claim: Script
    #: a stored schema, counted against the per-org quota in the same step (``shared/schemas.py``)
    schema_create: Script
    #: a delivery attempt, recorded once (``worker/webhooks.py``)
    webhook_attempt: Script
    #: claims due members of a sorted set for one lease (deliveries, expiry deadlines)
    webhook_claim: Script
    #: a webhook, counted against the per-org cap in the same step
    webhook_create: Script
    #: an event's once-guard and its deliveries
    webhook_emit: Script
    webhook_redeliver: Script
    #: drops a claimed member unless it was re-registered meanwhile
    webhook_release: Script

    def __init__(self, client: redis.Redis | Any) -> None:
        for name in _NAMES:
            setattr(self, name, client.register_script(_source(name)))


#: client -> its scripts; weak, so a client that is dropped takes its scripts with it
_BY_CLIENT: WeakKeyDictionary[Any, Scripts] = WeakKeyDictionary()


def scripts_for(client: redis.Redis | Any) -> Scripts:
    """The scripts registered on ``client``, made on its first use.

    Two threads meeting on a new client may both build one; either is as good (registering
    only hashes the source), and the first stored is kept.
    """
    found = _BY_CLIENT.get(client)
    if found is None:
        found = _BY_CLIENT.setdefault(client, Scripts(client))
    return found

"""The Redis reads and writes of the worker fleet: node heartbeats, the housekeeping turn,
the lost-message audit's memory and the health check's reply key.

Why a store of its own: these keys are not part of any job (``shared/store.py`` owns those);
they describe which worker nodes live and what they hold. ``worker/fleet.py`` holds the
logic (who is lost, what to rescue) and reads and writes Redis only through this class, so
the key layout lives in ``shared/keys.py`` and the commands here, in one place.
"""

from __future__ import annotations

from typing import cast

import redis

from shared.keys import Keys
from shared.scripts import scripts_for

#: What every live node's heartbeat set holds besides its delivery tags (never empty).
HELD_MARK = "@"


class FleetStore:
    """Heartbeats, the housekeeping lock, the audit's misses and health replies."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.keys = keys

    # ------------------------------------------------------------------ nodes
    def nodes(self) -> list[tuple[str, float]]:
        """Every node seen recently, with its last beat (ms)."""
        return cast(list[tuple[str, float]],
                    self.r.zrange(self.keys.nodes, 0, -1, withscores=True))

    def holdings(self, names: list[str]) -> list[set[str]]:
        """Each node's heartbeat set, in one round trip; empty when it expired."""
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.smembers(self.keys.node(name))
        return [set(members) for members in pipe.execute()]

    def drop_nodes(self, names: list[str]) -> None:
        """Forgets nodes whose heartbeat set expired."""
        self.r.zrem(self.keys.nodes, *names)

    def beat(self, name: str, tags: list[str] | None, now: int, ttl_ms: int) -> None:
        """Rewrites ``name``'s heartbeat set with ``tags`` at ``now``, atomically; with
        ``tags`` None (unreadable this time) only keeps the previous set alive."""
        k = self.keys
        pipe = self.r.pipeline(transaction=True)
        if tags is None:
            pipe.pexpire(k.node(name), ttl_ms)
        else:
            pipe.delete(k.node(name))
            pipe.sadd(k.node(name), HELD_MARK, *tags)
            pipe.pexpire(k.node(name), ttl_ms)
            pipe.zadd(k.nodes, {name: now})
        pipe.execute()

    def take_housekeeping_turn(self, name: str, px: int) -> bool:
        """True for the one node that runs the housekeeping this beat (SET NX)."""
        return bool(self.r.set(self.keys.housekeeping_lock, name, nx=True, px=px))

    def leave(self, name: str) -> None:
        """A node's warm shutdown: its heartbeat goes at once."""
        self.r.delete(self.keys.node(name))
        self.r.zrem(self.keys.nodes, name)

    # ------------------------------------------------------------------ audit memory
    def missed(self, job_id: str) -> str | None:
        """What the lost-message audit missed for ``job_id`` on its previous pass (JSON)."""
        return cast(str | None, self.r.get(self.keys.job_missing(job_id)))

    def remember_missed(self, job_id: str, value: bytes | str, px: int) -> None:
        self.r.set(self.keys.job_missing(job_id), value, px=px)

    def forget_missed(self, job_id: str) -> None:
        self.r.delete(self.keys.job_missing(job_id))

    # ------------------------------------------------------------------ health
    def answer_ping(self, reply_key: str, value: str) -> None:
        """The ``jobgrid.ping`` task's answer (60 s TTL: nobody may be waiting)."""
        self.r.set(reply_key, value, ex=60)

    def take_reply(self, reply_key: str) -> bool:
        """True once (the reply is consumed) when a ping task answered on ``reply_key``."""
        return bool(self.r.delete(reply_key))


class BrokerView:
    """Reads of kombu's own keys on the broker's Redis (the state Redis unless
    ``JOBGRID_BROKER_URL`` points elsewhere), for the rescue and the lost-message audit.
    Read-only: restoring a message is kombu's ``restore_by_tag``, never ours."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.keys = keys

    def unacked_before(self, ceiling: float, limit: int) -> list[str]:
        """Delivery tags of unacknowledged messages delivered at or before ``ceiling`` (s)."""
        return cast(list[str], self.r.zrange(self.keys.unacked_index, "-inf", ceiling,
                                             byscore=True, offset=0, num=limit))

    def unacked(self, tags: list[str]) -> list[str | None]:
        """The raw ``unacked`` entry of each tag (None once acknowledged)."""
        return cast(list[str | None], self.r.hmget(self.keys.unacked, tags))

    def find_messages(self, queues: list[str], job_ids: list[str]) -> list[str]:
        """Raw messages of the given jobs in ``queues`` and in ``unacked``, read atomically
        (``find_messages.lua``)."""
        find = scripts_for(self.r).find_messages
        return cast(list[str], find(keys=[*queues, self.keys.unacked], args=job_ids))

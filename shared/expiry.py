"""The job-expiry registry: each job's ``expires_at`` in one sorted set, owned by the job store.

Jobs expire on read (``shared.jobview.effective_status``); nothing writes at ``expires_at``.
Something still has to act at that moment (emit ``job.expired``), so every place that sets a
job's ``expires_at`` (``JobStore.create_job``, ``JobStore.retry``) notes it here, in the
sorted set ``{prefix}:expiries`` (member ``org|job_id``, score the deadline in ms), and the
worker's housekeeping thread (``worker.housekeeping``) claims the members that are due with
``JobStore.claim_expiries``.

The writes here take a client or a pipeline, so they join the transaction that creates (or
discards) the job.
"""

from __future__ import annotations

import redis

from shared.keys import Keys


def expiry_member(org: str, job_id: str) -> str:
    """The job's member in ``{prefix}:expiries``."""
    return f"{org}|{job_id}"


def expiry_job(member: str) -> tuple[str, str]:
    """(org, job id) of a member of ``{prefix}:expiries``."""
    org, _, job_id = member.partition("|")
    return org, job_id


def register_expiry(
    pipe_or_redis: redis.Redis, keys: Keys, org: str, job_id: str, expires_at: int
) -> None:
    """Notes the job's ``expires_at`` (ms) so the housekeeping emits ``job.expired`` then.

    Call it wherever ``expires_at`` is set (job creation, retry), inside the same pipeline
    when there is one; a later call for the same job replaces the deadline.
    """
    pipe_or_redis.zadd(keys.expiries, {expiry_member(org, job_id): expires_at})


def unregister_expiry(pipe_or_redis: redis.Redis, keys: Keys, org: str, job_id: str) -> None:
    """Forgets the job's deadline: for a submission rolled back or a job deleted early."""
    pipe_or_redis.zrem(keys.expiries, expiry_member(org, job_id))

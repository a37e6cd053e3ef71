"""Every Redis key and channel name jobgrid uses, in one place.

All keys live under one prefix (``JOBGRID_KEY_PREFIX``, default ``jg``), Celery's broker keys
included (kombu ``global_keyprefix`` = ``{prefix}:q:``), so one Redis can host several
deployments or test runs and an operator can see at a glance what belongs to whom.

| key                                | type   | TTL                 | written by                   |
| ---------------------------------- | ------ | ------------------- | ---------------------------- |
| ``{p}:job:{id}``                   | hash   | expires_at + grace  | API (create/cancel/retry), Lua |
|                                    |        |                     | scripts of the worker        |
| ``{p}:job:{id}:docs``              | hash   | expires_at          | API at submit: index -> doc JSON |
| ``{p}:job:{id}:names``             | hash   | expires_at          | API at submit: index -> filename |
| ``{p}:job:{id}:schema``            | string | expires_at + grace  | API at submit: schema JSON   |
| ``{p}:job:{id}:parsed``            | hash   | expires_at          | worker phase_1: index -> text JSON |
| ``{p}:job:{id}:done``              | set    | expires_at          | record_document.lua (fan-in guard) |
| ``{p}:job:{id}:failed``            | set    | expires_at          | record_document.lua (for retry) |
| ``{p}:job:{id}:results``           | hash   | expires_at          | record_document.lua: index -> row JSON |
| ``{p}:job:{id}:attempts``          | hash   | expires_at          | begin_task.lua / note_failure.lua |
| ``{p}:job:{id}:queue``             | list   | expires_at          | worker fan-out: indexes not yet sent |
| ``{p}:job:{id}:claims``            | hash   | expires_at          | record_document.lua: who sent what |
| ``{p}:job:{id}:timeline``          | list   | expires_at + grace  | transition scripts           |
| ``{p}:org:{org}:jobs``             | zset   | none (lazy trim)    | API at submit: created_ms -> id |
| ``{p}:org:{org}:updated``          | zset   | none (lazy trim)    | every job write: updated_ms -> id |
| ``{p}:org:{org}:keys``             | set    | none                | ``jobgrid keys``: key ids    |
| ``{p}:apikey:{sha256}``            | hash   | none                | ``jobgrid keys``: org, name, created_at, revoked |
| ``{p}:rl:{key_id}:{window}``       | string | one window          | status_read.lua / rate_limit.lua |
| ``{p}:idem:{org}:{sha256}``        | string | 24 h                | API at submit                |
| ``{p}:schema:{org}:{id}``          | string | none                | ``POST /v1/schemas``         |
| ``{p}:metrics:counters``          | hash   | none                | workers (``worker/metrics.py``), flushed 1/s |
| ``{p}:metrics:extraction_seconds`` | hash  | none                | workers: histogram buckets   |
| ``{p}:metrics:jobs_by_status`` etc. | hash  | none                | API census (``api/census.py``) |
| ``{p}:health:{token}``             | string | 60 s                | ``jobgrid.ping`` health task |
| ``{p}:events`` (pub/sub channel)   | -      | -                   | every job write publishes ``{id} {version}`` |
| ``{p}:org:{org}:webhooks``         | zset   | none                | API: created -> id  |
| ``{p}:org:{org}:webhook:{id}``     | hash   | none                | API: sealed secret |
| ``{p}:webhook:{id}:deliveries``    | zset   | delivery retention  | emit (last 100)     |
| ``{p}:delivery:{id}``              | hash   | delivery retention  | emit, attempt     |
| ``{p}:delivery:{id}:lock``         | string | timeout + 30 s      | delivery task       |
| ``{p}:job:{id}:emitted``           | hash   | expires_at + grace  | emit (once guard)   |
| ``{p}:job:{id}:progress_gate``     | string | progress interval   | emit_progress (SET NX) |
| ``{p}:webhooks:due``               | zset   | none                | emission; worker sweeper |
| ``{p}:expiries``                   | zset   | none                | register_expiry; sweeper |
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class JobKeys:
    """The keys of one job, in the order the Lua scripts take them."""

    job: str
    docs: str
    names: str
    schema: str
    parsed: str
    done: str
    failed: str
    results: str
    attempts: str
    timeline: str
    queue: str
    claims: str

    def data_keys(self) -> tuple[str, ...]:
        """Keys deleted at ``expires_at`` (documents and results)."""
        return (self.docs, self.names, self.parsed, self.done, self.failed, self.results, self.attempts,
                self.queue, self.claims)

    def record_keys(self) -> tuple[str, ...]:
        """Keys that outlive the data by the grace period (the status record)."""
        return (self.job, self.schema, self.timeline)


class Keys:
    """Key names under one prefix. Build one per process from settings."""

    __slots__ = ("prefix", "events_channel")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.events_channel = f"{prefix}:events"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def job_keys(self, job_id: str) -> JobKeys:
        base = f"{self.prefix}:job:{job_id}"
        return JobKeys(
            job=base,
            docs=f"{base}:docs",
            names=f"{base}:names",
            schema=f"{base}:schema",
            parsed=f"{base}:parsed",
            done=f"{base}:done",
            failed=f"{base}:failed",
            results=f"{base}:results",
            attempts=f"{base}:attempts",
            timeline=f"{base}:timeline",
            queue=f"{base}:queue",
            claims=f"{base}:claims",
        )

    def org_jobs(self, org: str) -> str:
        return f"{self.prefix}:org:{org}:jobs"

    def org_updated(self, org: str) -> str:
        return f"{self.prefix}:org:{org}:updated"

    def org_keys(self, org: str) -> str:
        return f"{self.prefix}:org:{org}:keys"

    def api_key(self, key_id: str) -> str:
        return f"{self.prefix}:apikey:{key_id}"

    def rate(self, key_id: str, window: int) -> str:
        return f"{self.prefix}:rl:{key_id}:{window}"

    def idempotency(self, org: str, digest: str) -> str:
        return f"{self.prefix}:idem:{org}:{digest}"

    def schema(self, org: str, schema_id: str) -> str:
        return f"{self.prefix}:schema:{org}:{schema_id}"

    def webhook(self, org: str, webhook_id: str) -> str:
        return f"{self.prefix}:org:{org}:webhook:{webhook_id}"

    def org_webhooks(self, org: str) -> str:
        return f"{self.prefix}:org:{org}:webhooks"

    def webhook_deliveries(self, webhook_id: str) -> str:
        return f"{self.prefix}:webhook:{webhook_id}:deliveries"

    def webhook_delivery(self, delivery_id: str) -> str:
        return f"{self.prefix}:delivery:{delivery_id}"

    def webhook_emitted(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:emitted"

    def webhook_delivery_lock(self, delivery_id: str) -> str:
        return f"{self.prefix}:delivery:{delivery_id}:lock"

    def webhook_progress_gate(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:progress_gate"

    @property
    def webhooks_due(self) -> str:
        """Deliveries waiting for their next attempt, scored by due time (ms)."""
        return f"{self.prefix}:webhooks:due"

    @property
    def expiries(self) -> str:
        """Jobs' expiry deadlines (ms), member ``org|job_id``, for the job.expired event."""
        return f"{self.prefix}:expiries"

    def health_reply(self, token: str) -> str:
        """Where a ``jobgrid.ping`` health task answers (60 s TTL)."""
        return f"{self.prefix}:health:{token}"

    @property
    def broker_prefix(self) -> str:
        """kombu ``global_keyprefix``: Celery's queues live under our prefix too."""
        return f"{self.prefix}:q:"

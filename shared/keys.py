"""Every Redis key and channel name jobgrid uses, in one place.

All keys live under one prefix (``JOBGRID_KEY_PREFIX``, default ``jg``), Celery's broker keys
included (kombu ``global_keyprefix`` = ``{prefix}:q:``), so one Redis can host several
deployments or test runs and an operator can see at a glance what belongs to whom.

Each key: type, TTL, who writes it. ``{p}`` is the prefix; "data TTL" is the job's
``expires_at``; "record TTL" is ``expires_at`` + the grace period.

Jobs
- ``{p}:job:{id}``: hash, record TTL. The status record: API (create, cancel, retry) and
  the worker's Lua scripts.
- ``{p}:job:{id}:docs``: hash, data TTL. API at submit: index -> document JSON.
- ``{p}:job:{id}:names``: hash, data TTL. API at submit: index -> filename.
- ``{p}:job:{id}:schema``: string, record TTL. API at submit: the schema JSON.
- ``{p}:job:{id}:parsed``: hash, data TTL. No longer written (each extract task parses its
  own document); still deleted with the job's data, for jobs parsed before that change.
- ``{p}:job:{id}:done`` / ``:failed``: sets, data TTL. record_document.lua (fan-in guard,
  retry).
- ``{p}:job:{id}:results``: hash, data TTL. record_document.lua: index -> row JSON.
- ``{p}:job:{id}:rows``: zset, data TTL. record_document.lua: index scored by the job
  version of the write that recorded it (the results cursor's completion order);
  retry_job.lua removes the rows it re-opens.
- ``{p}:job:{id}:rerun``: hash, data TTL. retry_job.lua: index -> times re-opened, so a
  re-run row is marked as such in cursor pages and ``row`` events.
- ``{p}:job:{id}:attempts``: hash, data TTL. begin_task.lua / note_failure.lua.
- ``{p}:job:{id}:queue`` / ``:claims``: list / hash, data TTL. Fan-out window:
  indexes not yet sent / which index each recorded document handed out (only with a separate
  broker; otherwise record_document.lua pushes the message itself into ``{p}:q:<queue>``).
- ``{p}:job:{id}:timeline``: list, record TTL. transition scripts.
- ``{p}:job:{id}:emitted``: hash, record TTL. Webhook once-guard.
- ``{p}:job:{id}:progress_gate``: string, progress interval. ``emit_progress`` (SET NX).

Organizations and access
- ``{p}:org:{org}:jobs`` / ``:updated``: zsets, no TTL (trimmed lazily). created_ms -> id
  at submit / updated_ms -> id on every job write.
- ``{p}:org:{org}:keys``: set. ``{p}:apikey:{sha256}``: hash (org, name, created_at,
  revoked). Both from ``jobgrid keys``.
- ``{p}:rl:{key_id}:{window}``: string, one window. status_read.lua (rate limit).
- ``{p}:idem:{org}:{sha256}``: string, 24 h. API at submit (Idempotency-Key).
- ``{p}:schema:{org}:{id}``: string, no TTL. ``POST``/``PUT /v1/schemas``, deleted by
  ``DELETE``; ``{p}:org:{org}:schemas``: zset (created_ms -> id), no TTL, the list and quota.

Webhooks
- ``{p}:org:{org}:webhooks``: zset (created -> id); ``{p}:org:{org}:webhook:{id}``: hash
  with the sealed secret. API.
- ``{p}:webhook:{id}:deliveries``: zset (last 100); ``{p}:delivery:{id}``: hash; both
  delivery retention. ``{p}:delivery:{id}:lock``: string, timeout + 30 s.
- ``{p}:webhooks:due``, ``{p}:expiries``: zsets swept by workers.

Operations
- ``{p}:metrics:counters`` / ``:extraction_seconds``: hashes, workers (flushed 1/s);
  ``{p}:metrics:jobs_by_status`` etc.: the API's census.
- ``{p}:running``: zset (``org|id`` -> created_ms), no TTL. Jobs not yet terminal: added at
  submit and retry, removed by transition.lua; ``{p}:job:{id}:rescue``: string, stall TTL.
  The watchdog (``worker/watchdog.py``).
- ``{p}:node:{name}``: set, ``JOBGRID_NODE_TIMEOUT_SECONDS``. A worker node's heartbeat:
  "@" plus the delivery tags of the broker messages it holds, rewritten every beat
  (``worker/fleet.py``). ``{p}:nodes``: zset (name -> last beat, ms), pruned by the same.
- ``{p}:housekeeping``: string, one beat. Which node runs the fleet's rescue pass now.
- ``{p}:job:{id}:missing``: string, 60 s. What the lost-message audit did not find last pass.
- ``{p}:health:{token}``: string, 60 s. The ``jobgrid.ping`` health task.
- ``{p}:events``: pub/sub channel. Every job write publishes ``"<id> <version>"``.
- ``{p}:q:*``: Celery's broker keys (queues, unacked, bindings).
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
    rows: str
    rerun: str

    def data_keys(self) -> tuple[str, ...]:
        """Keys deleted at ``expires_at`` (documents and results)."""
        return (self.docs, self.names, self.parsed, self.done, self.failed, self.results,
                self.attempts, self.queue, self.claims, self.rows, self.rerun)

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
            rows=f"{base}:rows",
            rerun=f"{base}:rerun",
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

    def org_schemas(self, org: str) -> str:
        return f"{self.prefix}:org:{org}:schemas"

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

    @property
    def running(self) -> str:
        """Jobs not yet terminal (``org|id``), watched for stalls by the workers' watchdog."""
        return f"{self.prefix}:running"

    def rescue_lock(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:rescue"

    def node(self, name: str) -> str:
        """A worker node's heartbeat set (expires when the node stops beating)."""
        return f"{self.prefix}:node:{name}"

    @property
    def nodes(self) -> str:
        """Every worker node seen recently (name -> last beat, ms)."""
        return f"{self.prefix}:nodes"

    @property
    def housekeeping_lock(self) -> str:
        return f"{self.prefix}:housekeeping"

    def job_missing(self, job_id: str) -> str:
        """The messages the lost-message audit missed on its previous pass (JSON)."""
        return f"{self.prefix}:job:{job_id}:missing"

    @property
    def unacked(self) -> str:
        """kombu's hash of delivered, unacknowledged messages (tag -> [payload, ex, rk])."""
        return f"{self.broker_prefix}unacked"

    @property
    def unacked_index(self) -> str:
        """kombu's zset of the same tags, scored by delivery time (seconds)."""
        return f"{self.broker_prefix}unacked_index"

    def broker_queue(self, queue: str) -> str:
        return f"{self.broker_prefix}{queue}"

    def health_reply(self, token: str) -> str:
        """Where a ``jobgrid.ping`` health task answers (60 s TTL)."""
        return f"{self.prefix}:health:{token}"

    @property
    def broker_prefix(self) -> str:
        """kombu ``global_keyprefix``: Celery's queues live under our prefix too."""
        return f"{self.prefix}:q:"

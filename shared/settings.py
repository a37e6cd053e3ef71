"""The one typed settings object, read from ``JOBGRID_*`` environment variables.

A bad value fails at start-up with pydantic's message, which names the variable.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY = 86_400
#: Upper bound (and default) of ``max_held_requests``: the production server sizes its thread
#: pool from it (``api.server.BLOCKING_THREADS``).
MAX_HELD_REQUESTS = 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBGRID_", extra="ignore")

    # --- connections
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None  # defaults to redis_url
    key_prefix: str = "jg"
    redis_socket_timeout: float = 2.0

    # --- public URL used in links.dashboard
    base_url: str = "http://127.0.0.1:8000"
    # Proxies in front of the API whose X-Forwarded-For/-Proto to trust (0: none). The
    # dashboard's cookie is Secure only when the request is https as the client made it.
    proxy_hops: int = Field(0, ge=0, le=8)

    # --- retention
    retention_seconds: int = Field(7 * DAY, ge=1)
    expired_grace_seconds: int = Field(30 * DAY, ge=0)
    idempotency_ttl_seconds: int = Field(DAY, ge=1)

    # --- limits (413 above these)
    max_request_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_document_bytes: int = Field(20 * 1024 * 1024, ge=1)
    max_documents: int = Field(10_000, ge=1)

    # --- rate limit per API key: `rate_limit_requests` per `rate_limit_window_seconds`
    rate_limit_requests: int = Field(6000, ge=1)
    rate_limit_window_seconds: int = Field(60, ge=1)

    # --- API keys configured by env: "key1=org_a,key2=org_b" (for dev and tests)
    api_keys: str = ""
    api_key_cache_seconds: float = Field(5.0, ge=0)

    # --- polling hints
    poll_after_seconds: float = Field(1.0, ge=0)
    poll_after_queued_seconds: float = Field(2.0, ge=0)
    long_poll_max_seconds: int = Field(60, ge=1, le=60)
    sse_heartbeat_seconds: float = Field(15.0, gt=0)
    # Open SSE streams + waiting long polls per API process. Each holds one of the server's
    # threads (api.server sizes the pool as this maximum plus the poll threads), so more than
    # this answers 503 instead of leaving ordinary polls without a thread.
    max_held_requests: int = Field(MAX_HELD_REQUESTS, ge=1, le=MAX_HELD_REQUESTS)

    # --- worker
    extractor: str = "builtin"
    visibility_timeout: int = Field(3600, ge=1)
    document_attempt_cap: int = Field(3, ge=1)
    transient_retry_max: int = Field(3, ge=0)
    retry_backoff_base: float = Field(2.0, ge=0)
    retry_backoff_max: float = Field(60.0, ge=0)
    document_soft_time_limit: int = Field(300, ge=1)
    fanout_window: int = Field(32, ge=1)  # broker messages per job at once (fairness)
    # a running job with no write for this long has its next step re-sent (lost messages)
    stall_seconds: float = Field(600.0, gt=0)
    worker_concurrency: int | None = None
    # Node-loss recovery (docs/reliability.md, "Lost nodes"): each worker node refreshes a
    # heartbeat key every `heartbeat_seconds`; a node silent for `node_timeout_seconds` is
    # lost, and a live node puts the broker messages it held back on their queues.
    heartbeat_seconds: float = Field(2.0, gt=0, le=60)
    node_timeout_seconds: float = Field(10.0, gt=0, le=600)

    # --- OpenAI-compatible extractor (optional)
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_api_key: str | None = None
    openai_timeout_seconds: float = Field(60.0, gt=0)

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not v or any(c in v for c in " {}*?[]"):
            raise ValueError("JOBGRID_KEY_PREFIX must be non-empty, without spaces or glob chars")
        return v

    @model_validator(mode="after")
    def _node_timeout(self) -> Settings:
        if self.node_timeout_seconds < 3 * self.heartbeat_seconds:
            raise ValueError("JOBGRID_NODE_TIMEOUT_SECONDS must be at least 3 x "
                             "JOBGRID_HEARTBEAT_SECONDS (a node may miss a beat or two)")
        return self

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    def configured_api_keys(self) -> dict[str, str]:
        """Parse ``JOBGRID_API_KEYS`` ("key=org,key2=org2") into {key: org}."""
        out: dict[str, str] = {}
        for part in self.api_keys.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, org = part.partition("=")
            if not sep or not key.strip() or not org.strip():
                raise ValueError("JOBGRID_API_KEYS must look like 'key=org_id,key2=org_id2'")
            out[key.strip()] = org.strip()
        return out

    # --- webhooks (docs/webhooks.md)
    # Keys for encrypting webhook secrets at rest, comma separated: the first encrypts, all
    # decrypt (rotation). Empty: a built-in development key, with a warning; set it in prod.
    webhook_secret_key: str = ""
    webhook_allow_private: bool = False  # allow loopback/private targets (tests, on-prem)
    webhook_retry_schedule: str = "60,300,1800,14400"  # seconds before retry 1, 2, ...
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    webhook_progress_interval_seconds: float = Field(30.0, gt=0)
    webhook_sweep_interval_seconds: float = Field(1.0, gt=0, le=60)
    webhook_lease_seconds: int = Field(300, ge=30)  # claimed, unfinished: sent again after
    webhook_delivery_retention_seconds: int = Field(7 * DAY, ge=3600)
    webhook_max_per_org: int = Field(16, ge=1)

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _webhook_schedule(cls, v: str) -> str:
        try:
            steps = [float(x) for x in v.split(",") if x.strip()]
        except ValueError:
            steps = [-1.0]
        if len(steps) > 20 or any(s <= 0 for s in steps):
            raise ValueError("JOBGRID_WEBHOOK_RETRY_SCHEDULE must be at most 20 positive "
                             "numbers of seconds, comma separated (e.g. '60,300,1800,14400')")
        return v

    @property
    def webhook_retry_delays(self) -> list[float]:
        """Seconds to wait before each retry; its length is the number of retries."""
        return [float(x) for x in self.webhook_retry_schedule.split(",") if x.strip()]

    # --- hostile clients (docs/api.md "Limits"; docs/reliability.md, bad input)
    # Stored schemas per organization (POST /v1/schemas answers 422 past it; delete one).
    max_schemas_per_org: int = Field(100, ge=1, le=10_000)
    # Fair share of the held requests (SSE streams + waiting long polls) of one API process:
    # one API key, and one organization, hold at most this many (429 past it); the last
    # `held_reserve` are kept for organizations that hold none yet, so a new one can always
    # open a stream while others use up the shared part (api.pubsub.ChangeFeed).
    max_held_per_key: int = Field(128, ge=1, le=MAX_HELD_REQUESTS)
    max_held_per_org: int = Field(256, ge=1, le=MAX_HELD_REQUESTS)
    held_reserve: int = Field(64, ge=0, le=MAX_HELD_REQUESTS - 1)
    # Failed authentications (unknown or unreadable key) per client address and window, per
    # API process; past it the address gets 429 without any key lookup (api.auth).
    auth_failure_limit: int = Field(100, ge=1)
    auth_failure_window_seconds: int = Field(60, ge=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

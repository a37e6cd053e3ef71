"""The per-app objects every view needs, built once by ``create_app`` and shared by requests.

They live in ``app.extensions`` rather than module globals so a test can build several apps
with different settings (another Redis, tiny limits) in one process.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from api.auth import Authenticator
from api.enqueue import Enqueuer
from shared.idempotency import IdempotencyStore
from shared.keys import Keys
from shared.listing_store import ListingStore
from shared.metric_keys import metric_keys
from shared.metrics_store import MetricsStore
from shared.schemas import SchemaStore
from shared.settings import Settings
from shared.store import JobStore

EXTENSION = "jobgrid"


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler touches: settings, Redis, the store, auth and the queue."""

    settings: Settings
    redis: redis.Redis
    store: JobStore
    keys: Keys
    auth: Authenticator
    enqueuer: Enqueuer

    # The stores below own their Redis calls and keep no state of their own beyond the client
    # and key names, so building one per use costs one small object.
    @property
    def schemas(self) -> SchemaStore:
        return SchemaStore(self.redis, self.keys)

    @property
    def idempotency(self) -> IdempotencyStore:
        return IdempotencyStore(self.redis, self.keys)

    @property
    def listing(self) -> ListingStore:
        return ListingStore(self.redis, self.keys)

    @property
    def metrics(self) -> MetricsStore:
        return MetricsStore(self.redis, self.keys, metric_keys(self.settings.key_prefix))


def services() -> Services:
    """The current app's services (only valid inside a request or app context)."""
    svc: Services = current_app.extensions[EXTENSION]
    return svc

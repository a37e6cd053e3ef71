"""The Flask application factory, and the one place the WSGI stack is assembled.

``create_app(settings)`` builds one app with its own Redis client, store, key cache and
Celery sender, so tests can run apps with different settings side by side; ``api.wsgi``
builds the production one from the environment. The layers a request passes before Flask
are all placed here (:func:`wrap_wsgi`), none by a blueprint or extension as a side effect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api import errors, metrics, middleware
from api.auth import Authenticator
from api.enqueue import Enqueuer
from api.hotpath import StatusFastPath
from api.redact import RedactTokens
from api.routes import dashboard, events, jobs, ops, results, schemas, status, webhooks
from api.services import EXTENSION, Services
from shared.keys import Keys
from shared.redis_client import redis_from_settings
from shared.settings import Settings, get_settings
from shared.store import JobStore

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def build_services(settings: Settings) -> Services:
    client = redis_from_settings(settings)
    return Services(
        settings=settings,
        redis=client,
        store=JobStore(client, settings),
        keys=Keys(settings.key_prefix),
        auth=Authenticator(client, settings),
        enqueuer=Enqueuer(settings),
    )


def create_app(settings: Settings | None = None) -> Flask:
    """The API app; ``settings`` overrides the environment (tests pass small limits)."""
    settings = settings or get_settings()
    app = Flask("jobgrid.api")
    # Flask caps reads of bodies without Content-Length (chunked) at this size (413).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    svc = app.extensions[EXTENSION] = build_services(settings)
    middleware.register(app)
    errors.register(app)
    # status first: /v1/jobs/status is a static rule and wins over /v1/jobs/<job_id> anyway,
    # but registering it first keeps the intent visible.
    for bp in (status.bp, jobs.bp, results.bp, schemas.bp, ops.bp):
        app.register_blueprint(bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(events.bp)  # SSE: docs/polling.md
    app.register_blueprint(webhooks.bp)  # docs/webhooks.md
    metrics.register(app)  # request latency for /metrics
    app.wsgi_app = wrap_wsgi(app.wsgi_app, svc)  # type: ignore[method-assign,assignment]
    return app


def wrap_wsgi(flask_wsgi: WSGIApplication, svc: Services) -> WSGIApplication:
    """The WSGI stack around Flask's own ``wsgi_app``; a request meets the layers outermost
    first:

    1. ``ProxyFix``, only with ``proxy_hops`` set: the server does not read
       ``X-Forwarded-*``, so trust exactly as many proxies as configured;
    2. ``RedactTokens``: ``?access_token=`` out of the environ an access log prints;
    3. ``StatusFastPath`` (``api.hotpath``): answers the common status poll itself, passes
       everything else on;
    4. Flask: the hooks of ``api.middleware`` and ``api.metrics``, the blueprints, the
       error mapping.
    """
    stack: WSGIApplication = StatusFastPath(svc, flask_wsgi)
    stack = RedactTokens(stack)
    if svc.settings.proxy_hops:
        hops = svc.settings.proxy_hops
        stack = ProxyFix(stack, x_for=hops, x_proto=hops)
    return stack

"""A WSGI fast path for the request clients send most: ``GET /v1/jobs/{id}/status``.

Why: profiled under load (``docs/polling.md``), Flask's request machinery and the app's hooks
cost this process about as much CPU as the Redis round trip itself, so a poll through Flask
ran at about half the rate of a bare Flask view doing one HGETALL. This layer answers the
common case - a GET, the key in the ``Api-Key`` or ``Authorization`` header and already in the
key cache, no query string - with the same functions the Flask view uses (``api.auth``'s
``request_key``, ``api.ratelimit.count_and_read``, ``api.conditional.status_answer``,
``api.lookup``, ``api.errors``), in the same single Redis round trip, without building a
Flask request.

It is one explicit layer of the WSGI stack that ``api.app.create_app`` builds, directly
around Flask. Everything else goes to Flask untouched: a key not cached yet (its first
request resolves and caches it), ``?access_token=`` and long polls (any query string), HEAD,
bad ids, and any exception (a Redis outage becomes the usual 503 there; a request that failed
after its count is then counted twice, which only matters during an outage).

What the app's hooks add to a response is done here explicitly: ``X-Request-Id``, the
``X-RateLimit-*`` headers and the ``api.metrics`` latency histogram. A hook added to the app
later does not run for these requests: add its effect here too. A test
(``test_fast_path_and_flask_path_answer_alike``) holds both paths to the same status, headers
and body for 200, 304, 404 and 429.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from api import ratelimit
from api.auth import Principal, request_key
from api.conditional import status_answer
from api.errors import handle_jobgrid
from api.lookup import not_found
from api.metrics import HTTP_LATENCY
from api.middleware import REQUEST_ID_HEADER, request_id_for
from api.routes.status import STATUS_RULE
from api.services import Services
from shared.clock import now_ms
from shared.errors import JobgridError
from shared.job import F

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_PATH = re.compile(r"^/v1/jobs/([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})/status$")
_STATUS_LINES = {c: f"{c} {HTTPStatus(c).phrase}" for c in (200, 304, 404, 429)}
Reply = tuple[int, list[tuple[str, str]], bytes]
_ORG: Final = F.ORG  # a module global: one lookup per poll, as the literal was


class StatusFastPath:
    """WSGI layer in front of the Flask app (``inner``), placed by ``api.app.create_app``;
    ``svc`` is that app's services (key cache, store, settings)."""

    def __init__(self, svc: Services, inner: WSGIApplication) -> None:
        self.svc = svc
        self.inner = inner
        self._timers: dict[int, Any] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        if environ.get("QUERY_STRING") or environ.get("REQUEST_METHOD") != "GET":
            return self.inner(environ, start_response)
        match = _PATH.match(environ.get("PATH_INFO", ""))
        key = request_key(environ) if match else None
        principal = self.svc.auth.cached(key) if key else None
        if match is None or principal is None:
            return self.inner(environ, start_response)
        started = time.perf_counter()
        try:
            code, headers, body = self._answer(environ, principal, match.group(1).lower())
        except Exception:  # noqa: BLE001 - Flask answers it (503, 500) the usual way
            return self.inner(environ, start_response)
        headers.append((REQUEST_ID_HEADER, request_id_for(environ.get("HTTP_X_REQUEST_ID"))))
        start_response(_STATUS_LINES.get(code) or f"{code} {HTTPStatus(code).phrase}", headers)
        self._observe(code, started)
        return [body]

    def _answer(self, environ: WSGIEnvironment, principal: Principal, job_id: str) -> Reply:
        """The view's answer (``api.routes.status.job_status``) from the same gate."""
        counted = ratelimit.count_and_read(self.svc, principal, (job_id,))
        rate = list(counted.rate.headers().items())
        if counted.refusal is not None:
            return _error(counted.refusal, rate)
        h = counted.hashes[0]
        if h.get(_ORG) != principal.org:
            return _error(not_found(job_id), rate)
        answer = status_answer(h, environ.get("HTTP_IF_NONE_MATCH"), self.svc.settings,
                               now_ms())
        headers = answer.headers
        if answer.code == 200:
            headers += [("Content-Type", "application/json"),
                        ("Content-Length", str(len(answer.body)))]
        return answer.code, headers + rate, answer.body

    def _observe(self, code: int, started: float) -> None:
        timer = self._timers.get(code)
        if timer is None:
            timer = self._timers[code] = HTTP_LATENCY.labels("GET", STATUS_RULE, str(code))
        timer.observe(time.perf_counter() - started)


def _error(e: JobgridError, rate: list[tuple[str, str]]) -> Reply:
    """The error response the app's error handler would make, plus the rate headers."""
    resp = handle_jobgrid(e)
    return resp.status_code, [*resp.headers.items(), *rate], resp.get_data()

"""Keeps ``?access_token=`` keys out of server access logs.

The production server (granian) logs the path without the query string, so this matters for
other WSGI servers. gunicorn's access log, for one, prints ``RAW_URI`` (``%(r)s``) and
``QUERY_STRING`` (``%(q)s``) from the request's WSGI environ after the app answered. This
middleware rewrites the token's value in both: ``RAW_URI``/``REQUEST_URI`` before the app
runs (Flask routes on ``PATH_INFO`` and never reads them), ``QUERY_STRING`` once the app
returned (the key was read by then).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_TOKEN = re.compile(r"(^|[?&])(access_token=)[^&#]*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    if "access_token" not in text.lower():  # the common case: skip the regex (hot path)
        return text
    return _TOKEN.sub(rf"\1\2{REDACTED}", text)


class RedactTokens:
    """WSGI middleware around the Flask app (``app.wsgi_app``)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        for name in ("RAW_URI", "REQUEST_URI"):
            if isinstance(environ.get(name), str):
                environ[name] = redact(environ[name])
        result = self.app(environ, start_response)
        if isinstance(environ.get("QUERY_STRING"), str):
            environ["QUERY_STRING"] = redact(environ["QUERY_STRING"])
        return result

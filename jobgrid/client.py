"""A small typed client for the jobgrid HTTP API (``docs/contract.md``), on ``urllib`` only.

Every non-2xx answer becomes :class:`ApiError` carrying the contract's ``error.code`` and
``error.message``; anything that prevents an answer (refused connection, DNS, timeout, reset)
becomes :class:`ConnectionFailed`. The CLI turns both into one line on stderr and exit code 2.

Bodies are returned as plain dicts: the client must keep working when the server adds fields,
so it does not validate answers against the server's own pydantic models.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import Any, Literal, overload

from jobgrid import __version__
from jobgrid.documents import documents_from_paths

__all__ = [
    "DEFAULT_URL",
    "ApiError",
    "Client",
    "ConnectionFailed",
    "EventStream",
    "JSON",
    "StatusResponse",
    "documents_from_paths",
]

DEFAULT_URL = "http://127.0.0.1:8000"
JSON = dict[str, Any]
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "expired"})


class ApiError(Exception):
    """Raised when the API answers with an error status; mirrors the contract's error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message} (HTTP {status})")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after


class ConnectionFailed(Exception):
    """Raised when the API cannot be reached at all (no HTTP answer)."""


@dataclass(frozen=True, slots=True)
class StatusResponse:
    """One answer of ``GET /v1/jobs/{id}/status``.

    ``data`` is None when the server answered 304 (the ETag we sent is still current);
    ``poll_after`` is the server's ``X-Poll-After`` hint in seconds (None once terminal).
    """

    data: JSON | None
    etag: str | None
    poll_after: float | None

    @property
    def not_modified(self) -> bool:
        return self.data is None


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> JSON:
        value = json.loads(self.body) if self.body else {}
        if not isinstance(value, dict):
            raise ApiError(self.status, "bad_response", "the server answered a non-object JSON")
        return value


def _float_header(headers: Message, name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _error_from(status: int, headers: Message, body: bytes, reason: str) -> ApiError:
    code, message = f"http_{status}", (reason or "request failed")
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    err = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code") or code)
        message = str(err.get("message") or message)
    elif body and not payload:
        message = body.decode("utf-8", errors="replace").strip()[:200] or message
    return ApiError(
        status,
        code,
        message,
        request_id=headers.get("X-Request-Id"),
        retry_after=_float_header(headers, "Retry-After"),
    )


class EventStream:
    """An open ``/events`` stream: iterate for the ``status`` payloads, in order.

    Iteration ends when the server ends the stream (after the terminal event, or when Redis
    went away); a dead connection raises ConnectionFailed after ``read_timeout`` (longer than
    the server's heartbeat, so an idle but healthy stream never times out). ``close()`` may be
    called from another thread: it shuts the socket down, which wakes a blocked read.
    """

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._resp = resp
        self._closed = False

    def __iter__(self) -> Iterator[JSON]:
        event, data = "message", list[str]()
        try:
            while True:
                raw = self._resp.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line:  # a blank line dispatches the event
                    if event == "status" and data:
                        payload = json.loads("\n".join(data))
                        if isinstance(payload, dict):
                            yield payload
                    event, data = "message", list[str]()
                elif line.startswith(":"):
                    continue  # heartbeat comment
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "event":
                        event = value
                    elif name == "data":
                        data.append(value)
        except (OSError, http.client.HTTPException, ValueError) as e:
            if self._closed:
                return
            raise ConnectionFailed(f"event stream broken: {e or type(e).__name__}") from None

    def close(self) -> None:
        self._closed = True
        sock = self._conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._conn.close()


class Client:
    """Calls the API at ``base_url`` with ``api_key``.

    Defaults come from ``JOBGRID_URL`` (else ``http://127.0.0.1:8000``) and
    ``JOBGRID_API_KEY``. One connection per call: simple, and polling once a second does not
    need keep-alive.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = (base_url or os.environ.get("JOBGRID_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("JOBGRID_API_KEY")
        self.timeout = timeout

    # ------------------------------------------------------------------ transport
    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        accept_304: bool = False,
        timeout: float | None = None,
    ) -> _Response:
        url = self.base_url + path
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        hdrs = {"Accept": "application/json", "User-Agent": f"jobgrid-cli/{__version__}"}
        if self.api_key:
            hdrs["Api-Key"] = self.api_key
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return _Response(int(resp.status), resp.headers, resp.read())
        except urllib.error.HTTPError as e:
            with e:  # closes the socket: no ResourceWarning on the error path either
                raw = e.read() if e.fp is not None else b""
                if accept_304 and e.code == 304:
                    return _Response(304, e.headers, b"")
                raise _error_from(e.code, e.headers, raw, str(e.reason)) from None
        except urllib.error.URLError as e:
            raise ConnectionFailed(f"cannot reach the jobgrid API at {self.base_url}: "
                                   f"{e.reason}") from None
        except (OSError, http.client.HTTPException) as e:
            raise ConnectionFailed(f"cannot reach the jobgrid API at {self.base_url}: "
                                   f"{e or type(e).__name__}") from None

    @staticmethod
    def _job_path(job_id: str, suffix: str = "") -> str:
        return f"/v1/jobs/{urllib.parse.quote(job_id, safe='')}{suffix}"

    # ----------------------------------------------------------------- operations
    def ready(self) -> bool:
        """True when ``/readyz`` answers 2xx (the API is up and reaches Redis)."""
        try:
            return 200 <= self._request("GET", "/readyz", timeout=2.0).status < 300
        except (ApiError, ConnectionFailed):
            return False

    def submit(
        self,
        name: str | None,
        *,
        documents: Sequence[Mapping[str, Any]],
        schema: Mapping[str, Any] | None = None,
        schema_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        priority: Literal["low", "normal", "high"] = "normal",
        idempotency_key: str | None = None,
        endpoint: str | None = None,
    ) -> JSON:
        """``POST /v1/jobs``: returns the job object (202, or 200 for an idempotent replay)."""
        if (schema is None) == (schema_id is None):
            raise ValueError("give exactly one of schema or schema_id")
        body: JSON = {"documents": [dict(d) for d in documents], "priority": priority}
        if name is not None:
            body["name"] = name
        if schema is not None:
            body["schema"] = dict(schema)
        if schema_id is not None:
            body["schema_id"] = schema_id
        if metadata:
            body["metadata"] = dict(metadata)
        if endpoint is not None:
            body["endpoint"] = endpoint
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._request("POST", "/v1/jobs", body=body, headers=headers).json()

    def get_job(self, job_id: str) -> JSON:
        return self._request("GET", self._job_path(job_id)).json()

    def status(
        self,
        job_id: str,
        *,
        etag: str | None = None,
        wait: int | None = None,
        version: int | None = None,
    ) -> StatusResponse:
        """``GET /v1/jobs/{id}/status``; pass the last ``etag`` to get a cheap 304."""
        headers = {"If-None-Match": etag} if etag else None
        timeout = self.timeout + wait if wait else None
        resp = self._request(
            "GET",
            self._job_path(job_id, "/status"),
            query={"wait": wait, "version": version},
            headers=headers,
            accept_304=True,
            timeout=timeout,
        )
        poll_after = _float_header(resp.headers, "X-Poll-After")
        new_etag = resp.headers.get("ETag") or etag
        if resp.status == 304:
            return StatusResponse(None, new_etag, poll_after)
        return StatusResponse(resp.json(), new_etag, poll_after)

    def events(self, job_id: str, *, last_event_id: int | None = None,
               read_timeout: float = 60.0) -> EventStream | None:
        """Open ``GET /v1/jobs/{id}/events``; None when the server answers 204 (the job is
        terminal and ``last_event_id`` is its last version). Errors as for other calls."""
        parts = urllib.parse.urlsplit(self.base_url)
        host = parts.hostname or "127.0.0.1"
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, parts.port, timeout=read_timeout,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, parts.port, timeout=read_timeout)
        headers = {"Accept": "text/event-stream", "User-Agent": f"jobgrid-cli/{__version__}"}
        if self.api_key:
            headers["Api-Key"] = self.api_key
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        try:
            conn.request("GET", parts.path.rstrip("/") + self._job_path(job_id, "/events"),
                         headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise ConnectionFailed(f"cannot reach the jobgrid API at {self.base_url}: "
                                   f"{e or type(e).__name__}") from None
        if resp.status == 204:
            conn.close()
            return None
        ctype = resp.headers.get("Content-Type", "")
        if resp.status != 200 or not ctype.startswith("text/event-stream"):
            try:
                body = resp.read()
            except (OSError, http.client.HTTPException):
                body = b""
            conn.close()
            status = resp.status if resp.status != 200 else 406
            raise _error_from(status, resp.headers, body, resp.reason or "not an event stream")
        return EventStream(conn, resp)

    def bulk_status(self, job_ids: Sequence[str]) -> JSON:
        return self._request("GET", "/v1/jobs/status", query={"ids": ",".join(job_ids)}).json()

    @overload
    def results(self, job_id: str, format: Literal["json"] = ..., *, detail: bool = ...) -> JSON:
        ...

    @overload
    def results(self, job_id: str, format: Literal["csv", "jsonl"], *, detail: bool = ...) -> str:
        ...

    def results(
        self, job_id: str, format: Literal["json", "csv", "jsonl"] = "json", *, detail: bool = False
    ) -> JSON | str:
        """The grid: a dict for ``json``, the raw text for ``csv`` and ``jsonl``."""
        query: dict[str, str | int | None] = {"format": None if format == "json" else format}
        if detail:
            query["detail"] = "true"
        resp = self._request("GET", self._job_path(job_id, "/results"), query=query)
        if format == "json":
            return resp.json()
        return resp.body.decode("utf-8")

    def cancel(self, job_id: str) -> JSON:
        return self._request("POST", self._job_path(job_id, "/cancel")).json()

    def retry(self, job_id: str, *, only_failed: bool = False) -> JSON:
        """``POST /v1/jobs/{id}/retry``; ``only_failed`` sends ``{"only": "failed"}`` (re-run
        only the failed rows, a completed job included)."""
        body = {"only": "failed"} if only_failed else None
        return self._request("POST", self._job_path(job_id, "/retry"), body=body).json()

    def list_jobs(
        self,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        updated_since: str | None = None,
    ) -> JSON:
        query: dict[str, str | int | None] = {
            "status": status, "limit": limit, "cursor": cursor, "updated_since": updated_since,
        }
        return self._request("GET", "/v1/jobs", query=query).json()

    def results_page(
        self, job_id: str, *, after: str | None = None, limit: int = 100, detail: bool = False
    ) -> JSON:
        """``GET /v1/jobs/{id}/results?limit=&after=``: finished rows after the cursor, in
        completion order, with ``next_cursor``, ``has_more`` and ``job_status``."""
        query: dict[str, str | int | None] = {"limit": limit, "after": after,
                                              "detail": "true" if detail else None}
        return self._request("GET", self._job_path(job_id, "/results"), query=query).json()

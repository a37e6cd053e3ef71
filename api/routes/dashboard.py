"""The dashboard: server-rendered pages for people, behind a login by API key.

Why the key lives in a cookie: the dashboard has no user accounts, only the API keys the
organization already has. The login form stores the key in a cookie that is HttpOnly (page
scripts cannot read it), ``SameSite=Strict`` (never sent on a cross-site request, which is
the CSRF defence for the dashboard's POST forms; an ``Origin`` check on every POST covers
login CSRF, where no cookie exists yet), ``Secure`` on https and scoped to ``/dashboard``, so
``/v1`` never accepts it: the API stays cookie-free and CSRF-free.

No key appears in a URL, with one exception the contract makes for browsers: the live
progress uses ``EventSource``, which cannot send headers, so the job page puts
``?access_token=`` into that one URL (the server's access log never prints a query
string). Pages carry ``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer`` for
that reason. Another
organization's job is a 404 page, exactly like an unknown one. Templates autoescape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode, urlsplit

import orjson
from flask import Blueprint, Response, make_response, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from api import dashboard_grid, listing, ratelimit
from api.auth import Principal
from api.errors import OUTAGES
from api.http import is_job_id, json_response
from api.lookup import full_job
from api.services import services
from shared.errors import JobgridError, NotFound, Unauthorized
from shared.status import TERMINAL, JobStatus

bp = Blueprint("dashboard", __name__, template_folder="../templates",
               static_folder="../static", static_url_path="/dashboard/static")

COOKIE = "jobgrid_dashboard_key"
COOKIE_PATH = "/dashboard"
COOKIE_MAX_AGE = 8 * 3600
LIST_LIMIT = 25
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
F = TypeVar("F", bound=Callable[..., Any])


# ------------------------------------------------------------------------- plumbing
@bp.after_request
def secure_headers(resp: Response) -> Response:
    """Pages hold a key (in the EventSource URL): never cache, frame or leak them."""
    if request.path.startswith("/dashboard/static/"):
        return resp
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = CSP
    return resp


def page_error(status: int, title: str, message: str) -> Response:
    html = render_template("error.html", status=status, title=title, message=message,
                           principal=None)
    return make_response(html, status)


@bp.errorhandler(JobgridError)
def jobgrid_error(e: JobgridError) -> Response:
    titles = {404: "Not found", 429: "Slow down", 400: "Bad request"}
    resp = page_error(e.status, titles.get(e.status, "Something went wrong"), e.message)
    retry = getattr(e, "retry_after", None)
    if retry:
        resp.headers["Retry-After"] = str(retry)
    return resp


def outage(_e: Exception) -> Response:
    resp = page_error(503, "Temporarily unavailable",
                      "The job store cannot be reached right now. Try again in a moment.")
    resp.headers["Retry-After"] = "2"
    return resp


for _cls in OUTAGES:
    bp.register_error_handler(_cls, outage)


def current_key() -> str | None:
    return request.cookies.get(COOKIE) or None


def authenticate() -> Principal | None:
    """The logged-in organization, counted against its key's rate limit; None if logged out."""
    try:
        principal = services().auth.authenticate(current_key())
    except Unauthorized:
        return None
    ratelimit.count_request(principal)
    return principal


def login_required(view: F) -> F:
    """Runs the view with the principal, or sends the browser to the login form."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> BaseResponse:
        principal = authenticate()
        if principal is None:
            return redirect(f"/dashboard/login?{urlencode({'next': request.full_path})}", 303)
        resp: BaseResponse = view(principal, *args, **kwargs)
        return resp

    return cast(F, wrapper)


def same_origin() -> bool:
    """A POST must come from our own pages (login CSRF: SameSite cannot cover it)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return request.headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"
    return urlsplit(origin).netloc == request.host


def safe_next(value: str | None) -> str:
    """Only a path inside the dashboard, never another site (open redirect)."""
    if value and value.startswith("/dashboard") and not value.startswith("//"):
        return value.rstrip("?")
    return "/dashboard"


# --------------------------------------------------------------------------- filters
@bp.app_template_filter("when")
def when(value: str | None) -> str:
    """ISO 8601 -> ``2024-09-14 10:32:05 UTC`` (the API's wire format stays ISO)."""
    if not value:
        return "—"
    dt = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.app_template_filter("duration")
def duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


@bp.app_template_filter("pct")
def pct(value: float) -> str:
    return f"{value * 100:.0f} %"


# ---------------------------------------------------------------------------- login
@bp.get("/dashboard/login")
def login_form() -> BaseResponse:
    if authenticate() is not None:
        return redirect(safe_next(request.args.get("next")), 303)
    return make_response(render_template("login.html", next=safe_next(request.args.get("next")),
                                         error=None, principal=None))


@bp.post("/dashboard/login")
def login() -> BaseResponse:
    nxt = safe_next(request.form.get("next"))
    if not same_origin():
        return page_error(403, "Forbidden", "This form can only be sent from the dashboard.")
    key = request.form.get("api_key", "").strip()
    try:
        services().auth.authenticate(key)
    except Unauthorized:
        html = render_template("login.html", next=nxt, principal=None,
                               error="That API key is not valid.")
        return make_response(html, 401)
    resp = redirect(nxt, 303)
    resp.set_cookie(COOKIE, key, max_age=COOKIE_MAX_AGE, path=COOKIE_PATH, httponly=True,
                    samesite="Strict", secure=request.is_secure)
    return resp


@bp.post("/dashboard/logout")
def logout() -> BaseResponse:
    if not same_origin():
        return page_error(403, "Forbidden", "This form can only be sent from the dashboard.")
    resp = redirect("/dashboard/login", 303)
    resp.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict",
                       secure=request.is_secure)
    return resp


# ---------------------------------------------------------------------------- pages
@bp.get("/dashboard")
@bp.get("/dashboard/")
@login_required
def job_list(principal: Principal) -> BaseResponse:
    args = request.args.copy()
    args.setdefault("limit", str(LIST_LIMIT))
    page = listing.list_jobs(services(), principal.org, listing.parse_query(args))
    status = request.args.get("status") or ""
    older = None
    if page["next_cursor"]:
        older = "/dashboard?" + urlencode({k: v for k, v in (("status", status), (
            "cursor", page["next_cursor"])) if v})
    html = render_template("jobs.html", principal=principal, jobs=page["data"],
                           status=status, statuses=[s.value for s in _LIST_FILTERS],
                           older=older)
    return make_response(html)


def _owned_or_404(principal: Principal, job_id: str) -> dict[str, Any]:
    """The full job, or a 404 page for a malformed, unknown or foreign id alike."""
    if not is_job_id(job_id):
        raise NotFound(f"no job {job_id[:80]} in this organization")
    return full_job(services(), job_id.lower(), principal.org)


@bp.get("/dashboard/jobs/<job_id>")
@login_required
def job_page(principal: Principal, job_id: str) -> BaseResponse:
    job = _owned_or_404(principal, job_id)
    grid = dashboard_grid.load_page(services(), job["id"], principal.org, _page_arg())
    live = {
        "events": f"{job['links']['events']}?{urlencode({'access_token': current_key()})}",
        "status": job["links"]["status"],
        "grid": f"/dashboard/jobs/{job['id']}/grid",
        "summary": f"/dashboard/jobs/{job['id']}/job.json",
        "terminal": sorted(s.value for s in TERMINAL),
    }
    html = render_template("job.html", principal=principal, job=job, grid=grid,
                           live=orjson.dumps(live).decode(),
                           terminal=job["status"] in live["terminal"])
    return make_response(html)


@bp.get("/dashboard/jobs/<job_id>/grid")
@login_required
def job_grid(principal: Principal, job_id: str) -> BaseResponse:
    """The results table alone, for the page's script to swap in while the job runs."""
    job = _owned_or_404(principal, job_id)
    grid = dashboard_grid.load_page(services(), job["id"], principal.org, _page_arg())
    return make_response(render_template("_grid.html", job=job, grid=grid))


@bp.get("/dashboard/jobs/<job_id>/job.json")
@login_required
def job_json(principal: Principal, job_id: str) -> BaseResponse:
    """The full job (ETA, warnings, failures) for the page's periodic refresh."""
    return json_response(_owned_or_404(principal, job_id))


@bp.get("/dashboard/jobs/<job_id>/results.csv")
@login_required
def job_csv(principal: Principal, job_id: str) -> BaseResponse:
    """``/results?format=csv`` with the cookie's key, so a plain link can download it."""
    job = _owned_or_404(principal, job_id)
    body = dashboard_grid.csv_body(services(), job["id"], principal.org)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="jobgrid-{job["id"]}.csv"'})


def _page_arg() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


_LIST_FILTERS = list(JobStatus)

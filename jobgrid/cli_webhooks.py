"""``jobgrid webhooks``: list webhooks, read a webhook's deliveries, send one again.

Registration stays an API call (``POST /v1/webhooks``): its answer holds the secret, shown
once, which a terminal scroll-back is a poor place for. These commands only read, and
``redeliver`` repeats a past delivery (``docs/webhooks.md``, "Redelivery").
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

import click
from rich.table import Table

from jobgrid import render
from jobgrid.cli_common import (
    EXIT_JOB_FAILED,
    EXIT_OK,
    CliFailure,
    CliState,
    connection_options,
    pass_state,
    stdout_console,
)
from jobgrid.client import JSON, Client

#: how long ``redeliver --wait`` waits for the first attempt (the sweeper runs every second)
WAIT_SECONDS = 30.0


def _path(*parts: str) -> str:
    return "/v1/webhooks" + "".join("/" + urllib.parse.quote(p, safe="") for p in parts)


def get_json(client: Client, path: str, method: str = "GET") -> JSON:
    """One API call through the client's transport (its errors become one CLI line)."""
    return client._request(method, path).json()  # noqa: SLF001 - same package


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _last_attempt(d: JSON) -> str:
    attempts = d.get("attempts") or []
    if not attempts:
        return "-"
    last = attempts[-1]
    return str(last.get("status_code") or last.get("error") or "-")


def webhooks_table(hooks: Iterable[JSON]) -> Table:
    table = Table(show_header=True, header_style="bold")
    for col in ("id", "url", "events", "created"):
        table.add_column(col)
    for h in hooks:
        table.add_row(str(h.get("id")), str(h.get("url")), ", ".join(h.get("events") or []),
                      str(h.get("created_at")))
    return table


def deliveries_table(deliveries: Iterable[JSON]) -> Table:
    table = Table(show_header=True, header_style="bold")
    for col in ("delivery", "event", "type", "job", "status", "attempts", "last", "redelivery of"):
        table.add_column(col)
    for d in deliveries:
        table.add_row(str(d.get("id")), str(d.get("event_id")), str(d.get("type")),
                      str(d.get("job_id")), render.status_text(str(d.get("status"))),
                      str(len(d.get("attempts") or [])), _last_attempt(d),
                      str(d.get("redelivery_of") or ""))
    return table


@click.group()
def webhooks() -> None:
    """Webhooks of this organization: list them, read deliveries, redeliver one."""


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list object as JSON.")
@connection_options
@pass_state
def list_(state: CliState, as_json: bool) -> int:
    """This organization's webhooks, oldest first."""
    page = get_json(state.client(), _path())
    if as_json:
        _print_json(page)
    else:
        stdout_console().print(webhooks_table(page.get("data") or []))
    return EXIT_OK


@webhooks.command()
@click.argument("webhook_id")
@click.option("--json", "as_json", is_flag=True, help="Print the list object as JSON.")
@connection_options
@pass_state
def deliveries(state: CliState, webhook_id: str, as_json: bool) -> int:
    """A webhook's last 100 deliveries, newest first."""
    page = get_json(state.client(), _path(webhook_id, "deliveries"))
    if as_json:
        _print_json(page)
    else:
        stdout_console().print(deliveries_table(page.get("data") or []))
    return EXIT_OK


def _wait_first_attempt(client: Client, webhook_id: str, delivery_id: str) -> JSON:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        d = get_json(client, _path(webhook_id, "deliveries", delivery_id))
        if d.get("attempts") or d.get("status") != "pending":
            return d
        if time.monotonic() >= deadline:
            raise CliFailure(f"{delivery_id}: no attempt within {WAIT_SECONDS:g} s; is a "
                             "worker running? ('jobgrid webhooks deliveries' shows it later)")
        time.sleep(0.5)


@webhooks.command()
@click.argument("webhook_id")
@click.argument("delivery_id")
@click.option("--wait", "wait_", is_flag=True,
              help="Wait for the first attempt and exit 1 if it failed.")
@click.option("--json", "as_json", is_flag=True, help="Print the new delivery as JSON.")
@connection_options
@pass_state
def redeliver(state: CliState, webhook_id: str, delivery_id: str, wait_: bool,
              as_json: bool) -> int:
    """Send a past delivery again: prints the new delivery's id (same event id)."""
    client = state.client()
    new = get_json(client, _path(webhook_id, "deliveries", delivery_id, "redeliver"), "POST")
    if wait_:
        new = _wait_first_attempt(client, webhook_id, str(new["id"]))
    if as_json:
        _print_json(new)
    else:
        click.echo(new["id"])
        outcome = f"; first attempt: {_last_attempt(new)}" if wait_ else ""
        click.echo(f"redelivery of {delivery_id} (event {new.get('event_id')}): "
                   f"{new.get('status')}{outcome}", err=True)
    if wait_ and new.get("status") != "succeeded":
        return EXIT_JOB_FAILED
    return EXIT_OK

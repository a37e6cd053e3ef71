"""``jobgrid schemas``: the organization's stored schemas (``/v1/schemas``) from the shell.

``create`` and ``update`` read the same schema files as ``jobgrid submit --schema``; ``update``
stores a new version under the same id (jobs already submitted keep theirs). Ids go to stdout,
so ``ID=$(jobgrid schemas create schema.json)`` works; ``--json`` prints the API's object.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from jobgrid.cli_common import EXIT_OK, CliState, connection_options, pass_state, stdout_console
from jobgrid.client import JSON, Client
from jobgrid.schema_file import load_schema

SCHEMA_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _path(schema_id: str = "") -> str:
    return "/v1/schemas" + (f"/{urllib.parse.quote(schema_id, safe='')}" if schema_id else "")


def _call(client: Client, method: str, path: str, body: Any = None) -> JSON:
    """One API call through the client's transport (its errors become the CLI's one line)."""
    return client._request(method, path, body=body).json()


def _read(path: Path, name: str | None) -> JSON:
    schema = load_schema(path)
    if name:
        schema["name"] = name
    return {"name": schema["name"], "fields": schema["fields"]}


def _print(schema: JSON, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(schema, indent=2, ensure_ascii=False))
        return
    click.echo(schema.get("id", ""))
    click.echo(f"{schema.get('name')}: version {schema.get('version', 1)}, "
               f"{len(schema.get('fields') or [])} fields", err=True)


def schemas_table(data: list[JSON]) -> Table:
    table = Table("id", "name", "version", "fields", "updated", box=None)
    for s in data:
        table.add_row(str(s.get("id")), str(s.get("name")), str(s.get("version", 1)),
                      str(len(s.get("fields") or [])), str(s.get("updated_at") or ""))
    return table


@click.group()
def schemas() -> None:
    """Stored extraction schemas: list, show, create, update, delete."""


@schemas.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list object as JSON.")
@connection_options
@pass_state
def list_(state: CliState, as_json: bool) -> int:
    """This organization's schemas, oldest first."""
    client = state.client()
    page = _call(client, "GET", _path() + "?limit=100")
    data = list(page.get("data") or [])
    while page.get("has_more") and page.get("next_cursor"):  # every page, as one list
        cursor = urllib.parse.quote(str(page["next_cursor"]), safe="")
        page = _call(client, "GET", _path() + f"?limit=100&cursor={cursor}")
        data.extend(page.get("data") or [])
    page = {**page, "data": data, "has_more": False, "next_cursor": None}
    if as_json:
        click.echo(json.dumps(page, indent=2, ensure_ascii=False))
    else:
        stdout_console().print(schemas_table(page.get("data") or []))
    return EXIT_OK


@schemas.command()
@click.argument("schema_id")
@connection_options
@pass_state
def show(state: CliState, schema_id: str) -> int:
    """A stored schema as JSON (the file format "create" reads, plus id and version)."""
    click.echo(json.dumps(_call(state.client(), "GET", _path(schema_id)), indent=2,
                          ensure_ascii=False))
    return EXIT_OK


@schemas.command()
@click.argument("schema_file", type=SCHEMA_FILE)
@click.option("--name", help="Schema name [default: the file's 'name', else its stem].")
@click.option("--json", "as_json", is_flag=True, help="Print the stored schema as JSON.")
@connection_options
@pass_state
def create(state: CliState, schema_file: Path, name: str | None, as_json: bool) -> int:
    """Store SCHEMA_FILE; prints the new id (use it with "submit --schema-id")."""
    _print(_call(state.client(), "POST", _path(), _read(schema_file, name)), as_json)
    return EXIT_OK


@schemas.command()
@click.argument("schema_id")
@click.argument("schema_file", type=SCHEMA_FILE)
@click.option("--name", help="Schema name [default: the file's 'name', else its stem].")
@click.option("--json", "as_json", is_flag=True, help="Print the stored schema as JSON.")
@connection_options
@pass_state
def update(state: CliState, schema_id: str, schema_file: Path, name: str | None,
           as_json: bool) -> int:
    """Replace a schema's fields with SCHEMA_FILE's, as a new version of the same id."""
    _print(_call(state.client(), "PUT", _path(schema_id), _read(schema_file, name)), as_json)
    return EXIT_OK


@schemas.command()
@click.argument("schema_id")
@connection_options
@pass_state
def delete(state: CliState, schema_id: str) -> int:
    """Delete a schema (jobs submitted with it keep their copy)."""
    out = _call(state.client(), "DELETE", _path(schema_id))
    click.echo(f"{out.get('id', schema_id)}: deleted")
    return EXIT_OK

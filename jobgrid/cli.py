"""The ``jobgrid`` command: job commands here, server and key commands in sibling modules.

Exit codes: 0 success or completed job, 1 job failed or cancelled, 2 usage, API or connection
error — always one line on stderr, never a traceback (see :func:`run`).

Output conventions: machine-usable results (a job id, CSV, JSON) go to stdout; progress and
notes go to stderr, so ``ID=$(jobgrid submit ...)`` and ``jobgrid results ID --format csv > f``
work as expected.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import click
from rich.console import Console

from jobgrid import __version__, render
from jobgrid.cli_common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliFailure,
    CliState,
    connection_options,
    exit_code_for,
    pass_state,
    stdout_console,
)
from jobgrid.cli_keys import keys
from jobgrid.cli_schemas import schemas
from jobgrid.cli_server import api, demo, up, worker, worker_health
from jobgrid.cli_webhooks import webhooks
from jobgrid.client import JSON, ApiError, Client, ConnectionFailed
from jobgrid.documents import document_from_path, select_files
from jobgrid.schema_file import load_schema
from jobgrid.watch import WatchInterrupted, watch_job


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="JOBGRID_URL", default=None, metavar="URL",
              help="API base URL [env JOBGRID_URL; default http://127.0.0.1:8000].")
@click.option("--api-key", envvar="JOBGRID_API_KEY", default=None, metavar="KEY",
              help="API key [env JOBGRID_API_KEY].")
@click.version_option(__version__, prog_name="jobgrid")
@click.pass_context
def cli(ctx: click.Context, url: str | None, api_key: str | None) -> None:
    """jobgrid: submit document batches, follow them, read the grid."""
    ctx.obj = CliState(url=url, api_key=api_key)


# ------------------------------------------------------------------------- helpers
def parse_metadata(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--metadata")
        out[key] = value
    return out


def follow(client: Client, job_id: str) -> JSON:
    """Watch with a progress view on stderr; returns the final status payload."""
    err = Console(stderr=True, highlight=False)
    with render.ProgressView(err, job_id) as view:
        final = watch_job(client, job_id, view.update)
    err.print(f"{job_id}: ", render.status_text(str(final.get("status"))), " · ",
              render.grid_stats_line(final.get("grid_stats") or {}), sep="")
    return final


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


# ------------------------------------------------------------------------ commands
@cli.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--schema", "schema_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="JSON file with the extraction schema.")
@click.option("--schema-id", help="Id of a stored schema (instead of --schema).")
@click.option("--name", help="Job name.")
@click.option("--metadata", "-m", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--priority", type=click.Choice(["low", "normal", "high"]), default="normal",
              show_default=True)
@click.option("--idempotency-key", help="Same key and body within 24 h returns the same job.")
@click.option("--include", "include_globs", multiple=True, metavar="GLOB",
              help="In folders, take only files matching GLOB (repeatable; replaces the "
                   "default: the document types the service reads).")
@click.option("--exclude", "exclude_globs", multiple=True, metavar="GLOB",
              help="Leave out files matching GLOB (repeatable).")
@click.option("--watch", "watch_", is_flag=True, help="Follow the job until it ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the job object as JSON.")
@connection_options
@pass_state
def submit(state: CliState, paths: tuple[Path, ...], schema_file: Path | None,
           schema_id: str | None, name: str | None, metadata: tuple[str, ...], priority: str,
           idempotency_key: str | None, include_globs: tuple[str, ...],
           exclude_globs: tuple[str, ...], watch_: bool, as_json: bool) -> int:
    """Submit files, or the documents of a folder, as one batch; prints the job id.

    From a folder only the types the service reads are sent (.txt .md .html .pdf .docx ...);
    the rest (ground-truth .json, schema copies, images) is skipped, and said so on stderr.
    """
    if (schema_file is None) == (schema_id is None):
        raise click.UsageError("give exactly one of --schema FILE or --schema-id ID")
    schema = load_schema(schema_file) if schema_file else None
    exclude = [schema_file] if schema_file else []
    selection = select_files(paths, exclude=exclude, include_globs=include_globs,
                             exclude_globs=exclude_globs)
    if selection.skipped:
        click.echo(selection.skipped_summary(), err=True)
    if not selection.files:
        raise CliFailure("no documents found in the given paths")
    documents = [document_from_path(p) for p in selection.files]
    client = state.client()
    job = client.submit(
        name, schema=schema, schema_id=schema_id, documents=documents,
        metadata=parse_metadata(metadata),
        priority=cast(Literal["low", "normal", "high"], priority),
        idempotency_key=idempotency_key,
    )
    if as_json:
        print_json(job)
    else:
        click.echo(job["id"])
        click.echo(f"submitted {len(documents)} documents: {job.get('status')}", err=True)
    if not watch_:
        return EXIT_OK
    return exit_code_for(follow(client, str(job["id"])).get("status"))


@cli.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job object as JSON.")
@connection_options
@pass_state
def status(state: CliState, job_id: str, as_json: bool) -> int:
    """Show a job; exit 1 if it failed or was cancelled."""
    job = state.client().get_job(job_id)
    if as_json:
        print_json(job)
    else:
        stdout_console().print(render.job_table(job))
    return exit_code_for(job.get("status"))


@cli.command()
@click.argument("job_id")
@connection_options
@pass_state
def watch(state: CliState, job_id: str) -> int:
    """Follow a job with a live progress bar until it ends."""
    return exit_code_for(follow(state.client(), job_id).get("status"))


@cli.command()
@click.argument("job_id")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "jsonl", "json"]),
              default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@connection_options
@pass_state
def results(state: CliState, job_id: str, fmt: str, output: Path | None) -> int:
    """The result grid (partial while the job runs)."""
    client = state.client()
    if fmt in ("csv", "jsonl"):
        text = client.results(job_id, cast(Literal["csv", "jsonl"], fmt))
    elif fmt == "json":
        text = json.dumps(client.results(job_id), indent=2, ensure_ascii=False) + "\n"
    else:
        grid = client.results(job_id)
        if output is None:
            console = stdout_console()
            console.print(render.results_table(grid))
            console.print(render.results_stats(grid))
            return EXIT_OK
        with output.open("w", encoding="utf-8") as fh:
            console = Console(file=fh, width=200, color_system=None, highlight=False)
            console.print(render.results_table(grid))
            console.print(render.results_stats(grid))
        return EXIT_OK
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    return EXIT_OK


@cli.command()
@click.argument("job_id")
@connection_options
@pass_state
def cancel(state: CliState, job_id: str) -> int:
    """Cancel a job (cells already extracted are kept)."""
    job = state.client().cancel(job_id)
    click.echo(f"{job.get('id', job_id)}: {job.get('status')}")
    return EXIT_OK


@cli.command()
@click.argument("job_id")
@click.option("--watch", "watch_", is_flag=True, help="Follow the job until it ends.")
@connection_options
@pass_state
def retry(state: CliState, job_id: str, watch_: bool) -> int:
    """Run a failed or cancelled job again under the same id."""
    client = state.client()
    job = client.retry(job_id)
    click.echo(f"{job.get('id', job_id)}: {job.get('status')} (attempt {job.get('attempt_count')})")
    if not watch_:
        return EXIT_OK
    return exit_code_for(follow(client, job_id).get("status"))


@cli.command()
@click.option("--status", "status_", help="Only jobs in this status.")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list object as JSON.")
@connection_options
@pass_state
def jobs(state: CliState, status_: str | None, limit: int, as_json: bool) -> int:
    """This organization's jobs, newest first."""
    page = state.client().list_jobs(status=status_, limit=limit)
    if as_json:
        print_json(page)
    else:
        stdout_console().print(render.jobs_table(page.get("data") or []))
        if page.get("has_more"):
            click.echo("(more jobs: raise --limit or use the API's cursor)", err=True)
    return EXIT_OK


for _command in (up, demo, api, worker, worker_health, keys, schemas):
    cli.add_command(_command)
cli.add_command(webhooks)  # jobgrid/cli_webhooks.py


# ---------------------------------------------------------------------- entry point
def _fail(message: str) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; every expected failure is one stderr line."""
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="jobgrid",
                      standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted")
        return EXIT_INTERRUPTED
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except CliFailure as e:
        _fail(str(e))
        return e.exit_code
    except ApiError as e:
        _fail(f"{e.code}: {e.message} (HTTP {e.status})")
        return EXIT_USAGE
    except ConnectionFailed as e:
        _fail(str(e))
        return EXIT_USAGE
    except FileNotFoundError as e:
        _fail(str(e))
        return EXIT_USAGE
    except WatchInterrupted:
        _fail("interrupted")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("", err=True)
        return EXIT_INTERRUPTED
    return rv if isinstance(rv, int) else EXIT_OK


def main() -> None:
    """Console-script entry point (``jobgrid = "jobgrid.cli:main"``)."""
    try:
        code = run(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `jobgrid results ID --format csv | head`
        code = EXIT_OK
        # Point stdout at /dev/null so the interpreter's flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(code)

"""``jobgrid demo``: start the stack, run the bundled invoice batch, show the grid, stop.

The sample batch is ``<repo>/samples/invoices/``: ``schema.json`` plus every other visible
file as a document, except files that describe the samples rather than being samples:
``*.json`` (``ground_truth.json``), ``README*`` and ``expected*``.
``JOBGRID_SAMPLES_DIR`` or ``--samples`` point elsewhere.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from jobgrid import render
from jobgrid.cli_common import EXIT_INTERRUPTED, EXIT_USAGE, CliFailure, exit_code_for
from jobgrid.client import JSON, Client
from jobgrid.documents import documents_from_paths
from jobgrid.launcher import LaunchAborted, LaunchConfig, Launcher, LaunchError, stop_signals
from jobgrid.procs import tail
from jobgrid.schema_file import load_schema
from jobgrid.watch import WatchInterrupted, watch_job

SAMPLES_ENV = "JOBGRID_SAMPLES_DIR"
_NOT_DOCUMENT_SUFFIXES = (".json",)
_NOT_DOCUMENT_PREFIXES = ("readme", "expected", ".")


def default_samples_dir() -> Path:
    """$JOBGRID_SAMPLES_DIR, else the repo's samples (editable install), else ./samples."""
    env = os.environ.get(SAMPLES_ENV)
    if env:
        return Path(env)
    beside_package = Path(__file__).resolve().parent.parent / "samples" / "invoices"
    in_cwd = Path.cwd() / "samples" / "invoices"
    return beside_package if beside_package.is_dir() or not in_cwd.is_dir() else in_cwd


@dataclass(frozen=True)
class SampleBatch:
    folder: Path
    schema: JSON
    documents: list[JSON]


def load_samples(folder: Path) -> SampleBatch:
    """The schema and documents of a sample folder, or CliFailure saying what is missing."""
    schema_path = folder / "schema.json"
    if not folder.is_dir() or not schema_path.is_file():
        raise CliFailure(
            f"sample batch not found: expected {schema_path} and documents beside it "
            f"(set {SAMPLES_ENV} or --samples to another folder)"
        )
    files = [
        p for p in sorted(folder.iterdir())
        if p.is_file()
        and p.suffix.lower() not in _NOT_DOCUMENT_SUFFIXES
        and not p.name.lower().startswith(_NOT_DOCUMENT_PREFIXES)
    ]
    if not files:
        raise CliFailure(f"sample batch {folder} holds a schema.json but no documents")
    return SampleBatch(folder, load_schema(schema_path), documents_from_paths(files))


def _show_results(console: Console, client: Client, job_id: str, final: JSON) -> None:
    grid = client.results(job_id)
    console.print(render.results_table(grid))
    fields = len(render.field_names(grid))
    console.print(
        f"[bold]Grid:[/] {final.get('document_count', 0)} documents x {fields} fields = "
        + render.grid_stats_line(final.get("grid_stats") or {})
    )


def run_demo(
    samples: Path, *, port: int, concurrency: int, console: Console, err: Console
) -> int:
    """Returns 0 if the demo job completed, 1 if it failed or was cancelled, 2 on start-up."""
    batch = load_samples(samples)
    log_dir = Path(tempfile.mkdtemp(prefix="jobgrid-demo-"))
    launcher = Launcher(
        LaunchConfig(port=port, concurrency=concurrency, log_dir=log_dir),
        say=lambda msg: err.print(f"[dim]{msg}[/]"),
    )
    keep_logs = True
    with stop_signals() as signals:
        try:
            err.print(f"starting jobgrid (logs in {log_dir}) ...")
            launcher.start(should_abort=signals.stop.is_set)
            err.print(f"API ready at {launcher.url}")
            client = Client(launcher.url, launcher.api_key)
            job = client.submit(
                "jobgrid demo: invoices", schema=batch.schema, documents=batch.documents,
                metadata={"source": "jobgrid demo"},
            )
            job_id = str(job["id"])
            err.print(f"submitted job {job_id} with {len(batch.documents)} documents")
            with render.ProgressView(err, job_id) as view:
                final = watch_job(client, job_id, view.update, should_stop=signals.stop.is_set,
                                  sleep=signals.stop.wait)
            _show_results(console, client, job_id, final)
            code = exit_code_for(final.get("status"))
            if final.get("status") != "completed":
                err.print(f"[red]job ended {final.get('status')}[/]: {final.get('error')}")
            keep_logs = code != 0
            return code
        except (LaunchAborted, WatchInterrupted):
            err.print("interrupted")
            return EXIT_INTERRUPTED
        except LaunchError as e:
            err.print(f"[red]error:[/] could not start jobgrid: {e}")
            for name in ("api", "worker"):
                if not (log_dir / f"{name}.log").exists():
                    continue
                err.print(f"--- {name}.log (last lines) ---\n{tail(log_dir / f'{name}.log')}",
                          markup=False, highlight=False)
            return EXIT_USAGE
        finally:
            err.print("stopping jobgrid ...")
            launcher.stop(force=signals.force.is_set)
            if keep_logs:
                err.print(f"logs kept in {log_dir}")
            else:
                shutil.rmtree(log_dir, ignore_errors=True)

"""Server commands: ``up`` and ``demo`` (supervised local stack), ``api`` and ``worker``.

``api`` and ``worker`` replace this process with the API server or Celery (``os.execv``), so signals
from a process manager (systemd, docker, compose) reach the server directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console

from jobgrid.cli_common import EXIT_INTERRUPTED, EXIT_USAGE, CliFailure, stdout_console
from jobgrid.launcher import (
    DEMO_ORG,
    LaunchAborted,
    LaunchConfig,
    Launcher,
    LaunchError,
    all_queues,
    api_server_argv,
    celery_worker_argv,
    default_concurrency,
    stop_signals,
)
from jobgrid.state import DATA_DIR_ENV, default_data_dir, mask_key


def _exec(argv: list[str]) -> None:  # pragma: no cover - replaces the process
    os.execv(argv[0], argv)


def print_banner(launcher: Launcher) -> None:
    """Where everything is. The dev key itself is never printed (terminals get logged and
    screen-shared): its start, masked, and the file that holds it."""
    data_dir = launcher.config.data_dir
    click.echo(f"jobgrid is up at {launcher.url}")
    click.echo(f"  redis:     {launcher.redis_url} (Redis {launcher.redis_version})")
    if data_dir is not None:
        kept = "keys, jobs and webhooks are kept" if launcher.redis is not None else \
            "state file only: JOBGRID_REDIS_URL holds the data"
        click.echo(f"  data:      {data_dir} ({kept}; --fresh starts empty)")
    if launcher.dev_key_created and launcher.api_key:
        where = f" in {launcher.dev_key_file}" if launcher.dev_key_file else ""
        click.echo(f"  API key:   {mask_key(launcher.api_key)}{where} (org {DEMO_ORG})")
    click.echo("  try:       jobgrid submit samples/invoices --schema "
               "samples/invoices/schema.json --watch")
    click.echo("             jobgrid keys create --org my_org   "
               "(a key of your own, on this stack)")
    if launcher.dev_key_file:
        click.echo(f"  elsewhere: export JOBGRID_URL={launcher.url} "
                   f"JOBGRID_API_KEY=$(cat {launcher.dev_key_file})")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="API bind address.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="API port (0 = any free port).")
@click.option("--concurrency", type=click.IntRange(min=1), default=default_concurrency,
              show_default="min(4, CPUs)", help="Worker processes.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar=DATA_DIR_ENV, default=None, show_default="$XDG_DATA_HOME/jobgrid",
              help=f"Where Redis data, the dev key and state.json live [env {DATA_DIR_ENV}].")
@click.option("--fresh", is_flag=True,
              help="Delete the data directory's Redis data and dev key first: start empty.")
def up(host: str, port: int, concurrency: int, data_dir: Path | None, fresh: bool) -> int:
    """Run Redis (embedded unless JOBGRID_REDIS_URL is set), the API and a worker; Ctrl-C stops.

    The embedded Redis keeps its data (append-only file) in the data directory and starts on
    it again next time. Other jobgrid commands find this stack through its state.json.
    """
    launcher = Launcher(LaunchConfig(host=host, port=port, concurrency=concurrency,
                                     data_dir=data_dir or default_data_dir(), fresh=fresh))
    with stop_signals() as signals:
        try:
            launcher.start(should_abort=signals.stop.is_set)
            print_banner(launcher)
            click.echo("Press Ctrl-C to stop.", err=True)
            return launcher.wait(signals.stop)
        except LaunchAborted:
            return EXIT_INTERRUPTED
        except LaunchError as e:
            raise CliFailure(f"could not start jobgrid: {e}") from None
        finally:
            click.echo("stopping jobgrid ...", err=True)
            launcher.stop(force=signals.force.is_set)
            click.echo("stopped.", err=True)


@click.command()
@click.option("--port", default=0, show_default="any free port", type=click.IntRange(0, 65535))
@click.option("--concurrency", type=click.IntRange(min=1), default=default_concurrency,
              show_default="min(4, CPUs)")
@click.option("--samples", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with schema.json and documents [default: <repo>/samples/invoices].")
def demo(port: int, concurrency: int, samples: Path | None) -> int:
    """Start everything, run the sample invoice batch live, print the grid, stop."""
    from jobgrid.demo import default_samples_dir, run_demo

    return run_demo(
        samples or default_samples_dir(),
        port=port,
        concurrency=concurrency,
        console=stdout_console(),
        err=Console(stderr=True, highlight=False),
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log every request (costs about a quarter of a poll's CPU).")
def api(host: str, port: int, workers: int, access_log: bool) -> int:
    """Serve the HTTP API: granian (settings from JOBGRID_* variables)."""
    _exec(api_server_argv(host, port, workers=workers, access_log=access_log))
    return EXIT_USAGE  # pragma: no cover


@click.command()
@click.option("-Q", "--queues", default=",".join(all_queues()), show_default=True,
              help="Comma-separated Celery queues to consume.")
@click.option("--concurrency", type=click.IntRange(min=1), default=default_concurrency,
              show_default="min(4, CPUs)")
@click.option("-n", "--hostname", default=None, help="Celery node name (default celery@host).")
def worker(queues: str, concurrency: int, hostname: str | None) -> int:
    """Run a Celery worker (settings from JOBGRID_* variables)."""
    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(all_queues()))
    if not names or unknown:
        raise click.BadParameter(f"unknown queue(s): {', '.join(unknown) or '(none given)'}; "
                                 f"known: {', '.join(all_queues())}", param_hint="-Q")
    _exec(celery_worker_argv(names, concurrency=concurrency, hostname=hostname))
    return EXIT_USAGE  # pragma: no cover


@click.command("worker-health")
@click.option("-Q", "--queue", default="control", show_default=True,
              help="The queue whose consumption to prove.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
def worker_health(queue: str, timeout: float) -> int:
    """Exit 0 when a worker consuming QUEUE ran a ping task within TIMEOUT seconds.

    This proves consumption, not just a live process (pitfall 9 in docs/pitfalls.md): use it as the
    container health check of workers.
    """
    from shared.settings import get_settings
    from worker.health import check_consuming

    if check_consuming(get_settings(), timeout=timeout, queue=queue):
        click.echo(f"ok: a worker consumed a ping on {queue!r}")
        return 0
    raise CliFailure(f"no worker consumed a ping on {queue!r} within {timeout:g}s")

"""What every CLI command shares: exit codes, the one-line error type, the client factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from rich.console import Console

from jobgrid.client import Client

EXIT_OK = 0
#: The job ended ``failed`` or ``cancelled``.
EXIT_JOB_FAILED = 1
#: Bad usage, an API error or no connection: one line on stderr, never a traceback.
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliFailure(Exception):
    """Raised by a command to stop with one line on stderr and ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class CliState:
    url: str | None
    api_key: str | None

    def client(self) -> Client:
        """A client for ``--url``/``JOBGRID_URL``; without either, for the ``jobgrid up``
        running on the default data directory (its ``state.json``), with its dev key unless a
        key was given. Otherwise the documented default URL."""
        if self.url is None:
            from jobgrid.state import running_state

            found = running_state()
            if found is not None:
                return Client(found.api_url,
                              self.api_key if self.api_key is not None else found.dev_key())
        return Client(self.url, self.api_key)


pass_state = click.make_pass_decorator(CliState)

F = TypeVar("F", bound=Callable[..., Any])


def _override(field: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            setattr(ctx.ensure_object(CliState), field, value)

    return callback


def connection_options(func: F) -> F:
    """``--url``/``--api-key`` after the sub-command too (``jobgrid status ID --url ...``)."""
    func = click.option("--api-key", expose_value=False, is_eager=True, metavar="KEY",
                        callback=_override("api_key"), help="API key.")(func)
    func = click.option("--url", expose_value=False, is_eager=True, metavar="URL",
                        callback=_override("url"), help="API base URL.")(func)
    return func


def stdout_console() -> Console:
    """Rich console for results; off a terminal (pipes, CI logs) tables get 200 columns."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=200)
    return console


def exit_code_for(status: str | None) -> int:
    """0 for a completed job (or one still running), 1 for failed or cancelled."""
    return EXIT_JOB_FAILED if status in ("failed", "cancelled") else EXIT_OK

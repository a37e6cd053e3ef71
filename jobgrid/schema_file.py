"""The schema-file format of the CLI (``jobgrid submit --schema``) and of sample folders.

Its own module so the job commands (``jobgrid.cli``) and the demo (``jobgrid.demo``) share
it without importing each other: the CLI registers the demo command, so a demo that imported
the CLI would close an import cycle.
"""

from __future__ import annotations

import json
from pathlib import Path

from jobgrid.cli_common import CliFailure
from jobgrid.client import JSON


def load_schema(path: Path) -> JSON:
    """A schema file holds ``{"name", "fields"}`` (or that object under ``"schema"``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CliFailure(f"cannot read schema file {path}: {e}") from None
    if isinstance(data, dict) and isinstance(data.get("schema"), dict):
        data = data["schema"]
    if not isinstance(data, dict) or not isinstance(data.get("fields"), list):
        raise CliFailure(f"schema file {path} must hold an object with 'name' and 'fields'")
    data.setdefault("name", path.stem)
    return data

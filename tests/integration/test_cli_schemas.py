"""``jobgrid schemas list|show|create|update|delete`` against a real API server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.env import SettingsEnv
from support.servers import ApiServer

from jobgrid.cli import run

pytestmark = pytest.mark.integration


def test_schemas_commands_round_trip(make_settings: Callable[..., SettingsEnv],
                                     start_api: Callable[..., ApiServer], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    api = start_api(make_settings(isolated=True), workers=1)
    conn = ["--url", api.url, "--api-key", "test-key-a"]
    v1 = tmp_path / "invoice.json"
    v1.write_text(json.dumps({"name": "Invoice", "fields": [
        {"name": "invoice_number"}, {"name": "total", "type": "number"}]}))
    v2 = tmp_path / "v2.json"
    v2.write_text(json.dumps({"schema": {"fields": [{"name": "total", "type": "number"}]}}))

    assert run([*conn, "schemas", "create", str(v1)]) == 0
    out = capsys.readouterr()
    sid = out.out.strip()
    assert sid.startswith("sch_") and "Invoice: version 1, 2 fields" in out.err

    assert run([*conn, "schemas", "update", sid, str(v2), "--json"]) == 0
    updated = json.loads(capsys.readouterr().out)
    assert (updated["id"], updated["version"], updated["name"]) == (sid, 2, "v2")

    assert run(["schemas", "list", *conn]) == 0
    table = capsys.readouterr().out
    assert sid in table and "v2" in table

    assert run(["schemas", "show", sid, *conn]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in shown["fields"]] == ["total"]

    assert run(["schemas", "delete", sid, *conn]) == 0
    assert capsys.readouterr().out.strip() == f"{sid}: deleted"

    assert run(["schemas", "show", sid, *conn]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: not_found:") and err.count("\n") == 1

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "fields": [{"name": "a", "pattern": r"(a)\1"}]}))
    assert run(["schemas", "create", str(bad), *conn]) == 2
    assert "RE2" in capsys.readouterr().err
    assert run(["schemas", "list", "--json", *conn]) == 0
    assert json.loads(capsys.readouterr().out)["data"] == []

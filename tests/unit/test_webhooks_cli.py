"""``jobgrid webhooks``: what the commands do with the API's answers (a stub client; the
integration test runs them against a real server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobgrid import cli_webhooks
from jobgrid.cli import run
from jobgrid.client import Client


class _Resp:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


def _stub(monkeypatch: pytest.MonkeyPatch, answers: dict[tuple[str, str], dict[str, Any]],
          calls: list[tuple[str, str]]) -> None:
    def request(self: Client, method: str, path: str, **_: Any) -> _Resp:
        calls.append((method, path))
        return _Resp(answers[(method, path)])
    monkeypatch.setattr(Client, "_request", request)


PENDING = {"id": "dlv_new", "event_id": "evt_1", "status": "pending", "attempts": []}
BASE = "/v1/webhooks/wh_1/deliveries"


def test_redeliver_prints_the_new_id(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[str, str]] = []
    _stub(monkeypatch, {("POST", f"{BASE}/dlv_old/redeliver"): PENDING}, calls)
    assert run(["webhooks", "redeliver", "wh_1", "dlv_old"]) == 0
    out, err = capsys.readouterr()
    assert out == "dlv_new\n" and "redelivery of dlv_old (event evt_1): pending" in err
    assert calls == [("POST", f"{BASE}/dlv_old/redeliver")]


def test_ids_are_quoted_into_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    _stub(monkeypatch, {("POST", "/v1/webhooks/wh%2F..%3F/deliveries/d%20x/redeliver"):
                        PENDING}, calls)
    assert run(["webhooks", "redeliver", "wh/..?", "d x"]) == 0


def test_wait_gives_up_with_one_line_when_no_attempt_comes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[str, str]] = []
    _stub(monkeypatch, {("POST", f"{BASE}/dlv_old/redeliver"): PENDING,
                        ("GET", f"{BASE}/dlv_new"): PENDING}, calls)
    monkeypatch.setattr(cli_webhooks, "WAIT_SECONDS", 0.0)
    assert run(["webhooks", "redeliver", "wh_1", "dlv_old", "--wait"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no attempt within 0 s; is a worker running?" in err


@pytest.mark.parametrize("status, code", [("succeeded", 0), ("pending", 1), ("failed", 1)])
def test_wait_exit_code_follows_the_first_attempt(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], status: str,
        code: int) -> None:
    done = {**PENDING, "status": status,
            "attempts": [{"status_code": 200 if status == "succeeded" else 500}]}
    _stub(monkeypatch, {("POST", f"{BASE}/dlv_old/redeliver"): PENDING,
                        ("GET", f"{BASE}/dlv_new"): done}, [])
    assert run(["webhooks", "redeliver", "wh_1", "dlv_old", "--wait", "--json"]) == code
    assert json.loads(capsys.readouterr().out)["status"] == status


def test_list_and_deliveries_render(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _stub(monkeypatch, {
        ("GET", "/v1/webhooks"): {"data": [{"id": "wh_1", "url": "https://x.example/h",
                                            "events": ["job.completed"],
                                            "created_at": "2024-01-01T00:00:00.000Z"}]},
        ("GET", BASE): {"data": [{**PENDING, "redelivery_of": "dlv_old", "attempts": [
            {"status_code": None, "error": "timeout: no answer within 10 s"}]}]},
    }, [])
    assert run(["webhooks", "list"]) == 0
    assert "https://x.example/h" in capsys.readouterr().out
    assert run(["webhooks", "deliveries", "wh_1"]) == 0
    out = capsys.readouterr().out
    assert "dlv_new" in out and "dlv_old" in out and "timeout" in out

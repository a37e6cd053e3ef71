"""Static guards for the Celery + Redis pitfalls (``docs/pitfalls.md``).

The fault tests (``tests/faults``) prove the behaviour with real workers and a real Redis;
these check, in milliseconds, that the settings and code that make it so are still in place
at production defaults, so a careless edit fails here with the pitfall's number in its name
rather than as a rare fault in CI.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from shared import queues as q
from shared.celery_config import celery_config
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "worker", "api", "jobgrid")
#: Seconds between the soft and the hard time limit of a document's run, with room to spare
#: (``worker/tasks.py`` uses 30).
HARD_LIMIT_MARGIN = 60


def _defaults() -> tuple[Settings, dict[str, object]]:
    settings = Settings()
    return settings, celery_config(settings)


def _our_sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def test_pitfall_1_a_lost_worker_leaves_its_message_unacknowledged() -> None:
    _, conf = _defaults()
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert Settings().document_attempt_cap >= 1  # the crash cap that ends the loop


def test_pitfall_2_nothing_outlives_the_visibility_timeout_at_defaults() -> None:
    settings, conf = _defaults()
    transport = conf["broker_transport_options"]
    assert isinstance(transport, dict)
    timeout = transport["visibility_timeout"]
    assert timeout == settings.visibility_timeout == 3600
    # a document's run ends at its hard limit, a transient retry waits at most 1.5 x the cap
    assert settings.document_soft_time_limit + HARD_LIMIT_MARGIN <= timeout / 2
    assert settings.retry_backoff_max * 1.5 <= timeout / 2
    # the restore sweep runs often enough to bring a lost message back within ~1.25 x timeout
    assert transport["unacked_restore_throttle"] == 1
    assert transport["unacked_restore_interval"] <= timeout / 4


def test_pitfall_5_polls_never_use_a_celery_result() -> None:
    _, conf = _defaults()
    assert conf["result_backend"] is None
    assert conf["task_ignore_result"] is True
    assert not _celery_uses({"AsyncResult", "GroupResult", "ResultSet"})


def test_pitfalls_6_and_7_no_chord_no_group_no_revoke() -> None:
    assert not _celery_uses({"chord", "group", "chain", "revoke"})


def test_pitfall_8_prefetch_one_and_a_queue_per_kind_of_work() -> None:
    _, conf = _defaults()
    assert conf["worker_prefetch_multiplier"] == 1
    assert len(set(q.ALL_QUEUES)) == len(q.ALL_QUEUES) == 5
    routes = conf["task_routes"]
    assert isinstance(routes, dict)
    assert {routes[t]["queue"] for t in (q.T_VALIDATE, q.T_PARSE, q.T_FINALIZE)} == {q.CONTROL}
    assert routes[q.T_EXTRACT]["queue"] in q.EXTRACT_QUEUES
    assert routes[q.T_DELIVER_WEBHOOK]["queue"] == q.WEBHOOKS
    assert len({q.extract_queue(p) for p in ("low", "normal", "high")}) == 3


def test_pitfall_10_broker_keys_share_the_prefix() -> None:
    conf = celery_config(Settings(key_prefix="jgguard"))
    transport = conf["broker_transport_options"]
    assert isinstance(transport, dict)
    assert transport["global_keyprefix"].startswith("jgguard:")


def test_pitfall_10_lua_scripts_never_scan_or_list_keys() -> None:
    call = re.compile(r"""redis\.p?call\(\s*['"](keys|scan)['"]""", re.IGNORECASE)
    scripts = sorted((REPO / "shared" / "lua").glob("*.lua"))
    assert scripts
    offenders = [p.name for p in scripts if call.search(p.read_text(encoding="utf-8"))]
    assert not offenders


def test_pitfall_10_production_redis_keeps_its_data() -> None:
    compose = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    assert re.search(r'"--maxmemory-policy",\s*"noeviction"', compose)
    assert re.search(r'"--appendonly",\s*"yes"', compose)


def test_pitfall_11_packaging_is_a_declared_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0].lower()
             for dep in project["dependencies"]}
    assert "packaging" in names
    from kombu.transport import redis as kombu_redis  # imports packaging itself

    assert kombu_redis.Transport is not None


def _celery_uses(names: set[str]) -> list[str]:
    """Where our code imports one of ``names`` from Celery, or reaches one as an attribute
    (``app.control.revoke``, ``app.AsyncResult``), except ``group`` and ``chain``, whose
    attribute forms are everyday names (``match.group``, ``click.group``)."""
    found: list[str] = []
    for path in _our_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            hit = None
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "celery":
                hit = next((a.name for a in node.names if a.name in names), None)
            elif isinstance(node, ast.Attribute) and node.attr in names - {"group", "chain"}:
                hit = node.attr
            if hit:
                found.append(f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}: {hit}")
    return found

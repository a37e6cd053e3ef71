"""``/openapi.json``: the document covers the whole contract, real payloads conform to it, and
schemathesis, run against a live server, finds no 5xx and no response that breaks it.

The schemathesis run is bounded (a few examples per operation, a fixed seed, so CI is
repeatable); set ``JOBGRID_SCHEMATHESIS_EXAMPLES`` / ``JOBGRID_SCHEMATHESIS_SEED`` to dig
deeper locally.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from support.ci import skip_or_fail
from support.env import API_KEY_A, SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer, WorkerProcess

from api.openapi import document

#: Every operation of docs/contract.md, as (method, path template).
CONTRACT = {
    ("post", "/v1/jobs"), ("get", "/v1/jobs"), ("get", "/v1/jobs/{job_id}"),
    ("get", "/v1/jobs/{job_id}/status"), ("get", "/v1/jobs/status"),
    ("get", "/v1/jobs/{job_id}/events"), ("post", "/v1/jobs/{job_id}/retry"),
    ("post", "/v1/jobs/{job_id}/cancel"), ("get", "/v1/jobs/{job_id}/results"),
    ("post", "/v1/webhooks"), ("get", "/v1/webhooks"), ("delete", "/v1/webhooks/{webhook_id}"),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"), ("post", "/v1/schemas"),
    ("get", "/v1/schemas/{schema_id}"), ("get", "/healthz"), ("get", "/readyz"),
    ("get", "/metrics"), ("get", "/openapi.json"),
}
METHODS = ("get", "post", "delete", "put", "patch")


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS}


def test_every_contract_operation_is_documented_with_its_errors() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1")
    ops = _operations(doc)
    assert CONTRACT <= set(ops), f"missing: {sorted(CONTRACT - set(ops))}"
    assert set(doc["components"]["securitySchemes"]) == {"ApiKeyHeader", "BearerAuth",
                                                          "AccessToken"}
    for (method, path), op in ops.items():
        codes = set(op["responses"])
        if path.startswith("/v1/"):
            assert {"401", "429", "503"} <= codes, (method, path)
            assert "security" not in op  # the document-wide key requirement applies
        else:
            assert op["security"] == []
        if "{job_id}" in path:
            assert {"400", "404"} <= codes, (method, path)
        for code, resp in op["responses"].items():
            if code.startswith(("4", "5")):
                ref = resp["$ref"]
                body = doc["components"]["responses"][ref.rsplit("/", 1)[1]]
                schema = body["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert "Retry-After" in doc["components"]["responses"]["RateLimited"]["headers"]
    assert set(doc["webhooks"]) >= {"job.completed", "job.failed", "job.cancelled",
                                    "job.expired"}


def test_parameters_carry_their_constraints() -> None:
    ops = _operations(document())
    listing = {p["name"]: p["schema"] for p in ops[("get", "/v1/jobs")]["parameters"]}
    assert listing["limit"]["minimum"] == 1 and listing["limit"]["maximum"] == 100
    assert "expired" in listing["status"]["enum"]
    status = {p["name"]: p["schema"] for p in ops[("get", "/v1/jobs/{job_id}/status")]
              ["parameters"]}
    assert status["wait"]["maximum"] == 60 and status["job_id"]["format"] == "uuid"
    schemas = document()["components"]["schemas"]
    assert schemas["JobCreate"]["properties"]["metadata"]["maxProperties"] == 16
    assert "oneOf" in schemas["DocumentIn"]
    body = ops[("post", "/v1/jobs")]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/JobCreate"}
    assert body["example"]["documents"]


def _validator(model: str) -> Any:
    try:
        import jsonschema_rs
    except ImportError:
        skip_or_fail("jsonschema_rs (installed with schemathesis) is missing")
    root = {"components": document()["components"],
            "$ref": f"#/components/schemas/{model}"}
    return jsonschema_rs.Draft202012Validator(root)


def test_real_payloads_conform(api_server: ApiServer) -> None:
    client = api_server.client()
    served = requests.get(api_server.url + "/openapi.json", timeout=10)
    assert served.status_code == 200 and served.json() == document()
    job = client.submit(job_body(2, metadata={"batch_id": "b1"}))
    errors: list[str] = []
    checks = [
        ("JobOut", job),
        ("JobOut", client.get(f"/v1/jobs/{job['id']}").json()),
        ("JobStatusOut", client.get(f"/v1/jobs/{job['id']}/status").json()),
        ("StatusList", client.get("/v1/jobs/status", params={"ids": job["id"]}).json()),
        ("JobList", client.get("/v1/jobs", params={"limit": 2}).json()),
        ("Results", client.get(f"/v1/jobs/{job['id']}/results",
                               params={"detail": "true"}).json()),
        ("ErrorBody", client.get("/v1/jobs/not-a-uuid").json()),
        ("Health", requests.get(api_server.url + "/healthz", timeout=5).json()),
    ]
    for model, payload in checks:
        errors += [f"{model}: {e}" for e in _validator(model).iter_errors(payload)]
    assert not errors, "\n".join(errors)


@pytest.mark.integration
def test_schemathesis_finds_no_server_error_nor_schema_violation(
    make_settings: Callable[..., SettingsEnv],
    start_api: Callable[..., ApiServer],
    worker_process: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        skip_or_fail("schemathesis is not installed (pip install -e '.[test]')")
    env = make_settings(isolated=True)
    api = start_api(env, workers=2)
    worker_process(env, concurrency=2)
    argv = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{api.url}/openapi.json",
        "--url", api.url, "--header", f"Api-Key: {API_KEY_A}",
        "--checks", "not_a_server_error,response_schema_conformance",
        "--max-examples", os.environ.get("JOBGRID_SCHEMATHESIS_EXAMPLES", "5"),
        "--seed", os.environ.get("JOBGRID_SCHEMATHESIS_SEED", "20241114"),
        "--request-timeout", "15", "--no-color",
        "--workers", "1",  # parallel workers trip a CPython 3.11 ast.parse race in hypothesis
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=240,
                         check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis found problems:\n{output[-12000:]}"
    assert " passed" in output and "failed" not in output.split("SUMMARY")[-1], output[-4000:]

"""The bare baselines of ``bench/polling.py``: the least a Flask view can do per request.

``/const`` returns a constant JSON body; ``/hash/<job id>`` does one HGETALL of a job hash and
returns it. Same Redis client factory and the same JSON serializer (orjson) as the API, so the
difference to ``/v1/jobs/{id}/status`` is what jobgrid itself adds: auth, the rate limit,
tenancy, the payload, headers. Served by ``api.server.server_argv(..., app="baseline_app:app")``
with ``bench/`` on PYTHONPATH.
"""

from __future__ import annotations

import orjson
from flask import Flask, Response

from shared.keys import Keys
from shared.redis_client import redis_from_settings
from shared.settings import get_settings

settings = get_settings()
client = redis_from_settings(settings)
keys = Keys(settings.key_prefix)
app = Flask("bench.baseline")
CONST = orjson.dumps({"id": "00000000-0000-4000-8000-000000000000", "object": "job",
                      "status": "in_progress", "version": 57, "progress": 65})


@app.get("/const")
def const() -> Response:
    return Response(CONST, mimetype="application/json")


@app.get("/hash/<job_id>")
def job_hash(job_id: str) -> Response:
    return Response(orjson.dumps(client.hgetall(keys.job(job_id))), mimetype="application/json")

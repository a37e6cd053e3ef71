"""The API under a Redis that dies and comes back: 503 with Retry-After while it is down,
never a 500 or a hang, and service again once it is back (stale pooled connections included).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from support.env import SettingsEnv
from support.payloads import job_body
from support.servers import ApiServer

from jobgrid.embedded_redis import EmbeddedRedis

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def poll(session: requests.Session, url: str) -> requests.Response:
    return session.get(url, timeout=10)


def test_redis_restart_under_the_api(private_redis: Callable[..., EmbeddedRedis],
                                     make_settings: Callable[..., SettingsEnv],
                                     start_api: Callable[..., ApiServer]) -> None:
    srv = private_redis(appendonly=True)
    env = make_settings(isolated=True, redis_url=srv.url, redis_socket_timeout=1.0)
    api = start_api(env, workers=1, threads=4)
    c = api.client()
    job: dict[str, Any] = c.submit(job_body(1))
    url = f"{api.url}/v1/jobs/{job['id']}/status"
    session = requests.Session()
    session.headers["Api-Key"] = "test-key-a"
    assert poll(session, url).status_code == 200

    srv.stop(kill=True)
    for _ in range(3):
        started = time.monotonic()
        down = poll(session, url)
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "unavailable"
        assert int(down.headers["Retry-After"]) >= 1
        assert time.monotonic() - started < 3
    assert requests.get(api.url + "/readyz", timeout=5).status_code == 503
    assert requests.get(api.url + "/healthz", timeout=5).status_code == 200

    srv.start()
    codes = [poll(session, url).status_code for _ in range(6)]
    assert set(codes) <= {200, 503}, codes  # a stale pooled connection may answer 503 once
    assert codes[-1] == 200 and codes.count(503) <= 1, codes
    assert poll(session, url).json()["id"] == job["id"]  # AOF kept the job
    assert requests.get(api.url + "/readyz", timeout=5).status_code == 200

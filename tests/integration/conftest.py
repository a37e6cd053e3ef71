"""Fixtures of the API test modules that run on one API process of their own
(``support.apistack``): before these lived here, each module repeated the same four.

``stack``       module: ``support.apistack.ApiStack``, one API process (no worker) on a fresh
                isolated prefix, so no other test's worker consumes the module's jobs. A
                module sets its own Settings overrides as ``STACK_SETTINGS = {...}``
                (field names, as ``make_settings`` takes them).
``org_key``     function: ``(key, org)`` of a fresh organization on that stack.
``api``         function: an ``ApiClient`` with ``org_key``'s key.
``new_client``  function factory: ``new_client()`` -> a client of yet another fresh
                organization (closed at teardown); ``other`` is one such client.

A module with a different stack (a worker, another server command) defines its own
``stack``/``api`` and so overrides these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.apistack import ApiStack, api_stack
from support.env import SettingsEnv
from support.servers import ApiClient


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, make_settings: Callable[..., SettingsEnv],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    overrides: dict[str, Any] = getattr(request.module, "STACK_SETTINGS", {})
    env = make_settings(isolated=True, **overrides)
    name = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    with api_stack(env, tmp_path_factory.mktemp(name)) as running:
        yield running


@pytest.fixture
def org_key(stack: ApiStack, make_api_key: Callable[..., tuple[str, str]]) -> tuple[str, str]:
    return make_api_key(settings=stack.env)


@pytest.fixture
def api(stack: ApiStack, org_key: tuple[str, str]) -> Iterator[ApiClient]:
    c = ApiClient(stack.server.url, org_key[0])
    yield c
    c.close()


@pytest.fixture
def new_client(stack: ApiStack, make_api_key: Callable[..., tuple[str, str]]
               ) -> Iterator[Callable[[], ApiClient]]:
    clients: list[ApiClient] = []

    def factory() -> ApiClient:
        clients.append(ApiClient(stack.server.url, make_api_key(settings=stack.env)[0]))
        return clients[-1]

    yield factory
    for c in clients:
        c.close()


@pytest.fixture
def other(new_client: Callable[[], ApiClient]) -> ApiClient:
    """A client of another organization."""
    return new_client()

"""Helpers for jobgrid's tests; the fixtures that use them live in ``tests/conftest.py``.

``tests/`` is put on ``sys.path`` by the conftest, so import these as ``support.<module>``::

    from support.env import API_KEY_A, API_KEY_B, ORG_A, ORG_B, SettingsEnv
    from support.payloads import job_body
    from support.servers import ApiClient, ApiServer, WorkerProcess

Modules: ``env`` (settings <-> JOBGRID_* env), ``redis_tools`` (finding Redis, prefix cleanup),
``servers`` (API server/Celery subprocesses), ``logs`` (logs in failure reports),
``payloads`` (request bodies), ``layering`` (import graph, cycles and outside
references; ``python -m tests.support.layering``).
"""

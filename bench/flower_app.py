"""The peer of ``bench/polling.py``: a plain Celery app that Flower watches.

Same Redis as jobgrid, its own key prefix, a Redis result backend (so Flower's
``/api/task/result/<id>`` has something to read) and task events on (so Flower's in-memory
state knows the task for ``/api/task/info/<id>``). Worker and Flower are started with
``celery -A flower_app ...`` and ``bench/`` on PYTHONPATH; the URL comes from
``BENCH_REDIS_URL``.
"""

from __future__ import annotations

import os

from celery import Celery

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = "flowerbench"

app = Celery("flowerbench", broker=URL, backend=URL)
app.conf.update(
    broker_transport_options={"global_keyprefix": "flowerbench:"},
    result_backend_transport_options={"global_keyprefix": "flowerbench:"},
    task_default_queue=QUEUE,
    worker_send_task_events=True,
    task_send_sent_event=True,
    broker_connection_retry_on_startup=True,
)


@app.task(name="flowerbench.add")  # type: ignore[untyped-decorator]
def add(x: int, y: int) -> int:
    return x + y

"""The Celery app that ``celery -A worker.celery_app worker`` runs.

Configuration lives in ``shared.celery_config`` (the API sends with the same settings);
this module only adds the task modules and the worker-side signal hooks.
"""

from __future__ import annotations

from shared.celery_config import make_celery
from shared.settings import get_settings

app = make_celery(get_settings(), name="jobgrid-worker")
app.conf.include = ["worker.tasks"]

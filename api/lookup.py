"""Loading a job on behalf of an organization: another organization's job is simply absent.

Tenancy is enforced here, once: every view that takes a job id goes through ``owned_job``
or ``full_job``, which answer 404 (never 403) for a foreign or purged job.
"""

from __future__ import annotations

from typing import Any

from api.services import Services
from shared.clock import now_ms
from shared.errors import NotFound
from shared.job import F
from shared.jobview import job_payload


def not_found(job_id: str) -> NotFound:
    return NotFound(f"no job {job_id} in this organization")


def owned_job(svc: Services, job_id: str, org: str) -> dict[str, str]:
    """The job's hash, or 404 when it does not exist for ``org``."""
    h = svc.store.read_job(job_id)
    if h is None or h.get(F.ORG) != org:
        raise not_found(job_id)
    return h


def full_job(svc: Services, job_id: str, org: str) -> dict[str, Any]:
    """The full job object (hash + timeline in one round trip), or 404."""
    h, timeline = svc.store.read_full(job_id)
    if h is None or h.get(F.ORG) != org:
        raise not_found(job_id)
    return job_payload(h, timeline, now_ms(), svc.settings.base_url)

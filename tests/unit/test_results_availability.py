"""The one rule for when a job's results can be served (``api.routes.results.availability``),
shared by the results route, its cursor pages and the dashboard's grid."""

from __future__ import annotations

import pytest

from api.routes.results import Availability, availability
from shared.job import F

NOW = 1_700_000_000_000
SCHEMA = '{"name": "Invoice", "fields": [{"name": "total"}]}'


def _job(**fields: str) -> dict[str, str]:
    h = {F.ID: "j", F.ORG: "org_a", F.STATUS: "in_progress", F.EXPIRES_AT: str(NOW + 1000)}
    h.update(fields)
    return h


def test_a_live_job_of_the_organization_is_available() -> None:
    assert availability(_job(), "org_a", SCHEMA, True, NOW) is Availability.AVAILABLE


@pytest.mark.parametrize("h, org", [({}, "org_a"), (_job(), "org_b")])
def test_unknown_or_foreign_jobs_are_absent(h: dict[str, str], org: str) -> None:
    assert availability(h, org, SCHEMA, True, NOW) is Availability.ABSENT


@pytest.mark.parametrize("h, schema, docs", [
    (_job(), SCHEMA, False),  # documents deleted by the expiry sweep
    (_job(), None, True),  # schema snapshot deleted
    (_job(**{F.EXPIRES_AT: str(NOW)}), SCHEMA, True),  # expired on read, keys not swept yet
])
def test_gone_data_or_expiry_is_expired(h: dict[str, str], schema: str | None,
                                        docs: bool) -> None:
    assert availability(h, "org_a", schema, docs, NOW) is Availability.EXPIRED


def test_absent_wins_over_expired() -> None:
    """Another organization never learns that a job existed and expired (404 either way, but
    the expired message names the job's expiry)."""
    assert availability(_job(**{F.EXPIRES_AT: str(NOW)}), "org_b", None, False,
                        NOW) is Availability.ABSENT

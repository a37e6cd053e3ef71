"""A results row has one definition, ``shared.models.ResultRow``: every row the workers write
(``worker.rows``) and every row the API serves (``api.grid``: recorded, pending, cancelled,
with and without detail, cursor rows) validates as that model and uses only its keys."""

from __future__ import annotations

from typing import Any

import pytest

from api import grid
from shared.models import FieldSpec, ResultRow
from worker.extraction import Cell
from worker.rows import completed_row, failed_row

FIELDS = [FieldSpec(name="total", type="currency", required=True),
          FieldSpec(name="vendor", type="string")]
NAMES = [f.name for f in FIELDS]


def _check(row: dict[str, Any]) -> ResultRow:
    assert set(row) <= set(ResultRow.model_fields), set(row) - set(ResultRow.model_fields)
    return ResultRow.model_validate(row)


def _worker_rows() -> list[dict[str, Any]]:
    cell = Cell(value="ACME", confidence=0.95, label="Vendor", line=1, text="Vendor: ACME",
                raw="ACME", page=1, start=8, end=12, method="label", rule=None)
    done, _ = completed_row(0, "a.txt", FIELDS, {"vendor": cell})
    return [done, failed_row(1, "b.txt", FIELDS, "parse_failed", "not a PDF")]


def test_grid_keys_are_the_model_fields_in_order() -> None:
    assert (grid.DOCUMENT, grid.STATUS, grid.VALUES, grid.CONFIDENCE, grid.ERROR, grid.DETAIL,
            grid.NEEDS_REVIEW, grid.RERUN) == tuple(ResultRow.model_fields)


def test_worker_rows_are_result_rows() -> None:
    done, failed = (_check(r) for r in _worker_rows())
    assert done.needs_review == ["total"] and done.detail and done.detail["vendor"]
    assert failed.error is not None and failed.error.code == "parse_failed"


@pytest.mark.parametrize("status", ["pending", "cancelled"])
def test_unprocessed_rows_are_result_rows(status: str) -> None:
    row = _check(grid.pending_row(3, "c.txt", NAMES, status))
    assert row.status == status and row.values == {"total": None, "vendor": None}


@pytest.mark.parametrize("detail", [False, True])
def test_served_rows_are_result_rows(detail: bool) -> None:
    recorded = dict(enumerate(_worker_rows()))
    rows = grid.build_rows(NAMES, 3, recorded, {2: "c.txt"}, detail)
    for row in rows:
        served = _check(row)
        assert (served.detail is not None) is detail
        assert (served.needs_review is not None) is detail
    cursor = _check(grid.finished_row(_worker_rows()[0], NAMES, detail, reruns=1))
    assert cursor.rerun is True

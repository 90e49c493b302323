"""The bounded fault soak (see ``tests/orm/soak.py``; ``make soak`` runs the large one)."""

from __future__ import annotations

import pytest

from tests.orm.soak import FAULT_KINDS, soak

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", ["batch", "collections", "economy"])
async def test_nothing_lost_nothing_duplicated_nothing_misreported(path: str) -> None:
    report = await soak(3_000, path=path, seed=7, per_round=200)  # type: ignore[arg-type]
    assert report.problems == [], report.line()
    assert set(report.faults) == set(FAULT_KINDS), report.line()  # every kind was injected
    # Not vacuous: work went through, and some answers were lost for real.
    assert report.created > 0 and report.upserted == 750 and report.updated > 0, report.line()
    assert report.unknown > 0, report.line()
    assert report.errors_raised > 0, report.line()

"""`make demo` keeps working: it runs the walkthrough, whose steps assert their own claims."""

from __future__ import annotations

import pytest

from sobjects._demo import run_demo


@pytest.mark.anyio
async def test_demo_runs_and_reports_costs(capsys: pytest.CaptureFixture[str]) -> None:
    await run_demo()
    out = capsys.readouterr().out
    assert "Part 1: the ORM" in out
    assert "2 of 3 operations failed" in out
    assert "the update sends only {'Title': 'CEO'}" in out
    # Accounts then contacts: two Composite Batch requests for 15 records.
    assert "-> 2 HTTP request(s), 15 API call(s) counted by the org" in out
    assert "halted=True" in out
    # The 2,500-record flush is drawn from the flush_progress hook (rich prints the last
    # state of the bar when the output is not a terminal).
    assert "2500/2500 records answered" in out
    assert "12000 create Contact (Bulk API job)" in out
    assert "contact #42 failed: INVALID_EMAIL_ADDRESS" in out

"""``sf.bulk`` against the local org: ingest and query jobs end to end (no mocks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import anyio
import pytest

from sobjects.client import BulkJobEvent
from sobjects.emulator import LocalOrg
from sobjects.errors import (
    BulkJobError,
    BulkJobTimeoutError,
    ConfigurationError,
    RequiredFieldMissingError,
)

pytestmark = pytest.mark.anyio

FAST = {"poll_interval": 0.01, "max_poll_interval": 0.05}


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field("Account", {"name": "Ext__c", "type": "string", "externalId": True})
    org.define_field("Contact", {"name": "Ext__c", "type": "string", "externalId": True})
    org.define_field(
        "Contact",
        {
            "name": "Colors__c",
            "type": "multipicklist",
            "picklistValues": [{"value": v, "active": True} for v in ("red", "blue")],
        },
    )
    org.define_field("Contact", {"name": "Score__c", "type": "double", "scale": 2})
    org.define_field("Contact", {"name": "Seen__c", "type": "datetime"})
    org.define_field("Contact", {"name": "Vip__c", "type": "boolean"})
    return org


async def test_insert_matches_results_to_input_records(org: LocalOrg) -> None:
    records = [{"LastName": f"C{i}"} for i in range(300)]
    records[7] = {"LastName": None}  # fails: LastName is required
    async with org.client() as sf:
        result = await sf.bulk.insert("Contact", records, **FAST)
    assert [r.index for r in result.results] == list(range(300))
    assert len(result.successful) == 299
    (failed,) = result.failed
    assert failed.index == 7 and failed.errors[0].code == "REQUIRED_FIELD_MISSING"
    with pytest.raises(RequiredFieldMissingError):
        failed.raise_for_status()
    for record, outcome in zip(records, result.results, strict=True):
        if outcome.success:
            stored = org.store.get(outcome.id or "")
            assert stored is not None and stored["LastName"] == record["LastName"]
            assert outcome.created is True
    (job,) = result.jobs
    assert (job.state, job.records_processed, job.records_failed) == ("JobComplete", 300, 1)
    # create, upload, close, the polls, three result files: each one API call, all counted
    assert result.api_calls >= 7
    assert org.api_usage == result.api_calls


async def test_values_in_salesforce_csv_dialect(org: LocalOrg) -> None:
    account_id = org.store.insert(org.schema.require("Account"), {"Name": "Acme", "Ext__c": "A-1"})
    record = {
        "LastName": 'Smith, "the" one\nsecond line',
        "Birthdate": date(1990, 5, 17),
        "Seen__c": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "Vip__c": True,
        "Colors__c": ["red", "blue"],
        "Score__c": Decimal("12.50"),
        "Account": {"Ext__c": "A-1"},
    }
    async with org.client() as sf:
        result = await sf.bulk.insert("Contact", [record], line_ending="CRLF", **FAST)
    stored = org.store.get(result.results[0].id or "")
    assert stored is not None
    assert stored["LastName"] == 'Smith, "the" one\nsecond line'
    assert (stored["Birthdate"], stored["Seen__c"]) == (
        "1990-05-17",
        "2024-01-02T03:04:05.000+0000",
    )
    assert (stored["Vip__c"], stored["Colors__c"], stored["Score__c"]) == (True, "red;blue", 12.5)
    assert stored["AccountId"] == account_id


async def records_from(items: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        await anyio.lowlevel.checkpoint()
        yield item


async def test_upsert_update_delete_from_async_iterables(org: LocalOrg) -> None:
    async with org.client() as sf:
        first = await sf.bulk.upsert(
            "Contact",
            records_from(
                [{"Ext__c": "E1", "LastName": "One"}, {"Ext__c": "E2", "LastName": "Two"}]
            ),
            external_id_field="Ext__c",
            **FAST,
        )
        again = await sf.bulk.upsert(
            "Contact",
            [{"Ext__c": "E1", "LastName": "Uno", "Title": "CEO"}],
            external_id_field="Ext__c",
            **FAST,
        )
        assert [r.created for r in first.results] == [True, True]
        assert (again.results[0].created, again.results[0].id) == (False, first.results[0].id)
        ids = [r.id for r in first.results]
        updated = await sf.bulk.update("Contact", [{"Id": ids[0], "Title": None}], **FAST)
        assert updated.results[0].success
        stored = org.store.get(ids[0] or "")
        assert stored is not None and stored["Title"] is None  # None clears (#N/A)
        deleted = await sf.bulk.delete("Contact", records_from([{"Id": ids[0]}]), **FAST)
        assert deleted.results[0].success
        hard = await sf.bulk.hard_delete("Contact", [ids[1]], **FAST)
        assert hard.results[0].success
    assert org.store.records("Contact") == []


async def test_uploads_are_split_under_the_limit_and_by_header(org: LocalOrg) -> None:
    records: list[dict[str, Any]] = [{"LastName": "Same"} for _ in range(300)]  # identical rows
    records += [{"LastName": f"Other {i}", "Title": "T"} for i in range(50)]  # a new header
    events: list[BulkJobEvent] = []

    async def progress(event: BulkJobEvent) -> None:
        events.append(event)

    async with org.client(event_hooks={"bulk": [progress]}) as sf:
        result = await sf.bulk.insert("Contact", records, max_upload_bytes=1024, **FAST)
    assert len(result.jobs) > 2
    assert all(r.success for r in result.results)
    assert len({r.id for r in result.results}) == 350  # every record got its own id
    assert sum(e.records_uploaded for e in events) == 350
    final = {e.job_id: e for e in events}
    assert {e.state for e in final.values()} == {"JobComplete"}
    assert sum(e.records_processed for e in final.values()) == 350


async def test_records_alternating_two_sets_of_fields_make_two_jobs(org: LocalOrg) -> None:
    """A new upload keeps the fields seen so far: an empty value leaves a field alone."""
    records = [{"LastName": f"C{i}", **({"Title": "T"} if i % 2 else {})} for i in range(40)]
    async with org.client() as sf:
        result = await sf.bulk.insert("Contact", records, **FAST)
    assert len(result.jobs) == 2
    stored = {r["LastName"]: r["Title"] for r in org.store.records("Contact")}
    assert stored["C1"] == "T" and stored["C2"] is None and len(stored) == 40


async def test_a_job_that_fails_as_a_whole_raises(org: LocalOrg) -> None:
    async with org.client() as sf:
        with pytest.raises(BulkJobError) as info:
            await sf.bulk.insert("Contact", [{"LastName": "A", "Bogus__c": "x"}], **FAST)
    assert info.value.code == "InvalidBatch"
    assert "Field name not found : Bogus__c" in str(info.value)
    assert info.value.result.unprocessed[0].index == 0


async def test_cancelling_mid_upload_aborts_the_jobs(org: LocalOrg) -> None:
    async def slow_records(scope: anyio.CancelScope) -> AsyncIterator[dict[str, Any]]:
        for i in range(100):
            if i == 60:
                scope.cancel()  # after the first uploads: their jobs are open or running
            await anyio.lowlevel.checkpoint()
            yield {"LastName": f"C{i:03d}" + "x" * 50}

    with org.bulk.paused():
        async with org.client() as sf:
            with anyio.CancelScope() as scope:
                await sf.bulk.insert("Contact", slow_records(scope), max_upload_bytes=1024, **FAST)
        assert scope.cancelled_caught
    jobs = org.bulk._jobs.values()
    assert jobs and {j.state for j in jobs} == {"Aborted"}
    assert org.store.records("Contact") == []


async def test_timeout_aborts_the_job(org: LocalOrg) -> None:
    with org.bulk.paused():
        async with org.client() as sf:
            with pytest.raises(BulkJobTimeoutError) as info:
                await sf.bulk.insert("Contact", [{"LastName": "A"}], timeout=0.2, **FAST)
    assert info.value.code == "Timeout"
    assert [j.state for j in org.bulk._jobs.values()] == ["Aborted"]


async def test_query_streams_pages(org: LocalOrg) -> None:
    account_id = org.store.insert(org.schema.require("Account"), {"Name": "Acme"})
    contact = org.schema.require("Contact")
    for i in range(45):
        org.store.insert(contact, {"LastName": f"C{i:02d}", "AccountId": account_id})
    org.store.delete(contact, org.store.insert(contact, {"LastName": "Gone"}))
    async with org.client() as sf:
        query = sf.bulk.query(
            "SELECT Id, LastName, Email, Account.Name FROM Contact ORDER BY LastName",
            page_size=20,
            **FAST,
        )
        sizes = [len(page) async for page in query.pages()]
        assert sizes == [20, 20, 5]
        assert query.job is not None and query.job.records_processed == 45
        records = await sf.bulk.query("SELECT LastName, Account.Name FROM Contact", **FAST).all()
        assert records[0] == {"LastName": "C00", "Account": {"Name": "Acme"}}
        everything = [
            r
            async for r in sf.bulk.query(
                "SELECT Id, Email FROM Contact", include_deleted=True, **FAST
            )
        ]
        assert len(everything) == 46 and everything[0]["Email"] is None


async def test_query_failures(org: LocalOrg) -> None:
    async with org.client() as sf:
        with pytest.raises(Exception, match="GROUP BY"):
            await sf.bulk.query("SELECT LastName FROM Contact GROUP BY LastName").all()
        with org.bulk.paused():
            query = sf.bulk.query("SELECT Id FROM Contact", timeout=0.1, **FAST)
            with pytest.raises(BulkJobTimeoutError):
                await query.all()
        assert query.job is not None
        assert org.bulk._jobs[query.job.id].state == "Aborted"


async def test_bad_arguments_send_nothing(org: LocalOrg) -> None:
    async with org.client() as sf:
        with pytest.raises(ConfigurationError):
            await sf.bulk.upsert("Contact", [], external_id_field="")
        with pytest.raises(ConfigurationError):
            await sf.bulk.insert("Contact", [], column_delimiter="COLON")
        with pytest.raises(ConfigurationError):
            await sf.bulk.update("Contact", [{"LastName": "no id"}])
        with pytest.raises(ConfigurationError):
            await sf.bulk.delete("Contact", [{"LastName": "no id"}])
        with pytest.raises(ConfigurationError):
            sf.bulk.query("SELECT Id FROM Contact", page_size=0)
        before = org.api_usage
        empty = await sf.bulk.insert("Contact", [])
        assert (empty.jobs, empty.results, org.api_usage) == ([], [], before)


def test_results_are_a_compact_sequence() -> None:
    from sobjects.client import BulkResults
    from sobjects.errors import ErrorDetail

    results = BulkResults(4, ["750A", "750B"])
    results.set(0, 0, "003000000000001AAA", True)
    results.set(1, 1, "003000000000002AAA", False)
    results.set_failed(2, 1, None, ErrorDetail("REQUIRED_FIELD_MISSING", "missing", ("LastName",)))
    # position 3: never named by a result file
    assert len(results) == 4
    assert (results[0].created, results[1].created, results[1].job_id) == (True, False, "750B")
    assert results[-2].errors[0].fields == ("LastName",) and results[2].processed
    assert (results[3].processed, results[3].success, results[3].created) == (False, False, None)
    assert [r.index for r in results[1:3]] == [1, 2]
    assert list(results) == results[:]
    assert results == list(results) and results != []
    assert repr(results) == "BulkResults(4 records, 1 failed, 1 unprocessed)"
    with pytest.raises(IndexError):
        results[4]

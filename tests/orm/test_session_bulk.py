"""Large groups of one write on one sObject flush as Bulk API 2.0 jobs; ``bulk=True`` reads
go through Bulk query jobs. Against the local org, on asyncio and trio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import anyio
import httpx
import pytest

from sobjects import FlushError, Salesforce, Session, SObject, inspect, select
from sobjects.emulator import LocalOrg
from sobjects.errors import BulkJobError, ConfigurationError
from sobjects.fields import Field, Id

pytestmark = pytest.mark.anyio

FAST = {"poll_interval": 0.01, "max_poll_interval": 0.05}


class Account(SObject):
    name: Field[str]
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    title: Field[str | None] = Field(None)
    birthdate: Field[date | None] = Field(None)
    do_not_call: Field[bool] = Field(False)
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_models(Account, Contact)
    return org


@pytest.fixture
async def sf(org: LocalOrg) -> AsyncIterator[Salesforce]:
    async with org.client() as client:
        yield client


def session(sf: Salesforce, **options: Any) -> Session:
    options.setdefault("bulk_threshold", 50)
    # page_size is for bulk reads: writes leave it alone.
    return Session(sf, bulk_options={**FAST, "page_size": 1000}, **options)


async def test_a_large_group_goes_as_one_bulk_job(org: LocalOrg, sf: Salesforce) -> None:
    contacts = [Contact(last_name=f"C{i}", birthdate=date(2000, 1, 1 + i % 28)) for i in range(120)]
    contacts[5].email = "not-an-email"
    with pytest.raises(FlushError) as info:
        async with session(sf) as s:
            for contact in contacts:
                contact.save()
            plan = s.plan()
            assert [r.endpoint for r in plan.requests] == ["jobs/ingest"]
            assert "120 create Contact (Bulk API job)" in str(plan)
            assert plan.api_calls == 7
    assert [obj for obj, _ in info.value.failures] == [contacts[5]]
    state = inspect(contacts[5])
    assert state.state == "failed"
    assert state.errors[0].code == "INVALID_EMAIL_ADDRESS"
    assert list(state.field_errors) == ["Email"]
    good = [c for c in contacts if c is not contacts[5]]
    assert all(c.id and inspect(c).state == "persistent" and inspect(c).created for c in good)
    assert len({c.id for c in good}) == 119
    stored = org.store.get(good[0].id or "")
    assert stored is not None and stored["Birthdate"] == "2000-01-01"
    report = s.last_flush
    assert report is not None
    assert [r.endpoint for r in report.requests] == ["jobs/ingest"]
    assert report.api_calls >= 7
    assert report.outcomes["succeeded"] == 119 and report.outcomes["failed"] == 1


async def test_upsert_update_and_delete_groups(org: LocalOrg, sf: Salesforce) -> None:
    contacts = [Contact(last_name=f"C{i}", ext_id=f"E{i}") for i in range(60)]
    async with session(sf) as s:
        for contact in contacts:
            contact.upsert()
    assert all(inspect(c).created is True for c in contacts)
    again = [Contact(last_name=f"Again {i}", ext_id=f"E{i}") for i in range(60)]
    async with session(sf) as s:
        for contact in again:
            contact.upsert()
    assert [c.id for c in again] == [c.id for c in contacts]
    assert all(inspect(c).created is False for c in again)
    async with session(sf) as s:
        loaded = await s.all(select(Contact))
        for contact in loaded:
            contact.title = "Updated"
            contact.save()
        assert [r.endpoint for r in s.plan().requests] == ["jobs/ingest"]
    assert {r["Title"] for r in org.store.records("Contact")} == {"Updated"}
    async with session(sf) as s:
        for contact in loaded:
            contact.delete()
    assert org.store.records("Contact") == []
    assert all(inspect(c).state == "deleted" for c in loaded)


async def test_children_of_new_bulk_records_wait_for_the_job(org: LocalOrg, sf: Salesforce) -> None:
    accounts = [Account(name=f"A{i}") for i in range(60)]
    async with session(sf) as s:
        for account in accounts:
            account.save()
        child = Contact(last_name="Child", account=accounts[0])
        child.save()
        plan = s.plan()
        assert [(r.round, r.endpoint) for r in plan.requests] == [
            (0, "jobs/ingest"),
            (1, "composite/batch"),
        ]
    assert child.account_id == accounts[0].id
    stored = org.store.get(child.id or "")
    assert stored is not None and stored["AccountId"] == accounts[0].id


async def test_below_the_threshold_and_in_a_transaction_no_job(sf: Salesforce) -> None:
    async with session(sf, bulk_threshold=100) as s:
        for i in range(100):
            Contact(last_name=f"C{i}").save()
        assert "jobs/ingest" not in [r.endpoint for r in s.plan().requests]
        s.discard()
    async with session(sf, halt_on_error=True) as s:
        for i in range(60):
            Contact(last_name=f"C{i}").save()
        assert "jobs/ingest" not in [r.endpoint for r in s.plan().requests]
        s.discard()
    async with Session(sf) as s:  # the default threshold: 10,000
        for i in range(60):
            Contact(last_name=f"C{i}").save()
        assert "jobs/ingest" not in [r.endpoint for r in s.plan().requests]
        s.discard()


async def test_a_job_that_fails_as_a_whole_leaves_records_pending(
    org: LocalOrg, sf: Salesforce
) -> None:
    contacts = [Contact(last_name=f"C{i}") for i in range(60)]
    original = org.bulk._run_ingest

    def fail(job: Any) -> None:
        org.bulk._start(job)
        org.bulk._fail(job, "InvalidBatch : simulated failure")

    org.bulk._run_ingest = fail  # type: ignore[method-assign]
    with pytest.raises(BulkJobError) as info:
        async with session(sf) as s:
            for contact in contacts:
                contact.save()
            await s.flush()
    assert info.value.code == "InvalidBatch"
    assert all(c.id is None for c in contacts)
    assert [id(obj) for obj in info.value.objects] == [id(c) for c in contacts]
    assert inspect(contacts[0]).errors[0].code == "NOT_SENT"
    org.bulk._run_ingest = original  # type: ignore[method-assign]
    async with session(sf) as s:  # saved again in a new session, they go through
        for contact in contacts:
            contact.save()
    assert all(c.id for c in contacts)


async def test_a_flush_cancelled_while_its_job_runs_never_sends_the_records_again(
    org: LocalOrg, sf: Salesforce
) -> None:
    """Cancelled (a timeout, Ctrl+C) once the data is uploaded: the job may have processed
    records, so each is unknown, and the next flush sends none of them."""
    uploaded = anyio.Event()
    transport: Any = sf._http._transport
    original = transport.handle_async_request

    sent: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        response: httpx.Response = await original(request)
        if request.method == "PATCH" and "jobs/ingest" in request.url.path:
            if uploaded.is_set():
                return response  # the abort sent on cancellation
            uploaded.set()  # UploadComplete: the org has the records
            await anyio.sleep_forever()
        return response

    transport.handle_async_request = handle
    contacts = [Contact(last_name=f"C{i}") for i in range(60)]
    async with session(sf) as s:
        for contact in contacts:
            contact.save()
        async with anyio.create_task_group() as group:
            group.start_soon(s.flush)
            await uploaded.wait()
            group.cancel_scope.cancel()
        states = [inspect(c) for c in contacts]
        assert {st.state for st in states} == {"failed"}
        assert {st.errors[0].code for st in states} == {"OUTCOME_UNKNOWN"}
        assert "interrupted" in states[0].errors[0].message
        assert sum("PATCH" in line for line in sent) == 2  # UploadComplete, then Aborted
        before = len(sent)
        await s.flush()  # sends nothing
        assert len(sent) == before
    assert len(org.store.records("Contact")) <= 60


async def test_stream_and_all_through_bulk_query(org: LocalOrg, sf: Salesforce) -> None:
    account = org.store.insert(org.schema.require("Account"), {"Name": "Acme"})
    contact = org.schema.require("Contact")
    for i in range(30):
        org.store.insert(
            contact,
            {
                "LastName": f"C{i:02d}",
                "AccountId": account,
                "Birthdate": "1990-01-02",
                "DoNotCall": i % 2 == 0,
            },
        )
    async with Session(sf, bulk_options={**FAST, "page_size": 7}) as s:
        query = select(Contact).order_by(Contact.last_name)
        streamed = [c async for c in s.stream(query, bulk=True)]
        assert [c.last_name for c in streamed] == [f"C{i:02d}" for i in range(30)]
        first = streamed[0]
        assert (first.birthdate, first.do_not_call, first.email) == (date(1990, 1, 2), True, None)
        assert first.account_id == account
        assert inspect(first).state == "persistent"
        listed = await s.all(select(Contact), bulk=True)
        assert len(listed) == 30
        assert {id(c) for c in listed} == {id(c) for c in streamed}  # one identity map
    jobs = [j for j in org.bulk._jobs.values() if j.kind == "query"]
    assert len(jobs) == 2


async def test_bad_bulk_options(sf: Salesforce) -> None:
    with pytest.raises(ConfigurationError, match="unknown bulk_options"):
        Session(sf, bulk_options={"pollinterval": 1})
    with pytest.raises(ConfigurationError, match="bulk_threshold"):
        Session(sf, bulk_threshold=True)

"""The unit of work against the local org: batching, hydration, tracking, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sobjects import Salesforce
from sobjects.emulator import LocalOrg
from sobjects.errors import ResultNotReadyError
from sobjects.fields import Field, Id, MultiPicklist
from sobjects.orm._inspect import inspect
from sobjects.orm._model import RelationshipNotLoadedError, SObject
from sobjects.orm._session import FlushError, FlushErrorGroup, NoSessionError, Session
from tests.flavours import Flavour

pytestmark = pytest.mark.anyio


class Account(SObject):
    name: Field[str]
    industry: Field[str | None] = Field(None)
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


class Contact(SObject):
    first_name: Field[str | None] = Field(None)
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    title: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)
    interests: Field[MultiPicklist | None] = Field(None, api_name="Interests__c")


class Calls:
    """What reached the org: top-level requests and every (sub)request dispatched."""

    def __init__(self, org: LocalOrg) -> None:
        self.dispatched: list[tuple[str, str, Any]] = []
        original = org.rest.dispatch

        def spy(method: str, version: str, path: str, query: Any, body: Any, headers: Any = None):
            self.dispatched.append((method, path, body))
            return original(method, version, path, query, body, headers)

        org.rest.dispatch = spy  # type: ignore[method-assign]

    def requests(self, path: str) -> list[Any]:
        return [body for method, p, body in self.dispatched if p.strip("/") == path]

    def clear(self) -> None:
        self.dispatched.clear()


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    return org


@pytest.fixture
async def sf(org: LocalOrg) -> AsyncIterator[Salesforce]:
    async with org.client() as client:
        yield client


@pytest.fixture
async def any_sf(org: LocalOrg, api: Flavour) -> AsyncIterator[Any]:
    """A client of ``org``: async, or ``sobjects.sync`` (the tests taking it run both ways)."""
    async with api.client(org) as client:
        yield client


async def test_sixty_independent_creates_flush_in_three_batches(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    calls = Calls(org)
    async with api.Session(any_sf):
        contacts = [Contact(last_name=f"Doe {i}") for i in range(60)]
        for contact in contacts:
            contact.save()
        assert org.api_usage == 0  # nothing is sent before the flush
    batches = calls.requests("composite/batch")
    # Independent batches go concurrently, so their order of arrival varies.
    assert sorted(len(b["batchRequests"]) for b in batches) == [10, 25, 25]
    assert all(c.id and c.id.startswith("003") for c in contacts)
    assert len({c.id for c in contacts}) == 60
    assert all(inspect(c).state == "persistent" and inspect(c).created for c in contacts)


async def test_an_account_with_ten_contacts_flushes_in_two_requests(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    calls = Calls(org)
    async with api.Session(any_sf):
        acme = Account(name="Acme")
        acme.save()
        team = [Contact(last_name=f"Member {i}", account=acme) for i in range(10)]
        for member in team:
            member.save()
    batches = calls.requests("composite/batch")
    assert [len(b["batchRequests"]) for b in batches] == [1, 10]
    assert all(m.account_id == acme.id for m in team)
    stored = org.store.get(team[0].id or "")
    assert stored is not None
    assert stored["AccountId"] == acme.id


async def test_transaction_sends_one_composite_with_references(
    org: LocalOrg, sf: Salesforce
) -> None:
    calls = Calls(org)
    async with Session(sf, transaction=True):
        acme = Account(name="Acme")
        acme.save()
        team = [Contact(last_name=f"Member {i}", account=acme) for i in range(10)]
        for member in team:
            member.save()
    (composite,) = calls.requests("composite")
    assert not calls.requests("composite/batch")
    bodies = [s.get("body") for s in composite["compositeRequest"]]
    assert bodies[1]["AccountId"] == "@{ref0.id}"
    assert all(m.account_id == acme.id for m in team)


async def test_transaction_rolls_back_together(org: LocalOrg, api: Flavour, any_sf: Any) -> None:
    with pytest.raises(FlushError) as info:
        async with api.Session(any_sf, transaction=True):
            acme = Account(name="Acme")
            acme.save()
            Contact(last_name="ok", account=acme).save()
            bad = Contact(last_name="x" * 300, account=acme)
            bad.save()
    assert acme.id is None  # rolled back: no id was kept
    assert list(org.store.records("Account")) == []
    assert [obj for obj, _ in info.value.failures][-1] is bad
    assert inspect(bad).state == "failed"


async def test_update_sends_only_changed_fields(org: LocalOrg, api: Flavour, any_sf: Any) -> None:
    account_id = org.store.insert(org.schema.require("Account"), {"Name": "Acme"})
    contact_id = org.store.insert(
        org.schema.require("Contact"),
        {"LastName": "Doe", "Email": "doe@acme.com", "Title": "CTO", "AccountId": account_id},
    )
    calls = Calls(org)
    async with api.Session(any_sf) as session:
        contact = await session.get(Contact, contact_id)
        assert inspect(contact).state == "persistent"
        contact.title = "CEO"
        assert inspect(contact).state == "modified"
        assert inspect(contact).changes == {"Title": "CEO"}
        contact.save()
    (batch,) = calls.requests("composite/batch")
    assert batch["batchRequests"] == [
        {
            "method": "PATCH",
            "url": f"v62.0/sobjects/Contact/{contact_id}",
            "richInput": {"Title": "CEO"},
        }
    ]
    assert inspect(contact).state == "persistent"


async def test_no_op_change_sends_nothing_and_none_clears(org: LocalOrg, sf: Salesforce) -> None:
    contact_id = org.store.insert(
        org.schema.require("Contact"), {"LastName": "Doe", "Email": "doe@acme.com"}
    )
    calls = Calls(org)
    async with Session(sf) as session:
        contact = await session.get(Contact, contact_id)
        calls.clear()
        contact.email = "doe@acme.com"  # the same value: nothing to send
        op = contact.save()
    assert calls.requests("composite/batch") == []
    assert op.done and op.skipped
    async with Session(sf) as session:
        contact = await session.get(Contact, contact_id)
        contact.email = None
        contact.save()
    (batch,) = calls.requests("composite/batch")
    assert batch["batchRequests"][0]["richInput"] == {"Email": None}
    assert org.store.get(contact_id)["Email"] is None  # type: ignore[index]


async def test_in_place_multipicklist_change_is_seen(org: LocalOrg, sf: Salesforce) -> None:
    contact_id = org.store.insert(
        org.schema.require("Contact"), {"LastName": "Doe", "Interests__c": "Music"}
    )
    calls = Calls(org)
    async with Session(sf) as session:
        contact = await session.get(Contact, contact_id)
        assert contact.interests == {"Music"}
        assert contact.interests is not None
        contact.interests.add("Travel")  # no assignment at all
        contact.save()
    (batch,) = calls.requests("composite/batch")
    assert batch["batchRequests"][0]["richInput"] == {"Interests__c": "Music;Travel"}


async def test_partial_failure_keeps_failed_pending_and_never_resends_successes(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    calls = Calls(org)
    session = api.Session(any_sf)
    async with session:
        good = Contact(last_name="Good")
        good.save()
        bad = Contact(last_name="Bad", email="not an email")
        bad.save()
        with pytest.raises(FlushError) as info:
            await session.flush()
        message = str(info.value)
        assert "1 of 2 operations failed" in message
        assert "new Contact #2" in message and "Bad" not in message  # no field values
        assert info.value.objects == info.value.failed == [bad]
        assert info.value.not_run == []
        assert "INVALID_EMAIL_ADDRESS" in message
        assert good.id is not None
        assert inspect(good).state == "persistent"
        assert bad.id is None
        state = inspect(bad)
        assert state.state == "failed"
        assert state.errors[0].code == "INVALID_EMAIL_ADDRESS"
        assert list(state.field_errors) == ["Email"]
        assert session.pending == [state.pending]
        calls.clear()
        bad.email = "bad@acme.com"
        bad.save()
    (batch,) = calls.requests("composite/batch")
    assert [s["richInput"]["LastName"] for s in batch["batchRequests"]] == ["Bad"]
    assert bad.id is not None
    assert inspect(bad).state == "persistent"


async def test_group_errors_raises_an_exception_group(sf: Salesforce) -> None:
    with pytest.raises(FlushErrorGroup) as info:
        async with Session(sf, group_errors=True):
            Contact(last_name="ok").save()
            second = Contact(last_name="x", email="nope")
            second.save()
            third = Contact(last_name="y" * 200)
            third.save()
    assert len(info.value.exceptions) == 2
    assert str(info.value).startswith("2 of 3 operations failed")
    assert info.value.objects == [second, third]
    assert [e.objects for e in info.value.exceptions] == [[second], [third]]
    notes = [getattr(e, "__notes__", []) for e in info.value.exceptions]
    assert notes == [["while saving new Contact #2"], ["while saving new Contact #3"]]


async def test_dependents_of_a_failed_parent_are_not_sent(org: LocalOrg, sf: Salesforce) -> None:
    calls = Calls(org)
    with pytest.raises(FlushError) as info:
        async with Session(sf):
            broken = Account(name="x" * 300)
            broken.save()
            child = Contact(last_name="Orphan", account=broken)
            child.save()
    assert [obj for obj, _ in info.value.failures] == [broken, child]
    assert "NOT_SENT" in str(info.value)
    assert len(calls.requests("composite/batch")) == 1  # the child was never sent
    assert child.id is None


async def test_row_lock_is_retried(org: LocalOrg, sf: Salesforce) -> None:
    contact_id = org.store.insert(org.schema.require("Contact"), {"LastName": "Doe"})
    org.faults.lock_record(contact_id, times=2)
    calls = Calls(org)
    async with Session(sf) as session:
        contact = await session.get(Contact, contact_id)
        contact.title = "Locked then saved"
        op = contact.save()
    assert len(calls.requests("composite/batch")) == 3
    assert op.is_success
    assert org.store.get(contact_id)["Title"] == "Locked then saved"  # type: ignore[index]


async def test_upsert_hydrates_id_and_created_flag(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    async with api.Session(any_sf):
        first = Account(name="Globex", ext_id="G-1")
        first.upsert()
    assert first.id is not None
    assert inspect(first).created is True
    async with api.Session(any_sf):
        again = Account(name="Globex Corporation", ext_id="G-1")
        again.upsert()
    assert again.id == first.id
    assert inspect(again).created is False


async def test_delete(org: LocalOrg, api: Flavour, any_sf: Any) -> None:
    contact_id = org.store.insert(org.schema.require("Contact"), {"LastName": "Doe"})
    async with api.Session(any_sf) as session:
        contact = await session.get(Contact, contact_id)
        contact.delete()
    assert inspect(contact).state == "deleted"
    assert org.store.get(contact_id)["IsDeleted"] is True  # type: ignore[index]


async def test_identity_map_and_relationships(org: LocalOrg, api: Flavour, any_sf: Any) -> None:
    account_id = org.store.insert(org.schema.require("Account"), {"Name": "Acme"})
    org.store.insert(org.schema.require("Contact"), {"LastName": "Doe", "AccountId": account_id})
    async with api.Session(any_sf) as session:
        soql = "SELECT Id, LastName, Account.Name FROM Contact"
        (first,) = await session.all(Contact, soql)
        (second,) = await session.all(Contact, soql)
        assert first is second
        assert first.account is not None
        assert first.account.name == "Acme"
        (bare,) = await session.all(Contact, "SELECT Id, LastName FROM Contact")
        assert bare is first  # merged into the same object; Account stays loaded
        other = api.Session(any_sf)
        (fresh,) = await other.all(Contact, "SELECT Id, LastName FROM Contact")
        assert fresh is not first
        with pytest.raises(RelationshipNotLoadedError, match=r"Contact\.account was not loaded"):
            _ = fresh.account


async def test_save_needs_a_session(api: Flavour, any_sf: Any) -> None:
    contact = Contact(last_name="Doe")
    with pytest.raises(NoSessionError, match="async with Session"):
        contact.save()
    session = api.Session(any_sf)
    op = contact.save(session=session)
    with pytest.raises(ResultNotReadyError):
        _ = op.status_code
    await session.flush()
    assert op.status_code == 201
    assert op.is_success
    assert contact.id is not None


async def test_a_block_that_raises_sends_nothing(org: LocalOrg, api: Flavour, any_sf: Any) -> None:
    calls = Calls(org)
    with pytest.raises(KeyError):
        async with api.Session(any_sf):
            contact = Contact(last_name="Doe")
            contact.save()
            raise KeyError("boom")
    assert calls.dispatched == []
    assert inspect(contact).state == "transient"


async def test_raw_soql_reads_typed_models(org: LocalOrg, api: Flavour, any_sf: Any) -> None:
    org.store.insert(org.schema.require("Contact"), {"LastName": "Doe", "Email": "d@x.com"})
    async with api.Session(any_sf) as session:
        (contact,) = await session.all(Contact, "SELECT Id, LastName, Email FROM Contact")
    assert isinstance(contact, Contact)
    assert contact.email == "d@x.com"
    assert contact.model_fields_set == {"id", "last_name", "email"}


async def test_deferred_query_runs_after_the_writes_recorded_before_it(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    from sobjects import select

    calls = Calls(org)
    async with api.Session(any_sf) as session:
        before = session.query(select(Contact).where(Contact.last_name == "Deferred"))
        for i in range(3):
            Contact(last_name="Deferred", title=str(i)).save()
        after = session.query(select(Contact).where(Contact.last_name == "Deferred"))
        with pytest.raises(ResultNotReadyError):
            _ = after.records
    # The first query went with the writes (nothing was recorded before it); the second
    # rode at the end of their batch, which runs its subrequests in order.
    assert len(before.records) in (0, 3)
    assert sorted(c.title or "" for c in after.records) == ["0", "1", "2"]
    assert all(isinstance(c, Contact) for c in after.records)
    assert len(calls.requests("composite/batch")) == 1


async def test_first_one_stream_and_count(org: LocalOrg, api: Flavour, any_sf: Any) -> None:
    from sobjects import select
    from sobjects.orm._session import MultipleResultsError, NoResultError

    contacts = org.schema.require("Contact")
    for i in range(450):
        org.store.insert(contacts, {"LastName": f"Many {i:03d}"})
    org.store.insert(contacts, {"LastName": "Single"})
    async with api.Session(any_sf) as session:
        query = select(Contact).where(Contact.last_name.startswith("Many"))
        assert await session.count(query) == 450
        first = await session.first(query.order_by(Contact.last_name))
        assert first is not None
        assert first.last_name == "Many 000"
        single = await session.one(select(Contact).where(Contact.last_name == "Single"))
        assert single.last_name == "Single"
        with pytest.raises(NoResultError):
            await session.one(select(Contact).where(Contact.last_name == "Nobody"))
        with pytest.raises(MultipleResultsError):
            await session.one(query)
        streamed = [c.last_name async for c in session.stream(query.order_by(Contact.last_name))]
        assert len(streamed) == 450
        assert streamed[-1] == "Many 449"
        assert await session.first(select(Contact).where(Contact.last_name == "x")) is None


async def test_child_subqueries_hydrate_typed_lists(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    from sobjects import select

    class Parent(SObject, api_name="Account"):
        name: Field[str]
        contacts: Field[list[Contact]] = Field(default_factory=list)

    account_id = org.store.insert(org.schema.require("Account"), {"Name": "Acme"})
    for last in ("Doe", "Roe"):
        org.store.insert(org.schema.require("Contact"), {"LastName": last, "AccountId": account_id})
    async with api.Session(any_sf) as session:
        acme = await session.one(
            select(Parent).with_children(
                Parent.contacts, select(Contact).order_by(Contact.last_name)
            )
        )
        assert [c.last_name for c in acme.contacts] == ["Doe", "Roe"]
        assert all(isinstance(c, Contact) for c in acme.contacts)
        doe = await session.get(Contact, acme.contacts[0].id or "")
        assert doe is acme.contacts[0]  # one object per record in a session


async def test_recording_errors_are_clear(sf: Salesforce) -> None:
    from datetime import datetime

    class Event(SObject, api_name="Task"):
        subject: Field[str | None] = Field(None)
        reminder_date_time: Field[datetime | None] = Field(None)

    async with Session(sf):
        with pytest.raises(Exception, match="naive datetime"):
            Event(reminder_date_time=datetime(2024, 1, 1)).save()
        with pytest.raises(Exception, match="must have a value to upsert"):
            Account(name="no ext id").upsert()
        with pytest.raises(Exception, match="has no id: there is nothing to delete"):
            Contact(last_name="never saved").delete()
        pending = Contact(last_name="changed my mind")
        pending.save()
        op = pending.delete()  # never sent: forgetting the create is the delete
        assert op.skipped
    assert pending.id is None

"""A session's life after its block: closed sessions, released work, unsaved changes, and
the edges where work used to be lost without a word (issue 9)."""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sobjects import (
    FlushError,
    SessionClosedError,
    UnsavedChangesWarning,
    inspect,
    select,
)
from sobjects.client import Salesforce
from sobjects.emulator import LocalOrg
from sobjects.errors import ConfigurationError, OutcomeUnknownError
from sobjects.fields import Field, Id
from sobjects.orm import SObject
from sobjects.orm._session import Session
from tests.flavours import Flavour
from tests.orm.test_session_edge_cases import Calls, intercept, lose_answers

pytestmark = pytest.mark.anyio


class Account(SObject):
    name: Field[str]
    phone: Field[str | None] = Field(None)
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    title: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)


class AccountWithContacts(SObject, api_name="Account"):
    name: Field[str]
    contacts: Field[list[Contact]] = Field(default_factory=list)


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


def rows(org: LocalOrg, sobject: str) -> list[dict[str, Any]]:
    return org.store.records(sobject)


# -- 2. a closed session refuses work it would never send ------------------------------------


async def test_work_recorded_after_the_block_raises_instead_of_being_dropped(
    org: LocalOrg, sf: Salesforce
) -> None:
    async with Session(sf) as session:
        pass
    assert session.closed
    late = Contact(last_name="Late")
    with pytest.raises(SessionClosedError, match=r"the create of new Contact .*new `async with"):
        late.save(session=session)
    with pytest.raises(SessionClosedError):
        Account(name="x", ext_id="E-1").upsert(session=session)
    with pytest.raises(SessionClosedError):
        session.query(select(Contact))
    with pytest.raises(SessionClosedError):
        session.add(late)
    with pytest.raises(SessionClosedError):
        await session.flush()
    assert inspect(late).state == "transient" and inspect(late).pending is None
    assert await session.all(select(Contact)) == []  # reads still work
    assert rows(org, "Contact") == []


async def test_a_session_closed_by_hand_refuses_work_too(sf: Salesforce) -> None:
    session = Session(sf)
    contact = Contact(last_name="Unsent")
    contact.save(session=session)
    session.close()  # no flush: what was recorded is released
    assert inspect(contact).pending is None and session.pending == []
    with pytest.raises(SessionClosedError):
        contact.save(session=session)


# -- 3. what a closed session did not finish is released ---------------------------------------


async def test_a_record_that_failed_is_saved_once_in_a_new_session(
    org: LocalOrg, sf: Salesforce
) -> None:
    good = Contact(last_name="Good")
    bad = Contact(last_name="Bad", email="not an email")
    with pytest.raises(FlushError):
        async with Session(sf):
            good.save()
            bad.save()
    state = inspect(bad)
    assert state.state == "failed" and state.pending is None
    assert [e.code for e in state.errors] == ["INVALID_EMAIL_ADDRESS"]  # kept after close
    calls = Calls(org)
    bad.email = "bad@example.com"
    async with Session(sf):  # the job's retry, in a new session
        bad.save()
    assert inspect(bad).state == "persistent" and bad.id is not None
    creates = [body for _, url, body in calls.subs() if url.endswith("sobjects/Contact")]
    assert creates == [{"LastName": "Bad", "Email": "bad@example.com"}]  # sent once
    assert sorted(r["LastName"] for r in rows(org, "Contact")) == ["Bad", "Good"]


async def test_a_block_that_raises_releases_its_work_and_keeps_earlier_errors(
    org: LocalOrg, sf: Salesforce
) -> None:
    bad = Contact(last_name="Bad", email="not an email")
    unsent = Contact(last_name="Unsent")
    with pytest.raises(FlushError):
        async with Session(sf) as session:
            bad.save()
            await session.flush()  # raises inside the block
    unsent.save(session=Session(sf))  # a new session may take both
    assert inspect(bad).state == "failed"
    async with Session(sf) as retry:
        bad.email = "bad@example.com"
        bad.save()
    assert retry.closed and bad.id is not None
    assert [r["LastName"] for r in rows(org, "Contact")] == ["Bad"]


# -- 4. loaded records changed but never saved ------------------------------------------------


async def test_a_clean_exit_warns_about_changes_never_saved(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    contact_id = org.store.insert(org.schema.require("Contact"), {"LastName": "Doe"})
    loaded: list[Contact] = []

    async def change_without_saving() -> None:
        async with api.Session(any_sf) as session:
            doe = await session.get(Contact, contact_id)
            doe.title = "CEO"
            doe.email = "doe@example.com"
            loaded.append(doe)

    with pytest.warns(UnsavedChangesWarning) as caught:
        await change_without_saving()
    (warning,) = caught
    if api.name == "async":  # (tests/sync checks the sync block's own line)
        assert warning.filename == __file__  # it points at the block's end
    message = str(warning.message)
    assert f"Contact {contact_id} (Email, Title)" in message or (
        f"Contact {contact_id} (Title, Email)" in message
    )
    assert "CEO" not in message and "doe@example.com" not in message  # names, not values
    assert isinstance(warning.message, UnsavedChangesWarning)
    assert [obj for obj, _ in warning.message.records] == loaded
    assert rows(org, "Contact")[0].get("Title") is None  # nothing was sent


async def test_no_warning_when_changes_are_saved_or_the_block_raises(
    org: LocalOrg, sf: Salesforce
) -> None:
    contact_id = org.store.insert(org.schema.require("Contact"), {"LastName": "Doe"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with Session(sf) as session:
            doe = await session.get(Contact, contact_id)
            untouched = await session.all(select(Contact))
            doe.title = "CEO"
            doe.save()
        with pytest.raises(RuntimeError):
            async with Session(sf) as session:
                again = await session.get(Contact, contact_id)
                again.title = "CTO"
                raise RuntimeError("the block failed: nothing is sent, no warning either")
    assert untouched == [doe]
    assert rows(org, "Contact")[0]["Title"] == "CEO"


async def test_autosave_saves_changed_records_at_each_flush(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    store, contacts = org.store, org.schema.require("Contact")
    first = store.insert(contacts, {"LastName": "First"})
    second = store.insert(contacts, {"LastName": "Second"})
    calls = Calls(org)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with api.Session(any_sf, autosave=True) as session:
            one, two = await session.all(select(Contact).order_by(Contact.last_name))
            one.title = "Boss"
            await session.flush()
            assert inspect(one).state == "persistent"
            two.email = "two@example.com"
            two.email = None  # changed back: nothing to send
            one.title = "Chief"
    updates = [(url, body) for method, url, body in calls.subs() if method == "PATCH"]
    assert updates == [
        (f"v62.0/sobjects/Contact/{first}", {"Title": "Boss"}),
        (f"v62.0/sobjects/Contact/{first}", {"Title": "Chief"}),
    ]
    assert {r["Id"]: r.get("Title") for r in rows(org, "Contact")} == {
        first: "Chief",
        second: None,
    }


# -- 5. deferred queries fetch every child page, as immediate ones do ------------------------


def page_children(sf: Salesforce, first_page: int = 2) -> None:
    """Answers with child subqueries cut after ``first_page`` records (``done: false``), the
    rest served at their ``nextRecordsUrl``: what Salesforce does for large child sets."""
    rest: dict[str, list[Any]] = {}

    def cut(record: dict[str, Any]) -> None:
        children = record.get("Contacts")
        if isinstance(children, dict) and len(children["records"]) > first_page:
            url = f"/services/data/v62.0/query/01gCHILD{len(rest)}-{first_page}"
            rest[url] = children["records"][first_page:]
            children.update(
                records=children["records"][:first_page], done=False, nextRecordsUrl=url
            )

    async def handler(request: httpx.Request, original: Any) -> httpx.Response:
        if request.url.path in rest:
            records = rest[request.url.path]
            return httpx.Response(
                200, json={"totalSize": len(records), "done": True, "records": records}
            )
        response: httpx.Response = await original(request)
        await response.aread()
        body = json.loads(response.content)
        path = request.url.path
        if path.endswith("/query"):
            for record in body["records"]:
                cut(record)
        elif path.endswith("composite/batch"):
            for result in body["results"]:
                for record in (result.get("result") or {}).get("records", []):
                    cut(record)
        else:
            return response
        return httpx.Response(response.status_code, json=body, headers={"Sforce-Limit-Info": ""})

    intercept(sf, handler)


async def test_a_deferred_query_returns_every_child_like_session_all(
    org: LocalOrg, sf: Salesforce
) -> None:
    store = org.store
    account_id = store.insert(org.schema.require("Account"), {"Name": "Acme"})
    for i in range(5):
        store.insert(org.schema.require("Contact"), {"LastName": f"C{i}", "AccountId": account_id})
    page_children(sf)
    query = select(AccountWithContacts).with_children(
        AccountWithContacts.contacts, select(Contact).order_by(Contact.last_name)
    )
    async with Session(sf) as session:
        handle = session.query(query)
    async with Session(sf) as session:
        immediate = await session.all(query)
    deferred = [c.last_name for c in handle.records[0].contacts]
    assert deferred == [c.last_name for c in immediate[0].contacts]
    assert deferred == ["C0", "C1", "C2", "C3", "C4"]


# -- 8. errors list the objects they concern ---------------------------------------------------


async def test_a_lost_answer_lists_its_objects_on_the_error(org: LocalOrg, sf: Salesforce) -> None:
    lose_answers(sf, lambda body: True)
    session = Session(sf)
    contacts = [Contact(last_name=f"L{i}") for i in range(3)]
    for contact in contacts:
        contact.save(session=session)
    with pytest.raises(OutcomeUnknownError) as info:
        await session.flush()
    assert list(info.value.objects) == contacts
    assert all(inspect(c).errors[0].code == "OUTCOME_UNKNOWN" for c in contacts)


# -- 10. upserts whose answer was lost go again; creates never do ------------------------------


async def test_an_upsert_whose_answer_was_lost_is_replayed_once_at_the_next_flush(
    org: LocalOrg, sf: Salesforce
) -> None:
    lost = [True]

    async def handler(request: httpx.Request, original: Any) -> httpx.Response:
        response: httpx.Response = await original(request)  # applied by the org
        if request.url.path.endswith("composite/batch") and lost.pop() if lost else False:
            raise httpx.ReadError("connection reset after the org answered", request=request)
        return response

    intercept(sf, handler)
    acme = Account(name="Acme", ext_id="A-1")
    new = Contact(last_name="Never twice")
    session = Session(sf)
    acme.upsert(session=session)
    new.save(session=session)
    with pytest.raises(OutcomeUnknownError) as info:
        await session.flush()
    assert set(map(id, info.value.objects)) == {id(acme), id(new)}
    assert inspect(acme).state == "pending"  # goes again
    assert inspect(new).state == "failed"  # outcome unknown: never sent again
    calls = Calls(org)
    await session.flush()
    assert [(m, url) for m, url, _ in calls.subs()] == [
        ("PATCH", "v62.0/sobjects/Account/Ext_Id__c/A-1")
    ]
    assert acme.id is not None and inspect(acme).state == "persistent"
    assert inspect(acme).created is None  # created by the lost attempt, or not: unknown
    assert [r["Name"] for r in rows(org, "Account")] == ["Acme"]
    assert [r["LastName"] for r in rows(org, "Contact")] == ["Never twice"]


async def test_replay_upserts_false_treats_them_like_creates(org: LocalOrg, sf: Salesforce) -> None:
    lose_answers(sf, lambda body: True)
    session = Session(sf, replay_upserts=False)
    acme = Account(name="Acme", ext_id="A-1")
    acme.upsert(session=session)
    with pytest.raises(OutcomeUnknownError):
        await session.flush()
    assert [e.code for e in inspect(acme).errors] == ["OUTCOME_UNKNOWN"]
    calls = Calls(org)
    await session.flush()
    assert calls.dispatched == []


async def test_only_the_outermost_block_closes_the_session(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    session = api.Session(any_sf)
    async with session:
        Contact(last_name="Dropped").save()
        with pytest.raises(RuntimeError):
            async with session:
                raise RuntimeError("an inner block failed: what was recorded is discarded")
        assert session.pending == [] and not session.closed
        Contact(last_name="Kept").save()
    assert session.closed
    assert [r["LastName"] for r in rows(org, "Contact")] == ["Kept"]


# -- issue 11: typed search ----------------------------------------------------------------------


async def test_search_returns_typed_models_per_sobject(
    org: LocalOrg, api: Flavour, any_sf: Any
) -> None:
    store = org.store
    acme = store.insert(org.schema.require("Account"), {"Name": "Acme Rockets"})
    store.insert(org.schema.require("Account"), {"Name": "Globex"})
    store.insert(org.schema.require("Contact"), {"LastName": "Acme", "AccountId": acme})
    async with api.Session(any_sf) as session:
        found = await session.search("acme", Account, Contact)
        accounts, contacts = found[Account], found[Contact]
        assert [a.name for a in accounts] == ["Acme Rockets"]
        assert [c.last_name for c in contacts] == ["Acme"]
        assert len(found) == 2
        assert await session.get(Account, acme) is accounts[0]  # in the identity map
        assert (await session.search("AT&T (east)", Account))[Account] == []  # escaped
        with pytest.raises(KeyError, match="AccountWithContacts"):
            found[AccountWithContacts]
        with pytest.raises(ConfigurationError):
            await session.search("a", Account)
        with pytest.raises(ConfigurationError):
            await session.search("acme")

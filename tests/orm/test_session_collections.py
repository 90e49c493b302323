"""Large groups of one write on one sObject flush as sObject Collections: few API calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sobjects import FlushError, Salesforce, Session, SObject, inspect
from sobjects.emulator import LocalOrg
from sobjects.fields import Field, Id

pytestmark = pytest.mark.anyio


class Account(SObject):
    name: Field[str]
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    title: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


class Calls:
    def __init__(self, org: LocalOrg) -> None:
        self.top: list[tuple[str, str, Any]] = []
        original = org.rest.dispatch
        depth = [0]

        def spy(method: str, version: str, path: str, query: Any, body: Any, headers: Any = None):
            if depth[0] == 0:
                self.top.append((method, path.strip("/"), body))
            depth[0] += 1
            try:
                return original(method, version, path, query, body, headers)
            finally:
                depth[0] -= 1

        org.rest.dispatch = spy  # type: ignore[method-assign]

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.top]


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    return org


@pytest.fixture
async def sf(org: LocalOrg) -> AsyncIterator[Salesforce]:
    async with org.client() as client:
        yield client


async def test_a_thousand_creates_cost_one_api_call(org: LocalOrg, sf: Salesforce) -> None:
    calls = Calls(org)
    contacts = [Contact(last_name=f"Bulk {i}") for i in range(1000)]
    async with Session(sf):
        for contact in contacts:
            contact.save()
    assert calls.paths() == ["composite"]  # 5 collections of 200 in one Composite request
    assert org.api_usage == 1
    assert all(c.id and inspect(c).state == "persistent" and inspect(c).created for c in contacts)
    assert len({c.id for c in contacts}) == 1000
    assert len(list(org.store.records("Contact"))) == 1000


async def test_below_the_threshold_composite_batch_is_used(org: LocalOrg, sf: Salesforce) -> None:
    calls = Calls(org)
    async with Session(sf, collections_threshold=None):
        for i in range(300):
            Contact(last_name=f"N{i}").save()
    assert calls.paths() == ["composite/batch"] * 12
    assert org.api_usage == 300


async def test_parents_first_then_children_as_collections(org: LocalOrg, sf: Salesforce) -> None:
    calls = Calls(org)
    async with Session(sf):
        acme = Account(name="Acme")
        acme.save()
        team = [Contact(last_name=f"M{i}", account=acme) for i in range(250)]
        for member in team:
            member.save()
    assert calls.paths() == ["composite/batch", "composite"]
    assert all(m.account_id == acme.id for m in team)
    stored = org.store.get(team[-1].id or "")
    assert stored is not None
    assert stored["AccountId"] == acme.id


async def test_partial_failure_in_a_collection(org: LocalOrg, sf: Salesforce) -> None:
    contacts = [Contact(last_name=f"C{i}") for i in range(200)]
    contacts[7].email = "not an email"
    session = Session(sf)
    for contact in contacts:
        contact.save(session=session)
    with pytest.raises(FlushError, match="1 of 200 operations failed"):
        await session.flush()
    bad = contacts[7]
    assert bad.id is None
    assert inspect(bad).state == "failed"
    assert inspect(bad).errors[0].code == "INVALID_EMAIL_ADDRESS"
    assert list(inspect(bad).field_errors) == ["Email"]
    assert sum(1 for c in contacts if inspect(c).state == "persistent") == 199
    op = session.pending[0]
    assert op.status_code == 400  # type: ignore[union-attr]
    bad.email = "ok@example.com"
    bad.save(session=session)
    await session.flush()  # only the failed one is sent again
    assert bad.id is not None
    assert len(list(org.store.records("Contact"))) == 200


async def test_updates_upserts_and_deletes_go_as_collections(org: LocalOrg, sf: Salesforce) -> None:
    contacts = org.schema.require("Contact")
    ids = [org.store.insert(contacts, {"LastName": f"U{i}"}) for i in range(210)]
    org.faults.lock_record(ids[3], times=1)
    calls = Calls(org)
    async with Session(sf) as session:
        loaded = [await session.get(Contact, i) for i in ids[:200]]
        calls.top.clear()
        for contact in loaded:
            contact.title = "Updated"
            contact.save()
    # One Composite request, then one more for the locked record (a row-lock retry).
    assert calls.paths() == ["composite", "composite/batch"]
    assert all(org.store.get(i)["Title"] == "Updated" for i in ids[:200])  # type: ignore[index]
    sent = calls.top[0][2]["compositeRequest"][0]["body"]["records"][0]
    assert sent == {"attributes": {"type": "Contact"}, "Title": "Updated", "Id": ids[0]}

    async with Session(sf):
        accounts = [Account(name=f"A{i}", ext_id=f"E{i}") for i in range(200)]
        for account in accounts:
            account.upsert()
    assert all(inspect(a).created for a in accounts)
    async with Session(sf):
        again = [Account(name=f"A{i} bis", ext_id=f"E{i}") for i in range(200)]
        for account in again:
            account.upsert()
    assert [a.id for a in again] == [a.id for a in accounts]
    assert not any(inspect(a).created for a in again)

    async with Session(sf):
        for account in accounts:
            account.delete()
    assert all(inspect(a).state == "deleted" for a in accounts)
    assert list(org.store.records("Account")) == []


async def test_halt_on_error_keeps_one_ordered_stream(org: LocalOrg, sf: Salesforce) -> None:
    calls = Calls(org)
    contacts = [Contact(last_name=f"H{i}") for i in range(200)]
    contacts[7].email = "bad"
    with pytest.raises(FlushError):
        async with Session(sf, halt_on_error=True):
            for contact in contacts:
                contact.save()
    assert "composite" not in calls.paths()  # no Collections under halt_on_error
    assert len(list(org.store.records("Contact"))) == 7  # nothing after the failure
    assert inspect(contacts[8]).state == "failed"


async def test_per_record_errors_keep_their_rest_status(org: LocalOrg, sf: Salesforce) -> None:
    contacts = org.schema.require("Contact")
    ids = [org.store.insert(contacts, {"LastName": f"D{i}"}) for i in range(200)]
    async with Session(sf) as session:
        loaded = [await session.get(Contact, i) for i in ids]
    org.store.delete(contacts, ids[5])  # deleted behind the session's back
    session = Session(sf)
    ops = [c.delete(session=session) for c in loaded]
    with pytest.raises(FlushError, match="ENTITY_IS_DELETED"):
        await session.flush()
    assert ops[5].status_code == 404
    assert ops[6].status_code == 204
    with pytest.raises(Exception, match=f"sobjects/Contact/{ids[5]}"):
        ops[5].raise_for_status()


async def test_an_unmatched_collections_answer_is_never_resent(
    org: LocalOrg, sf: Salesforce
) -> None:
    from sobjects.errors import OutcomeUnknownError

    original = org.rest.dispatch

    def short_answer(
        method: str, version: str, path: str, query: Any, body: Any, headers: Any = None
    ):
        reply = original(method, version, path, query, body, headers)
        if path.strip("/") == "composite/sobjects" and isinstance(reply.body, list):
            reply.body = reply.body[:-1]  # one result missing
        return reply

    org.rest.dispatch = short_answer  # type: ignore[method-assign]
    contacts = [Contact(last_name=f"S{i}") for i in range(200)]
    session = Session(sf)
    for contact in contacts:
        contact.save(session=session)
    with pytest.raises(OutcomeUnknownError, match="could not be matched"):
        await session.flush()
    assert all(inspect(c).state == "failed" for c in contacts)
    await session.flush()  # nothing is sent again
    assert len(list(org.store.records("Contact"))) == 200


async def test_a_created_record_answers_like_a_single_create(sf: Salesforce) -> None:
    contacts = [Contact(last_name=f"Bulk {i}") for i in range(3)]
    async with Session(sf, collections_threshold=2):
        ops = [contact.save() for contact in contacts]
    for contact, op in zip(contacts, ops, strict=True):
        # The record's item of the Collections answer, as Salesforce sent it: what a single
        # create would have answered.
        assert op.status_code == 201 and op.is_success
        assert op.result == {"id": contact.id, "success": True, "errors": []}
        # (Kept as the id alone and built again when read: equal, not the same dict.)
        assert op.subrequest is not None and op.subrequest.response == op.result
        assert op.subrequest.id == contact.id


def _rewrite_collection_items(org: LocalOrg, rewrite: Any) -> None:
    """Let the org answer, then change each Collections create item with ``rewrite``."""
    original = org.rest.dispatch

    def dispatch(method: str, version: str, path: str, query: Any, body: Any, headers: Any = None):
        reply = original(method, version, path, query, body, headers)
        if path.strip("/") == "composite/sobjects" and isinstance(reply.body, list):
            reply.body = [rewrite(index, item) for index, item in enumerate(reply.body)]
        return reply

    org.rest.dispatch = dispatch  # type: ignore[method-assign]


async def test_created_records_of_a_mixed_answer_keep_what_salesforce_sent(
    org: LocalOrg, sf: Salesforce
) -> None:
    # Item 1 carries a key a plain create answer does not have: it is kept whole, as sent.
    def rewrite(index: int, item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "warnings": ["w"]} if index == 1 else item

    _rewrite_collection_items(org, rewrite)
    contacts = [Contact(last_name=f"Mixed {i}") for i in range(3)]
    contacts.append(Contact(last_name="x" * 300))  # too long: Salesforce refuses this one
    session = Session(sf, collections_threshold=2)
    ops = [contact.save(session=session) for contact in contacts]
    with pytest.raises(FlushError):
        await session.flush()
    assert [op.status_code for op in ops] == [201, 201, 201, 400]
    assert ops[0].result == {"id": contacts[0].id, "success": True, "errors": []}
    assert ops[1].result == {
        "id": contacts[1].id,
        "success": True,
        "errors": [],
        "warnings": ["w"],
    }
    assert ops[2].subrequest is not None and ops[2].subrequest.response == ops[2].result
    assert inspect(contacts[3]).state == "failed" and contacts[3].id is None
    assert inspect(contacts[3]).errors[0].code == "STRING_TOO_LONG"
    # The created ones are persistent, tracked and in the identity map like any other.
    assert all(inspect(c).state == "persistent" for c in contacts[:3])
    assert await session.get(Contact, str(contacts[0].id)) is contacts[0]


async def test_a_collections_answer_that_is_not_records_is_never_resent(
    org: LocalOrg, sf: Salesforce
) -> None:
    from sobjects.errors import OutcomeUnknownError

    _rewrite_collection_items(org, lambda index, item: "created" if index == 0 else item)
    contacts = [Contact(last_name=f"Odd {i}") for i in range(3)]
    session = Session(sf, collections_threshold=2)
    for contact in contacts:
        contact.save(session=session)
    with pytest.raises(OutcomeUnknownError, match="not an object"):
        await session.flush()
    assert all(inspect(c).state == "failed" for c in contacts)
    await session.flush()  # nothing is sent again
    assert len(list(org.store.records("Contact"))) == 3


async def test_a_collections_create_sends_each_record_once_with_its_set_fields(
    org: LocalOrg, sf: Salesforce
) -> None:
    calls = Calls(org)
    contacts = [
        Contact(last_name=f"Sent {i}", email=None if i else "a@example.com") for i in range(3)
    ]
    async with Session(sf, collections_threshold=2):
        for contact in contacts:
            contact.save()
    (request,) = [body for _, path, body in calls.top if path == "composite"]
    (body,) = [s["body"] for s in request["compositeRequest"] if s["url"].endswith("/sobjects")]
    assert body["records"] == [
        {"attributes": {"type": "Contact"}, "LastName": "Sent 0", "Email": "a@example.com"},
        {"attributes": {"type": "Contact"}, "LastName": "Sent 1", "Email": None},
        {"attributes": {"type": "Contact"}, "LastName": "Sent 2", "Email": None},
    ]
    assert [inspect(c).state for c in contacts] == ["persistent"] * 3

"""Dirty tracking and identity at the edges of the fast loader: in-place changes before the
state exists, re-reads, copies, models that do not validate assignments, private attributes,
user validators, large pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ConfigDict, PrivateAttr, field_validator

from sobjects import Salesforce, Session, SObject, select
from sobjects.emulator import LocalOrg
from sobjects.fields import Field, Id, MultiPicklist

pytestmark = pytest.mark.anyio


class Account(SObject):
    name: Field[str]
    parent_id: Field[Id | None] = Field(None)
    parent: Field[Account | None] = Field(None)


class Contact(SObject):
    last_name: Field[str]
    title: Field[str | None] = Field(None)
    email: Field[str | None] = Field(None)
    interests: Field[MultiPicklist | None] = Field(None, api_name="Interests__c")


class Writes:
    """The PATCH bodies that reached the org."""

    def __init__(self, org: LocalOrg) -> None:
        self.bodies: list[Any] = []
        original = org.rest.dispatch

        def spy(method: str, version: str, path: str, query: Any, body: Any, headers: Any = None):
            if method == "PATCH":
                self.bodies.append(body)
            return original(method, version, path, query, body, headers)

        org.rest.dispatch = spy  # type: ignore[method-assign]


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field("Contact", {"name": "Interests__c", "type": "multipicklist"})
    contacts = org.schema.require("Contact")
    org.store.insert(contacts, {"LastName": "Doe", "Interests__c": "A"})
    return org


@pytest.fixture
async def sf(org: LocalOrg) -> AsyncIterator[Salesforce]:
    async with org.client() as client:
        yield client


DOE = select(Contact).where(Contact.last_name == "Doe")


async def test_an_in_place_change_survives_a_re_read(org: LocalOrg, sf: Salesforce) -> None:
    writes = Writes(org)
    async with Session(sf) as session:
        doe = await session.one(DOE)
        assert doe.interests is not None
        doe.interests.add("B")  # in place: no state has been made for it yet
        again = await session.one(DOE)
        assert again is doe and doe.interests == {"A", "B"}
        doe.save()
    assert writes.bodies == [{"Interests__c": "A;B"}]


async def test_a_re_read_moves_the_snapshot_too(org: LocalOrg, sf: Salesforce) -> None:
    writes = Writes(org)
    async with Session(sf) as session:
        doe = await session.one(DOE)
        async with Session(sf) as other:
            theirs = await other.one(DOE)
            theirs.interests = {"Z"}
            theirs.save()
        await session.one(DOE)  # brings in Z
        doe.title = "T"
        doe.save()
    assert writes.bodies == [{"Interests__c": "Z"}, {"Title": "T"}]  # theirs, then ours only


async def test_a_copy_sends_what_differs_from_salesforce(org: LocalOrg, sf: Salesforce) -> None:
    writes = Writes(org)
    async with Session(sf) as session:
        doe = await session.one(DOE)
        doe.model_copy(update={"title": "Copied"}).save()
        doe.email = "doe@acme.example"
        doe.model_copy().save()
    assert writes.bodies == [{"Title": "Copied"}, {"Email": "doe@acme.example"}]


async def test_models_that_do_not_validate_assignments_are_tracked(
    org: LocalOrg, sf: Salesforce
) -> None:
    class Loose(SObject, api_name="Contact"):
        model_config = ConfigDict(validate_assignment=False)
        last_name: Field[str]
        title: Field[str | None] = Field(None)

    writes = Writes(org)
    async with Session(sf) as session:
        doe = await session.one(select(Loose).where(Loose.last_name == "Doe"))
        doe.title = "New"  # pydantic writes into __dict__ in place here
        doe.save()
    assert writes.bodies == [{"Title": "New"}]


async def test_private_attributes_and_post_init_run_for_loaded_records(sf: Salesforce) -> None:
    class Cached(SObject, api_name="Contact"):
        last_name: Field[str]
        _cache: dict[str, Any] = PrivateAttr(default_factory=dict)

        def model_post_init(self, context: Any, /) -> None:
            super().model_post_init(context)
            self._cache["ready"] = True

    async with Session(sf) as session:
        by_select = await session.one(select(Cached))
        (by_soql,) = await session.all(Cached, "SELECT Id, LastName FROM Contact")
    assert by_select._cache == by_soql._cache == {"ready": True}
    assert type(by_select) is Cached


async def test_an_org_value_a_user_validator_would_refuse_still_loads(
    org: LocalOrg, sf: Salesforce
) -> None:
    contacts = org.schema.require("Contact")
    org.store.insert(contacts, {"LastName": "Roe", "Email": "roe@other.example"})

    class Strict(SObject, api_name="Contact"):
        last_name: Field[str]
        email: Field[str | None] = Field(None)

        @field_validator("email")
        @classmethod
        def acme_only(cls, value: str | None) -> str | None:
            if value is not None and not value.endswith("@acme.example"):
                raise ValueError("acme addresses only")
            return value

    async with Session(sf) as session:
        roe = await session.one(select(Strict).where(Strict.last_name == "Roe"))
    assert roe.email == "roe@other.example"  # loaded as the org holds it
    # What the user gives is still checked: on construction and on assignment.
    with pytest.raises(ValueError, match="acme addresses only"):
        Strict(last_name="New", email="new@other.example")
    with pytest.raises(ValueError, match="acme addresses only"):
        roe.email = "still@other.example"
    assert roe.email == "roe@other.example"


async def test_a_large_page_keeps_one_object_per_record(org: LocalOrg, sf: Salesforce) -> None:
    # Past the identity map's first sweep (1,024 entries): a record first met as a parent is
    # the same object when it comes as a row of its own.
    accounts = org.schema.require("Account")
    ids = [org.store.insert(accounts, {"Name": f"A{i:04d}"}) for i in range(1500)]
    org.store.update(accounts, ids[1100], {"ParentId": ids[1400]})
    async with Session(sf) as session:
        rows = await session.all(
            select(Account).only(Account.name, Account.parent.name).order_by(Account.name)
        )
    assert rows[1100].parent is rows[1400]


def test_select_hydrate_takes_records_missing_a_selected_relationship() -> None:
    query = select(Contact).only(Contact.last_name)
    record = {"attributes": {"type": "Contact"}, "Id": "003000000000001AAA", "LastName": "Doe"}
    account_query = select(Account).only(Account.name, Account.parent.name)
    (doe,) = query.hydrate([record])
    assert doe.last_name == "Doe"
    (acme,) = account_query.hydrate(
        [{"attributes": {"type": "Account"}, "Id": "001000000000001AAA", "Name": "Acme"}]
    )
    assert acme.name == "Acme" and "parent" not in acme.__dict__

"""Models: names, types, read-only fields, hydration and relationships."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Literal

import pytest
from pydantic import ValidationError

from sobjects import SObject
from sobjects.fields import Address, Field, Id, MultiPicklist
from sobjects.orm._model import RelationshipNotLoadedError, sobject_meta


class Account(SObject):
    name: Field[str]
    rating: Field[Literal["Hot", "Warm", "Cold"] | None] = Field(None)
    annual_revenue: Field[Decimal | None] = Field(None)
    billing_address: Field[Address | None] = Field(None)
    created_date: Field[datetime | None] = Field(None)
    contacts: Field[list[Contact]] = Field(default_factory=list)


class Contact(SObject):
    last_name: Field[str]
    birthdate: Field[date | None] = Field(None)
    interests: Field[MultiPicklist | None] = Field(None, api_name="Interests__c")
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


class Invoice(SObject, api_name="Invoice__c"):
    name: Field[str]
    amount: Field[Decimal | None] = Field(None, api_name="Amount__c")
    call_time: Field[time | None] = Field(None, api_name="Call_Time__c")
    number: Field[str | None] = Field(None, api_name="Number__c", external_id=True)


Account.model_rebuild()


def test_names_are_computed_once_per_class() -> None:
    meta = sobject_meta(Contact)
    assert meta is sobject_meta(Contact)
    assert meta.api_name == "Contact"
    assert sobject_meta(Invoice).api_name == "Invoice__c"
    assert {f.name: f.api_name for f in meta.fields.values()} == {
        "id": "Id",
        "last_name": "LastName",
        "birthdate": "Birthdate",
        "interests": "Interests__c",
        "account_id": "AccountId",
        "account": "Account",
    }
    assert meta.fields["account"].kind == "parent"
    assert meta.fields["account"].lookup_api_name == "AccountId"
    assert sobject_meta(Account).fields["contacts"].kind == "children"
    assert [f.name for f in sobject_meta(Invoice).external_ids] == ["number"]


def test_read_only_fields() -> None:
    meta = sobject_meta(Account)
    assert not meta.fields["id"].writable
    assert not meta.fields["created_date"].writable  # a system field
    assert not meta.fields["billing_address"].writable  # compound
    assert meta.fields["annual_revenue"].writable


def test_value_types() -> None:
    contact = Contact(last_name="Doe", interests="Music;Travel", account_id="001000000000001")
    assert contact.interests == {"Music", "Travel"}
    assert contact.account_id == "001000000000001AAA"  # 15 -> 18
    with pytest.raises(ValidationError, match="not a Salesforce id"):
        Contact(last_name="Doe", account_id="nope")
    with pytest.raises(ValidationError):
        Account(name="x", rating="Lukewarm")  # type: ignore[arg-type]
    assert Contact.model_validate({"last_name": "x"}).model_dump(mode="json")["interests"] is None
    dumped = Contact(last_name="x", interests={"b", "a"}).model_dump(mode="json")
    assert dumped["interests"] == "a;b"


def test_hydration_from_a_salesforce_record() -> None:
    record = {
        "attributes": {"type": "Account", "url": "/services/data/v62.0/sobjects/Account/001"},
        "Id": "001000000000001AAA",
        "Name": "Acme",
        "AnnualRevenue": 1234567.89,
        "CreatedDate": "2024-01-02T03:04:05.000+0000",
        "BillingAddress": {"city": "Paris", "postalCode": "75001", "country": "FR"},
        "Contacts": {
            "totalSize": 1,
            "done": True,
            "records": [
                {"attributes": {"type": "Contact"}, "Id": "003000000000001AAA", "LastName": "Doe"}
            ],
        },
    }
    account = Account.from_record(record)
    assert account.created_date == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert account.annual_revenue == Decimal("1234567.89")
    assert account.billing_address is not None
    assert account.billing_address.postal_code == "75001"
    assert [c.last_name for c in account.contacts] == ["Doe"]
    assert account.model_fields_set == {
        "id", "name", "annual_revenue", "created_date", "billing_address", "contacts"
    }  # fmt: skip
    empty = Account.from_record({**record, "Contacts": None})
    assert empty.contacts == []  # no children: Salesforce sends null


def test_partial_records_and_unloaded_relationships() -> None:
    contact = Contact.from_record(
        {"attributes": {"type": "Contact"}, "Id": "003000000000001AAA", "Birthdate": "1990-01-02"}
    )
    assert contact.birthdate == date(1990, 1, 2)
    with pytest.raises(AttributeError, match="did not select it"):
        _ = contact.last_name  # required, but the query did not select it
    with pytest.raises(RelationshipNotLoadedError):
        _ = contact.account
    transient = Contact(last_name="New")
    assert transient.account is None  # a new record simply has no parent


def test_serialises_for_web_apps() -> None:
    contact = Contact(last_name="Doe", birthdate=date(1990, 1, 2))
    assert contact.model_dump(mode="json", exclude={"account"}) == {
        "id": None,
        "last_name": "Doe",
        "birthdate": "1990-01-02",
        "interests": None,
        "account_id": None,
    }


def test_a_picklist_value_added_in_the_org_still_loads() -> None:
    record = {"attributes": {"type": "Account"}, "Id": "001000000000001AAA", "Rating": "Frozen"}
    account = Account.from_record(record)
    assert account.rating == "Frozen"  # type: ignore[comparison-overlap]
    with pytest.raises(ValidationError):
        account.rating = "Boiling"  # type: ignore[assignment]  # set by the user: checked


def test_read_only_relationships_cannot_be_assigned() -> None:
    class User(SObject):
        last_name: Field[str]

    class Note(SObject, api_name="Task"):
        subject: Field[str | None] = Field(None)
        created_by: Field[User | None] = Field(None, read_only=True)

    note = Note(subject="x")
    with pytest.raises(Exception, match="read-only"):
        note.created_by = User(last_name="Admin")
    from sobjects.orm._model import sobject_meta as meta_of

    assert not meta_of(Note).fields["created_by"].writable_lookup

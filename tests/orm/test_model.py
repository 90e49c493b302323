"""Models: names, types, read-only fields, hydration and relationships."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Literal

import pytest
from pydantic import ValidationError

from sobjects import SObject
from sobjects.errors import ConfigurationError
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


# -- issue 9: names, nulls and read-only fields that used to be silent -------------------------


def test_custom_field_names_keep_their_underscores() -> None:
    class Gadget(SObject, api_name="Gadget__c"):
        color_code__c: Field[str | None] = None
        size__c: Field[int | None] = None
        owner_contact__r: Field[Contact | None] = None

    fields = sobject_meta(Gadget).fields
    assert fields["color_code__c"].api_name == "Color_Code__c"
    assert fields["size__c"].api_name == "Size__c"
    assert fields["owner_contact__r"].api_name == "Owner_Contact__r"
    assert fields["owner_contact__r"].lookup_api_name == "Owner_Contact__c"
    assert str(Gadget.color_code__c == "red") == "Color_Code__c = 'red'"


@pytest.mark.parametrize("name", ["acme__color__c", "color__x", "color___c"])
def test_other_double_underscore_names_are_refused_when_the_class_is_defined(name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"Field\(api_name=\.\.\.\)"):
        type(SObject)("Gadget", (SObject,), {"__annotations__": {name: "str | None"}, name: None})


def test_a_double_underscore_name_with_an_explicit_api_name_is_fine() -> None:
    class Gadget(SObject):
        acme__color__c: Field[str | None] = Field(None, api_name="acme__Color__c")

    assert sobject_meta(Gadget).fields["acme__color__c"].api_name == "acme__Color__c"


class Profile(SObject, api_name="Contact"):
    last_name: Field[str]
    tags: Field[MultiPicklist] = Field(default_factory=set, api_name="Tags__c")
    maybe_tags: Field[MultiPicklist | None] = Field(None, api_name="Maybe_Tags__c")


def test_a_null_multipicklist_loads_as_an_empty_set_unless_the_type_allows_none() -> None:
    record = {"attributes": {"type": "Contact"}, "LastName": "Doe", "Tags__c": None,
              "Maybe_Tags__c": None}  # fmt: skip
    for loaded in (Profile.from_record(record), Profile.model_validate(record)):
        assert loaded.tags == set()
        assert loaded.maybe_tags is None
    loaded = Profile.from_record({**record, "Tags__c": "b;a"})
    assert loaded.tags == {"a", "b"}


def test_a_null_multipicklist_in_a_page_loads_as_an_empty_set() -> None:
    from sobjects.orm._hydrate import validate_records
    from sobjects.orm._query import select, shape_of

    query = select(Profile)
    records = [{"attributes": {"type": "Contact"}, "Id": None, "LastName": "Doe",
                "Tags__c": None, "Maybe_Tags__c": None}]  # fmt: skip
    (loaded,) = validate_records(Profile, records, shape_of(query))
    assert loaded.tags == set() and loaded.maybe_tags is None


def test_id_and_other_read_only_fields_refuse_assignment() -> None:
    account = Account(name="Acme")
    with pytest.raises(ConfigurationError, match=r"Account.id is read-only.*Account\(id=\.\.\."):
        account.id = "001000000000001AAA"
    with pytest.raises(ConfigurationError, match=r"Account\.created_date is read-only"):
        account.created_date = datetime(2024, 1, 1, tzinfo=UTC)
    assert account.id is None and account.created_date is None
    known = Account(id="001000000000001", name="Acme")  # how a known record is built
    assert known.id == "001000000000001AAA"


def test_a_record_cannot_be_its_own_parent() -> None:
    class Company(SObject, api_name="Account"):
        name: Field[str]
        parent_id: Field[Id | None] = Field(None)
        parent: Field[Company | None] = Field(None)

    acme = Company(name="Acme")
    with pytest.raises(ConfigurationError, match="cannot be its own parent"):
        acme.parent = acme
    assert acme.parent is None

"""Loading records into models: the exact (per select() shape) and loose validators, what an
object holds, its state and snapshot, and the identity map."""

from __future__ import annotations

import copy
import gc
import json
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from sobjects import SObject, inspect, select
from sobjects.fields import Field, Id, MultiPicklist
from sobjects.orm._hydrate import Adopter, decode_page, shape_of, validate_records
from sobjects.orm._identity import IdentityMap
from sobjects.orm._model import (
    Loaded,
    ObjectState,
    RelationshipNotLoadedError,
    changed_values,
)

ACCOUNT_ID = "001000000000001AAA"
OTHER_ACCOUNT_ID = "001000000000002AAA"
CONTACT_IDS = ["003000000000001AAA", "003000000000002AAA", "003000000000003AAA"]


class Account(SObject):
    name: Field[str]
    rating: Field[Literal["Hot", "Warm"] | None] = Field(None)
    contacts: Field[list[Contact]] = Field(default_factory=list)


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    title: Field[str | None] = Field(None)
    tags: Field[MultiPicklist] = Field(default_factory=set, api_name="Tags__c")
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


def attributes(sobject: str, record_id: str | None = None) -> dict[str, str]:
    url = f"/services/data/v62.0/sobjects/{sobject}/{record_id or 'x'}"
    return {"type": sobject, "url": url}


def contact_record(i: int, account: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": attributes("Contact", CONTACT_IDS[i]),
        "Id": CONTACT_IDS[i],
        "LastName": f"Doe {i}",
        "Email": None,
        "AccountId": account["Id"] if account else None,
        "Account": account,
    }
    record.update(extra)
    return record


def account_record(record_id: str = ACCOUNT_ID, name: str = "Acme") -> dict[str, Any]:
    return {"attributes": attributes("Account", record_id), "Id": record_id, "Name": name}


NARROW = select(Contact).only(
    Contact.last_name, Contact.email, Contact.account_id, Contact.account.name
)


def page(records: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps(
        {"totalSize": len(records), "done": True, "records": records, **extra}
    ).encode()


def load(records: list[dict[str, Any]], identity: IdentityMap | None = None) -> list[Contact]:
    decoded = decode_page(shape_of(NARROW))(page(records))
    merges: list[tuple[SObject, SObject]] = []
    adopter = Adopter(None, identity, lambda held, fresh: merges.append((held, fresh)))
    return adopter.adopt(decoded.records, shape_of(NARROW))


# -- what an object holds ---------------------------------------------------------------------


def test_a_page_loads_only_the_selected_fields_with_their_parents() -> None:
    (contact,) = load([contact_record(0, account_record())])
    assert type(contact) is Contact
    assert contact.__dict__.keys() == {"id", "last_name", "email", "account_id", "account"}
    assert contact.model_fields_set == set(contact.__dict__)
    assert contact.account is not None and type(contact.account) is Account
    assert contact.account.__dict__ == {"id": ACCOUNT_ID, "name": "Acme"}
    # Not selected: a field with a default reads as its default, a required one raises,
    # a relationship says it was not loaded.
    assert contact.title is None
    assert contact.account.rating is None
    with pytest.raises(RelationshipNotLoadedError):
        _ = contact.account.contacts
    # A dump holds what was loaded, not defaults claiming values Salesforce did not send.
    assert contact.model_dump() == {
        "id": CONTACT_IDS[0],
        "last_name": "Doe 0",
        "email": None,
        "account_id": ACCOUNT_ID,
        "account": {"id": ACCOUNT_ID, "name": "Acme"},
    }


def test_a_required_field_not_selected_raises_attribute_error() -> None:
    query = select(Contact).only(Contact.email)
    body = page([{"attributes": attributes("Contact"), "Id": CONTACT_IDS[0], "Email": "a@b.c"}])
    (contact,) = decode_page(shape_of(query))(body).records
    with pytest.raises(AttributeError, match="did not select it"):
        _ = contact.last_name


def test_a_null_parent_loads_as_none_and_counts_as_loaded() -> None:
    (contact,) = load([contact_record(0, None)])
    assert contact.account is None  # selected, and Salesforce said there is none
    assert contact.account_id is None


def test_paging_keys_come_from_the_page() -> None:
    body = page([contact_record(0, None)], done=False, nextRecordsUrl="/query/01g-2000")
    body = body.replace(b'"totalSize": 1', b'"totalSize": 4000')
    decoded = decode_page(shape_of(NARROW))(body)
    assert (decoded.total_size, decoded.next_records_url, decoded.done) == (
        4000,
        "/query/01g-2000",
        False,
    )


def test_a_page_that_does_not_fit_its_shape_loads_the_loose_way() -> None:
    # Keys in another case and a field missing: the exact validator refuses, nothing is lost.
    record = {
        "attributes": attributes("Contact"),
        "id": CONTACT_IDS[0],
        "LASTNAME": "Doe",
        "Account": {"attributes": attributes("Account"), "ID": ACCOUNT_ID, "name": "Acme"},
    }
    (contact,) = decode_page(shape_of(NARROW))(page([record])).records
    assert contact.id == CONTACT_IDS[0] and contact.last_name == "Doe"
    assert contact.account is not None and contact.account.name == "Acme"
    assert "email" not in contact.__dict__


def test_values_are_validated_and_ids_normalised() -> None:
    (contact,) = validate_records(
        Contact,
        [{"attributes": attributes("Contact"), "Id": "003000000000001", "Tags__c": "b;a"}],
        None,
    )
    assert contact.id == "003000000000001AAA"  # 15 characters -> 18
    assert contact.tags == {"a", "b"}
    with pytest.raises(ValidationError):
        validate_records(Contact, [{"Id": "not an id"}], None)
    with pytest.raises(ValidationError):
        decode_page(shape_of(NARROW))(page([contact_record(0, None, Id="not an id")]))


def test_a_picklist_value_added_in_the_org_still_loads_through_a_shape() -> None:
    query = select(Account).only(Account.rating)
    body = page([{"attributes": attributes("Account"), "Id": ACCOUNT_ID, "Rating": "Frozen"}])
    (account,) = decode_page(shape_of(query))(body).records
    assert account.rating == "Frozen"  # type: ignore[comparison-overlap]


def test_child_subqueries_load_as_lists_and_null_as_empty() -> None:
    query = select(Account).only(Account.name).with_children(Account.contacts)
    children = {
        "totalSize": 1,
        "done": True,
        "records": [{"attributes": attributes("Contact"), "Id": CONTACT_IDS[0], "LastName": "Doe"}],
    }
    records = [
        {**account_record(), "Contacts": children},
        {**account_record(OTHER_ACCOUNT_ID, "Empty"), "Contacts": None},
    ]
    acme, empty = validate_records(Account, records, shape_of(query))
    assert [c.last_name for c in acme.contacts] == ["Doe"]
    assert empty.contacts == []
    loose_acme, loose_empty = validate_records(Account, records, None)
    assert [c.last_name for c in loose_acme.contacts] == ["Doe"] and loose_empty.contacts == []


# -- state and snapshots ------------------------------------------------------------------------


def test_state_is_made_on_first_use_with_the_loaded_values_as_snapshot() -> None:
    (contact,) = load([contact_record(0, account_record())])
    assert isinstance(contact._sobject_slot, Loaded)  # type: ignore[attr-defined]
    assert inspect(contact).state == "persistent"
    assert isinstance(contact._sobject_slot, ObjectState)  # type: ignore[attr-defined]
    contact.email = "new@acme.example"
    assert changed_values(contact) == {"Email": "new@acme.example"}
    assert contact._sobject_state.snapshot["email"] is None  # the loaded value, kept


def test_an_assignment_before_the_state_exists_is_still_tracked() -> None:
    (contact,) = load([contact_record(0, None)])
    contact.title = "CTO"  # never loaded, set by the user: sent
    contact.email = None  # loaded as None, set to None: not a change
    assert changed_values(contact) == {"Title": "CTO"}


def test_an_in_place_change_to_a_loaded_multipicklist_is_tracked() -> None:
    query = select(Contact).only(Contact.tags)
    body = page([{"attributes": attributes("Contact"), "Id": CONTACT_IDS[0], "Tags__c": "a"}])
    decoded = decode_page(shape_of(query))(body)
    (contact,) = Adopter(None, None, None).adopt(decoded.records, shape_of(query))
    contact.tags.add("b")
    assert changed_values(contact) == {"Tags__c": "a;b"}


def test_a_default_factory_field_not_loaded_keeps_in_place_changes() -> None:
    (contact,) = load([contact_record(0, None)])
    contact.tags.add("x")  # not selected: the default set is made once and kept
    assert contact.tags == {"x"}
    assert inspect(contact).state == "persistent"  # never loaded nor set: not sent


def test_a_copy_of_a_loaded_record_is_a_loaded_record_of_its_own() -> None:
    (contact,) = load([contact_record(0, None)])
    twin = copy.copy(contact)
    twin.email = "twin@acme.example"
    assert changed_values(twin) == {"Email": "twin@acme.example"}
    assert changed_values(contact) == {}


# -- identity ------------------------------------------------------------------------------------


def test_the_same_id_in_a_page_gives_the_same_object() -> None:
    identity = IdentityMap()
    first, second = load(
        [contact_record(0, account_record()), contact_record(1, account_record(name="Acme 2"))],
        identity,
    )
    assert first.account is second.account  # one Account object for one id
    assert identity.get(ACCOUNT_ID) is first.account
    assert identity.get(CONTACT_IDS[1]) is second


def test_the_identity_map_forgets_objects_nobody_holds() -> None:
    identity = IdentityMap()
    objs = load([contact_record(i, None) for i in range(3)], identity)
    assert len(identity) == 3
    del objs
    gc.collect()
    assert len(identity) == 0 and identity.get(CONTACT_IDS[0]) is None
    for i in range(2000):  # growing past the first sweep drops the dead entries
        identity[f"003{i:015d}"] = Contact(last_name="x")
    assert len(identity.refs) < 2000


def test_compiled_validators_per_model_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import sobjects.orm._hydrate as hydrate

    monkeypatch.setattr(hydrate, "_MAX_VALIDATORS", 3)
    fields = [Contact.email, Contact.title, Contact.account_id, Contact.last_name]
    for i in range(len(fields)):
        hydrate.exact_validator(shape_of(select(Contact).only(*fields[: i + 1])), page=False)
    assert len(Contact.__dict__["__sobject_validators__"]) <= 3

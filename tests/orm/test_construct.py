"""``Model(...)``: the fast constructor gives what pydantic's would, and hands pydantic
everything it cannot do exactly the same way."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from sobjects import SObject, inspect
from sobjects.fields import Field, Id, MultiPicklist
from sobjects.orm._construct import constructor_for


class Account(SObject):
    name: Field[str]


class Contact(SObject):
    first_name: Field[str | None] = Field(None)
    last_name: Field[str]
    tags: Field[MultiPicklist] = Field(default_factory=set, api_name="Tags__c")
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)
    notes: Field[list[str]] = Field(["first"], api_name="Notes__c")


def pydantic_made(cls: type[SObject], **data: Any) -> SObject:
    obj = cls.__new__(cls)
    BaseModel.__init__(obj, **data)
    return obj


def test_the_same_object_as_pydantic_makes() -> None:
    acme = Account(name="Acme")
    data: dict[str, Any] = {"last_name": "Doe", "tags": "b;a", "account": acme}
    ours, theirs = Contact(**data), pydantic_made(Contact, **data)
    assert constructor_for(Contact) is not None  # the fast path was taken
    assert list(ours.__dict__) == list(theirs.__dict__)  # declaration order
    assert ours.__dict__ == theirs.__dict__
    assert ours.model_fields_set == theirs.model_fields_set == {"last_name", "tags", "account"}
    assert ours.model_dump() == theirs.model_dump()
    assert inspect(ours).pending is None and ours._sobject_state.assigned == {"account"}


def test_defaults_are_not_shared_between_objects() -> None:
    first, second = Contact(last_name="A"), Contact(last_name="B")
    first.tags.add("x")
    first.notes.append("second")
    assert second.tags == set() and second.notes == ["first"]


def test_ids_are_normalised_and_bad_values_raise_pydantics_error() -> None:
    assert Contact(last_name="Doe", account_id="001000000000001").account_id == (
        "001000000000001AAA"
    )
    with pytest.raises(ValidationError) as bad:
        Contact(last_name="Doe", account_id="nope")
    assert bad.value.title == "Contact"
    with pytest.raises(ValidationError) as missing:
        Contact(first_name="Jane")  # type: ignore[call-arg]
    assert missing.value.title == "Contact"
    assert [e["loc"] for e in missing.value.errors()] == [("last_name",)]


def test_a_record_with_attributes_still_goes_through_the_wire_validator() -> None:
    contact = Contact(**{"attributes": {"type": "Contact"}, "LastName": "Doe"})  # type: ignore[arg-type]
    assert contact.last_name == "Doe"


# -- keywords that name no field ---------------------------------------------------------------


def test_a_misspelt_keyword_is_refused_with_a_suggestion() -> None:
    row: dict[str, Any] = {"last_name": "X", "first_nmae": "Jane"}
    with pytest.raises(ValidationError) as caught:
        Contact(**row)
    (error,) = caught.value.errors()
    assert error["type"] == "unknown_field"
    assert error["loc"] == ("first_nmae",)
    assert error["msg"] == "Contact has no field 'first_nmae'; did you mean 'first_name'?"


def test_an_api_name_as_keyword_suggests_the_python_name() -> None:
    with pytest.raises(ValidationError, match="did you mean 'last_name'"):
        Contact(LastName="Doe")  # type: ignore[call-arg]


def test_every_unknown_keyword_is_listed_and_nothing_is_built() -> None:
    with pytest.raises(ValidationError) as caught:
        Contact(last_name="X", colour="red", zzz=1)  # type: ignore[call-arg]
    assert [e["loc"] for e in caught.value.errors()] == [("colour",), ("zzz",)]
    assert "did you mean" not in caught.value.errors()[1]["msg"]


def test_model_validate_of_user_data_refuses_unknown_keys_too() -> None:
    with pytest.raises(ValidationError, match="Contact has no field 'emial'"):
        Contact.model_validate({"last_name": "X", "emial": "a@b.c"})


def test_records_from_salesforce_still_ignore_fields_the_model_does_not_declare() -> None:
    record = {"attributes": {"type": "Contact"}, "LastName": "Doe", "Unknown__c": 1}
    assert Contact.model_validate(record).last_name == "Doe"
    assert Contact.from_record(record).last_name == "Doe"


def test_models_that_allow_extra_keep_pydantics_behaviour() -> None:
    class Loose(SObject, api_name="Contact"):
        model_config = ConfigDict(extra="ignore")
        last_name: Field[str]

    assert Loose(last_name="Doe", other=1).last_name == "Doe"  # type: ignore[call-arg]


def test_the_refusal_also_applies_where_pydantic_builds_the_object() -> None:
    class Checked(SObject, api_name="Contact"):
        last_name: Field[str]

        @field_validator("last_name")
        @classmethod
        def strip(cls, value: str) -> str:
            return value.strip()

    assert constructor_for(Checked) is None  # pydantic's __init__ runs for this one
    with pytest.raises(ValidationError, match="did you mean 'last_name'"):
        Checked(last_nam="Doe")  # type: ignore[call-arg]


def test_models_with_their_own_validators_use_pydantics_constructor() -> None:
    class Shouting(SObject):
        last_name: Field[str]

        @field_validator("last_name")
        @classmethod
        def upper(cls, value: str) -> str:
            return value.upper()

    class Checked(SObject):
        last_name: Field[str]

        @model_validator(mode="after")
        def check(self) -> Checked:
            if self.last_name == "x":
                raise ValueError("no x")
            return self

    assert constructor_for(Shouting) is None  # it may read other fields (info.data)
    assert Shouting(last_name="doe").last_name == "DOE"
    assert constructor_for(Checked) is None
    with pytest.raises(ValidationError, match="no x"):
        Checked(last_name="x")


def test_a_default_validated_per_field_uses_pydantics_constructor() -> None:
    from pydantic import Field as PydanticField

    class Checked(SObject):
        last_name: Field[str]
        title: str = PydanticField(default=5, validate_default=True)  # type: ignore[assignment]

    assert constructor_for(Checked) is None
    with pytest.raises(ValidationError):
        Checked(last_name="Doe")


def test_a_keyword_with_braces_is_reported_as_it_is() -> None:
    with pytest.raises(ValidationError, match=r"Contact has no field '\{x\}'"):
        Contact(**{"last_name": "X", "{x}": 1})
    with pytest.raises(ValidationError, match=r"Contact has no field '\{x\}'"):
        Contact.model_validate({"last_name": "X", "{x}": 1})

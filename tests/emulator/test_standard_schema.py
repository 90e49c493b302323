"""The standard schema of the local org: the objects, fields and flags a fresh org describes."""

from __future__ import annotations

from typing import Any

import pytest

from sobjects.emulator._schema import FIELD_DEFAULTS, Schema, SObjectDef
from sobjects.emulator._standard import standard_sobjects

OBJECTS = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Case": "500",
    "User": "005",
    "Task": "00T",
}


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema(standard_sobjects())


def _field(schema: Schema, sobject: str, name: str) -> dict[str, Any]:
    found = schema.require(sobject).field(name)
    assert found is not None, f"{sobject}.{name} missing"
    return found.describe


def _all_fields(schema: Schema) -> list[tuple[SObjectDef, dict[str, Any]]]:
    return [(o, f) for o in schema for f in o.describe["fields"]]


def test_the_seven_standard_objects_with_their_key_prefixes(schema: Schema) -> None:
    assert {o.name: o.key_prefix for o in schema} == OBJECTS
    for name, prefix in OBJECTS.items():
        assert schema.by_prefix(prefix) is schema.get(name)


def test_every_field_carries_every_describe_key_and_nothing_else(schema: Schema) -> None:
    for sobject, field in _all_fields(schema):
        assert set(field) == set(FIELD_DEFAULTS), f"{sobject.name}.{field['name']}"


def test_field_names_are_unique_and_id_comes_first(schema: Schema) -> None:
    for sobject in schema:
        names = [f["name"] for f in sobject.describe["fields"]]
        assert len(names) == len(set(names)), sobject.name
        assert names[0] == "Id"
        assert sobject.require_field("Id").type == "id"


def test_calls_are_deterministic_and_return_fresh_dicts() -> None:
    first, second = standard_sobjects(), standard_sobjects()
    assert first == second
    first[0]["fields"].clear()
    assert standard_sobjects() == second


def test_urls_carry_a_version_placeholder(schema: Schema) -> None:
    urls = schema.require("Account").describe["urls"]
    assert urls == {
        "sobject": "/services/data/v{version}/sobjects/Account",
        "describe": "/services/data/v{version}/sobjects/Account/describe",
        "rowTemplate": "/services/data/v{version}/sobjects/Account/{ID}",
    }
    for sobject in schema:
        assert sobject.describe["urls"]["sobject"].endswith(f"/sobjects/{sobject.name}")


# Salesforce's rule: nillable false + createable + not defaultedOnCreate. Case and Task need
# nothing: their non-null picklists (Status, Priority) and OwnerId default on create, CaseNumber
# is an auto-number the org assigns, and a Task's Subject is optional.
@pytest.mark.parametrize(
    ("sobject", "required"),
    [
        ("Account", {"Name"}),
        ("Contact", {"LastName"}),
        ("Lead", {"LastName", "Company"}),
        ("Opportunity", {"Name", "StageName", "CloseDate"}),
        ("Case", set()),
        ("Task", set()),
        (
            "User",
            {
                "Username",
                "LastName",
                "Email",
                "Alias",
                "TimeZoneSidKey",
                "LocaleSidKey",
                "EmailEncodingKey",
                "LanguageLocaleKey",
            },
        ),
    ],
)
def test_required_on_create(schema: Schema, sobject: str, required: set[str]) -> None:
    found = {f.name for f in schema.require(sobject).fields.values() if f.required_on_create}
    assert found == required


@pytest.mark.parametrize("sobject", list(OBJECTS))
def test_system_fields(schema: Schema, sobject: str) -> None:
    deleted = _field(schema, sobject, "IsDeleted")
    assert deleted["type"] == "boolean" and deleted["defaultedOnCreate"]
    assert not deleted["createable"] and not deleted["updateable"] and not deleted["nillable"]
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        stamp = _field(schema, sobject, name)
        assert stamp["type"] == "datetime" and stamp["soapType"] == "xsd:dateTime"
        assert not stamp["createable"] and not stamp["updateable"]
        assert stamp["defaultedOnCreate"] and not stamp["nillable"]
    for name, relationship in (
        ("CreatedById", "CreatedBy"),
        ("LastModifiedById", "LastModifiedBy"),
    ):
        by = _field(schema, sobject, name)
        assert by["type"] == "reference" and by["referenceTo"] == ["User"]
        assert by["relationshipName"] == relationship
        assert not by["createable"] and not by["updateable"] and by["defaultedOnCreate"]


@pytest.mark.parametrize(
    ("sobject", "targets"),
    [
        ("Account", ["User"]),
        ("Contact", ["User"]),
        ("Opportunity", ["User"]),
        ("Lead", ["Group", "User"]),
        ("Case", ["Group", "User"]),
        ("Task", ["Group", "User"]),
    ],
)
def test_owner(schema: Schema, sobject: str, targets: list[str]) -> None:
    owner = _field(schema, sobject, "OwnerId")
    assert owner["referenceTo"] == targets and owner["relationshipName"] == "Owner"
    assert owner["createable"] and owner["updateable"]
    assert owner["defaultedOnCreate"] and not owner["nillable"]
    assert owner["namePointing"] == (len(targets) > 1)
    assert schema.require(sobject).relationship("owner") is not None


def test_user_has_no_owner(schema: Schema) -> None:
    assert schema.require("User").field("OwnerId") is None


@pytest.mark.parametrize(
    ("parent", "relationship", "child", "field"),
    [
        ("Account", "Contacts", "Contact", "AccountId"),
        ("Account", "Opportunities", "Opportunity", "AccountId"),
        ("Account", "Cases", "Case", "AccountId"),
        ("Account", "ChildAccounts", "Account", "ParentId"),
        ("Account", "Tasks", "Task", "WhatId"),
        ("Contact", "Cases", "Case", "ContactId"),
        ("Contact", "Tasks", "Task", "WhoId"),
        ("Contact", "DirectReports", "Contact", "ReportsToId"),
        ("Lead", "Tasks", "Task", "WhoId"),
        ("Opportunity", "Tasks", "Task", "WhatId"),
        ("Case", "Tasks", "Task", "WhatId"),
    ],
)
def test_child_relationships(
    schema: Schema, parent: str, relationship: str, child: str, field: str
) -> None:
    found = schema.require(parent).child_relationship(relationship.lower())
    assert found is not None
    assert (found.child_sobject, found.field, found.relationship_name) == (
        child,
        field,
        relationship,
    )


def test_child_relationship_names_stay_out_of_field_describes() -> None:
    raw = [f for o in standard_sobjects() for f in o["fields"]]
    assert any("childRelationshipName" in f for f in raw)
    for sobject in Schema(standard_sobjects()):
        assert all("childRelationshipName" not in f for f in sobject.describe["fields"])


@pytest.mark.parametrize(
    ("sobject", "field", "relationship", "targets"),
    [
        ("Contact", "AccountId", "Account", ["Account"]),
        ("Contact", "ReportsToId", "ReportsTo", ["Contact"]),
        ("Opportunity", "AccountId", "Account", ["Account"]),
        ("Case", "AccountId", "Account", ["Account"]),
        ("Case", "ContactId", "Contact", ["Contact"]),
        ("Account", "ParentId", "Parent", ["Account"]),
        ("Lead", "ConvertedAccountId", "ConvertedAccount", ["Account"]),
        ("Lead", "ConvertedContactId", "ConvertedContact", ["Contact"]),
    ],
)
def test_lookups(
    schema: Schema, sobject: str, field: str, relationship: str, targets: list[str]
) -> None:
    lookup = _field(schema, sobject, field)
    assert lookup["type"] == "reference" and lookup["soapType"] == "tns:ID"
    assert lookup["referenceTo"] == targets and lookup["relationshipName"] == relationship
    assert not lookup["polymorphicForeignKey"]


def test_lead_conversion_lookups_are_read_only(schema: Schema) -> None:
    for name in ("ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId"):
        lookup = _field(schema, "Lead", name)
        assert not lookup["createable"] and not lookup["updateable"]


def test_task_who_and_what_are_polymorphic(schema: Schema) -> None:
    who = _field(schema, "Task", "WhoId")
    what = _field(schema, "Task", "WhatId")
    assert who["referenceTo"] == ["Contact", "Lead"] and who["relationshipName"] == "Who"
    assert what["referenceTo"] == ["Account", "Opportunity", "Case"]
    assert what["relationshipName"] == "What"
    assert who["polymorphicForeignKey"] and what["polymorphicForeignKey"]


def test_every_reference_points_at_a_known_object(schema: Schema) -> None:
    for sobject, field in _all_fields(schema):
        if field["type"] == "reference":
            for target in field["referenceTo"]:
                assert target in schema or target == "Group", f"{sobject.name}.{field['name']}"
            assert field["relationshipName"], f"{sobject.name}.{field['name']}"


@pytest.mark.parametrize(
    ("sobject", "compound", "prefix"),
    [
        ("Account", "BillingAddress", "Billing"),
        ("Account", "ShippingAddress", "Shipping"),
        ("Contact", "MailingAddress", "Mailing"),
        ("Contact", "OtherAddress", "Other"),
        ("Lead", "Address", ""),
        ("User", "Address", ""),
    ],
)
def test_address_compounds(schema: Schema, sobject: str, compound: str, prefix: str) -> None:
    address = _field(schema, sobject, compound)
    assert address["type"] == "address" and address["soapType"] == "urn:address"
    assert not address["createable"] and not address["updateable"]
    parts = {
        f["name"]: f
        for f in schema.require(sobject).describe["fields"]
        if f["compoundFieldName"] == compound
    }
    suffixes = ("Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude")
    assert set(parts) == {prefix + s for s in (*suffixes, "GeocodeAccuracy")}
    assert parts[f"{prefix}Street"]["type"] == "textarea"
    assert parts[f"{prefix}Latitude"]["type"] == "double"
    assert parts[f"{prefix}GeocodeAccuracy"]["restrictedPicklist"]
    assert all(p["createable"] and p["updateable"] for p in parts.values())
    # The compound follows its components, as in a real describe.
    names = [f["name"] for f in schema.require(sobject).describe["fields"]]
    assert names.index(compound) == names.index(f"{prefix}GeocodeAccuracy") + 1


@pytest.mark.parametrize(
    ("sobject", "name_field"),
    [
        ("Account", "Name"),
        ("Contact", "Name"),
        ("Lead", "Name"),
        ("Opportunity", "Name"),
        ("User", "Name"),
        ("Case", "CaseNumber"),
        ("Task", "Subject"),
    ],
)
def test_name_fields(schema: Schema, sobject: str, name_field: str) -> None:
    found = schema.require(sobject).name_field
    assert found is not None and found.name == name_field
    assert sum(bool(f["nameField"]) for f in schema.require(sobject).describe["fields"]) == 1


@pytest.mark.parametrize("sobject", ["Contact", "Lead", "User"])
def test_person_names_are_built_from_their_parts(schema: Schema, sobject: str) -> None:
    name = _field(schema, sobject, "Name")
    assert name["type"] == "string" and not name["createable"] and not name["updateable"]
    assert _field(schema, sobject, "FirstName")["compoundFieldName"] == "Name"
    last = _field(schema, sobject, "LastName")
    assert last["compoundFieldName"] == "Name" and not last["nillable"]


def test_account_name_is_writable_and_required(schema: Schema) -> None:
    name = _field(schema, "Account", "Name")
    assert name["type"] == "string" and name["length"] == 255
    assert name["createable"] and name["updateable"] and not name["nillable"]


def test_username_is_unique(schema: Schema) -> None:
    assert schema.require("User").require_field("username").unique


@pytest.mark.parametrize(
    ("sobject", "field", "type_"),
    [
        ("Account", "NumberOfEmployees", "int"),
        ("Account", "AnnualRevenue", "currency"),
        ("Account", "Website", "url"),
        ("Account", "Phone", "phone"),
        ("Account", "Description", "textarea"),
        ("Account", "Industry", "picklist"),
        ("Account", "Type", "picklist"),
        ("Account", "Rating", "picklist"),
        ("Opportunity", "Amount", "currency"),
        ("Opportunity", "Probability", "percent"),
        ("Opportunity", "TotalOpportunityQuantity", "double"),
        ("Opportunity", "CloseDate", "date"),
        ("Opportunity", "StageName", "picklist"),
        ("Opportunity", "IsWon", "boolean"),
        ("Opportunity", "IsClosed", "boolean"),
        ("Contact", "Birthdate", "date"),
        ("Contact", "Email", "email"),
        ("Contact", "DoNotCall", "boolean"),
        ("Contact", "LeadSource", "picklist"),
        ("Contact", "Interests__c", "multipicklist"),
        ("Lead", "Email", "email"),
        ("Lead", "Status", "picklist"),
        ("User", "Email", "email"),
        ("User", "IsActive", "boolean"),
        ("Case", "Status", "picklist"),
        ("Case", "Priority", "picklist"),
        ("Case", "Origin", "picklist"),
        ("Task", "ActivityDate", "date"),
        ("Task", "ReminderDateTime", "datetime"),
        ("Task", "Status", "picklist"),
        ("Task", "Priority", "picklist"),
    ],
)
def test_field_types(schema: Schema, sobject: str, field: str, type_: str) -> None:
    assert _field(schema, sobject, field)["type"] == type_


def test_types_cover_the_describe_types_clients_meet(schema: Schema) -> None:
    types = {f["type"] for _, f in _all_fields(schema)}
    assert types >= {
        "id",
        "reference",
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "boolean",
        "int",
        "double",
        "currency",
        "percent",
        "date",
        "datetime",
        "address",
    }


def test_numbers_carry_precision_and_scale(schema: Schema) -> None:
    amount = _field(schema, "Opportunity", "Amount")
    assert (amount["precision"], amount["scale"]) == (18, 2)
    probability = _field(schema, "Opportunity", "Probability")
    assert (probability["precision"], probability["scale"]) == (3, 0)
    assert _field(schema, "Account", "NumberOfEmployees")["digits"] == 8
    assert _field(schema, "Account", "BillingLatitude")["scale"] == 15


def test_read_only_booleans(schema: Schema) -> None:
    for name in ("IsWon", "IsClosed"):
        flag = _field(schema, "Opportunity", name)
        assert not flag["createable"] and not flag["updateable"]
    active = _field(schema, "User", "IsActive")
    assert active["createable"] and active["updateable"] and active["defaultValue"] is True
    assert _field(schema, "Contact", "DoNotCall")["defaultValue"] is False


def test_every_picklist_has_active_values_and_at_most_one_default(schema: Schema) -> None:
    for sobject, field in _all_fields(schema):
        if field["type"] not in ("picklist", "multipicklist", "combobox"):
            continue
        where = f"{sobject.name}.{field['name']}"
        entries = field["picklistValues"]
        assert entries and all(e["active"] for e in entries), where
        assert all(
            set(e) == {"active", "defaultValue", "label", "validFor", "value"} for e in entries
        )
        defaults = [e["value"] for e in entries if e["defaultValue"]]
        assert len(defaults) <= 1, where
        assert field["defaultValue"] == (defaults[0] if defaults else None), where
        if defaults:
            assert field["defaultedOnCreate"], where


@pytest.mark.parametrize(
    ("sobject", "field", "default"),
    [
        ("Lead", "Status", "Open - Not Contacted"),
        ("Case", "Status", "New"),
        ("Case", "Priority", "Medium"),
        ("Task", "Status", "Not Started"),
        ("Task", "Priority", "Normal"),
    ],
)
def test_picklist_defaults(schema: Schema, sobject: str, field: str, default: str) -> None:
    found = schema.require(sobject).require_field(field)
    assert found.default_value == default and default in found.picklist_values


# Salesforce restricts only system value sets and (new) custom picklists; the standard
# CRM picklists accept values outside their list through the API.
@pytest.mark.parametrize(
    ("sobject", "field", "restricted"),
    [
        ("Opportunity", "StageName", False),
        ("Lead", "Status", False),
        ("Case", "Status", False),
        ("Case", "Priority", False),
        ("Case", "Origin", False),
        ("Task", "Status", False),
        ("Task", "Priority", False),
        ("Account", "Industry", False),
        ("Account", "Type", False),
        ("Account", "Rating", False),
        ("Contact", "LeadSource", False),
        ("Contact", "Interests__c", True),
        ("User", "TimeZoneSidKey", True),
        ("User", "LocaleSidKey", True),
        ("User", "EmailEncodingKey", True),
        ("User", "LanguageLocaleKey", True),
        ("Account", "BillingGeocodeAccuracy", True),
    ],
)
def test_restricted_picklists(schema: Schema, sobject: str, field: str, restricted: bool) -> None:
    assert schema.require(sobject).require_field(field).restricted_picklist is restricted


def test_interests_is_a_custom_multipicklist(schema: Schema) -> None:
    interests = schema.require("Contact").require_field("Interests__c")
    assert interests.describe["custom"] and interests.type == "multipicklist"
    assert interests.picklist_values == ["Sports", "Music", "Travel", "Technology", "Cooking"]
    assert not interests.describe["sortable"] and interests.describe["filterable"]
    # Every other field is standard.
    customs = [(o.name, f["name"]) for o, f in _all_fields(schema) if f["custom"]]
    assert customs == [("Contact", "Interests__c")]


def test_long_text_areas_cannot_be_filtered(schema: Schema) -> None:
    description = _field(schema, "Account", "Description")
    assert description["length"] == 32000
    assert not description["filterable"] and not description["sortable"]
    street = _field(schema, "Account", "BillingStreet")
    assert street["length"] == 255 and street["filterable"] and street["sortable"]


def test_text_lengths_and_byte_lengths(schema: Schema) -> None:
    for sobject, field in _all_fields(schema):
        if field["type"] in ("string", "email", "phone", "url", "picklist", "textarea"):
            assert field["length"] > 0, f"{sobject.name}.{field['name']}"
            assert field["byteLength"] == 3 * field["length"]
        if field["type"] in ("id", "reference"):
            assert field["length"] == 18 and field["byteLength"] == 18


def test_case_number_is_an_auto_number(schema: Schema) -> None:
    number = _field(schema, "Case", "CaseNumber")
    assert number["autoNumber"] and number["defaultedOnCreate"]
    assert not number["createable"] and not number["updateable"]


def test_users_cannot_be_deleted(schema: Schema) -> None:
    assert schema.require("User").describe["deletable"] is False
    assert schema.require("Account").describe["deletable"] is True

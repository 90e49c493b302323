"""A small hand-written org for the SOQL engine tests: schema, records and a query helper."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from sobjects._ids import to_18
from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import Schema
from sobjects.emulator._store import Store
from sobjects.emulator.soql import QueryOutput, run_query

# A Wednesday, so THIS_WEEK is Sunday 2024-05-12 .. Saturday 2024-05-18.
NOW = datetime(2024, 5, 15, 12, 0, 0, tzinfo=UTC)
API = "62.0"


def _ref(name: str, to: list[str], rel: str, child: str | None = None) -> dict[str, Any]:
    field: dict[str, Any] = {
        "name": name,
        "type": "reference",
        "referenceTo": to,
        "relationshipName": rel,
    }
    if child:
        field["childRelationshipName"] = child
    return field


def _picklist(name: str, *values: tuple[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "picklist",
        "picklistValues": [{"value": v, "label": label, "active": True} for v, label in values],
    }


DESCRIBES: list[dict[str, Any]] = [
    {
        "name": "User",
        "keyPrefix": "005",
        "fields": [{"name": "Name", "type": "string", "nameField": True}],
    },
    {
        "name": "Account",
        "keyPrefix": "001",
        "fields": [
            {"name": "IsDeleted", "type": "boolean"},
            {"name": "Name", "type": "string", "nameField": True},
            _picklist("Industry", ("Technology", "Tech"), ("Energy", "Power")),
            {"name": "NumberOfEmployees", "type": "int"},
            {"name": "AnnualRevenue", "type": "currency"},
            {"name": "OpensAt__c", "type": "time"},
            _ref("ParentId", ["Account"], "Parent", "ChildAccounts"),
            _ref("OwnerId", ["User"], "Owner"),
        ],
    },
    {
        "name": "Contact",
        "keyPrefix": "003",
        "fields": [
            {"name": "IsDeleted", "type": "boolean"},
            {"name": "Name", "type": "string", "nameField": True},
            {"name": "FirstName", "type": "string"},
            {"name": "LastName", "type": "string"},
            {"name": "Email", "type": "email"},
            _ref("AccountId", ["Account"], "Account", "Contacts"),
            _ref("ReportsToId", ["Contact"], "ReportsTo", "DirectReports"),
            {"name": "Birthdate", "type": "date"},
            {"name": "Interests__c", "type": "multipicklist"},
            {"name": "DoNotCall", "type": "boolean"},
            {"name": "CreatedDate", "type": "datetime"},
        ],
    },
    {
        "name": "Lead",
        "keyPrefix": "00Q",
        "fields": [
            {"name": "Name", "type": "string", "nameField": True},
            {"name": "Company", "type": "string"},
        ],
    },
    {
        "name": "Task",
        "keyPrefix": "00T",
        "fields": [
            {"name": "Subject", "type": "string"},
            _ref("WhoId", ["Contact", "Lead"], "Who", "Tasks"),
        ],
    },
    {"name": "Group", "keyPrefix": "00G", "fields": [{"name": "Name", "type": "string"}]},
    {"name": "Order", "keyPrefix": "801", "fields": [{"name": "Name", "type": "string"}]},
]


class MemorySource:
    """The RecordSource contract over a dict: id -> (sObject, record)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._rows: dict[str, dict[str, Any]] = {}
        self._types: dict[str, str] = {}
        self._counter = count(1)

    def add(self, sobject: str, **fields: Any) -> str:
        prefix = self.schema.require(sobject).key_prefix
        record_id = to_18(f"{prefix}5e0{next(self._counter):09d}")
        self._rows[record_id] = {"Id": record_id, **fields}
        self._types[record_id] = sobject
        return record_id

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[dict[str, Any]]:
        for record_id, record in self._rows.items():
            if self._types[record_id] != sobject:
                continue
            if include_deleted or not record.get("IsDeleted"):
                yield record

    def get(self, record_id: str) -> dict[str, Any] | None:
        return self._rows.get(record_id)

    def sobject_of(self, record_id: str) -> str | None:
        return self._types.get(record_id)


class StoreSource(MemorySource):
    """The same records in the local org's SQLite store, written as they are (no write
    rules): the engine then narrows its reads through ``Store.select``, and every SOQL test
    checks that what SQLite narrows and orders changes no answer."""

    def __init__(self, schema: Schema) -> None:
        super().__init__(schema)
        self.store = Store(schema)
        data = self.store._data
        data.db.execute("DELETE FROM r_user")  # the admin user the store makes for itself
        data.load()
        self.select = self.store.select

    def add(self, sobject: str, **fields: Any) -> str:
        record_id = super().add(sobject, **fields)
        record = {"attributes": {"type": sobject}, **self._rows[record_id]}
        self.store._data.put(record, new=True)
        return record_id

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[dict[str, Any]]:
        return self.store.records(sobject, include_deleted=include_deleted)

    def get(self, record_id: str) -> dict[str, Any] | None:
        return self.store.get(record_id)

    def sobject_of(self, record_id: str) -> str | None:
        return self.store.sobject_of(record_id)


class Org:
    """The fixture data set, with the ids of the interesting records."""

    def __init__(self, source: str = "memory") -> None:
        schema = Schema(DESCRIBES)
        self.source = StoreSource(schema) if source == "store" else MemorySource(schema)
        add = self.source.add
        self.ada_user = add("User", Name="Ada Admin")
        self.bob_user = add("User", Name="Bob Boss")
        self.acme = add(
            "Account",
            IsDeleted=False,
            Name="Acme",
            Industry="Technology",
            NumberOfEmployees=100,
            AnnualRevenue=1000000.0,
            OpensAt__c="09:00:00.000Z",
            OwnerId=self.ada_user,
        )
        self.globex = add(
            "Account",
            IsDeleted=False,
            Name="Globex",
            Industry="Energy",
            NumberOfEmployees=50,
            AnnualRevenue=500000.0,
            OpensAt__c="10:30:00.000Z",
            OwnerId=self.bob_user,
            ParentId=self.acme,
        )
        self.initech = add(
            "Account",
            IsDeleted=False,
            Name="initech",
            Industry="Technology",
            AnnualRevenue=250000.0,
            OwnerId=self.ada_user,
        )
        self.umbrella = add("Account", IsDeleted=False, Name="Umbrella", NumberOfEmployees=10)
        self.ghost = add("Account", IsDeleted=True, Name="Ghost", Industry="Energy")
        self.ada = add(
            "Contact",
            IsDeleted=False,
            Name="Ada Lovelace",
            FirstName="Ada",
            LastName="Lovelace",
            Email="ada@acme.com",
            AccountId=self.acme,
            Birthdate="1815-12-10",
            Interests__c="Math;Poetry",
            DoNotCall=False,
            CreatedDate="2024-05-15T08:00:00.000+0000",
        )
        self.charles = add(
            "Contact",
            IsDeleted=False,
            Name="Charles Babbage",
            FirstName="Charles",
            LastName="Babbage",
            Email="charles@acme.com",
            AccountId=self.acme,
            ReportsToId=self.ada,
            Birthdate="1791-12-26",
            Interests__c="Math;Engines",
            DoNotCall=True,
            CreatedDate="2024-05-14T23:59:59.000+0000",
        )
        self.grace = add(
            "Contact",
            IsDeleted=False,
            Name="Grace Hopper",
            FirstName="Grace",
            LastName="Hopper",
            Email="grace@globex.com",
            AccountId=self.globex,
            ReportsToId=self.charles,
            Birthdate="1906-12-09",
            Interests__c="Navy",
            DoNotCall=False,
            CreatedDate="2024-04-02T10:00:00.000+0000",
        )
        self.alan = add(
            "Contact",
            IsDeleted=False,
            Name="Alan Turing",
            FirstName="Alan",
            LastName="turing",
            Email="50%_off@example.com",
            DoNotCall=False,
            CreatedDate="2023-12-31T23:00:00.000+0000",
        )
        self.obrien = add(
            "Contact",
            IsDeleted=False,
            Name="Pat O'Brien",
            LastName="O'Brien",
            AccountId=self.globex,
            DoNotCall=False,
            CreatedDate="2024-06-01T00:00:00.000+0000",
        )
        self.gone = add(
            "Contact",
            IsDeleted=True,
            Name="Gone Contact",
            LastName="Gone",
            AccountId=self.acme,
            DoNotCall=False,
        )
        self.lead = add("Lead", Name="Larry Lead", Company="LeadCo")
        self.call = add("Task", Subject="Call", WhoId=self.ada)
        self.mail = add("Task", Subject="Email", WhoId=self.lead)
        self.note = add("Task", Subject="Note")
        self.group = add("Group", Name="Queue")
        self.order = add("Order", Name="Order 1")

    def query(self, soql: str, **kwargs: Any) -> QueryOutput:
        kwargs.setdefault("now", NOW)
        return run_query(soql, self.source, api_version=API, **kwargs)

    def rows(self, soql: str, **kwargs: Any) -> list[dict[str, Any]]:
        return self.query(soql, **kwargs).records

    def column(self, soql: str, name: str = "Name", **kwargs: Any) -> list[Any]:
        return [row[name] for row in self.rows(soql, **kwargs)]

    def names(self, where: str, sobject: str = "Contact") -> set[str]:
        """The Names of the rows ``WHERE <where>`` matches (order-free)."""
        return set(self.column(f"SELECT Name FROM {sobject} WHERE {where}"))

    def error(self, soql: str, **kwargs: Any) -> ApiError:
        with pytest.raises(ApiError) as info:
            self.query(soql, **kwargs)
        assert info.value.status == 400
        return info.value


@pytest.fixture(scope="module", params=["memory", "store"])
def org(request: pytest.FixtureRequest) -> Org:
    return Org(request.param)


def url(sobject: str, record_id: str) -> str:
    return f"/services/data/v{API}/sobjects/{sobject}/{record_id}"

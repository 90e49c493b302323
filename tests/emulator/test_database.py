"""The store's SQLite side: selective reads use indexes, and what the SOQL engine pushes down
(equality, IN, LIKE, ORDER BY) never changes an answer, however odd the values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from sobjects.emulator import LocalOrg
from sobjects.emulator._store import Store
from sobjects.emulator.soql import run_query
from tests.emulator.test_store import no_full_scan

API = "62.0"


class PythonOnly:
    """The same store without ``select``: the engine reads every record and decides alone,
    as it did before anything was pushed down."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.schema = store.schema

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[dict[str, Any]]:
        return self.store.records(sobject, include_deleted=include_deleted)

    def get(self, record_id: str) -> dict[str, Any] | None:
        return self.store.get(record_id)

    def sobject_of(self, record_id: str) -> str | None:
        return self.store.sobject_of(record_id)


def both(org: LocalOrg, soql: str) -> list[dict[str, Any]]:
    """The rows the pushed-down run answers, after checking the Python-only run agrees."""
    pushed = run_query(soql, org.store, api_version=API).records
    alone = run_query(soql, PythonOnly(org.store), api_version=API).records
    assert pushed == alone, soql
    return pushed


@pytest.fixture(scope="module")
def families() -> tuple[LocalOrg, list[str], list[str]]:
    org = LocalOrg()
    org.define_field(
        "Account", {"name": "Code__c", "type": "string", "length": 40, "externalId": True}
    )
    account, contact = org.schema.require("Account"), org.schema.require("Contact")
    accounts, contacts = [], []
    with org.store.transaction():
        for n in range(1_500):
            accounts.append(org.store.insert(account, {"Name": f"A{n}", "Code__c": f"C-{n}"}))
            contacts.append(
                org.store.insert(contact, {"LastName": f"L{n}", "AccountId": accounts[-1]})
            )
    return org, accounts, contacts


def test_selective_queries_read_through_indexes(
    families: tuple[LocalOrg, list[str], list[str]],
) -> None:
    org, accounts, contacts = families
    queries = {
        f"SELECT Id FROM Account WHERE Id = '{accounts[7]}'": [accounts[7]],
        f"SELECT Id FROM Account WHERE Id IN ('{accounts[1]}', '{accounts[2][:15]}')": [
            accounts[1],
            accounts[2],
        ],
        "SELECT Id FROM Account WHERE Code__c = 'c-9'": [accounts[9]],  # case-insensitive
        "SELECT Id FROM Account WHERE Code__c IN ('C-3', 'C-4') AND Name != null": accounts[3:5],
        f"SELECT Id FROM Contact WHERE AccountId = '{accounts[5]}'": [contacts[5]],
    }
    for soql in queries:  # the first run may make an index: the one scan allowed
        run_query(soql, org.store, api_version=API)
    with no_full_scan(org.store, "r_account"), no_full_scan(org.store, "r_contact"):
        for soql, expected in queries.items():
            assert [r["Id"] for r in run_query(soql, org.store, api_version=API).records] == (
                expected
            ), soql
        child = run_query(
            f"SELECT Id, (SELECT Id FROM Contacts) FROM Account WHERE Id = '{accounts[3]}'",
            org.store,
            api_version=API,
        ).records
    assert [c["Id"] for c in child[0]["Contacts"]["records"]] == [contacts[3]]


def test_a_delete_finds_the_children_by_index(
    families: tuple[LocalOrg, list[str], list[str]],
) -> None:
    org, accounts, _ = families
    org.define(LINE)
    line = org.schema.require("Line__c")
    lines = [
        org.store.insert(line, {"Name": f"L{n}", "Account__c": accounts[n]}) for n in range(50)
    ]
    org.store.find(line, line.require_field("Account__c"), accounts[0])  # warm up
    account = org.schema.require("Account")
    with no_full_scan(org.store, "r_line__c"):
        org.store.delete(account, accounts[7])
    assert org.store.get(lines[7])["Account__c"] is None  # type: ignore[index]
    assert org.store.get(lines[8])["Account__c"] == accounts[8]  # type: ignore[index]


LINE = {
    "name": "Line__c",
    "fields": [
        {"name": "Name", "type": "string"},
        {
            "name": "Account__c",
            "type": "reference",
            "referenceTo": ["Account"],
            "relationshipName": "Account__r",
            "childRelationshipName": "Lines__r",
            "nillable": True,
        },
    ],
}


ODD_NAMES = [
    "apple",
    "Apple",
    "APPLE pie",
    "\u212aelvin",  # KELVIN SIGN: folds to "k", so LIKE 'k%' matches it in SOQL
    "kelvin",
    "Stra\u00dfe",
    "STRASSE",
    "\u0130stanbul",  # a capital I with a dot: lower() is two characters
    "istanbul",
    "\u00e9cole",
    "\u00c9COLE",
    "50% off",
    "50_ off",
    "z",
    "",
    None,
    None,
]


@pytest.fixture(scope="module")
def odd() -> LocalOrg:
    org = LocalOrg()
    account = org.schema.require("Account")
    for n, name in enumerate(ODD_NAMES * 3):
        fields: dict[str, Any] = {"Name": name or f"Unnamed {n}", "NumberOfEmployees": n % 7}
        fields["Site"] = name
        if n % 5 == 0:
            fields["NumberOfEmployees"] = None
        org.store.insert(account, fields)
    return org


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Site FROM Account WHERE Site LIKE 'k%' ORDER BY Site LIMIT 4",
        "SELECT Site FROM Account WHERE Site LIKE '%e%' ORDER BY Site DESC LIMIT 5 OFFSET 2",
        "SELECT Site FROM Account WHERE Site LIKE 'stra%' ORDER BY Site NULLS LAST",
        "SELECT Site FROM Account WHERE Site LIKE '50\\%%' ORDER BY Site LIMIT 3",
        "SELECT Site FROM Account WHERE Site LIKE '50\\_%' ORDER BY Site",
        "SELECT Site FROM Account WHERE Site LIKE '_cole' ORDER BY Site, Id LIMIT 10",
        "SELECT Site FROM Account WHERE Site LIKE '\u00e9%' ORDER BY Site LIMIT 10",
        "SELECT Site FROM Account WHERE Site LIKE 'i%' ORDER BY Site DESC NULLS FIRST LIMIT 10",
        "SELECT Site FROM Account ORDER BY Site NULLS FIRST LIMIT 12",
        "SELECT Site FROM Account ORDER BY Site DESC NULLS LAST LIMIT 12",
        "SELECT Site FROM Account WHERE Site = 'apple' ORDER BY Site LIMIT 2",
        "SELECT Site FROM Account WHERE Site IN ('strasse', '\u00c9cole') ORDER BY Site",
        "SELECT Site, NumberOfEmployees FROM Account ORDER BY NumberOfEmployees, Site LIMIT 9",
        "SELECT Site FROM Account ORDER BY NumberOfEmployees DESC NULLS FIRST, Id LIMIT 9",
        "SELECT Site FROM Account WHERE Site LIKE 'a%' ORDER BY Owner.Name, Site LIMIT 3",
        "SELECT Site FROM Account WHERE NOT Site LIKE 'a%' ORDER BY Site LIMIT 5",
        "SELECT COUNT() FROM Account WHERE Site LIKE '%a%'",
    ],
)
def test_pushed_down_reads_answer_as_python_alone(odd: LocalOrg, soql: str) -> None:
    assert both(odd, soql) or "COUNT()" in soql


def test_an_order_is_left_to_python_when_a_column_holds_other_kinds() -> None:
    """A text column that once held a number (a field whose type changed, say): SQLite and
    Python order mixed values differently, so the order stays Python's."""
    org = LocalOrg()
    account = org.schema.require("Account")
    for name in ["b", "A", "c"]:
        org.store.insert(account, {"Name": name, "Site": name})
    odd_one = {**org.store.records("Account")[0], "Id": "001000000000099AAA", "Site": 5}
    org.store._data.put(odd_one, new=True)  # written as it is, past the write rules
    assert both(org, "SELECT Name FROM Account ORDER BY Site LIMIT 3")

"""The store's SQLite side: selective reads use indexes, and what the SOQL engine pushes down
(equality, IN, LIKE, ranges, conditions through a lookup, ORDER BY, COUNT()) never changes an
answer, however odd the values."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sobjects._ids import to_18
from sobjects.emulator import LocalOrg
from sobjects.emulator._store import Store
from sobjects.emulator._values import parse_datetime
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


def both(
    org: LocalOrg, soql: str, *, now: datetime | None = None, include_deleted: bool = False
) -> list[dict[str, Any]]:
    """The rows the pushed-down run answers, after checking the Python-only run agrees
    (for ``COUNT()``, the count)."""
    options: dict[str, Any] = {"api_version": API, "now": now, "include_deleted": include_deleted}
    pushed = run_query(soql, org.store, **options)
    alone = run_query(soql, PythonOnly(org.store), **options)
    assert (pushed.total_size, pushed.records) == (alone.total_size, alone.records), soql
    return pushed.records


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


# --- ranges, COUNT() and conditions through a lookup -----------------------------------------

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)  # a Wednesday
SYSTEM = ("IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")


def define_thing(org: LocalOrg) -> None:
    """``Thing__c``: a number, an integer, a date and a datetime (each nillable), a lookup to
    Account, and Account's own system fields (``CreatedDate`` set from the store's clock)."""
    account = org.schema.require("Account")
    org.define(
        {
            "name": "Thing__c",
            "fields": [
                *(dict(account.require_field(name).describe) for name in SYSTEM),
                {"name": "Name", "type": "string", "length": 80},
                {"name": "Size__c", "type": "double", "precision": 18, "scale": 2},
                {"name": "Count__c", "type": "int"},
                {"name": "Due__c", "type": "date"},
                {"name": "Seen__c", "type": "datetime"},
                {
                    "name": "Account__c",
                    "type": "reference",
                    "referenceTo": ["Account"],
                    "relationshipName": "Account__r",
                    "childRelationshipName": "Things__r",
                },
            ],
        }
    )


def hour(n: int) -> datetime:
    return datetime(2024, 5, 1, tzinfo=UTC) + n * (NOW - NOW.replace(hour=11))


OFFSETS = ["Z", "+02:00", "-0530", "+0000"]


@pytest.fixture(scope="module")
def things() -> tuple[LocalOrg, list[str], list[str]]:
    return make_things()


def make_things() -> tuple[LocalOrg, list[str], list[str]]:
    """2,000 Things, one an hour from 2024-05-01 (CreatedDate), each field null now and
    then, datetimes written with several offsets; each of the first 500 on an Account."""
    org = LocalOrg()
    define_thing(org)
    org.define_field(
        "Account", {"name": "Code__c", "type": "string", "length": 40, "externalId": True}
    )
    account, thing = org.schema.require("Account"), org.schema.require("Thing__c")
    accounts, ids = [], []
    with org.store.transaction():
        for n in range(500):
            org.store.clock = lambda n=n: hour(n)  # type: ignore[misc]
            fields = {"Name": f"A{n}", "Code__c": f"C-{n}", "NumberOfEmployees": n}
            accounts.append(org.store.insert(account, fields))
        for n in range(2_000):
            moment = hour(n)
            org.store.clock = lambda moment=moment: moment  # type: ignore[misc]
            local = moment.strftime("%Y-%m-%dT%H:%M:%S") + OFFSETS[n % 4]
            fields = {
                "Name": f"T{n}",
                "Size__c": None if n % 97 == 0 else n / 4,
                "Count__c": None if n % 89 == 0 else n % 400,
                "Due__c": None if n % 83 == 0 else (moment.date()).isoformat(),
                "Seen__c": None if n % 79 == 0 else local,
                "Account__c": accounts[n] if n < 500 else None,
            }
            ids.append(org.store.insert(thing, fields))
    return org, accounts, ids


SELECTIVE = [
    "SELECT Name FROM Thing__c WHERE Size__c > 490",
    "SELECT Name FROM Thing__c WHERE Size__c >= 10 AND Size__c < 12.25",
    "SELECT Name FROM Thing__c WHERE Size__c = 24.5",
    "SELECT Name FROM Thing__c WHERE Count__c <= 3 ORDER BY Name LIMIT 7",
    "SELECT Name FROM Thing__c WHERE Count__c = 7 AND Name LIKE 'T1%'",
    "SELECT Name FROM Thing__c WHERE Due__c = 2024-05-10",
    "SELECT Name FROM Thing__c WHERE Due__c > 2024-07-20 ORDER BY Due__c DESC, Name",
    "SELECT Name FROM Thing__c WHERE Due__c = TODAY",
    "SELECT Name FROM Thing__c WHERE Due__c = LAST_N_DAYS:3",
    "SELECT Name FROM Thing__c WHERE Seen__c >= 2024-05-02T00:00:00Z AND Seen__c < 2024-05-03",
    "SELECT Name FROM Thing__c WHERE Seen__c > 2024-07-22T05:00:00.000+0000",
    "SELECT Name FROM Thing__c WHERE Seen__c = 2024-05-01T02:00:00-02:00",
    "SELECT Name FROM Thing__c WHERE CreatedDate = YESTERDAY",
    "SELECT Name FROM Thing__c WHERE CreatedDate = THIS_WEEK AND Size__c != null LIMIT 30",
    "SELECT Name FROM Thing__c WHERE CreatedDate < 2024-05-03T00:00:00Z",
    "SELECT COUNT() FROM Thing__c WHERE CreatedDate = LAST_N_DAYS:2",
    "SELECT COUNT() FROM Thing__c WHERE Count__c > 390 AND Count__c <= 399",
    "SELECT Name FROM Thing__c WHERE Account__r.Name = 'A7'",
    "SELECT Name FROM Thing__c WHERE Account__r.Code__c IN ('c-3', 'C-4')",
    "SELECT Name FROM Thing__c WHERE Account__r.NumberOfEmployees < 5 ORDER BY Name",
    "SELECT Name FROM Thing__c WHERE Account__r.CreatedDate = TODAY AND Count__c < 340",
]


def test_selective_ranges_read_through_indexes(
    things: tuple[LocalOrg, list[str], list[str]],
) -> None:
    """Ranges on numbers, dates, datetimes and date literals, counts and conditions through
    a lookup read only what an index finds, and answer as Python alone does."""
    org, _, _ = things
    expected = {soql: both(org, soql, now=NOW) for soql in SELECTIVE}  # also makes the indexes
    pushed: dict[str, list[dict[str, Any]]] = {}
    with no_full_scan(org.store, "r_thing__c"):
        for soql in SELECTIVE:
            pushed[soql] = run_query(soql, org.store, api_version=API, now=NOW).records
    assert pushed == expected
    sizes = {soql: len(rows) for soql, rows in expected.items() if "COUNT()" not in soql}
    assert all(sizes.values()), [soql for soql, size in sizes.items() if not size]


def test_an_index_reads_a_range_only_when_it_keeps_few_rows(
    things: tuple[LocalOrg, list[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading most of a table through an index is slower than walking it: a range keeping
    more than an eighth of the rows is a SQL filter on the walk instead."""
    org, _, _ = things
    data = org.store._data
    found: list[int] = []
    real = data.found_by
    monkeypatch.setattr(data, "found_by", lambda *args: found.append(1) or real(*args))
    assert len(both(org, "SELECT Name FROM Thing__c WHERE Size__c > 50")) > 1_700
    assert not found
    assert len(both(org, "SELECT Name FROM Thing__c WHERE Size__c > 450 LIMIT 250")) == 197
    assert found


def test_a_count_is_counted_by_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """``COUNT()`` whose whole ``WHERE`` SQL applies exactly reads no row; the recycle bin
    is left out (and counted by queryAll), and LIMIT / OFFSET still apply."""
    org, _, ids = make_things()
    thing = org.schema.require("Thing__c")
    org.store.delete(thing, ids[5])
    org.store.delete(thing, ids[100])
    queries = [
        "SELECT COUNT() FROM Thing__c",
        "SELECT COUNT() FROM Thing__c WHERE Count__c < 10",
        "SELECT COUNT() FROM Thing__c WHERE Due__c >= 2024-05-02 AND Seen__c < 2024-05-05",
        "SELECT COUNT() FROM Thing__c WHERE Name IN ('T5', 't6', 'T7') AND Size__c > 1.5",
        f"SELECT COUNT() FROM Thing__c WHERE Id = '{ids[7]}' AND CreatedDate = THIS_MONTH",
        "SELECT COUNT() FROM Thing__c WHERE CreatedDate = THIS_MONTH LIMIT 5",
        "SELECT COUNT() FROM Thing__c WHERE CreatedDate = NEXT_MONTH OFFSET 10",
    ]
    expected = {soql: count(org, soql) for soql in queries}
    all_rows = count(org, "SELECT COUNT() FROM Thing__c", include_deleted=True)
    decoded: list[Any] = []
    monkeypatch.setattr(org.store._data, "decode", lambda *row: decoded.append(row))
    answers = {
        soql: run_query(soql, org.store, api_version=API, now=NOW).total_size for soql in queries
    }
    answers["queryAll"] = run_query(
        "SELECT COUNT() FROM Thing__c", org.store, api_version=API, include_deleted=True
    ).total_size
    assert not decoded  # not one row read to count them
    assert answers == {**expected, "queryAll": all_rows}
    assert list(expected.values()) == [1_998, 46, 70, 1, 1, 5, 710] and all_rows == 2_000


def count(org: LocalOrg, soql: str, *, include_deleted: bool = False) -> int:
    """The count the pushed-down run answers, after checking the Python-only run agrees."""
    options: dict[str, Any] = {"api_version": API, "now": NOW, "include_deleted": include_deleted}
    pushed = run_query(soql, org.store, **options).total_size
    assert pushed == run_query(soql, PythonOnly(org.store), **options).total_size, soql
    return pushed


def put_past_the_rules(org: LocalOrg, n: int, **fields: Any) -> str:
    """A Thing written as it is, past the write rules (what a field whose type changed, or
    an older version, may have left in a column)."""
    record_id = to_18(f"a00ZZ{n:010d}")
    record = {"attributes": {"type": "Thing__c"}, "Id": record_id, "IsDeleted": False}
    org.store._data.put({**record, "Name": f"odd {n}", **fields}, new=True)
    return record_id


@pytest.fixture(scope="module")
def oddities() -> LocalOrg:
    org = LocalOrg()
    define_thing(org)
    thing = org.schema.require("Thing__c")
    for n in range(40):
        org.store.clock = lambda n=n: hour(n * 3)  # type: ignore[misc]
        org.store.insert(
            thing,
            {
                "Name": f"T{n}",
                "Size__c": [None, 0, -0.0, 0.5, 2.25, 3, 1.5, -3][n % 8],
                "Due__c": None if n % 5 == 0 else f"2024-05-{10 + n % 7:02d}",
                "Seen__c": None if n % 6 == 0 else f"2024-05-10T{n % 24:02d}:00:00{OFFSETS[n % 4]}",
            },
        )
    odd = [
        {"Due__c": "2024-05-12T23:00:00.000+0000", "Seen__c": "2024-05-10T10:00:00Z"},
        {"Due__c": "garbage and more", "Seen__c": "2024-05-10T12:00:00+02:00"},
        {"Due__c": "x", "Seen__c": "2024-05-10"},
        {"Due__c": 20240512, "Seen__c": "2024-05-10T10:00"},
        {"Due__c": True, "Seen__c": "nonsense"},
        {"Due__c": "2024-05-1", "Seen__c": 5},
        {"Seen__c": "0005-01-01T00:00:00.000+0000", "CreatedDate": "2024-05-14T23:59:59Z"},
        {"Seen__c": ["2024-05-10T10:00:00Z"], "CreatedDate": "2024-05-15"},
        {"Count__c": True},  # a boolean in a number column: 1 to Python, never pushed
        {"Count__c": "12"},
        # Numbers beyond the field's precision: an integer past 2**53 beside its float.
        {"Size__c": 2**53 + 1},
        {"Size__c": float(2**53)},
        {"Size__c": 1e300},
        {"Name": 5},  # a number in a text column: '5' to SQL's lower(), not text to SOQL
    ]
    for n, fields in enumerate(odd):
        put_past_the_rules(org, n, **fields)
    return org


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Name FROM Thing__c WHERE Seen__c = 2024-05-10T10:00:00Z",
        "SELECT Name FROM Thing__c WHERE Seen__c = 2024-05-10T12:00:00.000+0200",
        "SELECT Name FROM Thing__c WHERE Seen__c >= 2024-05-10 AND Seen__c < 2024-05-10T11:00:00Z",
        "SELECT Name FROM Thing__c WHERE Seen__c <= 2024-05-10T00:00:00Z",
        "SELECT Name FROM Thing__c WHERE Seen__c > 2024-05-10T20:00:00-0500",
        "SELECT Name FROM Thing__c WHERE Seen__c < 2024-05-10",
        "SELECT Name FROM Thing__c WHERE Seen__c = 2024-05-10",
        "SELECT Name FROM Thing__c WHERE Seen__c = LAST_N_DAYS:5 ORDER BY Seen__c DESC, Name",
        "SELECT Name FROM Thing__c WHERE Due__c = 2024-05-12",
        "SELECT Name FROM Thing__c WHERE Due__c <= 2024-05-12 ORDER BY Name LIMIT 9",
        "SELECT Name FROM Thing__c WHERE Due__c > 2024-05-12",
        "SELECT Name FROM Thing__c WHERE Due__c >= 2024-05-12 AND Due__c < 2024-05-14",
        "SELECT Name FROM Thing__c WHERE Due__c > 2024-05-12T00:00:00Z",
        "SELECT Name FROM Thing__c WHERE Due__c = THIS_WEEK",
        "SELECT Name FROM Thing__c WHERE Due__c > THIS_WEEK",
        "SELECT Name FROM Thing__c WHERE Due__c = 2024-05-12T00:00:00Z",
        "SELECT Name FROM Thing__c WHERE Due__c <= 2024-05-12T10:00:00+02:00",
        "SELECT Name FROM Thing__c WHERE Due__c < LAST_N_DAYS:3",
        "SELECT Name FROM Thing__c WHERE Due__c >= NEXT_N_DAYS:2",
        "SELECT Name FROM Thing__c WHERE CreatedDate = YESTERDAY",
        "SELECT Name FROM Thing__c WHERE CreatedDate <= YESTERDAY AND CreatedDate > LAST_WEEK",
        "SELECT Name FROM Thing__c WHERE Size__c > 9007199254740992",
        "SELECT Name FROM Thing__c WHERE Size__c = 9007199254740993",
        "SELECT Name FROM Thing__c WHERE Size__c <= 0 AND Size__c >= 0",
        "SELECT Name FROM Thing__c WHERE Size__c > 0.5 AND Size__c < 1e301",
        "SELECT Name FROM Thing__c WHERE Size__c < 99999999999999999999999",
        "SELECT Name FROM Thing__c WHERE Size__c != 0 ORDER BY Size__c LIMIT 4",
        "SELECT Name FROM Thing__c WHERE Count__c > 0",
        "SELECT Name FROM Thing__c WHERE Count__c = 1",
        "SELECT Name FROM Thing__c WHERE NOT Size__c > 0",
        "SELECT Name FROM Thing__c WHERE Size__c > 0 OR Due__c = 2024-05-12",
        "SELECT COUNT() FROM Thing__c WHERE Seen__c = 2024-05-10T10:00:00Z",
        "SELECT COUNT() FROM Thing__c WHERE Due__c < 2024-05-13",
        "SELECT COUNT() FROM Thing__c WHERE Size__c >= 0.5",
        "SELECT COUNT() FROM Thing__c WHERE Count__c > 0",
        "SELECT COUNT() FROM Thing__c WHERE Seen__c > 2024-05-10 AND Name LIKE 'T%'",
        "SELECT COUNT() FROM Thing__c WHERE Name = '5'",
        "SELECT COUNT() FROM Thing__c WHERE Name IN ('t1', 'T2', 'odd 2')",
    ],
)
def test_ranges_answer_as_python_alone(oddities: LocalOrg, soql: str) -> None:
    """Nulls, boundaries, time zones, big integers beside floats, and values no write rule
    lets in (text or numbers in a date column, a datetime with no zone, a boolean in a
    number column): SQL keeps what SOQL keeps, and counts what SOQL counts (a range SQL
    reads wider than SOQL's would go unseen in the rows, not in a count)."""
    assert both(oddities, soql, now=NOW) or "COUNT()" in soql or "9999" in soql
    where = soql.split(" WHERE ")[1].split(" ORDER BY ")[0].split(" LIMIT ")[0]
    count(oddities, f"SELECT COUNT() FROM Thing__c WHERE {where}")


def test_datetime_ranges_hold_however_values_were_written(oddities: LocalOrg) -> None:
    """Dates and datetimes are compared by the engine's own keys, indexed as such: a value
    written in any zone or form is found through the index."""
    soql = "SELECT Name FROM Thing__c WHERE Seen__c = 2024-05-10T10:00:00Z"
    both(oddities, soql)
    with no_full_scan(oddities.store, "r_thing__c"):
        rows = run_query(soql, oddities.store, api_version=API).records
    assert sorted(r["Name"] for r in rows) == ["odd 0", "odd 1", "odd 3"]


def test_a_lookup_is_narrowed_only_where_it_provably_reaches_the_parent_alone() -> None:
    """``Account__r.Name = 'A7'`` reads the Things whose lookup holds one of the matching
    Accounts' ids, while every value of the lookup is such an id; a value SOQL would follow
    elsewhere (a 15-character id, a lower-case checksum, a Contact's id) stops the narrowing,
    and the answer stays SOQL's."""
    org = LocalOrg()
    define_thing(org)
    account, thing = org.schema.require("Account"), org.schema.require("Thing__c")
    accounts = [org.store.insert(account, {"Name": f"A{n}"}) for n in range(300)]
    for n in range(600):
        org.store.insert(thing, {"Name": f"T{n}", "Account__c": accounts[n % 300]})
    soql = "SELECT Name FROM Thing__c WHERE Account__r.Name = 'a7' AND Name != null"
    assert [r["Name"] for r in both(org, soql)] == ["T7", "T307"]
    with no_full_scan(org.store, "r_thing__c"):
        run_query(soql, org.store, api_version=API)
    contact = org.schema.require("Contact")
    a7 = accounts[7]
    odd = [a7[:15], a7[:15] + a7[15:].lower(), org.store.insert(contact, {"LastName": "A7"})]
    for n, value in enumerate(odd):
        put_past_the_rules(org, n, Account__c=value)
        found = [r["Name"] for r in both(org, soql)]
        assert found == ["T7", "T307", *(f"odd {m}" for m in range(n + 1))]


# --- pushed-down answers against Python's, on random data --------------------------------------

DAY = st.dates(date(2024, 5, 8), date(2024, 5, 22))
NUMBERS = st.one_of(
    st.integers(-3, 3), st.sampled_from([0.5, -0.0, 2.25, 9007199254740993, 9007199254740992.0])
)
MOMENTS = st.builds(
    lambda day, hour, minute, zone: f"{day}T{hour:02d}:{minute:02d}:00{zone}",
    DAY,
    st.integers(0, 23),
    st.sampled_from([0, 30]),
    st.sampled_from(["Z", "+02:00", "-0530", "+0000", ".500Z"]),
)
ODD = st.sampled_from(
    ["garbage", "2024-05-12", "2024-05-12T01:00", "2024-05-12T10:00:00.000+0000", 7, True, 2.5]
)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "Size__c": st.none() | NUMBERS,
            "Due__c": st.none() | DAY.map(date.isoformat),
            "Seen__c": st.none() | MOMENTS,
            "created": MOMENTS,
            # Now and then one column holds what no write rule lets in.
            "odd": st.none() | st.tuples(st.sampled_from(["Due__c", "Seen__c", "Size__c"]), ODD),
        }
    ),
    max_size=25,
)
CONSTANTS = st.sampled_from(
    ["TODAY", "YESTERDAY", "TOMORROW", "THIS_WEEK", "LAST_WEEK", "LAST_N_DAYS:3", "NEXT_N_DAYS:2"]
)
OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


def number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


CONDITIONS = st.one_of(
    st.builds(lambda op, v: f"Size__c {op} {number_text(v)}", OPS, NUMBERS),
    st.builds(lambda op, v: f"Due__c {op} {v}", OPS, DAY | CONSTANTS | MOMENTS),
    st.builds(lambda op, v: f"Seen__c {op} {v}", OPS, MOMENTS | DAY | CONSTANTS),
    st.builds(lambda op, v: f"CreatedDate {op} {v}", OPS, MOMENTS | CONSTANTS),
    st.sampled_from(["Size__c = null", "Due__c != null", "Name LIKE 'R1%'"]),
)
TAILS = st.sampled_from(["", " ORDER BY Name", " ORDER BY Size__c DESC, Name LIMIT 3", " LIMIT 2"])


@settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the working tree
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rows=ROWS, conditions=st.lists(CONDITIONS, min_size=1, max_size=3), tail=TAILS)
def test_pushed_down_ranges_and_counts_agree_with_python(
    rows: list[dict[str, Any]], conditions: list[str], tail: str
) -> None:
    org = LocalOrg()
    define_thing(org)
    thing = org.schema.require("Thing__c")
    for n, row in enumerate(rows):
        org.store.clock = lambda row=row: parse_datetime(row["created"])  # type: ignore[misc]
        fields = {k: v for k, v in row.items() if k.endswith("__c")}
        record_id = org.store.insert(thing, {"Name": f"R{n}", **fields})
        if row["odd"] is not None:
            record = {**org.store.get(record_id), row["odd"][0]: row["odd"][1]}  # type: ignore[dict-item]
            org.store._data.put(record, new=False)
    where = " AND ".join(conditions)
    both(org, f"SELECT Name FROM Thing__c WHERE {where}{tail}", now=NOW)
    count(org, f"SELECT COUNT() FROM Thing__c WHERE {where}")


class Kind(enum.StrEnum):
    ACME = "Acme"


def test_text_stored_as_json_by_an_earlier_version_is_still_found() -> None:
    """A str subclass (a StrEnum a caller passed) is stored as text; one an earlier version
    stored as JSON in a BLOB is still found by ``=`` and ``LIKE``, as Python finds it."""
    org = LocalOrg()
    account = org.schema.require("Account")
    org.store.insert(account, {"Name": "new", "Site": Kind.ACME})
    older = org.store.insert(account, {"Name": "old"})
    db = org.store._data.db
    assert [row[0] for row in db.execute('SELECT typeof("Site") FROM r_account')] == [
        "text",
        "null",
    ]
    org.store._data.put({**org.store.records("Account")[-1], "Site": ["a list"]}, new=False)
    db.execute('UPDATE r_account SET "Site" = ? WHERE "Id" = ?', (b'"Acme"', older))
    org.store._data.cache.clear()
    for soql in [
        "SELECT Name FROM Account WHERE Site LIKE 'acm%'",
        "SELECT Name FROM Account WHERE Site = 'ACME'",
    ]:
        assert [r["Name"] for r in both(org, soql)] == ["new", "old"]
    assert count(org, "SELECT COUNT() FROM Account WHERE Site IN ('acme', 'x')") == 2

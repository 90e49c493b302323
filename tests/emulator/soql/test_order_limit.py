"""ORDER BY, LIMIT and OFFSET."""

from __future__ import annotations

from .conftest import Org


def test_order_by_text_is_case_insensitive(org: Org) -> None:
    assert org.column("SELECT Name FROM Account ORDER BY Name") == [
        "Acme",
        "Globex",
        "initech",
        "Umbrella",
    ]
    assert org.column("SELECT Name FROM Account ORDER BY Name DESC") == [
        "Umbrella",
        "initech",
        "Globex",
        "Acme",
    ]


def test_nulls_first_ascending_and_last_descending_by_default(org: Org) -> None:
    assert org.column("SELECT Name FROM Account ORDER BY NumberOfEmployees") == [
        "initech",
        "Umbrella",
        "Globex",
        "Acme",
    ]
    assert org.column("SELECT Name FROM Account ORDER BY NumberOfEmployees DESC") == [
        "Acme",
        "Globex",
        "Umbrella",
        "initech",
    ]


def test_explicit_nulls_placement(org: Org) -> None:
    assert org.column("SELECT Name FROM Account ORDER BY NumberOfEmployees ASC NULLS LAST") == [
        "Umbrella",
        "Globex",
        "Acme",
        "initech",
    ]
    assert org.column("SELECT Name FROM Account ORDER BY NumberOfEmployees DESC NULLS FIRST") == [
        "initech",
        "Acme",
        "Globex",
        "Umbrella",
    ]


def test_multiple_keys(org: Org) -> None:
    assert org.column("SELECT Name FROM Account ORDER BY Industry DESC, Name ASC") == [
        "Acme",
        "initech",
        "Globex",
        "Umbrella",
    ]
    assert org.column("SELECT Name FROM Account ORDER BY Industry ASC NULLS LAST, Name DESC") == [
        "Globex",
        "initech",
        "Acme",
        "Umbrella",
    ]


def test_order_by_parent_path_and_dates(org: Org) -> None:
    assert org.column("SELECT Name FROM Contact ORDER BY Account.Name, LastName") == [
        "Alan Turing",
        "Charles Babbage",
        "Ada Lovelace",
        "Grace Hopper",
        "Pat O'Brien",
    ]
    assert org.column("SELECT Name FROM Contact ORDER BY CreatedDate DESC LIMIT 2") == [
        "Pat O'Brien",
        "Ada Lovelace",
    ]
    assert org.column("SELECT Name FROM Contact WHERE Birthdate != null ORDER BY Birthdate") == [
        "Charles Babbage",
        "Ada Lovelace",
        "Grace Hopper",
    ]


def test_order_by_boolean_and_field_not_selected(org: Org) -> None:
    names = org.column("SELECT Name FROM Contact ORDER BY DoNotCall DESC, Name")
    assert names[0] == "Charles Babbage"


def test_limit_and_offset(org: Org) -> None:
    soql = "SELECT Name FROM Account ORDER BY Name"
    assert org.column(soql + " LIMIT 2") == ["Acme", "Globex"]
    assert org.column(soql + " LIMIT 2 OFFSET 1") == ["Globex", "initech"]
    assert org.column(soql + " OFFSET 3") == ["Umbrella"]
    assert org.column(soql + " OFFSET 2000") == []
    assert org.column(soql + " LIMIT 0") == []
    output = org.query(soql + " LIMIT 3")
    assert output.total_size == 3 and len(output.records) == 3

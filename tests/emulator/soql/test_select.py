"""SELECT lists: fields, parent paths, polymorphic lookups, child subqueries, FIELDS, TYPEOF."""

from __future__ import annotations

from .conftest import Org, url


def test_fields_come_back_canonical_in_select_order_after_attributes(org: Org) -> None:
    rows = org.rows(f"select lastname, EMAIL, id from contact where id = '{org.ada}'")
    assert rows == [
        {
            "attributes": {"type": "Contact", "url": url("Contact", org.ada)},
            "LastName": "Lovelace",
            "Email": "ada@acme.com",
            "Id": org.ada,
        }
    ]
    assert list(rows[0]) == ["attributes", "LastName", "Email", "Id"]


def test_id_is_only_returned_when_selected(org: Org) -> None:
    row = org.rows("SELECT Name FROM Account WHERE Name = 'Acme'")[0]
    assert "Id" not in row
    assert row["attributes"]["url"] == url("Account", org.acme)


def test_missing_values_are_null(org: Org) -> None:
    row = org.rows(f"SELECT FirstName, Birthdate FROM Contact WHERE Id = '{org.obrien}'")[0]
    assert row["FirstName"] is None and row["Birthdate"] is None


def test_parent_paths_nest_with_their_own_attributes(org: Org) -> None:
    row = org.rows(
        "SELECT Account.Name, LastName, Account.Owner.Name, Account.Industry "
        f"FROM Contact WHERE Id = '{org.ada}'"
    )[0]
    assert list(row) == ["attributes", "Account", "LastName"]
    assert row["Account"] == {
        "attributes": {"type": "Account", "url": url("Account", org.acme)},
        "Name": "Acme",
        "Owner": {
            "attributes": {"type": "User", "url": url("User", org.ada_user)},
            "Name": "Ada Admin",
        },
        "Industry": "Technology",
    }


def test_an_empty_lookup_is_null_at_any_depth(org: Org) -> None:
    rows = org.rows(
        "SELECT LastName, Account.Name, Account.Owner.Name FROM Contact "
        f"WHERE Id IN ('{org.alan}', '{org.obrien}') ORDER BY LastName"
    )
    assert rows[0]["LastName"] == "O'Brien"
    assert rows[0]["Account"]["Owner"]["Name"] == "Bob Boss"
    assert rows[1]["LastName"] == "turing"
    assert rows[1]["Account"] is None


def test_deep_parent_path_through_a_self_lookup(org: Org) -> None:
    row = org.rows(f"SELECT ReportsTo.Account.Name FROM Contact WHERE Id = '{org.grace}'")[0]
    assert row["ReportsTo"]["attributes"] == {"type": "Contact", "url": url("Contact", org.charles)}
    assert row["ReportsTo"]["Account"]["Name"] == "Acme"
    parent = org.rows("SELECT Parent.Name, Parent.Parent.Name FROM Account WHERE Name = 'Globex'")
    assert parent[0]["Parent"]["Name"] == "Acme"
    assert parent[0]["Parent"]["Parent"] is None


def test_polymorphic_lookup_reads_the_actual_record_type(org: Org) -> None:
    rows = org.rows("SELECT Subject, Who.Name, Who.Company, Who.Type FROM Task ORDER BY Subject")
    call, mail, note = rows
    assert call["Who"] == {
        "attributes": {"type": "Name", "url": url("Contact", org.ada)},
        "Name": "Ada Lovelace",
        "Company": None,  # not a Contact field: null
        "Type": "Contact",
    }
    assert mail["Who"]["attributes"]["url"] == url("Lead", org.lead)
    assert mail["Who"]["Company"] == "LeadCo"
    assert mail["Who"]["Type"] == "Lead"
    assert note["Who"] is None


def test_polymorphic_fields_filter_and_sort(org: Org) -> None:
    assert org.column("SELECT Subject FROM Task WHERE Who.Type = 'Lead'", "Subject") == ["Email"]
    assert org.column("SELECT Subject FROM Task WHERE Who.Name LIKE 'ada%'", "Subject") == ["Call"]
    assert org.column("SELECT Subject FROM Task ORDER BY Who.Name DESC", "Subject") == [
        "Email",
        "Call",
        "Note",
    ]


def test_child_subquery_uses_the_child_relationship_name(org: Org) -> None:
    rows = org.rows(
        "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account ORDER BY Name"
    )
    by_name = {row["Name"]: row for row in rows}
    assert by_name["Acme"]["Contacts"] == {
        "totalSize": 2,
        "done": True,
        "records": [
            {
                "attributes": {"type": "Contact", "url": url("Contact", org.charles)},
                "LastName": "Babbage",
            },
            {
                "attributes": {"type": "Contact", "url": url("Contact", org.ada)},
                "LastName": "Lovelace",
            },
        ],
    }
    assert by_name["Umbrella"]["Contacts"] is None  # no children: null, not an empty list
    assert list(by_name["Acme"]) == ["attributes", "Name", "Contacts"]


def test_child_subquery_where_order_limit_apply_per_parent(org: Org) -> None:
    rows = org.rows(
        "SELECT Name, (SELECT LastName, Account.Name FROM contacts WHERE LastName != 'Hopper' "
        "ORDER BY LastName DESC LIMIT 1) FROM Account WHERE Name IN ('Acme', 'Globex') "
        "ORDER BY Name"
    )
    acme, globex = rows
    assert [r["LastName"] for r in acme["Contacts"]["records"]] == ["Lovelace"]
    assert acme["Contacts"]["totalSize"] == 1
    assert acme["Contacts"]["records"][0]["Account"]["Name"] == "Acme"
    assert [r["LastName"] for r in globex["Contacts"]["records"]] == ["O'Brien"]


def test_child_subquery_skips_deleted_children_unless_query_all(org: Org) -> None:
    soql = "SELECT (SELECT LastName FROM Contacts) FROM Account WHERE Name = 'Acme'"
    live = org.rows(soql)[0]["Contacts"]["records"]
    every = org.rows(soql, include_deleted=True)[0]["Contacts"]["records"]
    assert {r["LastName"] for r in live} == {"Lovelace", "Babbage"}
    assert {r["LastName"] for r in every} == {"Lovelace", "Babbage", "Gone"}


def test_nested_child_subqueries_and_polymorphic_children(org: Org) -> None:
    rows = org.rows(
        "SELECT Name, (SELECT LastName, (SELECT Subject FROM Tasks) FROM Contacts "
        "ORDER BY LastName) FROM Account WHERE Name = 'Acme'"
    )
    contacts = rows[0]["Contacts"]["records"]
    assert contacts[0]["Tasks"] is None
    assert contacts[1]["Tasks"]["records"][0]["Subject"] == "Call"


def test_from_alias(org: Org) -> None:
    rows = org.rows(
        "SELECT c.LastName, c.Account.Name FROM Contact c WHERE c.LastName = 'Hopper' "
        "ORDER BY c.LastName"
    )
    assert rows[0]["LastName"] == "Hopper" and rows[0]["Account"]["Name"] == "Globex"


def test_object_name_prefix_is_accepted(org: Org) -> None:
    assert org.column("SELECT Account.Name FROM Account WHERE Account.Name = 'Acme'") == ["Acme"]


def test_fields_standard_and_all(org: Org) -> None:
    row = org.rows("SELECT FIELDS(STANDARD) FROM Account WHERE Name = 'Acme'")[0]
    assert "OpensAt__c" not in row
    assert row["Id"] == org.acme and row["NumberOfEmployees"] == 100
    everything = org.rows("SELECT FIELDS(ALL) FROM Account WHERE Name = 'Acme' LIMIT 200")[0]
    assert everything["OpensAt__c"] == "09:00:00.000Z"
    custom = org.rows("SELECT FIELDS(CUSTOM) FROM Account WHERE Name = 'Acme' LIMIT 5")[0]
    assert list(custom) == ["attributes", "OpensAt__c"]


def test_typeof(org: Org) -> None:
    rows = org.rows(
        "SELECT Subject, TYPEOF Who WHEN Contact THEN LastName, Email WHEN Lead THEN Company "
        "END FROM Task ORDER BY Subject"
    )
    assert rows[0]["Who"] == {
        "attributes": {"type": "Contact", "url": url("Contact", org.ada)},
        "LastName": "Lovelace",
        "Email": "ada@acme.com",
    }
    assert rows[1]["Who"] == {
        "attributes": {"type": "Lead", "url": url("Lead", org.lead)},
        "Company": "LeadCo",
    }
    assert rows[2]["Who"] is None
    with_else = org.rows(
        "SELECT TYPEOF Who WHEN Lead THEN Company ELSE Name END FROM Task WHERE Subject = 'Call'"
    )
    assert with_else[0]["Who"]["Name"] == "Ada Lovelace"


def test_tolabel_answers_the_picklist_label(org: Org) -> None:
    rows = org.rows(
        "SELECT toLabel(Industry) FROM Account WHERE Name IN ('Acme', 'Globex') ORDER BY Name"
    )
    assert [r["Industry"] for r in rows] == ["Tech", "Power"]


def test_query_all_includes_deleted_rows(org: Org) -> None:
    assert "Ghost" not in org.column("SELECT Name FROM Account")
    assert "Ghost" in org.column("SELECT Name FROM Account", include_deleted=True)


def test_group_and_order_are_object_names(org: Org) -> None:
    assert org.column("SELECT Name FROM Group") == ["Queue"]
    assert org.column("SELECT Name FROM Order ORDER BY Name") == ["Order 1"]
    assert org.column("select name from group group by name", "Name") == ["Queue"]


def test_a_child_subquery_may_qualify_its_relationship_and_fields(org: Org) -> None:
    """Salesforce's SOQL guide, "Using Relationship Queries", writes a parent-to-child query as
    ``SELECT Account.Name, (SELECT Contact.FirstName, Contact.LastName FROM Account.Contacts)
    FROM Account``: the relationship qualified by its parent, the fields by the child type."""
    plain = org.rows(
        "SELECT Name, (SELECT FirstName, LastName FROM Contacts ORDER BY LastName) "
        "FROM Account ORDER BY Name"
    )
    qualified = org.rows(
        "SELECT Account.Name, (SELECT Contact.FirstName, Contact.LastName FROM Account.Contacts "
        "ORDER BY LastName) FROM Account ORDER BY Name"
    )
    assert qualified == plain
    aliased = org.rows(
        "SELECT a.Name, (SELECT c.FirstName, c.LastName FROM a.Contacts c ORDER BY LastName) "
        "FROM Account a ORDER BY Name"
    )
    assert aliased == plain


def test_a_qualified_relationship_must_name_the_parent(org: Org) -> None:
    error = org.error("SELECT Name, (SELECT LastName FROM Lead.Contacts) FROM Account")
    assert error.code == "INVALID_TYPE"
    assert "Lead.Contacts" in error.errors[0]["message"]
    error = org.error("SELECT Id FROM Account.Contacts")  # not an object outside a subquery
    assert error.code == "INVALID_TYPE"
    assert "sObject type 'Account.Contacts' is not supported" in error.errors[0]["message"]

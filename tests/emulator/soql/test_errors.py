"""Every refusal comes back as a 400 in Salesforce's shape: code, caret message."""

from __future__ import annotations

import pytest

from .conftest import Org

FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)


def message(org: Org, soql: str, code: str) -> str:
    error = org.error(soql)
    assert error.code == code, error.errors
    return str(error.errors[0]["message"])


def test_unknown_field_message_matches_salesforce(org: Org) -> None:
    text = message(org, "SELECT Foo FROM Account", "INVALID_FIELD")
    assert text == (
        "\nSELECT Foo FROM Account\n       ^\nERROR at Row:1:Column:8\n"
        f"No such column 'Foo' on entity 'Account'. {FIELD_HINT}"
    )


@pytest.mark.parametrize(
    ("soql", "column", "name", "entity"),
    [
        ("SELECT Id FROM Account WHERE Foo = 1", 30, "Foo", "Account"),
        ("SELECT Name, Account.Foo FROM Contact", 14, "Foo", "Account"),
        ("SELECT Id FROM Contact ORDER BY Account.Owner.Nope", 33, "Nope", "User"),
        ("SELECT Id FROM Account GROUP BY Bar", 33, "Bar", "Account"),
        ("SELECT Name, (SELECT Nope FROM Contacts) FROM Account", 22, "Nope", "Contact"),
        ("SELECT Id FROM Account WHERE Id IN (SELECT Nope FROM Contact)", 44, "Nope", "Contact"),
        ("SELECT Who.Nope FROM Task", 8, "Nope", "Name"),
        ("SELECT Account FROM Contact", 8, "Account", "Contact"),
    ],
)
def test_unknown_fields_anywhere(org: Org, soql: str, column: int, name: str, entity: str) -> None:
    text = message(org, soql, "INVALID_FIELD")
    assert f"ERROR at Row:1:Column:{column}\n" in text
    assert f"No such column '{name}' on entity '{entity}'." in text
    assert text.startswith(f"\n{soql}\n{' ' * (column - 1)}^\n")


@pytest.mark.parametrize(
    ("soql", "name"),
    [
        ("SELECT Foo.Name FROM Contact", "Foo"),
        ("SELECT AccountId.Name FROM Contact", "AccountId"),
        ("SELECT Id FROM Contact WHERE Account.Nope.Name = 'x'", "Nope"),
        ("SELECT Name.Nope FROM Contact", "Name"),
    ],
)
def test_unknown_relationship(org: Org, soql: str, name: str) -> None:
    text = message(org, soql, "INVALID_FIELD")
    assert f"Didn't understand relationship '{name}' in field path." in text


def test_unknown_object(org: Org) -> None:
    text = message(org, "SELECT Id FROM Foo", "INVALID_TYPE")
    assert "ERROR at Row:1:Column:16" in text
    assert text.endswith(
        "sObject type 'Foo' is not supported. If you are attempting to use a custom object, be "
        "sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names."
    )
    semi = message(org, "SELECT Id FROM Account WHERE Id IN (SELECT x FROM Bar)", "INVALID_TYPE")
    assert "sObject type 'Bar' is not supported." in semi


def test_unknown_child_relationship(org: Org) -> None:
    text = message(org, "SELECT Name, (SELECT Id FROM Contact) FROM Account", "INVALID_TYPE")
    assert "Didn't understand relationship 'Contact' in FROM part of query call." in text


@pytest.mark.parametrize(
    ("soql", "column", "token"),
    [
        ("SELECT Id FROM Account WHERE", 29, "<EOF>"),
        ("SELECT Id, FROM Account", 12, "FROM"),
        ("SELECT Id FROM", 15, "<EOF>"),
        ("SELECT FROM Account", 8, "FROM"),
        ('SELECT Id FROM Account WHERE Name = "Acme"', 37, '"Acme"'),
        ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", 56, "OR"),
        ("SELECT Id FROM Account WHERE Name = 'a' AND NOT Name = 'b'", 45, "NOT"),
        ("SELECT Id FROM Account LIMIT -1", 30, "-1"),
        ("SELECT Id FROM Account WHERE Name = 'a' ORDER BY", 49, "<EOF>"),
        ("SELECT Id FROM Account extra words", 30, "words"),
    ],
)
def test_syntax_errors(org: Org, soql: str, column: int, token: str) -> None:
    text = message(org, soql, "MALFORMED_QUERY")
    assert text == (
        f"\n{soql}\n{' ' * (column - 1)}^\nERROR at Row:1:Column:{column}\n"
        f"unexpected token: '{token}'"
    )


def test_syntax_error_rows_count_lines(org: Org) -> None:
    soql = "SELECT Id\nFROM Account\nWHERE Name = 'a' AND Name = 'b' OR Name = 'c'"
    text = message(org, soql, "MALFORMED_QUERY")
    assert "ERROR at Row:3:Column:33\nunexpected token: 'OR'" in text
    assert text.startswith("\nWHERE Name = 'a' AND Name = 'b' OR Name = 'c'\n" + " " * 32 + "^")


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Contact WHERE LastName = 'bad \\q escape'",
        "SELECT Id FROM Contact WHERE LastName = '50\\%'",  # \% only inside LIKE
        "SELECT Id FROM Contact WHERE LastName IN ('a', '\\_')",
        "SELECT Id FROM Contact WHERE LastName LIKE '\\u12'",
    ],
)
def test_bad_string_escapes(org: Org, soql: str) -> None:
    text = message(org, soql, "MALFORMED_QUERY")
    assert "Invalid string literal" in text and "Illegal character sequence" in text


def test_unterminated_string(org: Org) -> None:
    message(org, "SELECT Id FROM Contact WHERE LastName = 'abc", "MALFORMED_QUERY")


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Account WHERE NumberOfEmployees LIKE '1%'",
        "SELECT Id FROM Contact WHERE DoNotCall LIKE 'true'",
        "SELECT Id FROM Contact WHERE Birthdate LIKE '2024%'",
        "SELECT Id FROM Contact WHERE AccountId LIKE '001%'",
        "SELECT Id FROM Contact WHERE DoNotCall < true",
        "SELECT Id FROM Contact WHERE DoNotCall >= false",
        "SELECT Id FROM Contact WHERE Interests__c > 'a'",
        "SELECT Id FROM Contact WHERE LastName INCLUDES ('a')",
        "SELECT Id FROM Account WHERE NumberOfEmployees EXCLUDES ('1')",
        "SELECT Id FROM Contact WHERE Id = 'not-an-id'",
    ],
)
def test_invalid_filter_operators(org: Org, soql: str) -> None:
    message(org, soql, "INVALID_QUERY_FILTER_OPERATOR")


def test_invalid_id_message(org: Org) -> None:
    text = message(org, "SELECT Id FROM Contact WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR")
    assert text.endswith("invalid ID field: nope")


@pytest.mark.parametrize(
    ("soql", "expected"),
    [
        (
            "SELECT Id FROM Account WHERE NumberOfEmployees = '5'",
            "field 'NumberOfEmployees' must be of type integer and should not be enclosed in "
            "quotes",
        ),
        (
            "SELECT Id FROM Account WHERE AnnualRevenue > '5'",
            "field 'AnnualRevenue' must be of type double and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Account WHERE Name = 5",
            "field 'Name' must be of type string and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Contact WHERE DoNotCall = 'true'",
            "field 'DoNotCall' must be of type boolean and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Contact WHERE Birthdate = '2024-01-01'",
            "field 'Birthdate' must be of type date and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Contact WHERE LastName = TODAY",
            "field 'LastName' must be of type string and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Contact WHERE AccountId = 5",
            "field 'AccountId' must be of type id and should be enclosed in quotes",
        ),
    ],
)
def test_value_of_the_wrong_type(org: Org, soql: str, expected: str) -> None:
    assert f"value of filter criterion for {expected}" in message(org, soql, "INVALID_FIELD")


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Contact WHERE CreatedDate = SOMEDAY",
        "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS",
        "SELECT Id FROM Contact WHERE CreatedDate = TODAY:3",
        "SELECT Id FROM Contact WHERE Birthdate = 2024-02-30",
    ],
)
def test_bad_date_values(org: Org, soql: str) -> None:
    message(org, soql, "MALFORMED_QUERY")


def test_for_update_is_refused(org: Org) -> None:
    text = message(org, "SELECT Id FROM Account FOR UPDATE", "MALFORMED_QUERY")
    assert "ERROR at Row:1:Column:24" in text and "FOR UPDATE" in text


def test_offset_over_2000(org: Org) -> None:
    text = message(org, "SELECT Id FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE")
    assert "Maximum SOQL offset allowed is 2000" in text


@pytest.mark.parametrize(
    ("soql", "expected"),
    [
        ("SELECT COUNT() FROM Account GROUP BY Industry", "COUNT()"),
        ("SELECT COUNT(), Name FROM Account", "COUNT()"),
        ("SELECT Name, COUNT(Id) FROM Account", "Field must be grouped or aggregated: Name"),
        (
            "SELECT Industry, Name FROM Account GROUP BY Industry",
            "Field must be grouped or aggregated: Name",
        ),
        (
            "SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry ORDER BY Name",
            "Ordered field must be grouped or aggregated: Name",
        ),
        (
            "SELECT Industry FROM Account GROUP BY Industry HAVING Name = 'x'",
            "Field must be grouped or aggregated: Name",
        ),
        ("SELECT SUM(Name) FROM Account", "does not support aggregate operator SUM"),
        ("SELECT Name, (SELECT COUNT(Id) FROM Contacts) FROM Account", "subquery"),
        ("SELECT Id FROM Account WHERE COUNT(Id) > 1", "COUNT"),
        ("SELECT Id FROM Account ORDER BY COUNT(Id)", "COUNT"),
        ("SELECT Name FROM Account HAVING COUNT(Id) > 1", "HAVING"),
    ],
)
def test_aggregate_misuse(org: Org, soql: str, expected: str) -> None:
    assert expected in message(org, soql, "MALFORMED_QUERY")


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Contact Like",
        "SELECT Id FROM Contact first WHERE first.Name = 'x'",
        "SELECT Id FROM Contact Nulls",
        "SELECT COUNT(Id) select FROM Contact",
        "SELECT Name n FROM Account",  # aliases are for aggregate queries
        "SELECT Id FROM Account WITH EVERYTHING",
        "SELECT FIELDS(ALL) FROM Account",
        "SELECT FIELDS(ALL) FROM Account LIMIT 201",
        "SELECT FIELDS(SOME) FROM Account LIMIT 1",
        "SELECT NOPE(Name) FROM Account",
        "SELECT CALENDAR_YEAR(CreatedDate) FROM Contact",
        "SELECT Id FROM Contact WHERE CALENDAR_YEAR(LastName) = 1",
        "SELECT Id FROM Account WHERE Id IN (SELECT Id, Name FROM Account)",
        "SELECT TYPEOF Who WHEN Account THEN Name END FROM Task",
    ],
)
def test_other_malformed_queries(org: Org, soql: str) -> None:
    message(org, soql, "MALFORMED_QUERY")


def test_errors_are_raised_again_for_a_cached_query(org: Org) -> None:
    first = org.error("SELECT Id FROM")
    second = org.error("SELECT Id FROM")
    assert first is not second and first.errors == second.errors

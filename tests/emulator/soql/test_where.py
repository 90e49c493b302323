"""WHERE: operators, logic, LIKE, IN, joins, multipicklists, nulls, numbers, dates, ids."""

from __future__ import annotations

import pytest

from sobjects.emulator.soql import run_query

from .conftest import NOW, Org


def test_equality_on_text_is_case_insensitive(org: Org) -> None:
    assert org.names("lastname = 'LOVELACE'") == {"Ada Lovelace"}
    assert org.names("LastName = 'Turing'") == {"Alan Turing"}


def test_not_equal_includes_nulls(org: Org) -> None:
    assert org.names("Industry != 'Technology'", "Account") == {"Globex", "Umbrella"}
    assert org.names("Industry <> 'technology'", "Account") == {"Globex", "Umbrella"}


def test_null_comparisons(org: Org) -> None:
    assert org.names("AccountId = null") == {"Alan Turing"}
    assert org.names("Industry = NULL", "Account") == {"Umbrella"}
    assert org.names("NumberOfEmployees != null", "Account") == {"Acme", "Globex", "Umbrella"}


def test_ordering_operators_on_numbers_skip_nulls(org: Org) -> None:
    assert org.names("NumberOfEmployees > 10", "Account") == {"Acme", "Globex"}
    assert org.names("NumberOfEmployees >= 50", "Account") == {"Acme", "Globex"}
    assert org.names("NumberOfEmployees < 100", "Account") == {"Globex", "Umbrella"}
    assert org.names("NumberOfEmployees <= 10", "Account") == {"Umbrella"}
    assert org.names("AnnualRevenue > 2.5e5", "Account") == {"Acme", "Globex"}
    assert org.names("AnnualRevenue >= -1", "Account") == {"Acme", "Globex", "initech"}


def test_ordering_operators_on_text(org: Org) -> None:
    assert org.names("Name < 'b'", "Account") == {"Acme"}
    assert org.names("Name >= 'I'", "Account") == {"initech", "Umbrella"}


def test_booleans(org: Org) -> None:
    assert org.names("DoNotCall = true") == {"Charles Babbage"}
    assert len(org.names("DoNotCall = FALSE")) == 4
    assert org.names("DoNotCall != false") == {"Charles Babbage"}


def test_and_or_not_and_parentheses(org: Org) -> None:
    assert org.names("Industry = 'Technology' AND NumberOfEmployees > 0", "Account") == {"Acme"}
    assert org.names("Name = 'Acme' OR Name = 'Umbrella' OR Name = 'x'", "Account") == {
        "Acme",
        "Umbrella",
    }
    assert org.names(
        "(Industry = 'Technology' OR Industry = 'Energy') AND NumberOfEmployees < 100", "Account"
    ) == {"Globex"}
    assert org.names(
        "Industry = 'Technology' OR (Industry = null AND NumberOfEmployees = 10)", "Account"
    ) == {"Acme", "initech", "Umbrella"}
    assert org.names("NOT Industry = 'Technology'", "Account") == {"Globex", "Umbrella"}
    assert org.names("NOT (Name = 'Acme' OR Name = 'Globex')", "Account") == {
        "initech",
        "Umbrella",
    }
    assert org.names("Name != 'Acme' AND (NOT NumberOfEmployees > 20)", "Account") == {
        "initech",
        "Umbrella",
    }


def test_like(org: Org) -> None:
    assert org.names("Name LIKE 'a%'", "Account") == {"Acme"}
    assert org.names("Name LIKE '%E%'", "Account") == {"Acme", "Globex", "initech", "Umbrella"}
    assert org.names("Name LIKE '_lobex'", "Account") == {"Globex"}
    assert org.names("Name LIKE 'Glob'", "Account") == set()
    assert org.names("Email LIKE '50\\%\\_off%'") == {"Alan Turing"}
    assert org.names("Email LIKE '50\\%x%'") == set()
    assert org.names("LastName LIKE 'o\\'b%'") == {"Pat O'Brien"}


def test_string_escapes(org: Org) -> None:
    assert org.names("LastName = 'O\\'Brien'") == {"Pat O'Brien"}
    assert org.names("LastName = 'O\\u0027Brien'") == {"Pat O'Brien"}
    assert org.names("LastName = 'a\\n\\t\\\\\\\"'") == set()


def test_in_and_not_in(org: Org) -> None:
    assert org.names("Name IN ('acme', 'GLOBEX', 'nope')", "Account") == {"Acme", "Globex"}
    assert org.names("Industry NOT IN ('Technology')", "Account") == {"Globex", "Umbrella"}
    assert org.names("Industry IN ('Energy', null)", "Account") == {"Globex", "Umbrella"}
    assert org.names("NumberOfEmployees IN (10, 50)", "Account") == {"Globex", "Umbrella"}


def test_semi_join_and_anti_join(org: Org) -> None:
    assert org.names("Id IN (SELECT AccountId FROM Contact WHERE DoNotCall = true)", "Account") == {
        "Acme"
    }
    assert org.names("Id NOT IN (SELECT AccountId FROM Contact)", "Account") == {
        "initech",
        "Umbrella",
    }
    assert org.names("AccountId IN (SELECT Id FROM Account WHERE Industry = 'Energy')") == {
        "Grace Hopper",
        "Pat O'Brien",
    }
    # NOT IN keeps rows whose lookup is empty.
    assert org.names("AccountId NOT IN (SELECT Id FROM Account WHERE Name = 'Acme')") == {
        "Grace Hopper",
        "Pat O'Brien",
        "Alan Turing",
    }


def test_includes_and_excludes(org: Org) -> None:
    assert org.names("Interests__c INCLUDES ('math')") == {"Ada Lovelace", "Charles Babbage"}
    # 'a;b' means both a and b; commas mean or.
    assert org.names("Interests__c INCLUDES ('Math;Poetry', 'Navy')") == {
        "Ada Lovelace",
        "Grace Hopper",
    }
    assert org.names("Interests__c EXCLUDES ('Math')") == {
        "Grace Hopper",
        "Alan Turing",
        "Pat O'Brien",
    }
    assert org.names("Interests__c = 'poetry;math'") == {"Ada Lovelace"}


def test_ids_accept_15_and_18_characters(org: Org) -> None:
    assert org.names(f"Id = '{org.acme}'", "Account") == {"Acme"}
    assert org.names(f"Id = '{org.acme[:15]}'", "Account") == {"Acme"}
    assert org.names(f"AccountId IN ('{org.globex[:15]}')") == {"Grace Hopper", "Pat O'Brien"}
    assert org.names(f"ParentId = '{org.acme[:15]}'", "Account") == {"Globex"}


def test_parent_path_in_where(org: Org) -> None:
    assert org.names("Account.Owner.Name = 'ada admin'") == {"Ada Lovelace", "Charles Babbage"}
    assert org.names("ReportsTo.ReportsTo.LastName = 'Lovelace'") == {"Grace Hopper"}
    assert org.names("Account.Name = null") == {"Alan Turing"}


def test_date_literals_on_date_fields(org: Org) -> None:
    assert org.names("Birthdate = 1815-12-10") == {"Ada Lovelace"}
    assert org.names("Birthdate < 1900-01-01") == {"Ada Lovelace", "Charles Babbage"}
    assert org.names("Birthdate >= 1815-12-10") == {"Ada Lovelace", "Grace Hopper"}


def test_datetime_literals_compare_instants(org: Org) -> None:
    assert org.names("CreatedDate = 2024-05-15T08:00:00Z") == {"Ada Lovelace"}
    assert org.names("CreatedDate = 2024-05-15T10:00:00+02:00") == {"Ada Lovelace"}
    assert org.names("CreatedDate = 2024-05-15T08:00:00.000Z") == {"Ada Lovelace"}
    assert org.names("CreatedDate > 2024-05-15T10:00:00+02:00") == {"Pat O'Brien"}
    assert org.names("CreatedDate > 2024-05-15T09:00:00+02:00") == {"Ada Lovelace", "Pat O'Brien"}
    assert org.names("CreatedDate < 2024-01-01T00:00:00-01:00") == {"Alan Turing"}


def test_a_date_literal_against_a_datetime_field_is_midnight_utc(org: Org) -> None:
    assert org.names("CreatedDate >= 2024-05-15") == {"Ada Lovelace", "Pat O'Brien"}
    assert org.names("Birthdate < 1815-12-10T00:00:01Z") == {"Ada Lovelace", "Charles Babbage"}


def test_time_literals(org: Org) -> None:
    assert org.names("OpensAt__c = 09:00:00.000Z", "Account") == {"Acme"}
    assert org.names("OpensAt__c > 09:00:00Z", "Account") == {"Globex"}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", {"Ada Lovelace"}),
        ("CreatedDate = YESTERDAY", {"Charles Babbage"}),
        ("CreatedDate = TOMORROW", set()),
        ("CreatedDate = THIS_WEEK", {"Ada Lovelace", "Charles Babbage"}),
        ("CreatedDate = LAST_WEEK", set()),
        ("CreatedDate = NEXT_WEEK", set()),
        ("CreatedDate = THIS_MONTH", {"Ada Lovelace", "Charles Babbage"}),
        ("CreatedDate = LAST_MONTH", {"Grace Hopper"}),
        ("CreatedDate = NEXT_MONTH", {"Pat O'Brien"}),
        ("CreatedDate = LAST_90_DAYS", {"Ada Lovelace", "Charles Babbage", "Grace Hopper"}),
        ("CreatedDate = NEXT_90_DAYS", {"Pat O'Brien"}),
        (
            "CreatedDate = THIS_QUARTER",
            {"Ada Lovelace", "Charles Babbage", "Grace Hopper", "Pat O'Brien"},
        ),
        ("CreatedDate = LAST_QUARTER", set()),
        ("CreatedDate = NEXT_QUARTER", set()),
        (
            "CreatedDate = THIS_YEAR",
            {"Ada Lovelace", "Charles Babbage", "Grace Hopper", "Pat O'Brien"},
        ),
        ("CreatedDate = LAST_YEAR", {"Alan Turing"}),
        ("CreatedDate = NEXT_YEAR", set()),
        ("CreatedDate = LAST_N_DAYS:1", {"Ada Lovelace", "Charles Babbage"}),
        ("CreatedDate = LAST_N_DAYS:0", {"Ada Lovelace"}),
        ("CreatedDate = NEXT_N_DAYS:17", {"Pat O'Brien"}),
        ("CreatedDate = NEXT_N_DAYS:16", set()),
        ("CreatedDate = N_DAYS_AGO:1", {"Charles Babbage"}),
        ("CreatedDate = LAST_N_WEEKS:6", {"Grace Hopper"}),
        ("CreatedDate = NEXT_N_WEEKS:3", {"Pat O'Brien"}),
        ("CreatedDate = LAST_N_MONTHS:1", {"Grace Hopper"}),
        ("CreatedDate = NEXT_N_MONTHS:1", {"Pat O'Brien"}),
        ("CreatedDate = LAST_N_YEARS:1", {"Alan Turing"}),
        ("CreatedDate = NEXT_N_YEARS:5", set()),
        (
            "CreatedDate = THIS_FISCAL_YEAR",
            {"Ada Lovelace", "Charles Babbage", "Grace Hopper", "Pat O'Brien"},
        ),
        ("CreatedDate < THIS_MONTH", {"Grace Hopper", "Alan Turing"}),
        (
            "CreatedDate <= THIS_MONTH",
            {"Ada Lovelace", "Charles Babbage", "Grace Hopper", "Alan Turing"},
        ),
        ("CreatedDate > THIS_MONTH", {"Pat O'Brien"}),
        ("CreatedDate >= THIS_MONTH", {"Ada Lovelace", "Charles Babbage", "Pat O'Brien"}),
        ("CreatedDate != THIS_YEAR", {"Alan Turing"}),
        # Pat O'Brien was created at midnight, the first instant of NEXT_MONTH.
        (
            "CreatedDate < NEXT_MONTH",
            {"Ada Lovelace", "Charles Babbage", "Grace Hopper", "Alan Turing"},
        ),
        ("CreatedDate >= NEXT_MONTH", {"Pat O'Brien"}),
        (
            "CreatedDate <= NEXT_N_DAYS:16",
            {"Ada Lovelace", "Charles Babbage", "Grace Hopper", "Alan Turing"},
        ),
        ("CreatedDate > NEXT_N_DAYS:16", {"Pat O'Brien"}),
        ("CreatedDate IN (TODAY, LAST_YEAR)", {"Ada Lovelace", "Alan Turing"}),
        ("Birthdate < LAST_N_YEARS:150", {"Ada Lovelace", "Charles Babbage"}),
    ],
)
def test_date_constants(org: Org, where: str, expected: set[str]) -> None:
    assert org.names(where) == expected


def test_date_constants_follow_the_clock(org: Org) -> None:
    later = NOW.replace(day=16)
    rows = run_query(
        "SELECT Name FROM Contact WHERE CreatedDate = YESTERDAY",
        org.source,
        api_version="62.0",
        now=later,
    ).records
    assert [r["Name"] for r in rows] == ["Ada Lovelace"]


def test_keywords_are_case_insensitive(org: Org) -> None:
    rows = org.rows(
        "sElEcT Name fRoM Account wHeRe Name lIkE 'A%' aNd Industry In ('Technology') "
        "oRdEr By Name dEsC nUlLs LaSt LiMiT 5 oFfSeT 0"
    )
    assert [r["Name"] for r in rows] == ["Acme"]


def test_with_and_using_clauses_are_accepted(org: Org) -> None:
    assert org.column("SELECT Name FROM Account USING SCOPE Everything WHERE Name = 'Acme'") == [
        "Acme"
    ]
    assert org.column("SELECT Name FROM Account WHERE Name = 'Acme' WITH SECURITY_ENFORCED") == [
        "Acme"
    ]
    assert org.column("SELECT Name FROM Account WHERE Name = 'Acme' FOR VIEW") == ["Acme"]


def test_date_functions_in_where(org: Org) -> None:
    assert org.names("CALENDAR_YEAR(CreatedDate) = 2023") == {"Alan Turing"}
    assert org.names("DAY_ONLY(CreatedDate) = 2024-05-14") == {"Charles Babbage"}
    assert org.names("CALENDAR_MONTH(Birthdate) = 12") == {
        "Ada Lovelace",
        "Charles Babbage",
        "Grace Hopper",
    }

"""COUNT(), aggregate functions, GROUP BY and HAVING."""

from __future__ import annotations

from .conftest import Org

AGG = {"type": "AggregateResult"}


def test_count_returns_total_size_only(org: Org) -> None:
    output = org.query("SELECT COUNT() FROM Contact")
    assert output.total_size == 5 and output.records == []
    assert org.query("select count() from Contact where DoNotCall = true").total_size == 1
    assert org.query("SELECT COUNT() FROM Contact", include_deleted=True).total_size == 6
    assert org.query("SELECT COUNT() FROM Contact LIMIT 2").total_size == 2
    assert org.query("SELECT COUNT() FROM Account WHERE Name = 'x'").total_size == 0


def test_aggregates_without_group_by_make_one_row(org: Org) -> None:
    rows = org.rows(
        "SELECT COUNT(Id), COUNT(NumberOfEmployees), COUNT_DISTINCT(Industry), "
        "SUM(NumberOfEmployees), AVG(AnnualRevenue), MIN(Name), MAX(NumberOfEmployees) "
        "FROM Account"
    )
    assert rows == [
        {
            "attributes": AGG,
            "expr0": 4,
            "expr1": 3,
            "expr2": 2,
            "expr3": 160,
            "expr4": 1750000.0 / 3,
            "expr5": "Acme",
            "expr6": 100,
        }
    ]
    assert isinstance(rows[0]["expr3"], int)


def test_aliases_and_expr_numbering_count_only_unaliased(org: Org) -> None:
    row = org.rows(
        "SELECT SUM(AnnualRevenue) total, COUNT(Id), MAX(Name) top, MIN(Name) FROM Account"
    )[0]
    assert list(row) == ["attributes", "total", "expr0", "top", "expr1"]
    assert row["total"] == 1750000.0 and isinstance(row["total"], float)
    assert row["expr0"] == 4 and row["top"] == "Umbrella" and row["expr1"] == "Acme"


def test_aggregates_over_no_rows_are_null_and_counts_zero(org: Org) -> None:
    rows = org.rows("SELECT COUNT(Id), SUM(AnnualRevenue), MAX(Name) FROM Account WHERE Name = 'x'")
    assert rows == [{"attributes": AGG, "expr0": 0, "expr1": None, "expr2": None}]
    grouped = org.rows("SELECT Industry, COUNT(Id) FROM Account WHERE Name = 'x' GROUP BY Industry")
    assert grouped == []


def test_group_by(org: Org) -> None:
    rows = org.rows(
        "SELECT Industry, COUNT(Id) n, SUM(AnnualRevenue) FROM Account GROUP BY Industry "
        "ORDER BY Industry NULLS LAST"
    )
    assert rows == [
        {"attributes": AGG, "Industry": "Energy", "n": 1, "expr0": 500000.0},
        {"attributes": AGG, "Industry": "Technology", "n": 2, "expr0": 1250000.0},
        {"attributes": AGG, "Industry": None, "n": 1, "expr0": None},
    ]


def test_group_by_parent_path_answers_under_the_last_segment(org: Org) -> None:
    rows = org.rows(
        "SELECT Account.Name, COUNT(Id) FROM Contact GROUP BY Account.Name ORDER BY Account.Name"
    )
    assert rows == [
        {"attributes": AGG, "Name": None, "expr0": 1},
        {"attributes": AGG, "Name": "Acme", "expr0": 2},
        {"attributes": AGG, "Name": "Globex", "expr0": 2},
    ]


def test_group_by_text_is_case_insensitive() -> None:
    org = Org()
    org.source.add("Account", IsDeleted=False, Name="ACME", Industry="Retail")
    rows = org.rows("SELECT Name, COUNT(Id) FROM Account WHERE Name = 'acme' GROUP BY Name")
    assert rows == [{"attributes": AGG, "Name": "Acme", "expr0": 2}]


def test_having_and_order_by_aggregate(org: Org) -> None:
    rows = org.rows(
        "SELECT AccountId, COUNT(Id) FROM Contact GROUP BY AccountId HAVING COUNT(Id) > 1 "
        "ORDER BY COUNT(Id) DESC, AccountId"
    )
    assert [r["AccountId"] for r in rows] == sorted([org.acme, org.globex])
    having = org.rows(
        "SELECT Industry, MAX(NumberOfEmployees) m FROM Account GROUP BY Industry "
        "HAVING MAX(NumberOfEmployees) >= 50 AND Industry != null"
    )
    assert {(r["Industry"], r["m"]) for r in having} == {("Technology", 100), ("Energy", 50)}
    assert org.rows(
        "SELECT Industry FROM Account GROUP BY Industry HAVING Industry = 'energy'"
    ) == [{"attributes": AGG, "Industry": "Energy"}]


def test_group_by_with_limit_offset(org: Org) -> None:
    rows = org.rows(
        "SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry ORDER BY COUNT(Id) DESC, "
        "Industry LIMIT 2 OFFSET 1"
    )
    # Ascending puts the null group first among the count-1 groups.
    assert rows == [
        {"attributes": AGG, "Industry": None, "expr0": 1},
        {"attributes": AGG, "Industry": "Energy", "expr0": 1},
    ]


def test_group_by_date_function(org: Org) -> None:
    rows = org.rows(
        "SELECT CALENDAR_YEAR(CreatedDate), COUNT(Id) FROM Contact "
        "GROUP BY CALENDAR_YEAR(CreatedDate) ORDER BY CALENDAR_YEAR(CreatedDate)"
    )
    assert rows == [
        {"attributes": AGG, "expr0": 2023, "expr1": 1},
        {"attributes": AGG, "expr0": 2024, "expr1": 4},
    ]


def test_min_max_on_dates_keep_wire_format(org: Org) -> None:
    row = org.rows("SELECT MIN(Birthdate), MAX(CreatedDate) latest FROM Contact")[0]
    assert row["expr0"] == "1791-12-26"
    assert row["latest"] == "2024-06-01T00:00:00.000+0000"

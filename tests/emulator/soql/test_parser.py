"""Parsing: the shipped grammar, caching, and a large scan."""

from __future__ import annotations

from importlib import resources

from sobjects.emulator._schema import Schema
from sobjects.emulator.soql import parse, run_query
from sobjects.emulator.soql._ast import And, Compare, FieldPath, InList, Like, Not, Or

from .conftest import DESCRIBES, MemorySource


def test_grammar_ships_as_package_data() -> None:
    grammar = resources.files("sobjects.emulator.soql").joinpath("grammar.lark")
    assert grammar.is_file() and "SELECT" in grammar.read_text("utf-8")


def test_parse_is_cached_by_text() -> None:
    soql = "SELECT Id FROM Account WHERE Name = 'cache me'"
    assert parse(soql) is parse(soql)


def test_parse_tree_shape() -> None:
    query = parse(
        "SELECT a.Name FROM Account a WHERE (Name LIKE 'x%' OR Industry IN ('y')) "
        "AND (NOT NumberOfEmployees < 5) ORDER BY Name DESC NULLS LAST LIMIT 10 OFFSET 5"
    )
    assert query.sobject == "Account" and query.alias == "a"
    assert isinstance(query.where, And)
    first, second = query.where.items
    assert isinstance(first, Or) and isinstance(first.items[0], Like)
    assert isinstance(first.items[1], InList)
    assert isinstance(second, Not) and isinstance(second.item, Compare)
    assert second.item.op == "<" and second.item.value.number == 5
    order = query.order_by[0]
    assert isinstance(order.expr, FieldPath) and order.descending and order.nulls_first is False
    assert (query.limit, query.offset) == (10, 5)


def test_not_equal_spellings_are_the_same_operator() -> None:
    one = parse("SELECT Id FROM Account WHERE Name <> 'x'").where
    two = parse("SELECT Id FROM Account WHERE Name != 'x'").where
    assert isinstance(one, Compare) and isinstance(two, Compare) and one.op == two.op == "!="


def test_ten_thousand_rows_scan() -> None:
    source = MemorySource(Schema(DESCRIBES))
    for i in range(10_000):
        source.add(
            "Account",
            IsDeleted=False,
            Name=f"Account {i}",
            Industry="Technology" if i % 3 else "Energy",
            NumberOfEmployees=i,
        )
    output = run_query(
        "SELECT Id, Name FROM Account WHERE Industry = 'energy' AND NumberOfEmployees >= 5000",
        source,
        api_version="62.0",
    )
    assert output.total_size == len([i for i in range(5000, 10_000) if i % 3 == 0])

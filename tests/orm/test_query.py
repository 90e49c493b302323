"""The query builder: exact SOQL for every construct, the same SOQL run on the local org, and a
property test that no string value can change a statement's structure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sobjects.emulator import LocalOrg
from sobjects.emulator.soql import parse, run_query
from sobjects.emulator.soql._ast import Like, Literal
from sobjects.emulator.soql._parser import decode_like, decode_string
from sobjects.errors import ConfigurationError
from sobjects.orm._expr import Condition, FieldExpr, RelationExpr, and_, not_, or_
from sobjects.orm._fields import Field, Id, MultiPicklist
from sobjects.orm._model import SObject
from sobjects.orm._query import CountSelect, Select, select


class User(SObject):
    name: Field[str | None] = Field(None)


class Account(SObject):
    name: Field[str]
    industry: Field[str | None] = Field(None)
    number_of_employees: Field[int | None] = Field(None)
    annual_revenue: Field[Decimal | None] = Field(None)
    owner: Field[User | None] = Field(None)
    contacts: Field[list[Contact]] = Field(default_factory=list)


class Contact(SObject):
    first_name: Field[str | None] = Field(None)
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)
    birthdate: Field[date | None] = Field(None)
    do_not_call: Field[bool] = Field(False)
    created_date: Field[datetime | None] = Field(None, read_only=True)
    interests: Field[MultiPicklist | None] = Field(None, api_name="Interests__c")
    ext_key: Field[str | None] = Field(None, api_name="Ext_Key__c", external_id=True)


Account.model_rebuild()

CONTACT_FIELDS = (
    "Id, FirstName, LastName, Email, AccountId, Birthdate, DoNotCall, CreatedDate, "
    "Interests__c, Ext_Key__c"
)
ACCOUNT_FIELDS = "Id, Name, Industry, NumberOfEmployees, AnnualRevenue"
PLUS_2 = timezone(timedelta(hours=2))
DT_UTC = "CreatedDate < 2024-01-02T03:04:05Z"  # 05:04:05+02:00 in UTC


def where(condition: Condition) -> str:
    """The SOQL of ``select(Contact).where(condition)`` after ``WHERE``."""
    soql = select(Contact).where(condition).to_soql()
    prefix = f"SELECT {CONTACT_FIELDS} FROM Contact WHERE "
    assert soql.startswith(prefix)
    return soql[len(prefix) :]


# -- expressions ---------------------------------------------------------------------------------


def test_class_attributes_are_expressions_and_instance_attributes_values() -> None:
    assert isinstance(Contact.last_name, FieldExpr)
    assert isinstance(Contact.account, RelationExpr)
    assert not isinstance(Contact.last_name, RelationExpr)
    assert Contact.last_name.soql_path == "LastName"
    assert Contact.ext_key.api_name == "Ext_Key__c"
    assert Contact.account.name.soql_path == "Account.Name"
    assert Contact.account.owner.name.soql_path == "Account.Owner.Name"
    assert Contact.account[Account.owner][User.name].soql_path == "Account.Owner.Name"
    assert Contact.account[Account.owner[User.name]].soql_path == "Account.Owner.Name"
    assert repr(Contact.account.owner) == "RelationExpr(Contact.account.owner)"
    contact = Contact(last_name="Doe", email="jd@acme.com")
    assert contact.last_name.upper() == "DOE"
    assert (contact.email, contact.first_name) == ("jd@acme.com", None)


def test_the_issue_example() -> None:
    query = (
        select(Contact)
        .where(Contact.last_name == "Doe", Contact.email.like("%@acme.com"))
        .order_by(Contact.created_date.desc())
        .limit(10)
        .offset(5)
    )
    assert query.to_soql() == (
        f"SELECT {CONTACT_FIELDS} FROM Contact WHERE LastName = 'Doe' AND "
        "Email LIKE '%@acme.com' ORDER BY CreatedDate DESC LIMIT 10 OFFSET 5"
    )
    assert str(query) == query.to_soql()
    assert query.model is Contact


@pytest.mark.parametrize(
    ("condition", "soql"),
    [
        (Contact.last_name == "Doe", "LastName = 'Doe'"),
        (Contact.last_name != "Doe", "LastName != 'Doe'"),
        (Account.number_of_employees < 10, "NumberOfEmployees < 10"),
        (Account.number_of_employees <= 10, "NumberOfEmployees <= 10"),
        (Account.annual_revenue > Decimal("1e6"), "AnnualRevenue > 1000000"),
        (Account.annual_revenue >= Decimal("0.50"), "AnnualRevenue >= 0.50"),
        (Contact.do_not_call == True, "DoNotCall = true"),  # noqa: E712 - builds a condition
        (Contact.do_not_call != False, "DoNotCall != false"),  # noqa: E712
        (Contact.email == None, "Email = null"),  # noqa: E711 - builds a condition
        (Contact.email != None, "Email != null"),  # noqa: E711
        (Contact.email.is_(None), "Email = null"),
        (Contact.email.is_not(None), "Email != null"),
        (Contact.birthdate >= date(1990, 1, 2), "Birthdate >= 1990-01-02"),
        (Contact.created_date < datetime(2024, 1, 2, 5, 4, 5, tzinfo=PLUS_2), DT_UTC),
        (
            Contact.created_date > datetime(2024, 1, 2, tzinfo=UTC),
            "CreatedDate > 2024-01-02T00:00:00Z",
        ),
        (Contact.account.name == "Acme", "Account.Name = 'Acme'"),
        (Contact.account.owner.name != None, "Account.Owner.Name != null"),  # noqa: E711
    ],
)
def test_comparisons(condition: Condition, soql: str) -> None:
    assert condition.to_soql() == soql
    assert str(condition) == soql
    assert repr(condition) == f"<Condition {soql}>"


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("O'Brien", r"'O\'Brien'"),
        ("C:\\temp\\new", r"'C:\\temp\\new'"),
        ("two\nlines\r\ttab", r"'two\nlines\r\ttab'"),
        ('say "hi"', r"'say \"hi\"'"),
        ("x' OR LastName != '", r"'x\' OR LastName != \''"),
        ("100%_sure", "'100%_sure'"),  # = is not LIKE: % and _ are plain characters
        ("", "''"),
        ("日本語 🙂", "'日本語 🙂'"),
    ],
)
def test_string_literals_are_escaped(value: str, literal: str) -> None:
    assert (Contact.last_name == value).to_soql() == f"LastName = {literal}"


def test_like_and_its_escaping_helpers() -> None:
    assert Contact.email.like("%@acme.com").to_soql() == "Email LIKE '%@acme.com'"
    assert Contact.email.like("O'B_%").to_soql() == r"Email LIKE 'O\'B_%'"
    # the helpers match their argument literally: % and _ are escaped, then wildcards added
    assert Contact.email.startswith("50%_").to_soql() == r"Email LIKE '50\%\_%'"
    assert Contact.email.endswith("@acme.com").to_soql() == "Email LIKE '%@acme.com'"
    assert Contact.email.contains("a\\b'c").to_soql() == r"Email LIKE '%a\\b\'c%'"
    assert Contact.email.equals_like("a_b").to_soql() == r"Email LIKE 'a\_b'"
    assert Contact.account.name.startswith("Ac").to_soql() == "Account.Name LIKE 'Ac%'"


def test_in_and_not_in() -> None:
    assert Contact.last_name.in_(["Doe", "O'Brien"]).to_soql() == r"LastName IN ('Doe','O\'Brien')"
    assert Contact.last_name.not_in(("Doe",)).to_soql() == "LastName NOT IN ('Doe')"
    assert Contact.last_name.in_({"b", "a"}).to_soql() == "LastName IN ('a','b')"  # sorted
    assert Account.number_of_employees.in_(n for n in (1, 2)).to_soql() == (
        "NumberOfEmployees IN (1,2)"
    )
    assert Contact.email.in_(["a@x.org", None]).to_soql() == "Email IN ('a@x.org',null)"
    with pytest.raises(ConfigurationError, match="empty"):
        Contact.last_name.in_([])
    with pytest.raises(ConfigurationError, match="empty"):
        Contact.last_name.not_in(set())
    with pytest.raises(ConfigurationError, match="list of values"):
        Contact.last_name.in_("Doe")


def test_semi_and_anti_joins() -> None:
    inner = select(Contact.account_id).where(Contact.last_name == "Doe")
    assert Account.id.in_(inner).to_soql() == (
        "Id IN (SELECT AccountId FROM Contact WHERE LastName = 'Doe')"
    )
    query = select(Account).where(Account.id.not_in(select(Contact.account_id)))
    assert query.to_soql() == (
        f"SELECT {ACCOUNT_FIELDS} FROM Account WHERE Id NOT IN (SELECT AccountId FROM Contact)"
    )
    with pytest.raises(ConfigurationError, match="exactly one Id or lookup field"):
        Account.id.in_(select(Contact))
    with pytest.raises(ConfigurationError, match="exactly one Id or lookup field"):
        Account.id.in_(select(Contact.account_id, Contact.last_name))


def test_includes_and_excludes() -> None:
    assert Contact.interests.includes("Music").to_soql() == "Interests__c INCLUDES ('Music')"
    assert Contact.interests.includes("Music", {"Travel", "Sports"}).to_soql() == (
        "Interests__c INCLUDES ('Music','Sports;Travel')"
    )
    assert Contact.interests.excludes(("Cooking", "Music")).to_soql() == (
        "Interests__c EXCLUDES ('Cooking;Music')"
    )
    assert (Contact.interests == {"Music", "Cooking"}).to_soql() == "Interests__c = 'Cooking;Music'"
    assert (Contact.interests == None).to_soql() == "Interests__c = null"  # noqa: E711
    with pytest.raises(ConfigurationError, match="as a set"):
        Contact.interests.includes("Music;Travel")
    with pytest.raises(ConfigurationError, match="at least one"):
        Contact.interests.includes()
    with pytest.raises(ConfigurationError, match="empty set"):
        Contact.interests.includes(set())
    with pytest.raises(ConfigurationError, match="only applies to multi-select"):
        Contact.last_name.includes("x")
    with pytest.raises(ConfigurationError, match="multi-select"):
        Contact.interests.like("Mus%")


def test_and_or_not_are_parenthesised_for_salesforce() -> None:
    a = Contact.last_name == "a"
    b = Contact.first_name == "b"
    c = Contact.email == None  # noqa: E711
    assert (a & b & c).to_soql() == "LastName = 'a' AND FirstName = 'b' AND Email = null"
    assert (a | b | c).to_soql() == "LastName = 'a' OR FirstName = 'b' OR Email = null"
    assert ((a | b) & c).to_soql() == "(LastName = 'a' OR FirstName = 'b') AND Email = null"
    assert (a | (b & c)).to_soql() == "LastName = 'a' OR (FirstName = 'b' AND Email = null)"
    assert (a & ~b).to_soql() == "LastName = 'a' AND (NOT (FirstName = 'b'))"
    assert (~a).to_soql() == "NOT (LastName = 'a')"
    assert (~(a & b)).to_soql() == "NOT (LastName = 'a' AND FirstName = 'b')"
    assert (~~a).to_soql() == "NOT (NOT (LastName = 'a'))"
    nested = ~((a | b) & ~(c | a)) | (b & c)
    assert nested.to_soql() == (
        "(NOT ((LastName = 'a' OR FirstName = 'b') AND (NOT (Email = null OR LastName = 'a'))))"
        " OR (FirstName = 'b' AND Email = null)"
    )
    assert and_(a, b).to_soql() == (a & b).to_soql()
    assert or_(a).to_soql() == a.to_soql()
    assert not_(a).to_soql() == (~a).to_soql()
    # where() with several conditions, and several where() calls, are one AND
    assert where(a | b) == "LastName = 'a' OR FirstName = 'b'"
    assert (
        select(Contact)
        .where(a | b)
        .where(c)
        .to_soql()
        .endswith("WHERE (LastName = 'a' OR FirstName = 'b') AND Email = null")
    )
    assert (
        select(Contact)
        .where(a, b | c)
        .to_soql()
        .endswith("WHERE LastName = 'a' AND (FirstName = 'b' OR Email = null)")
    )


def test_conditions_are_not_bools() -> None:
    a = Contact.last_name == "a"
    with pytest.raises(TypeError, match="not a bool"):
        bool(a)
    with pytest.raises(TypeError, match="not a bool"):
        _ = a and Contact.email == "x"  # the mistake this guards against
    with pytest.raises(ConfigurationError, match="takes conditions"):
        select(Contact).where(True)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="takes conditions"):
        and_(a, "LastName = 'x'")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="at least one"):
        or_()
    with pytest.raises(TypeError, match="unhashable"):
        _ = {Contact.last_name}  # a set of expressions would compare them with ==


def test_bad_values_fail_when_the_condition_is_built() -> None:
    with pytest.raises(ConfigurationError, match="naive datetime"):
        _ = Contact.created_date > datetime(2024, 1, 1)
    with pytest.raises(ConfigurationError, match="NaN"):
        _ = Account.number_of_employees == float("nan")
    with pytest.raises(ConfigurationError, match="only = and !="):
        _ = Contact.email < None
    with pytest.raises(ConfigurationError, match=r"use \.in_"):
        _ = Contact.last_name == ["a", "b"]
    with pytest.raises(ConfigurationError, match="cannot be compared"):
        _ = Contact.last_name == b"bytes"
    with pytest.raises(ConfigurationError, match="only takes None"):
        Contact.email.is_("x")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="needs a str"):
        Contact.email.like(5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="parent relationship"):
        _ = Contact.account == None  # noqa: E711
    with pytest.raises(ConfigurationError, match="child"):
        _ = Account.contacts == []
    with pytest.raises(AttributeError, match="no field 'nme'"):
        _ = Contact.account.nme
    with pytest.raises(AttributeError, match=r"query expression .* no attribute 'upper'"):
        _ = Contact.last_name.upper  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="leads to Account"):
        Contact.account[Contact.email]


def test_order_by() -> None:
    def order(*keys: Any) -> str:
        return select(Contact).order_by(*keys).to_soql().split(" ORDER BY ")[1]

    assert order(Contact.last_name) == "LastName ASC"
    assert order(Contact.last_name.asc(nulls_last=True), Contact.created_date.desc()) == (
        "LastName ASC NULLS LAST, CreatedDate DESC"
    )
    assert order(Contact.account.name.desc(nulls_first=True)) == "Account.Name DESC NULLS FIRST"
    assert (
        select(Contact)
        .order_by(Contact.last_name)
        .order_by(Contact.email)
        .to_soql()
        .endswith("ORDER BY LastName ASC, Email ASC")
    )
    with pytest.raises(ConfigurationError, match="not both"):
        Contact.last_name.asc(nulls_first=True, nulls_last=True)
    with pytest.raises(ConfigurationError, match="multi-select"):
        Contact.interests.asc()
    with pytest.raises(ConfigurationError, match="order_by"):
        select(Contact).order_by("LastName")  # type: ignore[arg-type]


def test_limit_and_offset_are_validated() -> None:
    assert select(Contact).limit(0).to_soql().endswith(" LIMIT 0")
    assert select(Contact).offset(2000).to_soql().endswith(" OFFSET 2000")
    assert "LIMIT" not in select(Contact).limit(5).limit(None).to_soql()
    for bad in (-1, 1.5, "10", True):
        with pytest.raises(ConfigurationError, match=">= 0"):
            select(Contact).limit(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="at most 2000"):
        select(Contact).offset(2001)


def test_selects_are_immutable() -> None:
    base = select(Contact)
    narrowed = base.where(Contact.last_name == "Doe").limit(1)
    assert base.to_soql() == f"SELECT {CONTACT_FIELDS} FROM Contact"
    assert narrowed.to_soql() == (
        f"SELECT {CONTACT_FIELDS} FROM Contact WHERE LastName = 'Doe' LIMIT 1"
    )
    assert repr(narrowed) == f"<Select[Contact] {narrowed.to_soql()}>"


def test_fields_must_belong_to_the_selected_model() -> None:
    with pytest.raises(ConfigurationError, match="not a field of Contact"):
        select(Contact).where(Account.name == "Acme")
    with pytest.raises(ConfigurationError, match="not a field of Contact"):
        select(Contact).order_by(Account.name)
    with pytest.raises(ConfigurationError, match="not a field of Account"):
        select(Account).only(Contact.last_name)
    with pytest.raises(ConfigurationError, match="model class"):
        select(SObject)
    with pytest.raises(ConfigurationError, match="model class"):
        select("Contact")  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match=r"select\(Model\)\.only"):
        select(Contact, Contact.last_name)  # type: ignore[call-overload]


# -- what is selected ----------------------------------------------------------------------------


def test_default_field_list_is_id_then_value_fields_in_declaration_order() -> None:
    assert select(Contact).to_soql() == f"SELECT {CONTACT_FIELDS} FROM Contact"
    assert select(Account).to_soql() == f"SELECT {ACCOUNT_FIELDS} FROM Account"
    assert select(User).to_soql() == "SELECT Id, Name FROM User"


def test_projections() -> None:
    assert select(Contact).only(Contact.last_name, Contact.email).to_soql() == (
        "SELECT Id, LastName, Email FROM Contact"
    )
    assert select(Contact.last_name, Contact.id).to_soql() == "SELECT Id, LastName FROM Contact"
    # parent paths bring the Id of every parent they pass through
    assert select(Contact).only(Contact.last_name, Contact.account.owner.name).to_soql() == (
        "SELECT Id, LastName, Account.Id, Account.Owner.Id, Account.Owner.Name FROM Contact"
    )
    # a parent relationship means all its value fields
    assert select(Contact).only(Contact.account).to_soql() == (
        "SELECT Id, Account.Id, Account.Name, Account.Industry, Account.NumberOfEmployees, "
        "Account.AnnualRevenue FROM Contact"
    )
    with pytest.raises(ConfigurationError, match="with_children"):
        select(Account).only(Account.contacts)
    with pytest.raises(ConfigurationError, match="at least one"):
        select(Contact).only()


def test_with_parent() -> None:
    assert select(Contact).with_parent(Contact.account).to_soql() == (
        f"SELECT {CONTACT_FIELDS}, Account.Id, Account.Name, Account.Industry, "
        "Account.NumberOfEmployees, Account.AnnualRevenue FROM Contact"
    )
    assert select(Contact).with_parent(Contact.account.owner.name).to_soql() == (
        f"SELECT {CONTACT_FIELDS}, Account.Id, Account.Owner.Id, Account.Owner.Name FROM Contact"
    )
    with pytest.raises(ConfigurationError, match="parent relationship"):
        select(Contact).with_parent(Contact.email)


def test_child_subqueries() -> None:
    query = select(Account).with_children(
        Account.contacts,
        select(Contact)
        .only(Contact.last_name, Contact.email)
        .where(Contact.email.endswith("@acme.com") | (Contact.email == None))  # noqa: E711
        .order_by(Contact.last_name)
        .limit(5),
    )
    assert query.to_soql() == (
        f"SELECT {ACCOUNT_FIELDS}, (SELECT Id, LastName, Email FROM Contacts WHERE "
        "Email LIKE '%@acme.com' OR Email = null ORDER BY LastName ASC LIMIT 5) FROM Account"
    )
    assert select(Account).only(Account.name).with_children(Account.contacts).to_soql() == (
        f"SELECT Id, Name, (SELECT {CONTACT_FIELDS} FROM Contacts) FROM Account"
    )
    with pytest.raises(ConfigurationError, match="holds Contact records"):
        select(Account).with_children(Account.contacts, select(Account))  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="child relationship"):
        select(Account).with_children(Account.name)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="already has a subquery"):
        select(Account).with_children(Account.contacts).with_children(Account.contacts)


def test_count() -> None:
    query = select(Contact).where(Contact.last_name == "Doe").order_by(Contact.email).limit(3)
    counted = query.count()
    assert isinstance(counted, CountSelect)
    assert counted.model is Contact
    assert counted.to_soql() == "SELECT COUNT() FROM Contact WHERE LastName = 'Doe' LIMIT 3"
    assert counted.where(Contact.email != None).to_soql() == (  # noqa: E711
        "SELECT COUNT() FROM Contact WHERE LastName = 'Doe' AND Email != null LIMIT 3"
    )
    assert str(select(Account).count()) == "SELECT COUNT() FROM Account"
    with pytest.raises(ConfigurationError, match="OFFSET"):
        select(Contact).offset(1).count()


# -- against the local org -----------------------------------------------------------------------


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    org = LocalOrg()
    org.define_field("Contact", {"name": "Ext_Key__c", "type": "string", "externalId": True})
    accounts = org.schema.require("Account")
    contacts = org.schema.require("Contact")
    acme = org.store.insert(
        accounts, {"Name": "Acme", "Industry": "Energy", "NumberOfEmployees": 500}
    )
    globex = org.store.insert(accounts, {"Name": "Globex", "NumberOfEmployees": 5})
    org.store.insert(accounts, {"Name": "Initech"})
    rows: list[dict[str, Any]] = [
        {"FirstName": "Jon", "LastName": "Doe", "Email": "jon@acme.com", "AccountId": acme,
         "Interests__c": "Music;Sports", "Birthdate": "1990-05-01", "Ext_Key__c": "K-1"},
        {"FirstName": "Jane", "LastName": "Doe", "Email": "jane@globex.com", "AccountId": globex,
         "Interests__c": "Travel", "DoNotCall": True},
        {"LastName": "O'Brien", "Email": None, "AccountId": acme, "Interests__c": "Music"},
        {"LastName": "Back\\slash", "Email": "bs@acme.com"},
    ]  # fmt: skip
    for row in rows:
        org.store.insert(contacts, row)
    yield org
    org.close()


async def run(org: LocalOrg, query: Select[Any] | CountSelect[Any]) -> list[dict[str, Any]]:
    async with org.client() as sf:
        records: list[dict[str, Any]] = await sf.query(query.to_soql()).all()
        return records


def last_names(records: list[dict[str, Any]]) -> list[str]:
    return [r["LastName"] for r in records]


@pytest.mark.anyio
async def test_rendered_soql_runs_on_the_local_org(org: LocalOrg) -> None:
    by_name = select(Contact).order_by(Contact.last_name, Contact.first_name.asc(nulls_first=True))
    checks: list[tuple[Select[Any], list[str]]] = [
        (by_name, ["Back\\slash", "Doe", "Doe", "O'Brien"]),
        (
            select(Contact)
            .where(Contact.last_name == "Doe", Contact.email.like("%@acme.com"))
            .order_by(Contact.created_date.desc())
            .limit(10)
            .offset(0),
            ["Doe"],
        ),
        (by_name.where(Contact.last_name == "O'Brien"), ["O'Brien"]),
        (by_name.where(Contact.last_name == "Back\\slash"), ["Back\\slash"]),
        (by_name.where(Contact.email.endswith("@acme.com")), ["Back\\slash", "Doe"]),
        (by_name.where(Contact.email == None), ["O'Brien"]),  # noqa: E711
        (by_name.where(Contact.email.is_not(None)).limit(1).offset(1), ["Doe"]),
        (by_name.where(Contact.last_name.in_(["Doe", "O'Brien"])), ["Doe", "Doe", "O'Brien"]),
        (by_name.where(Contact.last_name.not_in(["Doe", "O'Brien"])), ["Back\\slash"]),
        (by_name.where(Contact.interests.includes("Travel", {"Music", "Sports"})), ["Doe", "Doe"]),
        (by_name.where(Contact.interests.excludes("Music")), ["Back\\slash", "Doe"]),
        (by_name.where(Contact.do_not_call == True), ["Doe"]),  # noqa: E712
        (by_name.where(Contact.birthdate < date(2000, 1, 1)), ["Doe"]),
        (
            by_name.where(Contact.created_date > datetime(2000, 1, 1, tzinfo=UTC)),
            ["Back\\slash", "Doe", "Doe", "O'Brien"],
        ),
        (by_name.where(Contact.account.name == "Acme"), ["Doe", "O'Brien"]),
        (by_name.where(Contact.account.number_of_employees < 100), ["Doe"]),
        (by_name.where(Contact.account.owner.name != None), ["Doe", "Doe", "O'Brien"]),  # noqa: E711
        (
            by_name.where(
                ((Contact.first_name == "Jon") | (Contact.last_name == "O'Brien"))
                & ~(Contact.email == None)  # noqa: E711
            ),
            ["Doe"],
        ),
        (
            by_name.where(
                ~((Contact.last_name == "Doe") | (Contact.email.contains("acme")))
                | (Contact.first_name == "Jane")
            ),
            ["Doe", "O'Brien"],
        ),
        (by_name.where(Contact.ext_key == "K-1"), ["Doe"]),
        (
            by_name.where(
                Contact.account_id.in_(select(Account.id).where(Account.industry == "Energy"))
            ),
            ["Doe", "O'Brien"],
        ),
        (
            by_name.only(Contact.last_name, Contact.account.owner.name).where(
                Contact.account_id.not_in(select(Account.id).where(Account.name == "Acme")),
                Contact.account_id != None,  # noqa: E711
            ),
            ["Doe"],
        ),
    ]
    for query, expected in checks:
        assert last_names(await run(org, query)) == expected, query.to_soql()


@pytest.mark.anyio
async def test_parents_children_projections_and_count_on_the_local_org(org: LocalOrg) -> None:
    accounts_query = (
        select(Account)
        .with_parent(Account.owner)
        .with_children(
            Account.contacts,
            select(Contact)
            .only(Contact.last_name, Contact.interests)
            .where(Contact.interests.includes("Music"))
            .order_by(Contact.last_name.desc()),
        )
        .where(Account.id.in_(select(Contact.account_id)))
        .order_by(Account.name)
    )
    records = await run(org, accounts_query)
    accounts = accounts_query.hydrate(records)
    assert [a.name for a in accounts] == ["Acme", "Globex"]
    acme, globex = accounts
    assert acme.owner is not None and acme.owner.name
    assert [c.last_name for c in acme.contacts] == ["O'Brien", "Doe"]
    assert acme.contacts[1].interests == {"Music", "Sports"}
    assert globex.contacts == []  # loaded, and empty: "Contacts": null
    assert acme.number_of_employees == 500

    # a projection hydrates although the required LastName is not selected
    projection = select(Contact).only(Contact.email, Contact.account.name).order_by(Contact.email)
    contacts = projection.hydrate(await run(org, projection))
    assert [c.email for c in contacts] == [None, "bs@acme.com", "jane@globex.com", "jon@acme.com"]
    assert [c.account.name if c.account else None for c in contacts] == [
        "Acme",
        None,
        "Globex",
        "Acme",
    ]
    assert all(c.id for c in contacts)
    with pytest.raises(AttributeError):
        _ = contacts[0].last_name

    async with org.client() as sf:
        count = select(Contact).where(Contact.last_name == "Doe").count()
        assert await sf.query(count.to_soql()).count() == 2
        assert await sf.query(select(Account).count().to_soql()).count() == 3


# -- no value can change a statement's structure -------------------------------------------------


def shape(node: object) -> object:
    """A parsed statement with positions dropped and string literals blanked out."""
    if isinstance(node, Literal):
        return ("literal", node.kind, "<text>" if node.kind == "string" else node.raw)
    if is_dataclass(node):
        return (
            type(node).__name__,
            tuple(shape(getattr(node, f.name)) for f in fields(node) if f.name != "pos"),
        )
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    return node


def string_literals(node: object) -> Iterator[Literal]:
    """Every string literal of a parsed statement, in order."""
    if isinstance(node, Literal):
        if node.kind == "string":
            yield node
    elif is_dataclass(node):
        for f in fields(node):
            yield from string_literals(getattr(node, f.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from string_literals(item)


def text_values(node: object) -> list[str]:
    return [decode_string(lit.raw) for lit in string_literals(node)]


PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
texts = st.text(max_size=40)


@PROPERTY_SETTINGS
@given(value=texts, other=texts)
def test_no_string_value_changes_the_parsed_structure(value: str, other: str) -> None:
    builders: list[Callable[[str, str], Condition]] = [
        lambda v, w: Contact.last_name == v,
        lambda v, w: Contact.email.like(v),
        lambda v, w: Contact.last_name.in_([v, w]),
        lambda v, w: (Contact.last_name != v) & ~(Contact.account.name == w),
        lambda v, w: Contact.account_id.in_(select(Account.id).where(Account.name == v)),
    ]
    for build in builders:
        query = select(Contact).where(build(value, other))
        benign = select(Contact).where(build("x", "y"))
        parsed = parse(query.to_soql())
        assert shape(parsed) == shape(parse(benign.to_soql())), query.to_soql()
    # each literal decodes to exactly the value that was given
    assert text_values(parse(select(Contact).where(Contact.last_name == value).to_soql())) == [
        value
    ]
    assert text_values(
        parse(select(Contact).where(Contact.last_name.in_([value, other])).to_soql())
    ) == [value, other]
    like = parse(select(Contact).where(Contact.email.like(value)).to_soql())
    assert text_values(like) == [value]


@PROPERTY_SETTINGS
@given(value=texts)
def test_like_helpers_match_their_argument_literally(value: str) -> None:
    literal = tuple(value)  # every character as itself: no `%`, no `_` wildcard
    for method, segments in {
        "startswith": (literal, ()),
        "endswith": ((), literal),
        "contains": ((), literal, ()),
        "equals_like": (literal,),
    }.items():
        condition = getattr(Contact.email, method)(value)
        parsed = parse(select(Contact).where(condition).to_soql())
        assert isinstance(parsed.where, Like)
        assert decode_like(parsed.where.value.raw).segments == segments


@pytest.fixture(scope="module")
def property_org() -> Iterator[LocalOrg]:
    org = LocalOrg()
    yield org
    org.close()


@PROPERTY_SETTINGS
@given(value=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_queries_match_exactly_the_records_with_the_value(
    property_org: LocalOrg, value: str, other: str
) -> None:
    decoy = "Decoy"
    assume(decoy.casefold() not in (value.casefold(), other.casefold()))
    org = property_org
    contacts = org.schema.require("Contact")
    for record in list(org.store.records("Contact")):
        org.store.delete(contacts, record["Id"])
    target = org.store.insert(contacts, {"LastName": value})
    second = org.store.insert(contacts, {"LastName": other})
    org.store.insert(contacts, {"LastName": decoy})

    def ids(condition: Condition) -> set[str]:
        soql = select(Contact).only(Contact.last_name).where(condition).to_soql()
        return {r["Id"] for r in run_query(soql, org.store, api_version=org.api_version).records}

    same = value.casefold() == other.casefold()  # SOQL compares text case-insensitively
    assert ids(Contact.last_name == value) == ({target, second} if same else {target})
    assert ids(Contact.last_name.in_([value, other])) == {target, second}
    assert ids(Contact.last_name.not_in([value, other])) == ids(Contact.last_name == decoy)
    if value.casefold() not in decoy.casefold():
        contains = ids(Contact.last_name.contains(value))
        assert target in contains and len(contains - {target, second}) == 0


def test_operators_and_values_must_fit_the_field_type() -> None:
    from datetime import date, datetime

    with pytest.raises(ConfigurationError, match="only allows LIKE on text"):
        Account.number_of_employees.like("5%")  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="only allows LIKE on text"):
        Contact.birthdate.startswith("1990")
    with pytest.raises(ConfigurationError, match="cannot be compared"):
        _ = Account.number_of_employees == True  # noqa: E712
    with pytest.raises(ConfigurationError, match="cannot be compared"):
        _ = Contact.last_name == 5  # type: ignore[comparison-overlap]
    with pytest.raises(ConfigurationError, match="cannot be compared"):
        _ = Contact.birthdate >= datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="cannot be compared"):
        _ = Contact.created_date >= date(2020, 1, 1)  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match=r"includes\(\)/excludes\(\)"):
        Contact.interests.in_(["Music"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="multi-select"):
        _ = Contact.interests < {"Music"}  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match="Salesforce ids"):
        _ = Contact.account_id == "nope"
    # 15-character ids are normalised to 18.
    assert str(Contact.account_id == "001000000000001") == "AccountId = '001000000000001AAA'"


def test_fractional_datetimes_round_by_operator() -> None:
    from datetime import datetime

    t = datetime(2024, 1, 1, 12, 0, 0, 476000, tzinfo=UTC)
    assert str(Contact.created_date > t) == "CreatedDate >= 2024-01-01T12:00:01Z"
    assert str(Contact.created_date >= t) == "CreatedDate >= 2024-01-01T12:00:01Z"
    assert str(Contact.created_date < t) == "CreatedDate < 2024-01-01T12:00:01Z"
    assert str(Contact.created_date <= t) == "CreatedDate <= 2024-01-01T12:00:00Z"
    with pytest.raises(ConfigurationError, match="to the second"):
        _ = Contact.created_date == t


def test_semi_join_restrictions() -> None:
    inner = select(Contact.account_id)
    with pytest.raises(ConfigurationError, match="no ORDER BY, LIMIT or OFFSET"):
        Account.id.in_(inner.limit(1))
    with pytest.raises(ConfigurationError, match="Id or lookup"):
        Account.number_of_employees.in_(inner)  # type: ignore[arg-type]
    assert str(~Account.id.in_(inner)) == "Id NOT IN (SELECT AccountId FROM Contact)"
    with pytest.raises(ConfigurationError, match="top-level AND"):
        select(Account).where((Account.name == "x") | Account.id.in_(inner))
    with pytest.raises(ConfigurationError, match="at most two"):
        select(Account).where(
            Account.id.in_(inner), Account.id.in_(inner), Account.id.not_in(inner)
        )


def test_order_keys_are_read_only() -> None:
    key = Contact.last_name.desc()
    with pytest.raises(AttributeError):
        key.nulls = "FIRST; DROP"  # type: ignore[misc]


def test_child_subqueries_reject_offset_and_other_models() -> None:
    with pytest.raises(ConfigurationError, match="OFFSET"):
        select(Account).with_children(Account.contacts, select(Contact).offset(1))

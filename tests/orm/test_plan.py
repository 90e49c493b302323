"""The flush planner: what a plan says a flush costs, and what the flush then sends, for
both strategies, against the local org (issue 10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sobjects import FlushError, Salesforce, Session, SObject, inspect, select
from sobjects.emulator import LocalOrg
from sobjects.errors import ApiBudgetError, ConfigurationError
from sobjects.fields import Field, Id
from tests.orm.test_session_edge_cases import Calls

pytestmark = pytest.mark.anyio


class Account(SObject):
    name: Field[str]
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    return org


@pytest.fixture
async def sf(org: LocalOrg) -> AsyncIterator[Salesforce]:
    async with org.client() as client:
        yield client


def account_with_contacts(session: Session, contacts: int, name: str = "Acme") -> Any:
    acme = Account(name=name)
    acme.save(session=session)
    for i in range(contacts):
        Contact(last_name=f"{name}-{i}", account=acme).save(session=session)
    return acme


# -- the counts of the issue -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "requests", "api_calls"), [("batch", 2, 12), ("economy", 1, 1)]
)
async def test_an_account_ten_contacts_and_a_query(
    org: LocalOrg, sf: Salesforce, strategy: str, requests: int, api_calls: int
) -> None:
    calls = Calls(org)
    before = org.api_usage
    async with Session(sf, strategy=strategy) as session:  # type: ignore[arg-type]
        acme = account_with_contacts(session, 10)
        handle = session.query(select(Contact).where(Contact.account_id != None))  # noqa: E711
        plan = session.plan()
        assert (plan.http_requests, plan.api_calls) == (requests, api_calls)
        assert calls.dispatched == []  # planning sends nothing
    report = session.last_flush
    assert report is not None and report.matches(plan)
    assert (report.http_requests, report.api_calls) == (requests, api_calls)
    assert org.api_usage - before == api_calls  # as the org counted them
    assert session.api_calls == api_calls
    assert report.outcomes["succeeded"] == 11
    assert all(c.account_id == acme.id for c in handle.records)
    assert len(handle.records) == 10  # the query ran after the writes


@pytest.mark.parametrize(("strategy", "api_calls"), [("batch", 60), ("economy", 1)])
async def test_sixty_creates(org: LocalOrg, sf: Salesforce, strategy: str, api_calls: int) -> None:
    before = org.api_usage
    async with Session(sf, strategy=strategy) as session:  # type: ignore[arg-type]
        for i in range(60):
            Contact(last_name=f"C{i}").save()
        assert session.plan().api_calls == api_calls
    assert org.api_usage - before == api_calls
    assert len(org.store.records("Contact")) == 60


@pytest.mark.parametrize(
    ("strategy", "requests", "round_trips", "api_calls"),
    [("batch", 2, 2, 2), ("economy", 2, 1, 2)],
)
async def test_two_hundred_accounts_with_five_contacts_each(
    org: LocalOrg, sf: Salesforce, strategy: str, requests: int, round_trips: int, api_calls: int
) -> None:
    before = org.api_usage
    async with Session(sf, strategy=strategy) as session:  # type: ignore[arg-type]
        accounts = [account_with_contacts(session, 5, name=f"A{a}") for a in range(200)]
        plan = session.plan()
        assert (plan.http_requests, plan.round_trips, plan.api_calls) == (
            requests,
            round_trips,
            api_calls,
        )
    assert session.last_flush is not None and session.last_flush.matches(plan)
    assert org.api_usage - before == api_calls
    assert all(account.id for account in accounts)
    by_account = {r["AccountId"] for r in org.store.records("Contact")}
    assert by_account == {account.id for account in accounts}  # every child has its parent
    assert len(org.store.records("Contact")) == 1000


async def test_the_plan_reads_like_explain(sf: Salesforce) -> None:
    session = Session(sf, strategy="economy")
    account_with_contacts(session, 10)
    session.query(select(Contact))
    text = str(session.plan())
    assert text.splitlines()[0] == (
        "FlushPlan (economy): 11 operations in 1 request, 1 round trip, 1 API call"
    )
    assert "1 create Account, 10 create Contact (Collections), 1 query Contact" in text
    session.discard()


# -- failures behave as in batch -------------------------------------------------------------


async def test_economy_a_failed_parent_marks_its_children_not_sent(
    org: LocalOrg, sf: Salesforce
) -> None:
    async with Session(sf, strategy="economy", autoraise=False) as session:
        good = account_with_contacts(session, 3, name="Good")
        bad = account_with_contacts(session, 3, name="B" * 300)  # STRING_TOO_LONG
        odd = Contact(last_name="Odd", email="not an email", account=good)
        odd.save()
    assert good.id is not None and bad.id is None
    assert inspect(bad).errors[0].code == "STRING_TOO_LONG"
    names = sorted(c["LastName"] for c in org.store.records("Contact"))
    assert names == ["Good-0", "Good-1", "Good-2"]
    assert inspect(odd).errors[0].code == "INVALID_EMAIL_ADDRESS"
    report = session.last_flush
    assert report is not None
    assert report.outcomes == {
        "succeeded": 4,
        "failed": 2,
        "not_run": 3,
        "unknown": 0,
        "pending": 0,
    }


# -- budgets ---------------------------------------------------------------------------------


async def test_an_api_budget_refuses_a_flush_before_sending_it(
    org: LocalOrg, sf: Salesforce
) -> None:
    calls = Calls(org)
    session = Session(sf, api_budget=30)
    contacts = [Contact(last_name=f"C{i}") for i in range(60)]
    for contact in contacts:
        contact.save(session=session)
    with pytest.raises(ApiBudgetError, match=r"spend 60 API calls .* api_budget of 30") as info:
        await session.flush()
    assert (info.value.cost, info.value.budget, info.value.spent) == (60, 30, 0)
    assert calls.dispatched == [] and len(session.pending) == 60
    session.strategy = "economy"  # the same work for 1 call
    await session.flush()
    assert session.api_calls == 1 and all(c.id for c in contacts)


async def test_the_clients_api_reserve_is_checked_for_the_whole_flush(
    org: LocalOrg,
) -> None:
    org.daily_api_limit = 50
    async with org.client(api_reserve=10) as sf:
        await sf.limits()  # a first reading of the org's usage
        session = Session(sf)
        for i in range(60):
            Contact(last_name=f"C{i}").save(session=session)
        with pytest.raises(ApiBudgetError, match="api_reserve of 10"):
            await session.flush()
        assert org.store.records("Contact") == []  # not half applied
        session.discard()


async def test_strategy_and_budget_are_checked() -> None:
    org = LocalOrg()
    async with org.client() as sf:
        with pytest.raises(ConfigurationError, match="strategy"):
            Session(sf, strategy="cheap")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="api_budget"):
            Session(sf, api_budget=-1)


# -- Composite Graph -------------------------------------------------------------------------


async def test_economy_sends_many_families_as_graphs_in_one_round_trip(
    org: LocalOrg, sf: Salesforce
) -> None:
    before = org.api_usage
    async with Session(sf, strategy="economy") as session:
        families = [account_with_contacts(session, 30, name=f"F{a}") for a in range(30)]
        plan = session.plan()
        assert [r.endpoint for r in plan.requests] == ["composite/graph"] * 2
        assert (plan.round_trips, plan.api_calls) == (1, 2)
    assert session.last_flush is not None and session.last_flush.matches(plan)
    assert org.api_usage - before == 2
    assert all(family.id for family in families)
    assert len(org.store.records("Contact")) == 900


async def test_a_failed_record_in_a_graph_does_not_take_its_family_with_it(
    org: LocalOrg, sf: Salesforce
) -> None:
    # Salesforce rolls a graph back as a whole; the session sends the rest again, so the
    # outcome per record is what batch gives.
    async with Session(sf, strategy="economy", autoraise=False) as session:
        for a in range(30):
            account_with_contacts(session, 30, name=f"F{a}")
        odd = Contact(last_name="Odd", email="not an email", account=Account(name="G"))
        assert odd.account is not None
        odd.account.save()
        odd.save()
    assert inspect(odd).state == "failed" and odd.account.id is not None
    assert len(org.store.records("Account")) == 31
    assert len(org.store.records("Contact")) == 900


async def test_a_transaction_beyond_25_operations_is_one_graph(
    org: LocalOrg, sf: Salesforce
) -> None:
    async with Session(sf, transaction=True) as session:
        acme = account_with_contacts(session, 40)
        plan = session.plan()
        assert [(r.endpoint, r.all_or_none) for r in plan.requests] == [("composite/graph", True)]
    assert acme.id is not None and len(org.store.records("Contact")) == 40
    with pytest.raises(FlushError):
        async with Session(sf, transaction=True) as session:
            second = account_with_contacts(session, 39, name="Second")
            Contact(last_name="Bad", email="not an email", account=second).save()
    assert second.id is None  # all or none
    assert len(org.store.records("Contact")) == 40


async def test_a_transaction_no_request_can_hold_is_refused_by_the_plan(sf: Salesforce) -> None:
    session = Session(sf, transaction=True)
    for i in range(30):
        Contact(last_name=f"C{i}").save(session=session)
    session.query(select(Contact))
    with pytest.raises(ConfigurationError, match="one all-or-none request"):
        session.plan()
    session.discard()


class Company(SObject, api_name="Account"):
    name: Field[str]
    parent_id: Field[Id | None] = Field(None)
    parent: Field[Company | None] = Field(None)


class Employee(SObject, api_name="Contact"):
    last_name: Field[str]
    account_id: Field[Id | None] = Field(None)
    account: Field[Company | None] = Field(None)


@pytest.mark.parametrize("strategy", ["batch", "economy"])
async def test_a_failed_grandparent_leaves_its_whole_line_unsent(
    org: LocalOrg, sf: Salesforce, strategy: str
) -> None:
    async with Session(sf, strategy=strategy, autoraise=False):  # type: ignore[arg-type]
        grandparent = Company(name="G" * 300)  # STRING_TOO_LONG
        parent = Company(name="Parent", parent=grandparent)
        child = Employee(last_name="Child", account=parent)
        uncle = Company(name="Uncle")
        cousin = Employee(last_name="Cousin", account=uncle)
        for record in (grandparent, parent, child, uncle, cousin):
            record.save()
    assert [a["Name"] for a in org.store.records("Account")] == ["Uncle"]
    assert [c["LastName"] for c in org.store.records("Contact")] == ["Cousin"]
    assert inspect(grandparent).errors[0].code == "STRING_TOO_LONG"
    for unsent in (parent, child):
        assert [e.code for e in inspect(unsent).errors] == ["NOT_SENT"]


# -- found in review: graphs roll back good records with the bad one ---------------------------


@pytest.mark.parametrize("lock_retries", [0, 3])
async def test_families_with_one_bad_record_each_end_as_in_batch(
    org: LocalOrg, sf: Salesforce, lock_retries: int
) -> None:
    # 60 failing graphs: more than the 14 after which Salesforce halts the rest of a request.
    async with Session(
        sf, strategy="economy", autoraise=False, lock_retries=lock_retries
    ) as session:
        bad = []
        for f in range(60):
            account = account_with_contacts(session, 1, name=f"F{f}")
            contact = Contact(last_name=f"Bad{f}", email="not an email", account=account)
            contact.save()
            bad.append(contact)
    report = session.last_flush
    assert report is not None
    assert (report.outcomes["succeeded"], report.outcomes["failed"]) == (120, 60)
    assert len(org.store.records("Account")) == 60
    assert sorted(c["LastName"] for c in org.store.records("Contact")) == sorted(
        f"F{f}-0" for f in range(60)
    )
    assert all(inspect(c).errors[0].code == "INVALID_EMAIL_ADDRESS" for c in bad)


async def test_a_chain_deeper_than_a_graph_takes_goes_another_way(
    org: LocalOrg, sf: Salesforce
) -> None:
    async with Session(sf, strategy="economy") as session:
        previous = None
        for i in range(17):  # Composite Graph: chains of at most 15
            company = Company(name=f"C{i}", parent=previous)
            company.save()
            previous = company
        assert all(r.endpoint != "composite/graph" for r in session.plan().requests)
    assert len(org.store.records("Account")) == 17
    with pytest.raises(ConfigurationError, match="chains of at most 15"):
        async with Session(sf, transaction=True) as session:
            previous = None
            for i in range(30):
                company = Company(name=f"T{i}", parent=previous)
                company.save()
                previous = company
    assert len(org.store.records("Account")) == 17

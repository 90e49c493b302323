"""Section 8: the main paths end to end against the in-process local org (client + emulator).

Wall time; the org's own work (routing, SOQL engine, store) is part of every number here.
"""

from __future__ import annotations

import statistics
import time

from sobjects import Session, select
from sobjects.client import RequestEvent
from sobjects.emulator import LocalOrg
from sobjects.emulator.soql import run_query
from sobjects.models import Account, Contact


class Counter:
    def __init__(self) -> None:
        self.requests = 0

    async def __call__(self, event: RequestEvent) -> None:
        self.requests += 1


async def flush_creates(n: int, *, collections: bool) -> str:
    org = LocalOrg()
    counter = Counter()
    async with org.client(event_hooks={"request": [counter]}) as sf:
        started = time.perf_counter()
        async with Session(
            sf, collections_threshold=200 if collections else None, bulk_threshold=None
        ):
            for i in range(n):
                Contact(last_name=f"Bench {i}").save()
        elapsed = time.perf_counter() - started
    how = "as Collections" if collections else "as Composite Batch"
    return (
        f"flush {n} creates {how}: {elapsed * 1000:.0f} ms, {counter.requests} HTTP requests, "
        f"{org.api_usage} API calls, {n / elapsed:,.0f} records/s"
    )


async def accounts_with_contacts(accounts: int, per_account: int) -> str:
    org = LocalOrg()
    counter = Counter()
    async with org.client(event_hooks={"request": [counter]}) as sf:
        started = time.perf_counter()
        async with Session(sf):
            for a in range(accounts):
                account = Account(name=f"Account {a}")
                account.save()
                for c in range(per_account):
                    Contact(last_name=f"Contact {a}-{c}", account=account).save()
        elapsed = time.perf_counter() - started
    total = accounts * (1 + per_account)
    return (
        f"flush {accounts} accounts x {per_account} contacts: {elapsed * 1000:.0f} ms, "
        f"{counter.requests} HTTP requests for {total} records"
    )


async def query_hydration(n: int) -> str:
    org = LocalOrg()
    contacts = org.schema.require("Contact")
    for i in range(n):
        org.store.insert(contacts, {"LastName": f"Row {i}", "Email": f"r{i}@example.com"})
    async with org.client() as sf, Session(sf) as session:
        started = time.perf_counter()
        rows = await session.all(select(Contact))
        elapsed = time.perf_counter() - started
    assert len(rows) == n
    rate = n / elapsed
    return (
        f"query + hydrate {n} contacts (all fields): {elapsed * 1000:.0f} ms, {rate:,.0f} records/s"
    )


def soql_scan(n: int) -> str:
    org = LocalOrg()
    accounts = org.schema.require("Account")
    for i in range(n):
        org.store.insert(accounts, {"Name": f"Account {i}", "NumberOfEmployees": i})
    soql = "SELECT Id, Name FROM Account WHERE NumberOfEmployees > 5000 AND Name LIKE 'Account 9%'"
    times = []
    for _ in range(5):
        started = time.perf_counter()
        run_query(soql, org.store, api_version="62.0")
        times.append(time.perf_counter() - started)
    median = statistics.median(times) * 1000
    return f"SOQL engine scan of {n} records with a WHERE: median {median:.1f} ms"


def _families(session: Session, accounts: int, per_account: int) -> None:
    for a in range(accounts):
        account = Account(name=f"Account {a}")
        account.save(session=session)
        for c in range(per_account):
            Contact(last_name=f"Contact {a}-{c}", account=account).save(session=session)


async def strategies(scale: float) -> None:
    """The same work flushed with strategy="batch" and "economy": what each sent, as the
    org counted it, and the wall time."""
    families = max(2, int(30 * scale))
    jobs = [
        ("an account, 10 contacts, a query", 1, 10, True),
        ("60 independent creates", 0, 60, False),
        (f"{families} accounts x 30 contacts", families, 30, False),
        (f"{families * 20 // 3} accounts x 5 contacts", families * 20 // 3, 5, False),
    ]
    print(f"  {'work':<34} {'strategy':<8} requests  round trips  API calls  wall ms")
    for title, accounts, contacts, query in jobs:
        for strategy in ("batch", "economy"):
            org = LocalOrg()
            async with org.client() as sf:
                started = time.perf_counter()
                async with Session(sf, strategy=strategy) as session:  # type: ignore[arg-type]
                    if accounts:
                        _families(session, accounts, contacts)
                    else:
                        for i in range(contacts):
                            Contact(last_name=f"Bench {i}").save()
                    if query:
                        session.query(select(Contact).limit(20))
                elapsed = time.perf_counter() - started
            sent = session.last_flush
            assert sent is not None
            print(
                f"  {title:<34} {strategy:<8} {sent.http_requests:>8}  {sent.round_trips:>11}  "
                f"{org.api_usage:>9}  {elapsed * 1000:>7.0f}"
            )


async def local_org(scale: float) -> None:
    """The former ``make bench``, sizes times ``scale``."""

    def size(n: int) -> int:
        return max(10, int(n * scale))

    print(" ", await flush_creates(size(1000), collections=False))
    print(" ", await flush_creates(size(1000), collections=True))
    print(" ", await accounts_with_contacts(max(2, int(20 * scale)), 10))
    print(" ", await query_hydration(size(10_000)))
    print(" ", soql_scan(size(10_000)))
    print("  flush strategies:")
    await strategies(scale)

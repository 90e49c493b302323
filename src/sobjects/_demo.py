"""``make demo`` / ``sobjects demo``: the product at work on an in-process local org.

Part 1 is the ORM as a user writes it (models, a session, typed queries, failures); part 2 is
the client layer underneath. Each step prints what it did and what it cost: HTTP requests
sent and API calls counted by the org (Composite Batch costs one call per subrequest;
Composite and Collections one each).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sobjects.client import ApiUsageEvent, FlushProgressEvent, RequestEvent, Salesforce
from sobjects.emulator import LocalOrg
from sobjects.errors import RequiredFieldMissingError
from sobjects.fields import Field, Id
from sobjects.orm import FlushError, Session, SObject, inspect, select

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["run_demo"]


@dataclass
class _Meter:
    requests: int = 0
    api_used: int = 0

    async def on_request(self, event: RequestEvent) -> None:
        self.requests += 1

    async def on_usage(self, event: ApiUsageEvent) -> None:
        self.api_used = event.usage.used


class _ProgressBar:
    """Draws a session's flush as a progress bar, from the ``flush_progress`` event hook
    (rich does the drawing; on a terminal the bar moves, elsewhere its last state is printed).
    """

    SMALLEST = 100  # records: a bar for a flush that takes one round trip is only noise

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    async def on_flush_progress(self, event: FlushProgressEvent) -> None:
        if event.total < self.SMALLEST:
            return
        if self._bar is None:
            # rich comes with the emulator extra (sobjects.cli says so when it is missing);
            # imported here so that defining the demo's models needs only the package.
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("   flush"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("records answered"),
            )
            self._bar.start()
            self._task = self._bar.add_task("flush", total=event.total)
        assert self._task is not None
        self._bar.update(self._task, completed=event.done, total=event.total)
        if event.done >= event.total:
            self._bar.stop()
            self._bar = self._task = None


async def _step(meter: _Meter, title: str, action: Callable[[], Awaitable[list[str]]]) -> None:
    requests, used = meter.requests, meter.api_used
    print(f"\n== {title}", flush=True)  # before the action, which may draw a progress bar
    lines = await action()
    for line in lines:
        print(f"   {line}")
    print(
        f"   -> {meter.requests - requests} HTTP request(s), "
        f"{meter.api_used - used} API call(s) counted by the org"
    )


async def run_demo() -> None:
    """Run the walkthrough; raises if any step does not behave as shown."""
    print("sobjects demo: a local Salesforce org in-process; no account, no network")
    total = 0
    parts = [
        ("Part 1: the ORM", _orm_steps),
        ("Part 2: the client layer underneath (a fresh org)", _demo_steps),
    ]
    for title, steps in parts:
        org = LocalOrg()
        org.define_field(
            "Account",
            {"name": "Ext_Id__c", "type": "string", "externalId": True, "unique": True},
        )
        meter = _Meter()
        bar = _ProgressBar()
        print(f"\n######## {title}")
        async with org.client(
            event_hooks={
                "request": [meter.on_request],
                "api_usage": [meter.on_usage],
                "flush_progress": [bar.on_flush_progress],
            }
        ) as sf:
            await steps(sf, meter)
        total += org.api_usage
    print(f"\nDone. The orgs counted {total} API calls in all.")


class Account(SObject):
    name: Field[str]
    industry: Field[str | None] = Field(None)
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


class Contact(SObject):
    first_name: Field[str | None] = Field(None)
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    title: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


async def _orm_steps(sf: Salesforce, meter: _Meter) -> None:
    async def accounts_with_contacts() -> list[str]:
        async with Session(sf):
            for name in ("Stark Industries", "Wayne Enterprises", "Acme Rockets"):
                account = Account(name=name, industry="Manufacturing")
                account.save()
                for i in range(4):
                    Contact(last_name=f"{name.split()[0]} {i}", account=account).save()
        return [
            "3 accounts and 12 contacts recorded with .save(); nothing sent until the block ends",
            "flush: wave 1 creates the accounts, wave 2 the contacts with their new AccountId",
        ]

    async def large_flush() -> list[str]:
        async with Session(sf) as session:
            for i in range(2500):
                Contact(last_name=f"Customer {i:04d}").save()
        report = session.last_flush
        assert report is not None
        return [
            f"2,500 contacts in one flush: {report.http_requests} requests of sObject "
            f"Collections inside Composite, {report.api_calls} API calls",
            "the bar follows the client's flush_progress event hook",
        ]

    async def upsert() -> list[str]:
        async with Session(sf):
            first = Account(name="Globex", ext_id="GLOBEX-1")
            first.upsert()
        async with Session(sf):
            second = Account(name="Globex Corporation", ext_id="GLOBEX-1")
            second.upsert()
        assert inspect(first).created and not inspect(second).created
        assert first.id == second.id
        return [
            f"first upsert of GLOBEX-1: created={inspect(first).created}, id={first.id}",
            f"second upsert of GLOBEX-1: created={inspect(second).created}, same record",
        ]

    async def typed_query() -> list[str]:
        async with Session(sf) as session:
            query = (
                select(Contact)
                .with_parent(Contact.account)
                .where(Contact.account.name == "Acme Rockets")
                .order_by(Contact.last_name.desc())
                .limit(3)
            )
            contacts: list[Contact] = await session.all(query)
        names = [f"{c.last_name} ({c.account.name if c.account else '-'})" for c in contacts]
        return [query.to_soql(), f"-> list[Contact]: {', '.join(names)}"]

    async def update_one_field() -> list[str]:
        async with Session(sf) as session:
            tony = await session.one(select(Contact).where(Contact.last_name == "Stark 0"))
            tony.title = "CEO"
            changes = inspect(tony).changes
            tony.save()
        assert changes == {"Title": "CEO"}
        return [f"loaded Stark 0, set title; the update sends only {changes}"]

    async def partial_failure() -> list[str]:
        lines = []
        async with Session(sf) as session:
            good = Contact(last_name="Banner", email="bruce@shield.example")
            bad_email = Contact(last_name="Romanoff", email="not an email")
            too_long = Contact(last_name="X" * 81)
            for contact in (good, bad_email, too_long):
                contact.save()
            try:
                await session.flush()
            except FlushError as exc:
                lines += ["FlushError:", *str(exc).splitlines()]
            lines.append(
                "states: "
                + ", ".join(f"{c.last_name[:8]}={inspect(c).state}" for c in (good, bad_email))
                + f", X...={inspect(too_long).state}"
            )
            lines.append(f"Romanoff's errors by field: {list(inspect(bad_email).field_errors)}")
            bad_email.email = "natasha@shield.example"
            too_long.last_name = "Barton"
            bad_email.save()
            too_long.save()
        assert good.id and bad_email.id and too_long.id
        lines.append("fixed and flushed again: only the two failed contacts were sent")
        return lines

    async def strategies() -> list[str]:
        lines = [f"{'work':<44} {'strategy':<8} requests  round trips  API calls"]
        jobs: list[tuple[str, Callable[[Session], None]]] = [
            ("an account, 10 contacts and a query", _family_and_query),
            ("60 independent creates", _sixty_creates),
            ("30 accounts with 30 contacts each", _thirty_families),
        ]
        for title, record in jobs:
            for strategy in ("batch", "economy"):
                async with Session(sf, strategy=strategy) as session:
                    record(session)
                    plan = session.plan()
                report = session.last_flush
                assert report is not None and report.matches(plan)
                lines.append(
                    f"{title:<44} {strategy:<8} {report.http_requests:>8}  "
                    f"{report.round_trips:>11}  {report.api_calls:>9}"
                )
        lines.append("each flush sent exactly what session.plan() said before it was sent")
        return lines

    await _step(meter, "1. Accounts with their contacts in one session", accounts_with_contacts)
    await _step(meter, "2. A flush of 2,500 records, with its progress", large_flush)
    await _step(meter, "3. Upsert by external id", upsert)
    await _step(meter, "4. A typed query", typed_query)
    await _step(meter, "5. An update that sends only one field", update_one_field)
    await _step(meter, "6. A flush with a partial failure, and its report", partial_failure)
    await _step(meter, "7. The same work planned both ways: batch and economy", strategies)

    async def bulk_flush() -> list[str]:
        contacts = [Contact(last_name=f"Customer {i:05d}") for i in range(12_000)]
        contacts[42].email = "not an email"  # one record Salesforce refuses
        session = Session(sf, bulk_options={"poll_interval": 0.1})
        try:
            async with session:
                for contact in contacts:
                    contact.save()
                plan = session.plan()
        except FlushError as exc:
            failed = [obj for obj, _ in exc.failures]
        assert failed == [contacts[42]]
        assert [r.endpoint for r in plan.requests] == ["jobs/ingest"]
        report = session.last_flush
        assert report is not None and report.outcomes["succeeded"] == 11_999
        error = inspect(contacts[42]).errors[0]
        lines = str(plan).splitlines()
        lines += [
            f"sent: {report.api_calls} API calls for the job (create, upload, close, polls, "
            "three result files)",
            f"{report.outcomes['succeeded']} contacts have their id and created flag; "
            f"contact #42 failed: {error.code}",
            "below Session(bulk_threshold=10_000) the same flush is 12 Composite requests",
        ]
        async with Session(sf, bulk_options={"poll_interval": 0.1}) as reader:
            count = 0
            async for _ in reader.stream(select(Contact), bulk=True):
                count += 1
        lines.append(
            f"every Contact of the org read back with session.stream(select(Contact), "
            f"bulk=True): {count} rows"
        )
        return lines

    await _step(meter, "8. 12,000 creates in one flush: a Bulk API 2.0 job", bulk_flush)


def _family(session: Session, name: str, contacts: int) -> None:
    account = Account(name=name)
    account.save(session=session)
    for i in range(contacts):
        Contact(last_name=f"{name} {i}", account=account).save(session=session)


def _family_and_query(session: Session) -> None:
    _family(session, "Oscorp", 10)
    session.query(select(Contact).where(Contact.last_name.like("Oscorp%")))


def _sixty_creates(session: Session) -> None:
    for i in range(60):
        Contact(last_name=f"Intern {i}").save(session=session)


def _thirty_families(session: Session) -> None:
    for a in range(30):
        _family(session, f"Family {a}", 30)


async def _demo_steps(sf: Salesforce, meter: _Meter) -> None:
    state: dict[str, Any] = {}

    async def create() -> list[str]:
        acme = await sf.sobject.create("Account", {"Name": "Acme", "Industry": "Energy"})
        jane = await sf.sobject.create(
            "Contact", {"FirstName": "Jane", "LastName": "Doe", "AccountId": acme}
        )
        state["acme"] = acme
        record = await sf.sobject.get("Contact", jane, fields=["Name", "AccountId"])
        assert record["AccountId"] == acme
        return [f"Account Acme {acme}", f"Contact {record['Name']} {jane}, AccountId={acme}"]

    async def upsert() -> list[str]:
        data = {"Ext_Id__c": "GLOBEX-1", "Name": "Globex"}
        first = await sf.sobject.upsert("Account", data, external_id_field="Ext_Id__c")
        data["Name"] = "Globex Corporation"
        second = await sf.sobject.upsert("Account", data, external_id_field="Ext_Id__c")
        assert first.created and not second.created and first.id == second.id
        return [
            f"first upsert of GLOBEX-1: created={first.created} id={first.id}",
            f"second upsert of GLOBEX-1: created={second.created} (same record updated)",
        ]

    async def bulk() -> list[str]:
        rows = [{"LastName": f"Customer {i:04d}", "AccountId": state["acme"]} for i in range(2500)]
        results = await sf.collections.create("Contact", rows)
        assert all(r.success for r in results)
        return [f"{len(results)} contacts created with sObject Collections, 200 per request"]

    async def query() -> list[str]:
        result = sf.query(
            "SELECT Id, LastName FROM Contact WHERE AccountId = "
            f"'{state['acme']}' ORDER BY LastName",
            batch_size=1000,
        )
        pages = [len(page) async for page in result.pages()]
        assert sum(pages) == result.total_size == 2501
        return [
            f"totalSize={result.total_size}, fetched in pages of {pages} (nextRecordsUrl followed)"
        ]

    async def batch() -> list[str]:
        async with sf.composite.batch(halt_on_error=True) as b:
            ok = b.sobject.update("Account", state["acme"], {"Industry": "Utilities"})
            broken = b.sobject.create("Contact", {"FirstName": "No last name"})
            never = b.sobject.create("Contact", {"LastName": "Never sent"})
        assert ok.is_success and not broken.is_success and never.halted
        try:
            broken.raise_for_status()
        except RequiredFieldMissingError as exc:
            reason = f"{exc.code} {list(exc.errors[0].fields)}"
        return [
            f"update Acme -> {ok.status_code}",
            f"create without LastName -> {broken.status_code} {reason}",
            f"next subrequest -> {never.status_code}, halted={never.halted}",
        ]

    async def composite() -> list[str]:
        c = sf.composite(all_or_none=True)
        account = c.sobject.create("Account", {"Name": "Initech"})
        c.sobject.create("Contact", {"LastName": "Lumbergh", "AccountId": account.reference.id})
        c.sobject.create("Contact", {"FirstName": "Milton"})  # fails: rolls everything back
        await c.execute()
        kept = await sf.query("SELECT COUNT() FROM Account WHERE Name = 'Initech'").count()
        assert kept == 0
        return [
            "account + 2 contacts in one all-or-none Composite; the last contact is invalid",
            f"statuses {[s.status_code for s in c]}; Initech accounts kept: {kept}",
        ]

    await _step(meter, "9. Create an account and its contact", create)
    await _step(meter, "10. Upsert by external id", upsert)
    await _step(meter, "11. 2,500 creates with sObject Collections", bulk)
    await _step(meter, "12. Query with paging", query)
    await _step(meter, "13. Composite Batch with a failure (halt_on_error)", batch)
    await _step(meter, "14. Composite with references, all or none", composite)

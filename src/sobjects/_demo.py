"""``make demo`` / ``sobjects demo``: the client layer at work on an in-process local org.

Each step prints what it did and what it cost: HTTP requests sent and API calls counted by
the org (Composite Batch costs one call per subrequest; Composite and Collections one each).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sobjects.client import ApiUsageEvent, RequestEvent, Salesforce
from sobjects.emulator import LocalOrg
from sobjects.errors import RequiredFieldMissingError

__all__ = ["run_demo"]


@dataclass
class _Meter:
    requests: int = 0
    api_used: int = 0

    async def on_request(self, event: RequestEvent) -> None:
        self.requests += 1

    async def on_usage(self, event: ApiUsageEvent) -> None:
        self.api_used = event.usage.used


async def _step(meter: _Meter, title: str, action: Callable[[], Awaitable[list[str]]]) -> None:
    requests, used = meter.requests, meter.api_used
    lines = await action()
    print(f"\n== {title}")
    for line in lines:
        print(f"   {line}")
    print(
        f"   -> {meter.requests - requests} HTTP request(s), "
        f"{meter.api_used - used} API call(s) counted by the org"
    )


async def run_demo() -> None:
    """Run the walkthrough; raises if any step does not behave as shown."""
    org = LocalOrg()
    org.define_field(
        "Account",
        {"name": "Ext_Id__c", "type": "string", "externalId": True, "unique": True, "length": 40},
    )
    meter = _Meter()
    print("sobjects demo: a local Salesforce org in-process, the client layer against it")
    async with org.client(
        event_hooks={"request": [meter.on_request], "api_usage": [meter.on_usage]}
    ) as sf:
        await _demo_steps(sf, meter)
    print(f"\nDone. The org counted {org.api_usage} API calls in all.")


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

    await _step(meter, "1. Create an account and its contact", create)
    await _step(meter, "2. Upsert by external id", upsert)
    await _step(meter, "3. Bulk insert with sObject Collections", bulk)
    await _step(meter, "4. Query with paging", query)
    await _step(meter, "5. Composite Batch with a failure (halt_on_error)", batch)
    await _step(meter, "6. Composite with references, all or none", composite)

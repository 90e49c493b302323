"""Property: for any unit of work, ``batch`` and ``economy`` leave the org in the same state
and report the same outcome for every record, and a flush with no failure sends exactly what
its plan said (issue 10)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sobjects import Session, SObject, inspect, select
from sobjects.emulator import LocalOrg
from sobjects.fields import Field, Id


class Account(SObject):
    name: Field[str]
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)
    parent_id: Field[Id | None] = Field(None)
    parent: Field[Account | None] = Field(None)


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


BAD_NAME = "X" * 300  # STRING_TOO_LONG
EXISTING = 3  # accounts in the org before the script runs


@dataclass(frozen=True)
class Step:
    """One recorded action: ``new_account`` and ``new_contact`` (``parent``: index of a new
    account earlier in the script, or None), ``upsert``, ``update`` or ``delete`` (of an existing
    account), ``query``. ``bad`` makes the record fail in Salesforce."""

    action: str
    index: int = 0
    bad: bool = False
    parent: int | None = None


steps = st.one_of(
    st.builds(
        Step, st.just("new_account"), bad=st.booleans(), parent=st.none() | st.integers(0, 5)
    ),
    st.builds(
        Step, st.just("new_contact"), bad=st.booleans(), parent=st.none() | st.integers(0, 5)
    ),
    st.builds(Step, st.just("upsert"), index=st.integers(0, 4), bad=st.booleans()),
    st.builds(Step, st.just("update"), index=st.integers(0, EXISTING - 1), bad=st.booleans()),
    st.builds(Step, st.just("delete"), index=st.integers(0, EXISTING - 1)),
    st.builds(Step, st.just("query")),
)


async def run(script: list[Step], strategy: str, lock_retries: int = 3) -> dict[str, Any]:
    org = LocalOrg()
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    existing = [
        org.store.insert(org.schema.require("Account"), {"Name": f"Old{i}", "Ext_Id__c": f"E{i}"})
        for i in range(EXISTING)
    ]
    objects: list[SObject] = []
    handles = []
    async with org.client() as sf:
        session = Session(
            sf,
            strategy=strategy,  # type: ignore[arg-type]
            autoraise=False,
            lock_retries=lock_retries,
        )
        loaded = {a.id: a for a in await session.all(select(Account))}
        new_accounts: list[Account] = []
        touched: set[str] = set()
        for n, step in enumerate(script):
            if step.action == "new_account":
                parent_account = None
                if step.parent is not None and new_accounts:
                    parent_account = new_accounts[step.parent % len(new_accounts)]
                account = Account(name=BAD_NAME if step.bad else f"New{n}", parent=parent_account)
                account.save(session=session)
                new_accounts.append(account)
                objects.append(account)
            elif step.action == "new_contact":
                parent = None
                if step.parent is not None and new_accounts:
                    parent = new_accounts[step.parent % len(new_accounts)]
                contact = Contact(
                    last_name=f"C{n}", email="bad" if step.bad else None, account=parent
                )
                contact.save(session=session)
                objects.append(contact)
            elif step.action == "upsert":
                account = Account(name=BAD_NAME if step.bad else f"Up{n}", ext_id=f"E{step.index}")
                account.upsert(session=session)
                objects.append(account)
            elif step.action in ("update", "delete"):
                record_id = existing[step.index]
                if record_id in touched:
                    continue  # one change per existing record keeps the outcome well defined
                touched.add(record_id)
                target = loaded[record_id]
                if step.action == "update":
                    target.name = BAD_NAME if step.bad else f"Changed{n}"
                    target.save(session=session)
                else:
                    target.delete(session=session)
                objects.append(target)
            else:
                handles.append(session.query(select(Contact).order_by(Contact.last_name)))
        plan = session.plan()
        await session.flush()
        report = session.last_flush
        session.close()
    accounts = {r["Id"]: r["Name"] for r in org.store.records("Account")}
    return {
        "accounts": sorted(
            (r["Name"], accounts.get(r.get("ParentId") or "")) for r in org.store.records("Account")
        ),
        "contacts": sorted(
            (r["LastName"], accounts.get(r.get("AccountId") or ""))
            for r in org.store.records("Contact")
        ),
        "outcomes": [
            (inspect(obj).state, sorted(e.code for e in inspect(obj).errors)) for obj in objects
        ],
        "queries": [[c.last_name for c in h.records] for h in handles],
        "clean": report is None or (report.outcomes["succeeded"] == sum(report.outcomes.values())),
        "matches": report is None or report.matches(plan),
    }


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(steps, max_size=14), lock_retries=st.sampled_from([0, 1, 3]))
def test_batch_and_economy_agree(backend: str, script: list[Step], lock_retries: int) -> None:
    batch = anyio.run(run, script, "batch", lock_retries, backend=backend)
    economy = anyio.run(run, script, "economy", lock_retries, backend=backend)
    for key in ("accounts", "contacts", "outcomes"):
        assert economy[key] == batch[key], key
    # A query sees at least the writes recorded before it, in both.
    assert len(economy["queries"]) == len(batch["queries"])
    for result in (batch, economy):
        if result["clean"]:
            assert result["matches"]  # nothing failed: the flush sent exactly its plan

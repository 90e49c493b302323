"""The store's external id / unique value index: same answers as a scan, without the scan."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sobjects.emulator import LocalOrg
from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import FieldDef, SObjectDef
from sobjects.emulator._store import Store, _match_key

V = "/services/data/v62.0"
CODE = {"name": "Code__c", "type": "string", "externalId": True, "length": 40}


def scan(store: Store, sobject: SObjectDef, fd: FieldDef, value: Any) -> list[str]:
    """What ``find`` answered before the index: every live record, compared one by one."""
    wanted = _match_key(fd, value)
    return [
        r["Id"]
        for r in store.records(sobject.name)
        if r.get(fd.name) is not None and _match_key(fd, r[fd.name]) == wanted
    ]


def found(store: Store, sobject: SObjectDef, fd: FieldDef, value: Any) -> list[str]:
    return [r["Id"] for r in store.find(sobject, fd, value)]


def contact_org(**kwargs: Any) -> LocalOrg:
    org = LocalOrg(**kwargs)
    org.define_field("Contact", CODE)
    return org


def code_field(org: LocalOrg) -> tuple[SObjectDef, FieldDef]:
    contact = org.schema.require("Contact")
    return contact, contact.require_field("Code__c")


def test_the_index_follows_writes_and_rollbacks() -> None:
    """Random inserts, updates (of the value, its case, other fields), deletes and
    rolled-back transactions: after each, every lookup answers exactly what a scan does."""
    org = contact_org()
    store = org.store
    contact, fd = code_field(org)
    rng = random.Random(9)
    values = ["a", "A", "b", "B", "c", None]
    ids: list[str] = []
    for step in range(400):
        action = rng.choice(["insert", "update", "update", "delete", "rollback"])
        live = [i for i in ids if not (store.get(i) or {}).get("IsDeleted")]
        if action == "insert" or not live:
            ids.append(store.insert(contact, {"LastName": "x", "Code__c": rng.choice(values)}))
        elif action == "update":
            change = rng.choice([{"Code__c": rng.choice(values)}, {"LastName": f"n{step}"}])
            store.update(contact, rng.choice(live), change)
        elif action == "delete":
            store.delete(contact, rng.choice(live))
        else:
            with pytest.raises(RuntimeError), store.transaction():
                store.insert(contact, {"LastName": "gone", "Code__c": rng.choice(values)})
                store.update(contact, rng.choice(live), {"Code__c": rng.choice(values)})
                raise RuntimeError("roll back")
        for value in ["a", "A", "b", "c", "z"]:
            assert found(store, contact, fd, value) == scan(store, contact, fd, value), step


def test_duplicates_keep_their_order_and_answer_300() -> None:
    org = contact_org()
    store = org.store
    contact, fd = code_field(org)
    first = store.insert(contact, {"LastName": "1", "Code__c": "dup"})
    other = store.insert(contact, {"LastName": "2", "Code__c": "other"})
    third = store.insert(contact, {"LastName": "3", "Code__c": "DUP"})
    store.update(contact, first, {"Code__c": "Dup"})  # moves in the index, not in the order
    store.update(contact, other, {"Code__c": "dup"})
    assert found(store, contact, fd, "dUp") == [first, other, third]
    assert scan(store, contact, fd, "dUp") == [first, other, third]


@pytest.fixture
async def http() -> AsyncIterator[tuple[LocalOrg, httpx.AsyncClient]]:
    org = contact_org()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {org.access_token}"},
    ) as client:
        yield org, client


@pytest.mark.anyio
async def test_upserts_see_changed_and_deleted_values(
    http: tuple[LocalOrg, httpx.AsyncClient],
) -> None:
    org, client = http
    by_code = f"{V}/sobjects/Contact/Code__c"
    created = await client.patch(f"{by_code}/C-1", json={"LastName": "One"})
    assert created.status_code == 201
    record_id = created.json()["id"]
    # The external id value changes: the old value is free, the new one finds the record.
    await client.patch(f"{V}/sobjects/Contact/{record_id}", json={"Code__c": "C-2"})
    assert (await client.get(f"{by_code}/c-2")).json()["Id"] == record_id
    assert (await client.get(f"{by_code}/C-1")).status_code == 404
    again = await client.patch(f"{by_code}/C-1", json={"LastName": "Again"})
    assert again.status_code == 201 and again.json()["id"] != record_id
    # Two records with one value (the field is not unique): 300, both listed.
    await client.patch(f"{V}/sobjects/Contact/{record_id}", json={"Code__c": "c-1"})
    ambiguous = await client.get(f"{by_code}/C-1")
    assert ambiguous.status_code == 300
    assert [url.rsplit("/", 1)[1] for url in ambiguous.json()] == [record_id, again.json()["id"]]
    # Deleted: no longer found, and the value can be used again.
    assert (await client.delete(f"{V}/sobjects/Contact/{record_id}")).status_code == 204
    updated = await client.patch(f"{by_code}/C-1", json={"LastName": "Updated"})
    assert updated.status_code == 200
    assert updated.json() == {
        "id": again.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert org.store.get(record_id)["IsDeleted"] is True


def test_the_index_is_right_after_a_journal_reload(tmp_path: Path) -> None:
    path = tmp_path / "org.jsonl"
    with contact_org(data=path) as org:
        contact, fd = code_field(org)
        kept = org.store.upsert(contact, "Code__c", "K-1", {"LastName": "Kept"})[0]
        moved = org.store.upsert(contact, "Code__c", "M-1", {"LastName": "Moved"})[0]
        gone = org.store.upsert(contact, "Code__c", "G-1", {"LastName": "Gone"})[0]
        org.store.find(contact, fd, "K-1")  # the index exists before the changes below
        org.store.update(contact, moved, {"Code__c": "M-2"})
        org.store.delete(contact, gone)
    with LocalOrg(data=path) as reloaded:
        contact, fd = code_field(reloaded)
        assert found(reloaded.store, contact, fd, "k-1") == [kept]
        assert found(reloaded.store, contact, fd, "M-1") == []
        assert found(reloaded.store, contact, fd, "M-2") == [moved]
        assert found(reloaded.store, contact, fd, "G-1") == []
        assert reloaded.store.upsert(contact, "Code__c", "G-1", {"LastName": "New"})[1] is True


def test_an_external_id_defined_on_existing_records_finds_them() -> None:
    org = LocalOrg()
    org.define_field("Contact", {"name": "Code__c", "type": "string", "length": 40})
    contact = org.schema.require("Contact")
    first = org.store.insert(contact, {"LastName": "1", "Code__c": "Abc"})
    with pytest.raises(ApiError):  # not an external id yet
        org.store.external_id_field(contact, "Code__c")
    org.define_field("Contact", CODE)
    fd = contact.require_field("Code__c")
    assert found(org.store, contact, fd, "abc") == [first]
    # Redefined as case-sensitive: the same lookup now compares exactly.
    org.define_field("Contact", {**CODE, "caseSensitive": True})
    fd = contact.require_field("Code__c")
    assert found(org.store, contact, fd, "abc") == []
    assert found(org.store, contact, fd, "Abc") == [first]


@contextmanager
def no_full_scan(store: Store, table: str) -> Iterator[None]:
    """Fail if any statement the store runs inside the block reads every row of ``table``
    (SQLite's query plan says ``SCAN``, or a range over the row ids, instead of ``SEARCH ...
    USING INDEX``)."""
    statements: list[str] = []
    db = store._data.db
    db.set_trace_callback(statements.append)
    try:
        yield
    finally:
        db.set_trace_callback(None)
    # A partial index holds only the rows its WHERE keeps (the recycle bin, say): reading
    # all of it is not reading the table.
    partial = {
        f"SCAN {table} USING INDEX {name}"
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
        )
    }
    scans = []
    for sql in statements:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        # A walk in creation order, chunk by chunk, reads every row too.
        walk = f"SEARCH {table} USING INTEGER PRIMARY KEY (rowid>?)"
        if any(
            (step.startswith(f"SCAN {table}") and step not in partial) or step == walk
            for step in plan
        ):
            scans.append((sql, plan))
    assert not scans, f"a lookup read every row: {scans[:3]}"


@pytest.mark.anyio
async def test_upserts_by_external_id_do_not_walk_the_records(
    http: tuple[LocalOrg, httpx.AsyncClient],
) -> None:
    org, client = http
    contact, fd = code_field(org)
    for n in range(2_000):
        org.store.insert(contact, {"LastName": f"C{n}", "Code__c": f"C-{n}"})
    org.store.find(contact, fd, "C-0")  # the one scan that builds the index
    # From here on, a statement that reads every Contact fails the test.
    with no_full_scan(org.store, "r_contact"):
        await upsert_many(client)


async def upsert_many(client: httpx.AsyncClient) -> None:
    for n in range(0, 4_000, 100):  # half update an existing record, half insert
        response = await client.patch(
            f"{V}/sobjects/Contact/Code__c/c-{n}", json={"LastName": f"U{n}"}
        )
        assert response.status_code == (200 if n < 2_000 else 201), response.text
    collection = await client.patch(
        f"{V}/composite/sobjects/Contact/Code__c",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "Code__c": f"C-{n}", "LastName": "Batch"}
                for n in (5, 5_005)
            ]
        },
    )
    assert [r["created"] for r in collection.json()] == [False, True]

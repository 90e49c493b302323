"""Section 9: Bulk API 2.0 at scale, against the local org served over HTTP.

The org is served (uvicorn, on a thread of this process); each measurement runs the client in
a fresh subprocess (``run.py --bulk-child``), so its peak RSS (``VmHWM``) is the client's
alone. ``write``: N Contacts upserted by external id through one session flush (one Bulk API
job); ``read``: every Contact streamed back with ``session.stream(..., bulk=True)``;
``client``: the same N upserted again with ``sf.bulk.upsert`` from a generator of dicts (no
models: what the client itself holds); ``stream``: the same N upserted again through one
session flush with ``session.upsert_all(generator of Contact models)``, which holds the
models weakly as it sends them. Each child prints one JSON line: wall seconds, RSS before
and peak, API calls (the org counts them too).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from typing import Any

import anyio

from sobjects import Salesforce, Session, SObject, select
from sobjects.auth import StaticToken
from sobjects.fields import Field
from sobjects.orm import FlushPlan

EXT = {"name": "Ext_Id__c", "type": "string", "externalId": True, "length": 20}


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


def _status_kb(key: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in KB.

    Not ``ru_maxrss``: Linux carries the parent's peak across fork and exec into it, and the
    parent here holds the org (a million records' worth).
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def flushed(session: Session, plan: FlushPlan, wall: float, n: int) -> dict[str, Any]:
    """What a write mode reports: its time, what it planned and what the flush spent."""
    report = session.last_flush
    assert report is not None and report.outcomes["succeeded"] == n, report
    return {
        "wall_s": wall,
        "planned": [r.endpoint for r in plan.requests],
        "api_calls": report.api_calls,
    }


def bulk_child(mode: str, url: str, token: str, n: int, threshold: int) -> None:
    """``run.py --bulk-child MODE URL TOKEN N THRESHOLD``: one measurement, one JSON line."""
    gc.collect()
    before = _status_kb("VmRSS")
    calls = [0]

    async def count(_: Any) -> None:
        calls[0] += 1

    async def write() -> dict[str, Any]:
        sf = Salesforce(url, auth=StaticToken(token), event_hooks={"request": [count]})
        async with sf:
            started = time.perf_counter()
            session = Session(sf, bulk_threshold=threshold, bulk_options={"max_poll_interval": 2.0})
            async with session:
                for i in range(n):
                    Contact(
                        last_name=f"Bulk {i:07d}", email=f"c{i}@example.com", ext_id=f"X{i}"
                    ).upsert()
                plan = session.plan()
            wall = time.perf_counter() - started
        return flushed(session, plan, wall, n)

    async def read() -> dict[str, Any]:
        sf = Salesforce(url, auth=StaticToken(token), event_hooks={"request": [count]})
        rows = 0
        async with sf:
            started = time.perf_counter()
            async with Session(sf, bulk_options={"page_size": 10_000}) as session:
                async for _ in session.stream(select(Contact), bulk=True):
                    rows += 1
            wall = time.perf_counter() - started
        assert rows == n, rows
        return {"wall_s": wall, "rows": rows}

    async def client() -> dict[str, Any]:
        # sf.bulk with a generator of dicts: no models, one upload's CSV in memory.
        sf = Salesforce(url, auth=StaticToken(token), event_hooks={"request": [count]})
        rows = (
            {"LastName": f"Bulk {i:07d}", "Email": f"c{i}@example.com", "Ext_Id__c": f"X{i}"}
            for i in range(n)
        )
        async with sf:
            started = time.perf_counter()
            result = await sf.bulk.upsert(
                "Contact", rows, external_id_field="Ext_Id__c", max_poll_interval=2.0
            )
            wall = time.perf_counter() - started
        assert len(result.successful) == n
        return {"wall_s": wall, "api_calls": result.api_calls}

    async def stream() -> dict[str, Any]:
        # The session streams the models into the job: it never holds them all.
        sf = Salesforce(url, auth=StaticToken(token), event_hooks={"request": [count]})
        contacts = (
            Contact(last_name=f"Bulk {i:07d}", email=f"c{i}@example.com", ext_id=f"X{i}")
            for i in range(n)
        )
        async with sf:
            started = time.perf_counter()
            session = Session(sf, bulk_threshold=threshold, bulk_options={"max_poll_interval": 2.0})
            async with session:
                session.upsert_all(contacts)
                plan = session.plan()
            wall = time.perf_counter() - started
        return flushed(session, plan, wall, n)

    runs = {"write": write, "read": read, "client": client, "stream": stream}
    out = anyio.run(runs[mode], backend="asyncio")
    peak = _status_kb("VmHWM")
    out.update(
        {"mode": mode, "n": n, "before_mb": before / 1024, "peak_mb": peak / 1024,
         "requests": calls[0]}
    )  # fmt: skip
    print(json.dumps(out))


async def bulk_section(ladder: tuple[int, ...], threshold: int, script: str) -> None:
    """Upsert then stream back each size of ``ladder`` against a fresh served org."""
    from sobjects.emulator import LocalOrg

    print(
        "  upsert: Contact(...).upsert() x N, one flush; upsert_all: session.upsert_all(a "
        "generator of models), one flush; read: session.stream(..., bulk=True); sf.bulk: "
        "sf.bulk.upsert(a generator of dicts)"
    )
    print(
        f"  {'records':>9}  {'upsert s':>8}  {'rec/s':>8}  {'API calls':>9}  "
        f"{'client peak MB':>14}  {'upsert_all s':>12}  {'API calls':>9}  "
        f"{'peak MB':>7}  {'read s':>6}  {'read peak MB':>12}  "
        f"{'sf.bulk s':>9}  {'sf.bulk peak MB':>15}"
    )
    per_record: list[tuple[int, float]] = []
    per_streamed: list[tuple[int, float]] = []
    for n in ladder:
        org = LocalOrg()
        org.define_field("Contact", EXT)
        async with org.serve() as url:
            results = {}
            for mode in ("write", "read", "client", "stream"):
                done = await anyio.run_process(
                    [sys.executable, script, "--bulk-child", mode, url, org.access_token,
                     str(n), str(threshold)],
                    check=False,
                )  # fmt: skip
                if done.returncode != 0:
                    raise SystemExit(f"bulk child failed:\n{done.stderr.decode()[-3000:]}")
                results[mode] = json.loads(done.stdout.decode().strip().splitlines()[-1])
        write, read, client = results["write"], results["read"], results["client"]
        streamed = results["stream"]
        assert write["planned"] == ["jobs/ingest"], write["planned"]
        assert streamed["planned"] == ["jobs/ingest"], streamed["planned"]
        per_record.append((n, write["wall_s"] / n))
        per_streamed.append((n, streamed["wall_s"] / n))
        print(
            f"  {n:>9,}  {write['wall_s']:>8.1f}  {n / write['wall_s']:>8,.0f}  "
            f"{write['api_calls']:>9}  {write['peak_mb']:>14.0f}  "
            f"{streamed['wall_s']:>12.1f}  {streamed['api_calls']:>9}  "
            f"{streamed['peak_mb']:>7.0f}  {read['wall_s']:>6.1f}  "
            f"{read['peak_mb']:>12.0f}  {client['wall_s']:>9.1f}  {client['peak_mb']:>15.0f}",
            flush=True,
        )
        org.close()
        del org
        gc.collect()
    if len(per_record) > 1:
        for name, ladder_times in (("upsert", per_record), ("upsert_all", per_streamed)):
            (n0, first), (n1, last) = ladder_times[0], ladder_times[-1]
            print(
                f"  {name}: time per record at {n1:,} is {last / first:.2f}x that at {n0:,} "
                "(1.0x = linear)"
            )
        print("  API calls counted by the client, which the org counts alike")

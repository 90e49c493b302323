"""Section 9: the local org's store on disk (SQLite): load, RSS, restart, size, lookups, LIKE.

Each phase runs in a fresh process (``run.py --store-child PHASE DIR N``) so that its peak RSS
and its start-up are its own: ``load`` writes N records of a small custom object (Name, an
external id, a number) through ``Store.insert`` in transactions of 10,000, then updates a
tenth of them; ``restart`` opens the same ``--data`` file again and times what a restarted
``sobjects emulator`` does before it answers, then the lookups and the queries. The LIKE +
ORDER BY + LIMIT query, a range keeping 1% of the rows and ``COUNT()`` run on a second object
of ``like_n`` rows and are compared with SQLite's own time for the equivalent SQL on a plain
table holding the same rows and columns (the record's fields: a full scan's cost grows with
the bytes a row holds, so a two-column table would time a smaller scan than the one any
store of these records must make), with an index on the range's column as the store has.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _measure import Report, Row, k

ITEM = {
    "name": "Bench_Item__c",
    "fields": [
        {"name": "Name", "type": "string", "length": 80},
        {"name": "Ext__c", "type": "string", "length": 40, "externalId": True},
        {"name": "Amount__c", "type": "double", "precision": 18, "scale": 2},
    ],
}
LIKE_OBJECT = {**ITEM, "name": "Bench_Name__c"}
CHUNK = 10_000
SOQL = "SELECT Id, Name FROM Bench_Name__c WHERE Name LIKE 'item 12%' ORDER BY Name LIMIT 20"
SQL = "SELECT Id, Name FROM plain WHERE Name LIKE 'item 12%' ORDER BY Name COLLATE NOCASE LIMIT 20"
# Amount__c is 1.5 * i on the second object: the last 1% of its rows are above 1.485 * like_n.
RANGE_SOQL = "SELECT Id, Name FROM Bench_Name__c WHERE Amount__c > {}"
RANGE_SQL = "SELECT Id, Name FROM plain WHERE Amount__c > ?"
COUNT_SOQL = "SELECT COUNT() FROM Bench_Name__c"
COUNT_SQL = "SELECT count(*) FROM plain"
COUNT_RANGE_SOQL = "SELECT COUNT() FROM Bench_Name__c WHERE Amount__c > {}"
COUNT_RANGE_SQL = "SELECT count(*) FROM plain WHERE Amount__c > ?"


def _name(i: int) -> str:
    # Scrambled, so that neither creation order nor id order is the name order.
    return f"Item {(i * 7919) % 1_000_003}"


def _peak_mb() -> float:
    """This process's peak RSS. Linux's ``ru_maxrss`` carries the parent's peak across
    fork and exec (the bench process is big by now), ``VmHWM`` is this program's own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.parent.iterdir() if f.name.startswith(path.name))


def _best(fn: Any, reps: int) -> float:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def child(phase: str, folder: str, n: int, like_n: int) -> None:
    """One phase in this fresh process; prints one JSON line of measurements."""
    from sobjects.emulator import LocalOrg
    from sobjects.emulator.soql import run_query

    data = Path(folder) / "org.db"
    out: dict[str, Any] = {}
    if phase == "load":
        started = time.perf_counter()
        with LocalOrg(data=data) as org:
            org.define(ITEM)
            org.define(LIKE_OBJECT)
            item = org.schema.require("Bench_Item__c")
            for start in range(0, n, CHUNK):
                with org.store.transaction():
                    for i in range(start, min(n, start + CHUNK)):
                        org.store.insert(
                            item, {"Name": _name(i), "Ext__c": f"E-{i}", "Amount__c": i * 1.5}
                        )
            out["load_s"] = time.perf_counter() - started
            named = org.schema.require("Bench_Name__c")
            with org.store.transaction():
                for i in range(like_n):
                    fields = {"Name": _name(i), "Ext__c": f"N-{i}", "Amount__c": i * 1.5}
                    org.store.insert(named, fields)
            out["after_load_mb"] = _peak_mb()
            out["size_before_updates"] = _dir_bytes(data)
            ids = [r["Id"] for r in org.store.iter_records("Bench_Item__c")]
            started = time.perf_counter()
            updates = ids[::10]
            for start in range(0, len(updates), CHUNK):
                with org.store.transaction():
                    for record_id in updates[start : start + CHUNK]:
                        org.store.update(item, record_id, {"Amount__c": 0.5})
            out["updates"] = len(updates)
            out["update_s"] = time.perf_counter() - started
            out["ids"] = random.Random(1).sample(ids, min(1000, len(ids)))
        out["size"] = _dir_bytes(data)
        compact = Path(folder) / "compact.db"
        with sqlite3.connect(data) as db:
            db.execute("VACUUM INTO ?", (str(compact),))
        out["compact"] = compact.stat().st_size
        compact.unlink()
        out["peak_mb"] = _peak_mb()
    else:
        ids = json.loads(os.environ["BENCH_STORE_IDS"])
        started = time.perf_counter()
        org = LocalOrg(data=data)
        out["restart_s"] = time.perf_counter() - started
        out["restart_mb"] = _peak_mb()
        item = org.schema.require("Bench_Item__c")
        ext = item.require_field("Ext__c")
        store = org.store
        out["get_us"] = _best(lambda: [store.get(i) for i in ids], 3) / len(ids) * 1e6
        started = time.perf_counter()
        store.find(item, ext, "E-0")  # the first lookup makes the index (once, kept)
        out["index_s"] = time.perf_counter() - started
        keys = [f"e-{i}" for i in random.Random(2).sample(range(n), min(1000, n))]
        out["find_us"] = _best(lambda: [store.find(item, ext, key) for key in keys], 3)
        out["find_us"] *= 1e6 / len(keys)
        soql_ext = "SELECT Id, Name FROM Bench_Item__c WHERE Ext__c = 'E-{}'"
        out["soql_ext_us"] = (
            _best(
                lambda: [
                    run_query(soql_ext.format(i), store, api_version="62.0") for i in range(100)
                ],
                3,
            )
            * 1e6
            / 100
        )
        rows = run_query(SOQL, store, api_version="62.0").records
        out["like_s"] = _best(lambda: run_query(SOQL, store, api_version="62.0"), 7)
        plain = Path(folder) / "plain.db"
        with sqlite3.connect(plain) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS plain"
                " (seq INTEGER PRIMARY KEY, Id TEXT, Name TEXT, Ext__c TEXT, Amount__c REAL)"
            )
            if not db.execute("SELECT count(*) FROM plain").fetchone()[0]:
                db.executemany(
                    "INSERT INTO plain (Id, Name, Ext__c, Amount__c) VALUES (?, ?, ?, ?)",
                    [
                        (r["Id"], r["Name"], r["Ext__c"], r["Amount__c"])
                        for r in store.iter_records("Bench_Name__c")
                    ],
                )
            expected = db.execute(SQL).fetchall()
            out["sql_s"] = _best(lambda: db.execute(SQL).fetchall(), 7)
            db.execute("CREATE INDEX IF NOT EXISTS plain_amount ON plain (Amount__c)")
            above = like_n * 1.485
            range_rows = db.execute(RANGE_SQL, (above,)).fetchall()
            out["range_sql_s"] = _best(lambda: db.execute(RANGE_SQL, (above,)).fetchall(), 7)
            out["count_sql_s"] = _best(lambda: db.execute(COUNT_SQL).fetchone(), 7)
            out["count_range_sql_s"] = _best(
                lambda: db.execute(COUNT_RANGE_SQL, (above,)).fetchone(), 7
            )
            counted = db.execute(COUNT_SQL).fetchone()[0]
        assert [r["Name"] for r in rows] == [name for _, name in expected], "answers differ"

        def soql(text: str) -> Any:
            return run_query(text, store, api_version="62.0")

        started = time.perf_counter()
        found = soql(RANGE_SOQL.format(above)).records  # the first one makes the index
        out["range_index_s"] = time.perf_counter() - started
        assert sorted(r["Id"] for r in found) == sorted(i for i, _ in range_rows), "differ"
        out["range_rows"] = len(found)
        out["range_s"] = _best(lambda: soql(RANGE_SOQL.format(above)), 7)
        assert soql(COUNT_SOQL).total_size == counted, "counts differ"
        out["count_s"] = _best(lambda: soql(COUNT_SOQL), 7)
        out["count_range_s"] = _best(lambda: soql(COUNT_RANGE_SOQL.format(above)), 7)
        out["peak_mb"] = _peak_mb()
        org.close()
    print(json.dumps(out))


def _run(script: str, phase: str, folder: str, n: int, like_n: int, **env: str) -> Any:
    done = subprocess.run(
        [sys.executable, script, "--store-child", phase, folder, str(n), str(like_n)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def store(report: Report, n: int, like_n: int, script: str) -> None:
    with tempfile.TemporaryDirectory(prefix="sobjects-bench-store-") as folder:
        load = _run(script, "load", folder, n, like_n)
        ids = json.dumps(load.pop("ids"))
        again = _run(script, "restart", folder, n, like_n, BENCH_STORE_IDS=ids)
    rate = n / load["load_s"]
    print(
        f"  load {k(n)} records: {load['load_s']:.1f} s ({rate:,.0f} records/s), "
        f"then {k(like_n)} more for the LIKE query"
    )
    print(f"  peak RSS while loading and updating: {load['peak_mb']:.0f} MB")
    print(
        f"  update {k(load['updates'])} records: {load['update_s']:.1f} s; data file "
        f"{load['size_before_updates'] / 1e6:.0f} MB before, {load['size'] / 1e6:.0f} MB after, "
        f"{load['compact'] / 1e6:.0f} MB compacted (VACUUM INTO): "
        f"{load['size'] / load['compact']:.2f}x the live data"
    )
    print(
        f"  restart on it: {again['restart_s']:.2f} s (open, quick_check, schema), "
        f"RSS then {again['restart_mb']:.0f} MB"
    )
    print(
        f"  get by Id {again['get_us']:.0f} us; find by external id {again['find_us']:.0f} us "
        f"(its index made on first use in {again['index_s']:.1f} s); "
        f"SOQL WHERE Ext__c = : {again['soql_ext_us']:.0f} us"
    )
    print(
        f"  {SOQL} on {k(like_n)} rows: {again['like_s'] * 1000:.1f} ms; "
        f"SQLite alone ({SQL}): {again['sql_s'] * 1000:.1f} ms"
    )
    report.add(
        Row(
            f"store: RSS with {k(n)} records",
            load["peak_mb"],
            None,
            "MB",
            "",
            "< 1024 MB",
            1024,
            check_absolute=True,
            strict=True,
        )
    )
    report.add(
        Row(
            f"store: restart on {k(n)} records",
            again["restart_s"],
            None,
            "s",
            "",
            "< 10 s",
            10,
            check_absolute=True,
            strict=True,
        )
    )
    report.add(
        Row(
            "store: data file / live data",
            load["size"] / load["compact"],
            None,
            "x",
            "",
            "<= 2x",
            2,
            check_absolute=True,
        )
    )
    print(
        f"  {RANGE_SOQL.format('1.485 * n')} ({again['range_rows']} of {k(like_n)} rows): "
        f"{again['range_s'] * 1000:.1f} ms (its index made on first use in "
        f"{again['range_index_s']:.2f} s); SQLite alone, indexed too: "
        f"{again['range_sql_s'] * 1000:.2f} ms"
    )
    print(
        f"  {COUNT_SOQL} on {k(like_n)} rows: {again['count_s'] * 1000:.2f} ms; SQLite alone "
        f"({COUNT_SQL}): {again['count_sql_s'] * 1000:.2f} ms; with the 1% range: "
        f"{again['count_range_s'] * 1000:.2f} ms, SQLite alone "
        f"{again['count_range_sql_s'] * 1000:.2f} ms"
    )
    report.add(
        Row(
            f"store: LIKE+ORDER BY+LIMIT, {k(like_n)} rows",
            again["like_s"] * 1000,
            again["sql_s"] * 1000,
            "ms",
            "SQLite",
            "<= 2x",
            2,
        )
    )
    report.add(
        Row(
            f"store: range keeping 1% of {k(like_n)} rows",
            again["range_s"] * 1000,
            again["range_sql_s"] * 1000,
            "ms",
            "SQLite",
        )
    )
    report.add(
        Row(
            f"store: COUNT(), {k(like_n)} rows",
            again["count_s"] * 1000,
            again["count_sql_s"] * 1000,
            "ms",
            "SQLite",
        )
    )

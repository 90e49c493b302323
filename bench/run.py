"""``make bench``: sobjects' hot paths beside other clients, measured in the same process.

Every comparison runs sobjects and its anchor(s) interleaved (A B, then B A, ...) on the same
canned bytes and keeps the best of N. HTTP goes through ``httpx.MockTransport`` with
precomputed answers (see ``_canned.py``), so the numbers are client CPU, measured with
``time.process_time()``; only the round-trip section uses wall time. A summary table of
sobjects vs anchor vs target ends the run. Nothing here asserts a time.

    python bench/run.py            # the full run (about two minutes)
    python bench/run.py --quick    # tiny sizes, one repetition (the smoke test)
    python bench/run.py --only reads --only writes   # some sections (see --help)
    python bench/run.py --rss-child MODE N   # internal: one flush in a fresh process
    python bench/run.py --store-child PHASE DIR N LIKE_N   # internal: one store phase
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import anyio

SCRIPT = str(Path(__file__).resolve())  # the RSS children run this file again
SECTIONS = {
    "reads_narrow": "1. Reads, narrow",
    "reads_wide": "2. Reads, wide",
    "field_reads": "3. Field reads after loading",
    "writes": "4. Writes",
    "memory": "5. Memory",
    "round_trips": "6. Round trips",
    "linear": "7. Linear",
    "local_org": "8. Local org (in-process emulator)",
    "store": "9. Local org store (SQLite, --data)",
    "bulk": "10. Bulk API 2.0 (local org served over HTTP)",
    "summary": "Summary",
}


@dataclass(frozen=True)
class Sizes:
    read_n: int
    read_reps: int
    field_reps: int
    write_n: int
    write_reps: int
    linear_n: int
    linear_reps: int
    memory_n: int
    rss_n: int
    round_trip_n: int
    round_trip_delay: float
    local_scale: float
    store_n: int
    like_n: int
    bulk_ladder: tuple[int, ...] = (1_000,)
    bulk_threshold: int = 500


FULL = Sizes(
    read_n=2_000,
    read_reps=7,
    field_reps=11,
    write_n=10_000,
    write_reps=3,
    linear_n=100_000,
    linear_reps=2,
    memory_n=10_000,
    rss_n=100_000,
    round_trip_n=1_000,
    round_trip_delay=0.05,
    local_scale=1.0,
    store_n=1_000_000,
    like_n=100_000,
    # A million-record Bulk flush takes about three minutes on its own: `--scale` (make
    # bench-scale) adds it, so that `make bench` stays near its three-minute budget.
    bulk_ladder=(5_000, 50_000),
    bulk_threshold=2_000,
)
QUICK = Sizes(
    read_n=200,
    read_reps=1,
    field_reps=1,
    write_n=400,
    write_reps=1,
    linear_n=1_200,
    linear_reps=1,
    memory_n=300,
    rss_n=1_000,
    round_trip_n=100,
    round_trip_delay=0.01,
    local_scale=0.02,
    store_n=2_000,
    like_n=1_000,
)


class _Clock:
    """Wall time per section, for the footer (the budget of ``make bench`` is 3 minutes)."""

    def __init__(self) -> None:
        self.section = ""
        self.since = time.perf_counter()
        self.spent: dict[str, float] = {}

    def enter(self, key: str) -> None:
        now = time.perf_counter()
        if self.section:
            self.spent[self.section] = now - self.since
        self.section, self.since = key, now


_clock = _Clock()


GROUPS = ("reads", "writes", "memory", "round_trips", "linear", "local_org", "store", "bulk")


def header(key: str, detail: str = "") -> None:
    _clock.enter(key)
    print(f"\n## {SECTIONS[key]}{': ' + detail if detail else ''}", flush=True)


async def main(sizes: Sizes, only: frozenset[str] = frozenset()) -> None:
    # Imported here: the --rss-child path imports only what its flush needs.
    from _bulk import bulk_section
    from _data import contact_queries
    from _localorg import local_org
    from _measure import Report
    from _reads import field_reads, read_page
    from _store import store
    from _writes import linear, memory, round_trips, rss, writes

    started = time.perf_counter()
    versions = ", ".join(
        f"{name} {version(name)}"
        for name in ("sobjects", "pydantic", "httpx", "aiosalesforce", "simple-salesforce")
    )
    print(f"sobjects bench: Python {platform.python_version()}, {versions}")
    print(
        "client CPU = time.process_time(), best of N, sobjects and anchors interleaved; "
        "HTTP = httpx.MockTransport with precomputed answers"
    )
    report = Report()
    queries = contact_queries()

    def wanted(group: str) -> bool:
        return not only or group in only

    if wanted("reads"):
        header("reads_narrow", "session.all(select(Contact).only(8 fields, Account.Name))")
        await read_page(report, "narrow", queries["narrow"], sizes.read_n, sizes.read_reps)

        header("reads_wide", "session.all(select(Contact).with_parent(Contact.account.name))")
        loaded = await read_page(
            report, "wide", queries["wide"], sizes.read_n, max(1, sizes.read_reps - 2)
        )

        header("field_reads", "getattr of every loaded field vs plain Python objects")
        await field_reads(report, loaded, queries["wide"], sizes.field_reps)
        del loaded

    if wanted("writes") or wanted("linear"):
        header("writes", "Contact(...).save() x N in a Session vs aiosalesforce composite.batch")
        per_record = await writes(report, sizes.write_n, sizes.write_reps)

    if wanted("memory"):
        header("memory", "tracemalloc per record, then peak RSS of a big flush in a fresh process")
        await memory(report, sizes.memory_n)
        await rss(report, sizes.rss_n, SCRIPT)

    if wanted("round_trips"):
        header(
            "round_trips", "every request sleeps; wall time vs ceil(requests / in flight) x sleep"
        )
        await round_trips(report, sizes.round_trip_n, sizes.round_trip_delay)

    if wanted("linear"):
        header("linear", "CPU per record of a big flush vs the writes section")
        await linear(report, per_record, sizes.write_n, sizes.linear_n, sizes.linear_reps)

    if wanted("local_org"):
        header("local_org", "wall time, client and emulator together")
        await local_org(sizes.local_scale)

    if wanted("store"):
        header("store", "each phase in a fresh process; the LIKE query beside SQLite alone")
        store(report, sizes.store_n, sizes.like_n, SCRIPT)
    if wanted("bulk"):
        header("bulk", "one session flush upserting N Contacts as Bulk API jobs, then read back")
        await bulk_section(sizes.bulk_ladder, sizes.bulk_threshold, SCRIPT)

    header("summary", "sobjects vs anchor (ratio = sobjects / anchor)")
    print(report.table())
    spent = ", ".join(f"{key} {secs:.0f}" for key, secs in _clock.spent.items())
    print(f"\nbench took {time.perf_counter() - started:.0f} s ({spent})")


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="the Bulk section up to 1,000,000 records (several minutes more)",
    )
    parser.add_argument(
        "--bulk-ladder",
        metavar="N,N,...",
        help="the Bulk section's sizes (e.g. 10000,100000), instead of the default ones",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=GROUPS,
        default=[],
        help="run only these sections (repeatable); all by default",
    )
    parser.add_argument("--rss-child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--store-child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--bulk-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.store_child:
        from _store import child

        phase, folder, n, like_n = args.store_child
        child(phase, folder, int(n), int(like_n))
        return
    if args.bulk_child:
        from _bulk import bulk_child

        mode, url, token, n, threshold = args.bulk_child
        bulk_child(mode, url, token, int(n), int(threshold))
        return
    if args.rss_child:
        from _writes import rss_child

        mode, n = args.rss_child
        rss_child(mode, int(n))
        return
    sizes = QUICK if args.quick else FULL
    if args.scale:
        sizes = dataclasses.replace(sizes, bulk_ladder=(10_000, 100_000, 1_000_000))
    if args.bulk_ladder:
        ladder = tuple(int(n.replace("_", "")) for n in args.bulk_ladder.split(","))
        sizes = dataclasses.replace(sizes, bulk_ladder=ladder)
    anyio.run(main, sizes, frozenset(args.only), backend="asyncio")


if __name__ == "__main__":
    sys.exit(cli())

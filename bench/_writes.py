"""Sections 4-7: creates through the session (and the client) vs aiosalesforce's Composite
Batch, memory per record, round trips under latency, and how the CPU per record scales."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import resource
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from _canned import CannedOrg, aio_client, sobjects_client
from _data import Contact, WriteInputs
from _measure import Report, Row, interleave, k

from sobjects import Session

BATCH_SIZE = 25  # subrequests per Composite Batch request (a Salesforce limit)
# aiosalesforce sends its Composite Batch chunks this many at a time: the session's default
# concurrency, so that both sides overlap requests alike.
AIO_CONCURRENCY = 4
DEFAULT = "default"  # Session(sf) with its default collections_threshold

# The sobjects write paths: Session(collections_threshold=...).
SOBJECTS_PATHS: dict[str, int | str | None] = {
    "sobjects batch": None,  # every create a Composite Batch subrequest
    "sobjects collections": DEFAULT,  # the default: sObject Collections inside Composite
}
WRITE_TARGET = "<= 1.5x (stretch 1.0x)"


def _session(sf: Any, threshold: int | str | None) -> Session:
    # These paths are the synchronous ones (Bulk API jobs are measured by bench/_bulk.py):
    # the canned org answers Composite only.
    if threshold == DEFAULT:
        return Session(sf, bulk_threshold=None)
    assert not isinstance(threshold, str)
    return Session(sf, collections_threshold=threshold, bulk_threshold=None)


async def sobjects_creates(
    canned: CannedOrg, inputs: WriteInputs, n: int, threshold: int | str | None
) -> tuple[float, list[Contact]]:
    """``Contact(...).save()`` n times in a session, flushed on exit: (CPU seconds, models)."""
    last, first, email = inputs.last_names, inputs.first_names, inputs.emails
    canned.reset()
    async with sobjects_client(canned) as sf:
        contacts: list[Contact] = []
        gc.collect()
        started = time.process_time()
        async with _session(sf, threshold):
            for i in range(n):
                contact = Contact(last_name=last[i], first_name=first[i], email=email[i])
                contact.save()
                contacts.append(contact)
        took = time.process_time() - started
    if canned.subrequests != n or not contacts[-1].id:
        raise SystemExit(f"sobjects: {canned.subrequests} of {n} creates answered")
    return took, contacts


async def aio_creates(canned: CannedOrg, inputs: WriteInputs, n: int) -> tuple[float, list[Any]]:
    """The same creates through aiosalesforce: ``sf.composite.batch(halt_on_error=False)``
    per 25 (its batch sends everything it holds in one request; Salesforce takes 25), up to
    AIO_CONCURRENCY batches in flight. (CPU seconds, subrequests)."""
    last, first, email = inputs.last_names, inputs.first_names, inputs.emails
    canned.reset()
    async with aio_client(canned) as sf:
        subrequests: list[Any] = []
        gc.collect()
        started = time.process_time()
        limit = asyncio.Semaphore(AIO_CONCURRENCY)

        async def send(start: int) -> None:
            async with limit, sf.composite.batch(halt_on_error=False) as batch:
                for i in range(start, min(start + BATCH_SIZE, n)):
                    subrequests.append(
                        batch.sobject.create(
                            "Contact",
                            {"LastName": last[i], "FirstName": first[i], "Email": email[i]},
                        )
                    )

        async with asyncio.TaskGroup() as group:
            for start in range(0, n, BATCH_SIZE):
                group.create_task(send(start))
        took = time.process_time() - started
    if canned.subrequests != n or not subrequests[-1].id:
        raise SystemExit(f"aiosalesforce: {canned.subrequests} of {n} creates answered")
    return took, subrequests


def _write_runs(canned: CannedOrg, inputs: WriteInputs, n: int) -> dict[str, Any]:
    runs: dict[str, Callable[[], Awaitable[float]]] = {}
    for name, threshold in SOBJECTS_PATHS.items():

        async def run(threshold: int | str | None = threshold) -> float:
            took, _ = await sobjects_creates(canned, inputs, n, threshold)
            return took

        runs[name] = run

    async def run_aio() -> float:
        took, _ = await aio_creates(canned, inputs, n)
        return took

    runs["aiosalesforce"] = run_aio
    return runs


async def writes(report: Report, n: int, reps: int) -> dict[str, float]:
    """Section 4. Returns CPU us/record by contender."""
    inputs = WriteInputs.build(n)
    canned = CannedOrg(n)
    best = await interleave(reps, _write_runs(canned, inputs, n))
    per = {k: v / n * 1e6 for k, v in best.items()}
    print(f"  {n:,} creates, best of {reps}, client CPU per record:")
    for name, us in per.items():
        print(f"    {name:22} {us:8.1f} us/record  ({best[name] * 1000:,.0f} ms)")
    for name in SOBJECTS_PATHS:
        report.add(
            Row(
                f"writes {k(n)}: {name.removeprefix('sobjects ')}",
                per[name],
                per["aiosalesforce"],
                "us/rec",
                "aiosf",
                WRITE_TARGET,
                1.5,
            )
        )
    # The same runs with the cyclic collector paused: what the code itself costs, apart from
    # collections, which grow with the objects both clients leave alive. For reading only.
    paused = await interleave(
        reps, {name: _paused(run) for name, run in _write_runs(canned, inputs, n).items()}
    )
    paused_per = {k_: v / n * 1e6 for k_, v in paused.items()}
    print("  the same with the garbage collector paused (informational):")
    for name, us in paused_per.items():
        print(f"    {name:22} {us:8.1f} us/record")
    for name in SOBJECTS_PATHS:
        report.add(
            Row(
                f"  same, collector paused: {name.removeprefix('sobjects ')}",
                paused_per[name],
                paused_per["aiosalesforce"],
                "us/rec",
                "aiosf",
            )
        )
    return per


def _paused(run: Callable[[], Awaitable[float]]) -> Callable[[], Awaitable[float]]:
    async def paused() -> float:
        gc.disable()
        try:
            return await run()
        finally:
            gc.enable()

    return paused


async def linear(report: Report, small: dict[str, float], n_small: int, n: int, reps: int) -> None:
    """Section 7: CPU per record at n vs at n_small (from section 4)."""
    inputs = WriteInputs.build(n)
    canned = CannedOrg(n)
    best = await interleave(reps, _write_runs(canned, inputs, n))
    print(f"  {n:,} creates, best of {reps}, vs {n_small:,} above:")
    for name, took in best.items():
        us = took / n * 1e6
        ratio = us / small[name]
        print(f"    {name:22} {us:8.1f} us/record  ({ratio:.2f}x the {n_small:,} figure)")
        if name in SOBJECTS_PATHS:
            report.add(
                Row(
                    f"linear {k(n)}/{k(n_small)}: {name.removeprefix('sobjects ')}",
                    ratio,
                    best["aiosalesforce"] / n * 1e6 / small["aiosalesforce"],
                    "x",
                    "aiosf",
                    "<= 1.3x",
                    1.3,
                    check_absolute=True,
                    show_ratio=False,
                )
            )


# -- memory ------------------------------------------------------------------------------------


async def _traced(make: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    """(bytes retained per record with the results still referenced, peak bytes per record)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = await make()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    return (current - base) / n, (peak - base) / n


async def memory(report: Report, n: int) -> None:
    """Section 5a: tracemalloc, bytes retained per flushed Contact / per subrequest."""
    inputs = WriteInputs.build(n)
    canned = CannedOrg(n)
    results: dict[str, tuple[float, float]] = {}
    for name, threshold in SOBJECTS_PATHS.items():

        async def make(threshold: int | str | None = threshold) -> Any:
            return (await sobjects_creates(canned, inputs, n, threshold))[1]

        results[name] = await _traced(make, n)

    async def make_aio() -> Any:
        return (await aio_creates(canned, inputs, n))[1]

    results["aiosalesforce"] = await _traced(make_aio, n)
    print(f"  {n:,} creates under tracemalloc, results kept referenced, after gc.collect():")
    for name, (kept, peak) in results.items():
        what = "subrequest" if name == "aiosalesforce" else "Contact"
        print(
            f"    {name:22} retained {kept / 1024:6.2f} KB/{what},"
            f" peak {peak / 1024:6.2f} KB/{what}"
        )
    anchor = results["aiosalesforce"][0] / 1024
    for name in SOBJECTS_PATHS:
        report.add(
            Row(
                f"retained/record {k(n)}: {name.removeprefix('sobjects ')}",
                results[name][0] / 1024,
                anchor,
                "KB",
                "aiosf",
                "<= 1.5 KB/Contact",
                1.5,
                check_absolute=True,
            )
        )


def _current_rss_kb() -> int:
    """Resident set size now (Linux: VmRSS), else the peak so far."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_child(mode: str, n: int) -> None:
    """``run.py --rss-child MODE N``: one flush of n creates in this fresh process; prints
    one JSON line: RSS before the flush and peak RSS (ru_maxrss, KB on Linux) in MB, CPU."""
    inputs = WriteInputs.build(n)
    canned = CannedOrg(n, prebuilt=False)  # formats its answers per request: no slab in RSS
    gc.collect()
    before = _current_rss_kb()

    async def main() -> float:
        if mode == "aiosalesforce":
            took, kept = await aio_creates(canned, inputs, n)
        else:
            threshold = SOBJECTS_PATHS[mode]
            took, kept = await sobjects_creates(canned, inputs, n, threshold)
        gc.collect()
        del kept
        return took

    cpu = anyio.run(main, backend="asyncio")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "mode": mode,
                "n": n,
                "before_mb": before / 1024,
                "peak_mb": after / 1024,
                "cpu_s": cpu,
            }
        )
    )


async def rss(report: Report, n: int, script: str) -> None:
    """Section 5b: peak RSS of a flush of n creates, each in a fresh subprocess (two at once:
    they share no memory, and only their own peak RSS is read)."""
    modes = [*SOBJECTS_PATHS, "aiosalesforce"]
    results: dict[str, dict[str, Any]] = {}
    limiter = anyio.CapacityLimiter(2)

    async def child(mode: str) -> None:
        async with limiter:
            done = await anyio.run_process(
                [sys.executable, script, "--rss-child", mode, str(n)], check=False
            )
        if done.returncode != 0:
            raise SystemExit(f"rss child {mode} failed:\n{done.stderr.decode()[-2000:]}")
        results[mode] = json.loads(done.stdout.decode().strip().splitlines()[-1])

    async with anyio.create_task_group() as group:
        for mode in modes:
            group.start_soon(child, mode)
    print(f"  one flush of {n:,} creates per fresh process (peak RSS = ru_maxrss):")
    for mode in modes:
        r = results[mode]
        print(
            f"    {mode:22} peak {r['peak_mb']:7.1f} MB  (RSS before the flush"
            f" {r['before_mb']:6.1f} MB, +{r['peak_mb'] - r['before_mb']:6.1f} MB;"
            f" {r['cpu_s'] / n * 1e6:6.1f} us/record CPU)"
        )
    for mode in SOBJECTS_PATHS:
        report.add(
            Row(
                f"peak RSS {k(n)}: {mode.removeprefix('sobjects ')}",
                results[mode]["peak_mb"],
                results["aiosalesforce"]["peak_mb"],
                "MB",
                "aiosf",
                "< 200 MB",
                200.0,
                check_absolute=True,
                strict=True,
            )
        )


# -- round trips -------------------------------------------------------------------------------


async def round_trips(report: Report, n: int, delay: float) -> None:
    """Section 6: n independent creates, every request taking ``delay``: wall time vs
    ceil(requests / in flight) x delay."""
    inputs = WriteInputs.build(n)
    rows: list[tuple[str, float, int, int]] = []

    canned = CannedOrg(n, delay=delay)
    async with sobjects_client(canned) as sf:
        started = time.perf_counter()
        async with sf.composite.batch(halt_on_error=False) as batch:
            for i in range(n):
                batch.sobject.create(
                    "Contact", {"LastName": inputs.last_names[i], "Email": inputs.emails[i]}
                )
        wall = time.perf_counter() - started
        rows.append(("client composite.batch", wall, canned.requests, sf.concurrency_limit))

    for label, threshold in (("session batch", None), ("session collections", DEFAULT)):
        canned = CannedOrg(n, delay=delay)
        async with sobjects_client(canned) as sf:
            session = _session(sf, threshold)
            in_flight = min(getattr(session, "concurrency", 4), sf.concurrency_limit)
            started = time.perf_counter()
            async with session:
                for i in range(n):
                    Contact(last_name=inputs.last_names[i], email=inputs.emails[i]).save()
            wall = time.perf_counter() - started
        rows.append((label, wall, canned.requests, in_flight))

    print(f"  {n:,} creates, {delay * 1000:.0f} ms per request, wall time:")
    for label, wall, requests, in_flight in rows:
        ideal = math.ceil(requests / in_flight) * delay
        print(
            f"    {label:24} {wall * 1000:8.0f} ms  {requests:3d} requests, {in_flight} in flight:"
            f" ideal {ideal * 1000:.0f} ms ({wall / ideal:.2f}x)"
        )
        informational = label == "session collections"
        report.add(
            Row(
                f"round trips {k(n)}: {label}",
                wall * 1000,
                ideal * 1000,
                "ms",
                "ideal",
                "-" if informational else "<= 1.5x ideal",
                None if informational else 1.5,
            )
        )

"""Sections 1-3: a 2,000-record query page into typed models, and reading their fields."""

from __future__ import annotations

import gc
import json
import time
from collections import OrderedDict
from typing import Any

import pydantic
from _canned import CannedOrg, sobjects_client
from _data import Contact, build_page, model_fields, plain_model, selected
from _measure import Report, Row, interleave

from sobjects import Session
from sobjects.orm import Select

READ_TARGET = "<= 1.0x ssf (stretch 0.6x)"


async def read_page(
    report: Report, label: str, query: Select[Contact], n: int, reps: int
) -> list[Contact]:
    """sobjects ``session.all(query)`` through the canned transport vs parsing the same bytes.

    Returns the models of sobjects' last run (for the field-read section).
    """
    page = build_page(query.to_soql(), Contact, n)
    plain = plain_model(page, Contact, f"Plain{label.title()}Contact")
    adapter = pydantic.TypeAdapter(list[plain])  # type: ignore[valid-type]
    canned = CannedOrg(page=page.body)
    body = page.body
    loaded: list[Contact] = []

    async with sobjects_client(canned) as sf:

        async def run_sobjects() -> float:
            loaded.clear()
            gc.collect()
            async with Session(sf) as session:
                started = time.process_time()
                rows = await session.all(query)
                took = time.process_time() - started
            loaded.extend(rows)
            return took

        async def run_ssf() -> float:
            started = time.process_time()
            # simple-salesforce: requests' Response.json(object_pairs_hook=OrderedDict), i.e.
            # decode with the charset of the content type, then the stdlib parser.
            json.loads(body.decode("utf-8"), object_pairs_hook=OrderedDict)
            return time.process_time() - started

        async def run_json() -> float:
            started = time.process_time()
            json.loads(body)
            return time.process_time() - started

        async def run_pydantic() -> float:
            started = time.process_time()
            adapter.validate_json(page.records)
            return time.process_time() - started

        best = await interleave(
            reps,
            {
                "sobjects": run_sobjects,
                "simple-salesforce": run_ssf,
                "json.loads": run_json,
                "pydantic": run_pydantic,
            },
        )
    _check_loaded(loaded, page.size)
    ms = {k: v * 1000 for k, v in best.items()}
    print(
        f"  {n:,} records x {len(page.columns)} columns, {len(body) / 1e6:.2f} MB page, "
        f"best of {reps}, CPU ms:"
    )
    print(f"    sobjects session.all(select(Contact)...) {ms['sobjects']:8.1f} ms")
    for name, what in (
        ("simple-salesforce", "json.loads(text, object_pairs_hook=OrderedDict)"),
        ("json.loads", "json.loads(bytes)"),
        ("pydantic", "TypeAdapter(list[M]).validate_json(records)"),
    ):
        ratio = ms["sobjects"] / ms[name] if ms[name] else float("nan")
        print(f"    {name:18} {what:48} {ms[name]:8.1f} ms   sobjects/it {ratio:5.2f}x")
    report.add(
        Row(
            f"{label} read {n:,} ({len(page.columns)} cols)",
            ms["sobjects"],
            ms["simple-salesforce"],
            "ms",
            "ssf",
            READ_TARGET,
            1.0,
        )
    )
    for name in ("json.loads", "pydantic"):
        report.add(Row(f"  same, vs {name}", ms["sobjects"], ms[name], "ms", name))
    return loaded


def _check_loaded(rows: list[Contact], n: int) -> None:
    if len(rows) != n or not all(isinstance(r, Contact) for r in rows[:10]):
        raise SystemExit(f"sobjects returned {len(rows)} rows, expected {n} Contacts")


class PlainContact:
    """A plain Python object with the same attributes."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _read_every(objects: list[Any], names: list[str]) -> None:
    for obj in objects:
        for name in names:
            getattr(obj, name)


async def field_reads(
    report: Report, loaded: list[Contact], query: Select[Contact], reps: int
) -> None:
    """Every loaded field of every model vs the same reads on plain objects."""
    fields = model_fields(Contact)
    columns = [c.split(".", 1)[0] for c in selected(query.to_soql())]
    names = list(dict.fromkeys(fields[c].python_name for c in columns))
    plain = [PlainContact({name: getattr(obj, name) for name in names}) for obj in loaded]
    repeat = 5  # a run is short: read everything a few times

    async def run_sobjects() -> float:
        started = time.process_time()
        for _ in range(repeat):
            _read_every(loaded, names)
        return time.process_time() - started

    async def run_plain() -> float:
        started = time.process_time()
        for _ in range(repeat):
            _read_every(plain, names)
        return time.process_time() - started

    best = await interleave(reps, {"sobjects": run_sobjects, "plain": run_plain})
    reads = len(loaded) * len(names) * repeat
    ns = {k: v / reads * 1e9 for k, v in best.items()} if reads else {"sobjects": 0, "plain": 0}
    print(
        f"  {len(loaded):,} models x {len(names)} fields (getattr), x{repeat}, best of {reps}: "
        f"sobjects {ns['sobjects']:.1f} ns/read, plain objects {ns['plain']:.1f} ns/read"
    )
    report.add(
        Row(
            f"field reads ({len(names)} fields)",
            ns["sobjects"],
            ns["plain"],
            "ns",
            "plain obj",
            "<= 2.0x",
            2.0,
        )
    )

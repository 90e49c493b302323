"""A fault soak: the session against a local org that fails on purpose, every way it can.

A job saves thousands of records, one session per round, the way a batch job retries: each
round saves what is not settled yet and flushes while the org injects faults (503, 500, 502,
dropped connections, answers lost after the write was applied, expired tokens, a failing
token endpoint, 429 with Retry-After, row locks on creates and updates, failing subrequests
inside a composite, slow answers). At the end the org's rows are compared with what the
session said:

- nothing lost: every record is in the org with the id the session gave it, or its outcome
  was reported unknown;
- nothing duplicated: no record is in the org twice;
- nothing misreported: every record whose outcome is unknown was listed on an error
  (``exc.objects``), and every update the session called done is in the org.

``tests/orm/test_soak.py`` runs a few thousand records on both flush paths; ``make soak``
runs the large one (``python -m tests.orm.soak --records 200000``).
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from sobjects import RetryPolicy, Session, inspect
from sobjects.auth import ClientCredentials
from sobjects.emulator import LocalOrg
from sobjects.errors import SalesforceError
from sobjects.fields import Field
from sobjects.orm import SObject

Path = Literal["batch", "collections", "economy"]

FAULT_KINDS = (
    "fail_503",
    "fail_500",
    "fail_502",
    "drop",
    "drop_answer",
    "expire_tokens",
    "fail_token",
    "throttle",
    "lock_creates",
    "lock_record",
    "fail_subrequests",
    "delay",
)


class SoakContact(SObject, api_name="Contact"):
    last_name: Field[str]
    title: Field[str | None] = Field(None)


class SoakAccount(SObject, api_name="Account"):
    name: Field[str]
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


@dataclass
class SoakReport:
    path: Path
    records: int
    rounds: int = 0
    seconds: float = 0.0
    created: int = 0  # creates the session reported done
    upserted: int = 0
    updated: int = 0
    unknown: int = 0  # outcome reported unknown (never resent)
    unknown_applied: int = 0  # of those, how many the org did apply
    faults: Counter[str] = field(default_factory=Counter)
    errors_raised: int = 0
    api_calls: int = 0  # as the org counted them
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        return (
            f"{self.path}: {self.records} records in {self.rounds} rounds, {self.seconds:.1f} s; "
            f"{self.created} created, {self.upserted} upserted, {self.updated} updated, "
            f"{self.unknown} unknown ({self.unknown_applied} of them applied); "
            f"{self.errors_raised} errors raised, {self.api_calls} API calls; faults: {faults}; "
            f"problems: {len(self.problems)}"
        )


def _inject(org: LocalOrg, rng: random.Random, report: SoakReport, targets: list[str]) -> None:
    """Faults for the next request or few: in the first rounds each kind in turn (so a run
    covers them all), then in half the rounds one at random; with up to two more."""
    faults = org.faults
    if report.rounds <= len(FAULT_KINDS):
        kinds = [FAULT_KINDS[report.rounds - 1]]
    elif rng.random() < 0.5:
        kinds = [rng.choice(FAULT_KINDS)]
    else:
        return
    kinds += rng.sample([k for k in FAULT_KINDS if k not in kinds], rng.randint(0, 2))
    for kind in kinds:
        report.faults[kind] += 1
        if kind.startswith("fail_5"):
            faults.fail_next(rng.randint(1, 2), status=int(kind[-3:]))
        elif kind == "drop":
            faults.drop_next(1)
        elif kind == "drop_answer":
            faults.drop_answer_next(1)
        elif kind == "expire_tokens":
            org.expire_tokens()
        elif kind == "fail_token":
            org.expire_tokens()  # the next request must log in again, and that fails
            faults.fail_token_next(rng.randint(1, 2), status=rng.choice([400, 503]))
        elif kind == "throttle":
            faults.throttle_next(rng.randint(1, 2), retry_after=0)
        elif kind == "lock_creates":
            faults.lock_creates(times=rng.randint(1, 3))
        elif kind == "lock_record":
            if targets:
                faults.lock_record(rng.choice(targets), times=rng.randint(1, 2))
            else:
                faults.lock_creates(times=1)  # nothing to lock yet: a create instead
        elif kind == "fail_subrequests":
            faults.fail_subrequests(rng.randint(1, 3), status=rng.choice([400, 500]))
        elif kind == "delay":
            faults.delay_next(1, seconds=0.005)


def _exceptions(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [e for inner in exc.exceptions for e in _exceptions(inner)]
    return [exc]


async def soak(
    records: int,
    *,
    path: Path = "batch",
    seed: int = 0,
    per_round: int = 500,
    max_rounds: int = 400,
) -> SoakReport:
    """Run the soak; the report's ``problems`` is empty when nothing was lost, duplicated or
    misreported."""
    rng = random.Random(seed)
    report = SoakReport(path, records)
    org = LocalOrg(daily_api_limit=10**9)  # a day's limit is not what this is about
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    retry = RetryPolicy(backoff_base=0.001, backoff_max=0.002, deadline=30.0)
    started = time.perf_counter()
    contacts = [SoakContact(last_name=f"C{i:07d}") for i in range(records - records // 4)]
    accounts = [SoakAccount(name=f"A{i:07d}", ext_id=f"X{i:07d}") for i in range(records // 4)]
    listed: set[int] = set()  # objects some raised error named
    unknown: set[int] = set()
    updated: dict[int, str] = {}
    threshold = None if path == "batch" else 200
    strategy = "economy" if path == "economy" else "batch"

    def settled(obj: SObject) -> bool:
        if id(obj) in unknown:
            return True
        state = inspect(obj)
        if any(e.code == "OUTCOME_UNKNOWN" for e in state.errors):
            unknown.add(id(obj))
            return True
        return obj.id is not None and state.state == "persistent"

    async with org.client(
        auth=ClientCredentials("soak", "soak"), retry=retry, concurrency_limit=4
    ) as sf:
        # Phase 1: creates and upserts. Phase 2: an update of every contact created.
        for phase in ("write", "update"):
            todo: list[SObject] = (
                [*contacts, *accounts]
                if phase == "write"
                else [c for c in contacts if c.id is not None and id(c) not in unknown]
            )
            if phase == "update":
                for contact in todo:
                    contact.title = f"T-{contact.last_name}"
                unknown_before = set(unknown)
            while todo:
                report.rounds += 1
                if report.rounds > max_rounds:
                    report.problems.append(f"not settled after {max_rounds} rounds: {len(todo)}")
                    break
                batch, todo = todo[:per_round], todo[per_round:]
                targets = [o.id for o in batch if o.id]
                _inject(org, rng, report, targets)
                try:
                    async with Session(
                        sf, collections_threshold=threshold, lock_retries=2, strategy=strategy
                    ) as session:
                        for obj in batch:
                            if isinstance(obj, SoakAccount):
                                obj.upsert(session=session)
                            else:
                                obj.save(session=session)
                except (SalesforceError, ExceptionGroup) as exc:
                    report.errors_raised += 1
                    for error in _exceptions(exc):
                        listed.update(id(o) for o in getattr(error, "objects", ()))
                if phase == "update":
                    for contact in batch:
                        if inspect(contact).state == "persistent":
                            updated[id(contact)] = contact.title or ""
                todo += [o for o in batch if not settled(o)]
                org.faults.clear()
            if phase == "update":
                report.unknown += len(unknown - unknown_before)
    report.seconds = time.perf_counter() - started
    report.api_calls = org.api_usage

    # -- compare with the org ----------------------------------------------------------------
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in org.store.records("Contact"):
        rows.setdefault(row["LastName"], []).append(row)
    for row in org.store.records("Account"):
        rows.setdefault(row["Name"], []).append(row)
    for obj in [*contacts, *accounts]:
        key = obj.last_name if isinstance(obj, SoakContact) else obj.name
        found = rows.get(key, [])
        if len(found) > 1:
            report.problems.append(f"{key} is in the org {len(found)} times")
        if id(obj) in unknown:
            if id(obj) not in listed:
                report.problems.append(f"{key}: outcome unknown but on no error's objects")
            if obj.id is None:  # a create whose answer was lost: it may or may not be there
                report.unknown_applied += len(found) == 1
                continue
        if obj.id is None or not found:
            report.problems.append(f"{key} lost: id {obj.id}, {len(found)} rows")
            continue
        if found[0]["Id"] != obj.id:
            report.problems.append(f"{key}: the org's id {found[0]['Id']} is not {obj.id}")
        if id(obj) in updated and found[0].get("Title") != updated[id(obj)]:
            report.problems.append(f"{key}: update reported done but not in the org")
    report.unknown = len(unknown)
    report.created = sum(1 for c in contacts if c.id and id(c) not in unknown)
    report.upserted = sum(1 for a in accounts if a.id and id(a) not in unknown)
    report.updated = len(updated)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-round", type=int, default=2_000)
    args = parser.parse_args(argv)
    failed = False
    for path in ("batch", "collections", "economy"):
        run = functools.partial(
            soak,
            args.records,
            path=path,
            seed=args.seed,
            per_round=args.per_round,
            max_rounds=10 * args.records // args.per_round + 100,
        )
        report = anyio.run(run)
        print(report.line(), flush=True)
        for problem in report.problems[:20]:
            print("  PROBLEM:", problem)
        failed = failed or bool(report.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

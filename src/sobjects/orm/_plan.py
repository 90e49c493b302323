"""The flush planner: recorded work in, a ``FlushPlan`` out, with no I/O.

A plan is what a flush will send when nothing fails: requests in rounds (a round waits for
the one before it; its requests go concurrently), each request a list of calls (one
subrequest each: a write, a deferred query, or an sObject Collections call carrying up to 200
records), and what it costs in HTTP requests, round trips and API calls. Salesforce counts a
Composite Batch request as one API call per subrequest, and a Composite request (whatever
its subrequests, Collections calls included) as one.

A group of one write on one sObject larger than the session's ``bulk_threshold`` goes as a
Bulk API 2.0 ingest job instead (endpoint ``jobs/ingest``), in the first round; the rest is
planned as below and waits for the job when it depends on it.

Strategies:

- ``batch``: dependency waves, one round each. A large group of one write on one sObject
  goes as Collections calls inside Composite requests; the rest as Composite Batch requests
  of 25. A deferred query rides at the end of the batch of the writes it follows when they
  all fit in that one request.
- ``economy``: the fewest API calls with no more round trips. Records that depend on each
  other go in one Composite request, children referring to their parent's new id with
  ``@{ref.id}``; writes of one kind on one sObject share Collections calls; requests are
  packed to Composite's limits (25 subrequests, 5 of them Collections calls or queries).
  Work that does not fit one request falls back to ``batch`` waves.

``str(plan)`` is a table, like a database's EXPLAIN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple, Protocol

from sobjects.client._collections import MAX_COLLECTION_SIZE
from sobjects.client._composite import (
    BATCH_SIZE,
    COMPOSITE_MAX_QUERIES,
    COMPOSITE_MAX_SUBREQUESTS,
)
from sobjects.client._graph import GRAPH_MAX_DEPTH, GRAPH_MAX_NODE_KINDS, GRAPH_MAX_NODES
from sobjects.errors import ConfigurationError
from sobjects.orm._model import SObject
from sobjects.orm._operation import Operation, QueryHandle, describe

__all__ = [
    "STRATEGIES",
    "Call",
    "FlushPlan",
    "FlushReport",
    "PlannedRequest",
    "SendLog",
    "SentRequest",
    "Strategy",
    "plan_flush",
    "with_streams",
]

GRAPHS_PER_REQUEST = 75  # Composite Graph: graphs in one request

Strategy = Literal["batch", "economy"]
STRATEGIES: tuple[Strategy, ...] = ("batch", "economy")
Endpoint = Literal["composite/batch", "composite", "composite/graph", "jobs/ingest"]
# API calls of one Bulk API 2.0 ingest job when nothing goes wrong: create, upload, close,
# one poll and the three result files (each further poll is one more).
BULK_JOB_CALLS = 7
Item = Operation | QueryHandle[Any]
ParentsOf = Callable[[Operation], list[SObject]]


class PlannedStream(Protocol):
    """A streamed write (``session.save_all``): its size is unknown until it is sent."""

    def describe(self) -> str: ...


class Call(NamedTuple):
    """One subrequest: a single write or query, or a Collections call (``collection``).

    (A named tuple: a plan of 100,000 creates makes one per record, and a tuple is the
    cheapest object to make.)
    """

    action: str  # create, update, upsert, delete or query
    sobject: str
    items: tuple[Item, ...]
    collection: bool = False

    @property
    def counts_as_query(self) -> bool:
        """Composite allows at most 5 of these (queries and Collections calls)."""
        return self.collection or self.action == "query"


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One HTTP request of a plan: its endpoint, round and calls."""

    endpoint: Endpoint
    round: int
    calls: tuple[Call, ...] = ()
    all_or_none: bool = False
    # Composite Graph: how many of the calls, in order, make each graph.
    graphs: tuple[int, ...] = ()
    # Composite Batch: its items, a subrequest each (no Call per record: a big flush has
    # one per record, and every object made there is one more for the collector to walk).
    batch_items: tuple[Item, ...] = ()
    # A streamed write, sent as Bulk API jobs after everything else (no calls: its records
    # are read as it is sent).
    stream: PlannedStream | None = None

    def each_call(self) -> tuple[Call, ...]:
        """The request's calls (for a batch, made on demand from its items)."""
        if self.endpoint == "composite/batch":
            return tuple(_single(item) for item in self.batch_items)
        return self.calls

    def graph_calls(self) -> list[tuple[Call, ...]]:
        out: list[tuple[Call, ...]] = []
        start = 0
        for size in self.graphs:
            out.append(self.calls[start : start + size])
            start += size
        return out

    @property
    def items(self) -> list[Item]:
        if self.endpoint == "composite/batch":
            return list(self.batch_items)
        return [item for call in self.calls for item in call.items]

    @property
    def subrequests(self) -> int:
        """Subrequests (for a Bulk API job: the jobs, one per upload)."""
        if self.stream is not None:
            return 1
        return len(self.batch_items) if self.endpoint == "composite/batch" else len(self.calls)

    @property
    def api_calls(self) -> int:
        if self.endpoint == "jobs/ingest":
            # A stream: at least one job (one per sObject and kind of write it holds).
            return BULK_JOB_CALLS * max(len(self.calls), self.stream is not None)
        return self.subrequests if self.endpoint == "composite/batch" else 1


@dataclass(frozen=True)
class FlushPlan:
    """What a flush sends when nothing fails, and what it costs.

    >>> FlushPlan("batch", (), concurrency=4).api_calls
    0
    """

    strategy: Strategy
    requests: tuple[PlannedRequest, ...]
    concurrency: int = 4
    operations: int = field(default=0)
    streams: int = 0  # streamed writes (``save_all``), sent last

    @property
    def http_requests(self) -> int:
        return len(self.requests)

    @property
    def api_calls(self) -> int:
        return sum(r.api_calls for r in self.requests)

    @property
    def round_trips(self) -> int:
        """Requests one after another on the critical path: each round's requests go
        ``concurrency`` at a time, and a round waits for the one before it."""
        return round_trips(self.requests, self.concurrency)

    def rounds(self) -> list[list[PlannedRequest]]:
        out: dict[int, list[PlannedRequest]] = {}
        for request in self.requests:
            out.setdefault(request.round, []).append(request)
        return [out[key] for key in sorted(out)]

    def __str__(self) -> str:
        head = (
            f"FlushPlan ({self.strategy}): {_n(self.operations, 'operation')}"
            + (f" and {_n(self.streams, 'stream')}" if self.streams else "")
            + " in "
            f"{_n(self.http_requests, 'request')}, {_n(self.round_trips, 'round trip')}, "
            f"{_n(self.api_calls, 'API call')}"
        )
        rows = [("round", "request", "subrequests", "API calls", "carries")]
        for request in self.requests:
            endpoint = request.endpoint + (" (all or none)" if request.all_or_none else "")
            rows.append(
                (
                    str(request.round + 1),
                    endpoint,
                    str(request.subrequests),
                    str(request.api_calls),
                    request.stream.describe()
                    if request.stream is not None
                    else _carries(request.each_call())
                    + (" (Bulk API job)" if request.endpoint == "jobs/ingest" else ""),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [head]
        for row in rows:
            cells = [row[i].ljust(widths[i]) for i in range(4)]
            lines.append("  ".join([*cells, row[4]]).rstrip())
        return "\n".join(lines)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def round_trips(requests: Iterable[PlannedRequest], concurrency: int) -> int:
    per_round: dict[int, int] = {}
    for request in requests:
        per_round[request.round] = per_round.get(request.round, 0) + 1
    return sum(math.ceil(n / max(1, concurrency)) for n in per_round.values())


def _carries(calls: Sequence[Call]) -> str:
    """``25 create Contact, 1 query Contact``: what a request's calls hold, in order."""
    parts: list[tuple[str, str, int, bool]] = []
    for call in calls:
        key = (call.action, call.sobject, call.collection)
        if parts and parts[-1][:2] == key[:2] and parts[-1][3] == call.collection:
            action, sobject, count, collection = parts[-1]
            parts[-1] = (action, sobject, count + len(call.items), collection)
        else:
            parts.append((call.action, call.sobject, len(call.items), call.collection))
    return ", ".join(
        f"{count} {action} {sobject}" + (" (Collections)" if collection else "")
        for action, sobject, count, collection in parts
    )


# -- planning ------------------------------------------------------------------------------------


def plan_flush(
    work: Sequence[Item],
    *,
    strategy: Strategy,
    parents_of: ParentsOf,
    collections_threshold: int | None,
    halt_on_error: bool,
    concurrency: int,
    transaction: bool = False,
    graphs: bool = True,
    bulk_threshold: int | None = None,
) -> FlushPlan:
    """The plan for ``work`` (operations and deferred queries, in the order recorded);
    ``graphs=False`` keeps Composite Graph out of ``economy``; groups of more than
    ``bulk_threshold`` writes go as Bulk API jobs (not with ``transaction`` or
    ``halt_on_error``, which Bulk API jobs cannot honour)."""
    if strategy not in STRATEGIES:
        raise ConfigurationError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    if bulk_threshold is not None and not transaction and not halt_on_error:
        bulk = _bulk_groups(work, parents_of, bulk_threshold)
        if bulk:
            return _with_bulk(
                work,
                bulk,
                parents_of,
                strategy=strategy,
                collections_threshold=collections_threshold,
                concurrency=concurrency,
                graphs=graphs,
            )
    operations = sum(1 for item in work if isinstance(item, Operation))
    if not work:
        return FlushPlan(strategy, (), concurrency, 0)
    waves = waves_of(work, parents_of)
    if transaction:
        ordered = [item for wave in waves for item in wave]
        queries = sum(1 for item in ordered if isinstance(item, QueryHandle))
        calls = tuple(_single(item) for item in ordered)
        if len(ordered) <= COMPOSITE_MAX_SUBREQUESTS and queries <= COMPOSITE_MAX_QUERIES:
            request = PlannedRequest("composite", 0, calls, all_or_none=True)
            return FlushPlan(strategy, (request,), concurrency, operations)
        # Beyond one Composite request: one graph, which Salesforce applies all or none.
        kinds = {_kind(call) for call in calls}
        depth = len(waves)
        if (
            queries
            or len(calls) > GRAPH_MAX_NODES
            or len(kinds) > GRAPH_MAX_NODE_KINDS
            or depth > GRAPH_MAX_DEPTH
        ):
            raise ConfigurationError(
                "transaction=True sends one all-or-none request: a Composite request (at most "
                f"{COMPOSITE_MAX_SUBREQUESTS} operations, {COMPOSITE_MAX_QUERIES} of them "
                f"queries) or one Composite Graph (at most {GRAPH_MAX_NODES} writes of at most "
                f"{GRAPH_MAX_NODE_KINDS} kinds, chains of at most {GRAPH_MAX_DEPTH} records, no "
                f"queries); this flush has {len(ordered)} operations ({queries} queries, "
                f"{len(kinds)} kinds, chains of {depth}). Flush in smaller steps."
            )
        request = PlannedRequest(
            "composite/graph", 0, calls, all_or_none=True, graphs=(len(calls),)
        )
        return FlushPlan(strategy, (request,), concurrency, operations)
    # Several operations on one record (an upsert, then a delete of the record it matches)
    # must reach Salesforce in the order recorded: then nothing is regrouped across kinds.
    in_order = _touch_one_record_twice(work)
    threshold = None if in_order else collections_threshold
    batch = FlushPlan(
        strategy, tuple(_batch(waves, threshold, halt_on_error)), concurrency, operations
    )
    if strategy == "batch" or halt_on_error:
        return batch
    # Economy: the cheapest of its candidates that takes no more round trips than batch.
    candidates = [
        FlushPlan(strategy, tuple(_economy_waves(waves, in_order)), concurrency, operations),
        batch,
    ]
    if not in_order:
        families = _families(work, waves, parents_of)
        economy = _economy(families, parents_of, collections_threshold)
        candidates.insert(0, FlushPlan(strategy, tuple(economy), concurrency, operations))
        shared = _economy_shared(families)
        if shared is not None:
            candidates.insert(0, FlushPlan(strategy, tuple(shared), concurrency, operations))
        in_graphs = _economy_graphs(families) if graphs else None
        if in_graphs is not None:
            candidates.insert(0, FlushPlan(strategy, tuple(in_graphs), concurrency, operations))
    fit = [plan for plan in candidates if plan.round_trips <= batch.round_trips]
    return min(fit, key=lambda plan: (plan.api_calls, plan.round_trips, plan.http_requests))


def with_streams(plan: FlushPlan, streams: Sequence[PlannedStream]) -> FlushPlan:
    """``plan`` with each streamed write after everything else, one round each, in the order
    recorded: its records may refer to parents the plan creates, and a stream's size is
    only known as it is read."""
    if not streams:
        return plan
    first = max((r.round for r in plan.requests), default=-1) + 1
    added = tuple(
        PlannedRequest("jobs/ingest", first + n, stream=stream) for n, stream in enumerate(streams)
    )
    return replace(plan, requests=plan.requests + added, streams=len(streams))


def _bulk_groups(
    work: Sequence[Item], parents_of: ParentsOf, threshold: int
) -> list[list[Operation]]:
    """Groups of one write on one sObject, more than ``threshold`` records each, that a Bulk
    API job can carry: no record refers to a parent created in this flush (a job cannot
    refer to another record's new id), updates and deletes have their ids, and no record is
    written twice in the flush (the order would not be kept)."""
    if _touch_one_record_twice(work):
        return []
    groups: dict[tuple[str, str, str], list[Operation]] = {}
    for item in work:
        if isinstance(item, Operation):
            groups.setdefault(_group_key(item), []).append(item)
    out: list[list[Operation]] = []
    for ops in groups.values():
        if len(ops) <= threshold:
            continue
        eligible = [
            op
            for op in ops
            if (op.kind in ("create", "upsert") or op.obj.id) and not parents_of(op)
        ]
        if len(eligible) > threshold:
            out.append(eligible)
    return out


def _with_bulk(
    work: Sequence[Item],
    bulk: list[list[Operation]],
    parents_of: ParentsOf,
    *,
    strategy: Strategy,
    collections_threshold: int | None,
    concurrency: int,
    graphs: bool,
) -> FlushPlan:
    """Bulk API jobs in the first round, the rest planned as usual after them (or beside
    them when nothing of the rest depends on them)."""
    in_bulk = {id(op) for ops in bulk for op in ops}
    written = {id(op.obj) for ops in bulk for op in ops}
    rest = [item for item in work if id(item) not in in_bulk]
    jobs = [
        PlannedRequest("jobs/ingest", 0, (Call(ops[0].kind, ops[0].meta.api_name, tuple(ops)),))
        for ops in bulk
    ]
    later = plan_flush(
        rest,
        strategy=strategy,
        parents_of=parents_of,
        collections_threshold=collections_threshold,
        halt_on_error=False,
        concurrency=concurrency,
        graphs=graphs,
    )
    waits = any(
        isinstance(item, QueryHandle)
        or id(item.obj) in written
        or any(id(parent) in written for parent in parents_of(item))
        for item in rest
    )
    shift = 1 if waits else 0
    requests = [*jobs, *(replace(r, round=r.round + shift) for r in later.requests)]
    operations = sum(1 for item in work if isinstance(item, Operation))
    return FlushPlan(strategy, tuple(requests), concurrency, operations)


def waves_of(work: Sequence[Item], parents_of: ParentsOf) -> list[list[Item]]:
    """Work in dependency waves (a topological sort): each operation after the new records
    it refers to; a deferred query after the writes recorded before it."""
    creators = {
        id(w.obj): w for w in work if isinstance(w, Operation) and w.kind in ("create", "upsert")
    }
    level: dict[int, int] = {}
    visiting: list[Operation] = []

    def level_of(op: Operation) -> int:
        if id(op) in level:
            return level[id(op)]
        if op in visiting:
            cycle = " -> ".join(describe(o.obj) for o in [*visiting, op])
            raise ConfigurationError(
                f"these new records depend on each other: {cycle}; save one of them "
                "first, then set the relationship in a later flush"
            )
        visiting.append(op)
        wave = 0
        for parent in parents_of(op):
            dep = creators.get(id(parent))
            if dep is not None and dep is not op:
                wave = max(wave, level_of(dep) + 1)
        visiting.pop()
        level[id(op)] = wave
        return wave

    waves: list[list[Item]] = []
    latest_write = -1
    for item in work:
        if isinstance(item, QueryHandle):
            wave = latest_write + 1
        else:
            wave = level_of(item) if item.state.assigned else 0
            latest_write = max(latest_write, wave)
        while len(waves) <= wave:
            waves.append([])
        waves[wave].append(item)
    return waves


def _single(item: Item) -> Call:
    if isinstance(item, QueryHandle):
        return Call("query", item.query.model.__sobject_name__, (item,))
    return Call(item.kind, item.meta.api_name, (item,))


def _group_key(op: Operation) -> tuple[str, str, str]:
    ext = op.external_id.api_name if op.external_id else ""
    return (op.kind, op.meta.api_name, ext)


def _collection_calls(ops: Sequence[Operation]) -> list[Call]:
    """Collections calls of up to 200 records for ops of one group."""
    first = ops[0]
    return [
        Call(first.kind, first.meta.api_name, tuple(ops[i : i + MAX_COLLECTION_SIZE]), True)
        for i in range(0, len(ops), MAX_COLLECTION_SIZE)
    ]


def _composites(calls: Sequence[Call], round_: int) -> list[PlannedRequest]:
    """Calls packed, in order, into Composite requests within its limits."""
    out: list[PlannedRequest] = []
    current: list[Call] = []
    limited = 0
    for call in calls:
        heavy = 1 if call.counts_as_query else 0
        if current and (
            len(current) == COMPOSITE_MAX_SUBREQUESTS or limited + heavy > COMPOSITE_MAX_QUERIES
        ):
            out.append(PlannedRequest("composite", round_, tuple(current)))
            current, limited = [], 0
        current.append(call)
        limited += heavy
    if current:
        out.append(PlannedRequest("composite", round_, tuple(current)))
    return out


def pack_batch(
    items: Sequence[Item], round_: int, collections_threshold: int | None, halt_on_error: bool
) -> list[PlannedRequest]:
    """One wave as ``batch`` sends it: large groups as Collections inside Composite, the rest
    as Composite Batch requests of 25."""
    groups: dict[tuple[str, str, str], list[Operation]] = {}
    for item in items:
        if isinstance(item, Operation):
            groups.setdefault(_group_key(item), []).append(item)
    # halt_on_error needs one ordered stream of subrequests: Collections would apply a whole
    # group past the first failure.
    threshold = None if halt_on_error else collections_threshold
    bulk: set[int] = set()
    requests: list[PlannedRequest] = []
    for ops in groups.values():
        if threshold is not None and len(ops) >= threshold:
            bulk.update(id(op) for op in ops)
            requests += _composites(_collection_calls(ops), round_)
    rest = [item for item in items if id(item) not in bulk]
    for start in range(0, len(rest), BATCH_SIZE):
        chunk = rest[start : start + BATCH_SIZE]
        requests.append(PlannedRequest("composite/batch", round_, batch_items=tuple(chunk)))
    return requests


def _batch(
    waves: list[list[Item]], collections_threshold: int | None, halt_on_error: bool
) -> list[PlannedRequest]:
    requests: list[PlannedRequest] = []
    round_ = 0
    previous: list[PlannedRequest] = []
    for wave in waves:
        queries = [i for i in wave if isinstance(i, QueryHandle)]
        writes = [i for i in wave if not isinstance(i, QueryHandle)]
        # A query after writes that went as one Composite Batch request rides at its end: a
        # batch runs its subrequests in order. (Not with halt_on_error: a failure there would
        # halt the query, where today it is simply not sent.)
        if (
            queries
            and not halt_on_error
            and len(previous) == 1
            and previous[0].endpoint == "composite/batch"
            and previous[0].subrequests + len(queries) <= BATCH_SIZE
        ):
            riding = previous[0]
            merged = PlannedRequest(
                "composite/batch", riding.round, batch_items=riding.batch_items + tuple(queries)
            )
            requests[requests.index(riding)] = merged
            queries = []
        wave_requests = pack_batch(
            [*writes, *queries], round_, collections_threshold, halt_on_error
        )
        if not wave_requests:
            continue
        requests += wave_requests
        previous = wave_requests
        round_ += 1
    return requests


def _economy_waves(waves: list[list[Item]], ordered: bool) -> list[PlannedRequest]:
    """Economy by dependency waves: each wave's writes share Collections calls inside
    Composite requests (parents' ids are known by then); queries ride where they fit. With
    ``ordered``, only neighbours in the recorded order share a call."""
    requests: list[PlannedRequest] = []
    round_ = 0
    for wave in waves:
        calls: list[Call] = []
        for group in _groups([i for i in wave if isinstance(i, Operation)], ordered):
            calls += [_single(group[0])] if len(group) == 1 else _collection_calls(group)
        queries = [_single(i) for i in wave if isinstance(i, QueryHandle)]
        previous = [r for r in requests if r.round == round_ - 1]
        if queries and not calls and len(previous) == 1 and _room(previous[0], queries):
            # The writes it follows went as one Composite request: it runs in order.
            index = requests.index(previous[0])
            requests[index] = PlannedRequest(
                "composite", previous[0].round, previous[0].calls + tuple(queries)
            )
            continue
        wave_requests = _composites(calls + queries, round_)
        if wave_requests:
            requests += wave_requests
            round_ += 1
    return requests


def _groups(ops: list[Operation], ordered: bool) -> list[list[Operation]]:
    """Operations that may share Collections calls: by kind, sObject and external id, or
    with ``ordered`` only runs of neighbours (never twice the same record in one run)."""
    if not ordered:
        groups: dict[tuple[str, str, str], list[Operation]] = {}
        for op in ops:
            groups.setdefault(_group_key(op), []).append(op)
        return list(groups.values())
    runs: list[list[Operation]] = []
    keys: set[Any] = set()
    for op in ops:
        mine = _record_keys(op)
        if runs and _group_key(runs[-1][0]) == _group_key(op) and keys.isdisjoint(mine):
            runs[-1].append(op)
        else:
            runs.append([op])
            keys = set()
        keys.update(mine)
    return runs


def _record_keys(op: Operation) -> list[Any]:
    """What identifies the record an operation touches: its id, its external id values."""
    values = op.obj.__dict__
    keys: list[Any] = []
    if values.get("id"):
        keys.append(("id", values["id"]))
    for fm in op.meta.external_id_fields:
        value = values.get(fm.name)
        if value not in (None, ""):
            keys.append(("ext", op.meta.api_name.lower(), fm.api_name.lower(), str(value).lower()))
    return keys or [("object", id(op.obj))]


def _touch_one_record_twice(work: Sequence[Item]) -> bool:
    seen: set[Any] = set()
    for item in work:
        if not isinstance(item, Operation):
            continue
        op = item
        if not op.meta.external_id_fields and not op.obj.__dict__.get("id"):
            continue  # the common new record: only its own operation can touch it
        for key in _record_keys(op):
            if key in seen:
                return True
            seen.add(key)
    return False


def _room(request: PlannedRequest, extra: Sequence[Call]) -> bool:
    heavy = sum(1 for c in (*request.calls, *extra) if c.counts_as_query)
    return (
        request.subrequests + len(extra) <= COMPOSITE_MAX_SUBREQUESTS
        and heavy <= COMPOSITE_MAX_QUERIES
    )


class _Families(NamedTuple):
    """The work as the economy candidates see it, worked out once per plan."""

    ops: list[Operation]
    queries: list[QueryHandle[Any]]
    components: list[list[Operation]]  # operations that refer to each other, in groups
    referenced: set[int]  # ids of the operations others refer to
    level: dict[int, int]  # each operation's dependency wave


def _families(work: Sequence[Item], waves: list[list[Item]], parents_of: ParentsOf) -> _Families:
    """Group the operations that refer to each other (union-find over new parents)."""
    ops = [item for item in work if isinstance(item, Operation)]
    queries = [item for item in work if isinstance(item, QueryHandle)]
    by_obj = {id(op.obj): op for op in ops if op.kind in ("create", "upsert")}
    parents = {id(op): [by_obj[id(p)] for p in parents_of(op) if id(p) in by_obj] for op in ops}
    referenced = {id(parent) for deps in parents.values() for parent in deps}
    root: dict[int, int] = {id(op): id(op) for op in ops}

    def find(key: int) -> int:
        while root[key] != key:
            root[key] = root[root[key]]
            key = root[key]
        return key

    for op in ops:
        for parent in parents[id(op)]:
            root[find(id(op))] = find(id(parent))
    components: dict[int, list[Operation]] = {}
    for op in ops:
        components.setdefault(find(id(op)), []).append(op)
    # An operation's wave depends on its parents only, not on the queries around it.
    level = {id(item): n for n, wave in enumerate(waves) for item in wave}
    return _Families(ops, queries, list(components.values()), referenced, level)


def _economy(
    families: _Families, parents_of: ParentsOf, collections_threshold: int | None
) -> list[PlannedRequest]:
    # Records that refer to each other form a component: it goes in one request.
    ops, queries, components, referenced, level = families

    loose: dict[tuple[str, str, str], list[Operation]] = {}
    bundles: list[list[Call]] = []  # calls that must share one request
    fallback: list[Operation] = []
    for members in components:
        if len(members) == 1 and id(members[0]) not in referenced:
            loose.setdefault(_group_key(members[0]), []).append(members[0])
            continue
        calls = _component_calls(members, level, referenced)
        heavy = sum(1 for call in calls if call.counts_as_query)
        if len(calls) <= COMPOSITE_MAX_SUBREQUESTS and heavy <= COMPOSITE_MAX_QUERIES:
            bundles.append(calls)
        else:
            fallback += members
    for group in loose.values():
        if len(group) == 1:
            bundles.append([_single(group[0])])
        else:
            bundles += [[call] for call in _collection_calls(group)]
    requests = _pack_bundles(bundles)
    if fallback:
        order = {id(op): n for n, op in enumerate(ops)}
        fallback.sort(key=lambda op: order[id(op)])
        requests += _batch(waves_of(fallback, parents_of), collections_threshold, False)
    if queries:
        last = max((r.round for r in requests), default=-1)
        if (
            len(requests) == 1
            and requests[0].endpoint == "composite"
            and requests[0].subrequests + len(queries) <= COMPOSITE_MAX_SUBREQUESTS
            and sum(c.counts_as_query for c in requests[0].calls) + len(queries)
            <= COMPOSITE_MAX_QUERIES
        ):
            # A Composite request runs its subrequests in order: the queries see the writes.
            only = requests[0]
            requests = [
                PlannedRequest("composite", 0, only.calls + tuple(_single(q) for q in queries))
            ]
        else:
            requests += _composites([_single(q) for q in queries], last + 1)
    return requests


def _component_calls(
    members: list[Operation], level: dict[int, int], referenced: set[int]
) -> list[Call]:
    """A component's calls in dependency order: a record others refer to is a single
    subrequest (its id is referred to as ``@{ref.id}``); the others of one wave, kind and
    sObject share Collections calls."""
    calls: list[Call] = []
    by_level: dict[int, list[Operation]] = {}
    for op in members:
        by_level.setdefault(level.get(id(op), 0), []).append(op)
    for depth in sorted(by_level):
        groups: dict[tuple[str, str, str], list[Operation]] = {}
        for op in by_level[depth]:
            if id(op) in referenced:
                calls.append(_single(op))
            else:
                groups.setdefault(_group_key(op), []).append(op)
        for group in groups.values():
            calls += [_single(group[0])] if len(group) == 1 else _collection_calls(group)
    return calls


def _pack_bundles(bundles: list[list[Call]]) -> list[PlannedRequest]:
    """Bundles into as few Composite requests as fit (first fit, largest first)."""
    bins: list[list[Call]] = []
    for bundle in sorted(bundles, key=len, reverse=True):
        heavy = sum(1 for call in bundle if call.counts_as_query)
        for calls in bins:
            used = sum(1 for call in calls if call.counts_as_query)
            if (
                len(calls) + len(bundle) <= COMPOSITE_MAX_SUBREQUESTS
                and used + heavy <= COMPOSITE_MAX_QUERIES
            ):
                calls += bundle
                break
        else:
            bins.append(list(bundle))
    return [PlannedRequest("composite", 0, tuple(calls)) for calls in bins]


def _kind(call: Call) -> tuple[str, str]:
    method = {"create": "POST", "update": "PATCH", "upsert": "PATCH", "delete": "DELETE"}
    return (method.get(call.action, call.action), call.sobject.lower())


def _economy_shared(families: _Families) -> list[PlannedRequest] | None:
    """Economy with shared Collections calls: families of related records packed whole into
    Composite requests, each request holding, wave by wave, one Collections call per kind and
    sObject for all its families; a child refers to its parent's new id inside the parent's
    call (``@{ref[i].id}``). All in one round. ``None`` when a family does not fit a request
    (the other candidates handle it)."""
    _, queries, components, _, level = families
    bins: list[list[Operation]] = []
    counts: dict[tuple[int, tuple[str, str, str]], int] = {}
    current: list[Operation] = []

    def cost(tally: dict[tuple[int, tuple[str, str, str]], int]) -> tuple[int, int]:
        calls = heavy = 0
        for n in tally.values():
            if n == 1:
                calls += 1
            else:
                made = -(-n // MAX_COLLECTION_SIZE)
                calls += made
                heavy += made
        return calls, heavy

    for members in components:
        mine: dict[tuple[int, tuple[str, str, str]], int] = {}
        for op in members:
            key = (level[id(op)], _group_key(op))
            mine[key] = mine.get(key, 0) + 1
        merged = dict(counts)
        for key, n in mine.items():
            merged[key] = merged.get(key, 0) + n
        subrequests, heavy = cost(merged)
        if subrequests <= COMPOSITE_MAX_SUBREQUESTS and heavy <= COMPOSITE_MAX_QUERIES:
            current += members
            counts = merged
            continue
        subrequests, heavy = cost(mine)
        if subrequests > COMPOSITE_MAX_SUBREQUESTS or heavy > COMPOSITE_MAX_QUERIES:
            return None  # one family needs more than a request
        if current:
            bins.append(current)
        current, counts = list(members), mine
    if current:
        bins.append(current)
    requests: list[PlannedRequest] = []
    for members in bins:
        calls: list[Call] = []
        by_level: dict[int, list[Operation]] = {}
        for op in members:
            by_level.setdefault(level[id(op)], []).append(op)
        for depth in sorted(by_level):
            for group in _groups(by_level[depth], False):
                calls += [_single(group[0])] if len(group) == 1 else _collection_calls(group)
        requests.append(PlannedRequest("composite", 0, tuple(calls)))
    if queries:
        query_calls = tuple(_single(q) for q in queries)
        if len(requests) == 1 and _room(requests[0], query_calls):
            # A Composite request runs its subrequests in order: the queries see the writes.
            requests = [PlannedRequest("composite", 0, requests[0].calls + query_calls)]
        else:
            requests += _composites(list(query_calls), 1 if requests else 0)
    return requests


def _economy_graphs(families: _Families) -> list[PlannedRequest] | None:
    """Economy with Composite Graph: each set of records that refer to each other is one
    graph (nodes refer to their parent's id), graphs packed 75 and 500 nodes to a request,
    all in one round; independent records as Collections in Composite requests, queries
    after. ``None`` when nothing depends on anything (Graph would gain nothing)."""
    _, queries, components, referenced, level = families
    if not referenced:
        return None
    graphs: list[tuple[Call, ...]] = []
    loose: list[Operation] = []
    for members in components:
        if len(members) == 1:
            loose.append(members[0])
            continue
        # A node after the nodes it refers to (sorted copy: the other candidates share it).
        calls = tuple(_single(op) for op in sorted(members, key=lambda op: level[id(op)]))
        if (
            len(calls) > GRAPH_MAX_NODES
            or len({_kind(c) for c in calls}) > GRAPH_MAX_NODE_KINDS
            or max(level[id(op)] for op in members) + 1 > GRAPH_MAX_DEPTH
        ):
            return None  # too big or too deep for a graph: the other candidates handle it
        graphs.append(calls)
    requests = _pack_graphs(graphs)
    if requests is None:
        return None
    loose_calls: list[Call] = []
    for group in _groups(loose, False):
        loose_calls += [_single(group[0])] if len(group) == 1 else _collection_calls(group)
    requests += _composites(loose_calls, 0)
    if queries:
        requests += _composites([_single(q) for q in queries], 1)
    return requests


def _pack_graphs(graphs: list[tuple[Call, ...]]) -> list[PlannedRequest] | None:
    """Graphs into requests: at most 75 graphs, 500 nodes and 15 node kinds each."""
    bins: list[tuple[list[tuple[Call, ...]], set[tuple[str, str]]]] = []
    for graph in sorted(graphs, key=len, reverse=True):
        kinds = {_kind(call) for call in graph}
        for members, used in bins:
            nodes = sum(len(g) for g in members)
            if (
                len(members) < GRAPHS_PER_REQUEST
                and nodes + len(graph) <= GRAPH_MAX_NODES
                and len(used | kinds) <= GRAPH_MAX_NODE_KINDS
            ):
                members.append(graph)
                used |= kinds
                break
        else:
            bins.append(([graph], set(kinds)))
    return [
        PlannedRequest(
            "composite/graph",
            0,
            tuple(call for graph in members for call in graph),
            graphs=tuple(len(graph) for graph in members),
        )
        for members, _ in bins
    ]


# -- what was sent -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentRequest:
    endpoint: Endpoint
    subrequests: int
    calls: int | None = None  # a Bulk API job's HTTP requests, polls included

    @property
    def api_calls(self) -> int:
        if self.calls is not None:
            return self.calls
        return self.subrequests if self.endpoint == "composite/batch" else 1


@dataclass(frozen=True)
class FlushReport:
    """What a flush sent (``session.last_flush``): requests, round trips, API calls, and
    how many operations ended in each outcome (``succeeded``, ``failed``, ``not_run``,
    ``unknown``, ``pending``). When nothing fails it equals the flush's plan."""

    requests: tuple[SentRequest, ...]
    round_trips: int
    outcomes: dict[str, int]

    @property
    def http_requests(self) -> int:
        return len(self.requests)

    @property
    def api_calls(self) -> int:
        return sum(r.api_calls for r in self.requests)

    def matches(self, plan: FlushPlan) -> bool:
        """Whether this flush sent exactly what ``plan`` said (requests, their sizes and
        endpoints in order, round trips)."""
        planned = [(r.endpoint, r.subrequests) for r in plan.requests]
        sent = [(r.endpoint, r.subrequests) for r in self.requests]
        return sorted(planned) == sorted(sent) and self.round_trips == plan.round_trips

    def __str__(self) -> str:
        outcomes = ", ".join(f"{n} {name}" for name, n in self.outcomes.items() if n)
        return (
            f"sent {_n(self.http_requests, 'request')} in {_n(self.round_trips, 'round trip')}, "
            f"{_n(self.api_calls, 'API call')}; {outcomes or 'no operations'}"
        )


_COLLATERAL = frozenset(
    {
        "NOT_SENT",
        "BATCH_PROCESSING_HALTED",
        "PROCESSING_HALTED",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    }
)


class SendLog:
    """What a flush sends, as it sends it."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = max(1, concurrency)
        self.requests: list[SentRequest] = []
        self.trips = 0

    def round(self, requests: int) -> None:
        self.trips += math.ceil(requests / self.concurrency)

    def request(self, endpoint: Endpoint, subrequests: int, calls: int | None = None) -> None:
        self.requests.append(SentRequest(endpoint, subrequests, calls))

    def report(self, work: Sequence[Item], counted: Mapping[str, int] | None = None) -> FlushReport:
        """The report of a flush that sent ``work``; ``counted`` adds outcomes of records
        with no operation (streamed ones)."""
        outcomes = dict.fromkeys(("succeeded", "failed", "not_run", "unknown", "pending"), 0)
        for name, count in (counted or {}).items():
            outcomes[name] += count
        for item in work:
            if isinstance(item, Operation) and not item.skipped:
                outcomes[_outcome(item)] += 1
        return FlushReport(tuple(self.requests), self.trips, outcomes)


def _outcome(op: Operation) -> str:
    if op.outcome_unknown:
        return "unknown"
    sub = op.subrequest
    if sub is not None and sub.done:
        if sub.succeeded:
            return "succeeded"
        codes = {d.code for d in sub.errors}
        return "not_run" if codes & _COLLATERAL else "failed"
    if op.error is not None and any(d.code == "NOT_SENT" for d in getattr(op.error, "errors", ())):
        return "not_run"
    return "pending"

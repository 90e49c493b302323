"""The unit of work: ``Session`` records operations and flushes them in few round trips.

``Contact(...).save()`` records an operation, with no I/O. The session finds itself through
a ContextVar or an explicit ``session=``. ``flush()`` (and leaving the ``async with`` block
cleanly) plans the operations into dependency waves: a record whose parent has no id yet goes
after that parent. It packs each wave into Composite Batch requests of at most 25
subrequests, sends independent requests concurrently, and hydrates every model from its
subrequest result. Nothing that succeeded is sent twice; what failed stays pending with its
errors attached.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from contextvars import Token
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

import anyio

from sobjects._ids import to_18
from sobjects.client._collections import CollectionResult
from sobjects.client._composite import (
    BATCH_SIZE,
    CollectionSubrequest,
    Composite,
    CompositeBatch,
    CreateSubrequest,
    DeleteSubrequest,
    QuerySubrequest,
    Subrequest,
    UpdateSubrequest,
    UpsertSubrequest,
    nothing_applied,
)
from sobjects.client._graph import CompositeGraph, Graph
from sobjects.errors import (
    ApiBudgetError,
    ConfigurationError,
    ErrorDetail,
    OutcomeUnknownError,
    ResponseError,
    SalesforceError,
)
from sobjects.orm._context import NoSessionError, current, current_session, resolve_session
from sobjects.orm._hydrate import Adopter, Shape, decode_page, shape_of, validate_records
from sobjects.orm._identity import IdentityMap
from sobjects.orm._model import (
    FieldMeta,
    Loaded,
    ObjectState,
    SObject,
    changed_fields,
    frozen_value,
    own_snapshot,
    sobject_meta,
    write_field,
)
from sobjects.orm._operation import NOTHING, Kind, Operation, QueryHandle, describe
from sobjects.orm._plan import (
    STRATEGIES,
    Call,
    FlushPlan,
    FlushReport,
    PlannedRequest,
    SendLog,
    Strategy,
    plan_flush,
)
from sobjects.orm._query import CountSelect, Select

if TYPE_CHECKING:
    from sobjects.client import Salesforce

__all__ = [
    "FlushError",
    "FlushErrorGroup",
    "MultipleResultsError",
    "NoResultError",
    "NoSessionError",
    "Operation",
    "QueryHandle",
    "Session",
    "SessionClosedError",
    "UnsavedChangesWarning",
    "current_session",
    "resolve_session",
]

T = TypeVar("T", bound=SObject)

BATCH_LIMIT = BATCH_SIZE  # subrequests per Composite Batch request
LOCK_ROW = "UNABLE_TO_LOCK_ROW"


class NoResultError(SalesforceError, LookupError):
    """``session.one()`` found no record."""


class MultipleResultsError(SalesforceError, LookupError):
    """``session.one()`` found more than one record."""


class SessionClosedError(SalesforceError, RuntimeError):
    """Work was recorded on (or a flush asked of) a session whose block has ended.

    Nothing recorded there would ever be sent: open a new ``Session`` for it.
    """


class UnsavedChangesWarning(UserWarning):
    """A session's block ended cleanly with loaded records changed but never saved.

    ``records`` lists ``(object, changed API names)``. ``Session(autosave=True)`` saves such
    changes at every flush instead.
    """

    def __init__(self, message: str, records: Sequence[tuple[SObject, list[str]]]) -> None:
        super().__init__(message)
        self.records = list(records)


class FlushError(SalesforceError):
    """Some operations of a flush failed; the others were applied and are clean.

    - ``failures``: ``(object, error)`` pairs, one per object that did not succeed, in order;
    - ``objects``: those objects; ``failed``: the ones that failed for their own reasons;
      ``not_run``: the ones not applied because of another failure (halted by
      ``halt_on_error``, a parent that failed, rolled back with a transaction).

    The text names records by sObject and id (``new Contact #3`` before they have one: the
    third operation the session recorded), never by their values, so it is safe to log.
    Objects keep their errors (``sobjects.inspect(obj).errors``) and stay pending until the
    session closes.
    """

    def __init__(self, failures: Sequence[tuple[SObject, SalesforceError]], total: int) -> None:
        self.failures = list(failures)
        self.objects = [obj for obj, _ in self.failures]
        self.failed = [obj for obj, error in self.failures if not _not_run(error)]
        self.not_run = [obj for obj, error in self.failures if _not_run(error)]
        lines = [f"{_tally(self.failures, total)}:"]
        for obj, error in self.failures[:_LISTED]:
            lines.append(f"  {describe(obj)}: {error}")
        if len(self.failures) > _LISTED:
            lines.append(f"  ... and {len(self.failures) - _LISTED} more (see .failures)")
        super().__init__("\n".join(lines))


class FlushErrorGroup(ExceptionGroup[SalesforceError]):
    """``group_errors=True``: one exception per object that did not succeed, each noted with
    the record it concerns, and ``failures`` as on ``FlushError``."""

    failures: list[tuple[SObject, SalesforceError]]

    def __new__(
        cls,
        message: str,
        exceptions: Sequence[SalesforceError],
        failures: Sequence[tuple[SObject, SalesforceError]] = (),
    ) -> Self:
        group = super().__new__(cls, message, exceptions)
        group.failures = list(failures)
        return group

    def __init__(
        self,
        message: str,
        exceptions: Sequence[SalesforceError],
        failures: Sequence[tuple[SObject, SalesforceError]] = (),
    ) -> None:
        super().__init__(message, exceptions)

    @property
    def objects(self) -> list[SObject]:
        return [obj for obj, _ in self.failures]

    def derive(self, excs: Sequence[SalesforceError]) -> FlushErrorGroup:  # type: ignore[override]
        # except* splits the group: each part keeps the objects of its own errors.
        kept = {id(e) for e in excs}
        return FlushErrorGroup(
            self.message, excs, [(o, e) for o, e in self.failures if id(e) in kept]
        )


_LISTED = 20  # records named in an error's text; the attributes hold them all


_NOT_RUN = frozenset({"NOT_SENT", "BATCH_PROCESSING_HALTED", "PROCESSING_HALTED"})
_ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def _not_run(error: SalesforceError) -> bool:
    """Not applied because of another failure: halted, never sent, or rolled back."""
    codes = {e.code for e in getattr(error, "errors", ())}
    return bool(codes & _NOT_RUN) or _ROLLED_BACK in codes


def _tally(failures: Sequence[tuple[SObject, SalesforceError]], total: int) -> str:
    """ "1 of 60 operations failed, 27 not run": the failures that caused the others apart
    from them."""
    rolled_back = not_run = 0
    for _, error in failures:
        codes = {e.code for e in getattr(error, "errors", ())}
        if codes & _NOT_RUN:
            not_run += 1
        elif _ROLLED_BACK in codes:
            rolled_back += 1
    text = f"{len(failures) - not_run - rolled_back} of {total} operations failed"
    if not_run:
        text += f", {not_run} not run"
    if rolled_back:
        text += f", {rolled_back} rolled back"
    return text


@dataclass(slots=True)
class _Sent:
    op: Operation | QueryHandle[Any]
    subrequest: Subrequest


# -- the session ---------------------------------------------------------------------------------


class Session:
    """A unit of work against one org.

    >>> async def demo(sf: Salesforce) -> None:
    ...     from sobjects import SObject
    ...     async with Session(sf) as session:
    ...         ...

    Options: ``halt_on_error`` (stop at the first failed subrequest), ``autoraise`` (raise
    ``FlushError`` when something failed; default True), ``group_errors`` (raise a
    ``FlushErrorGroup`` instead), ``transaction`` (flush through one all-or-none Composite
    request with ``@{ref.id}`` references), ``concurrency`` (independent batch requests in
    flight), ``lock_retries`` (re-sends of subrequests that failed with UNABLE_TO_LOCK_ROW),
    ``autosave`` (every flush also saves loaded records changed but not saved; otherwise a
    clean exit warns about them with ``UnsavedChangesWarning``), ``replay_upserts`` (an
    upsert whose answer was lost is sent again at the next flush: default True, as upserts
    by external id are idempotent; creates never are).

    When the block ends, the session closes: what it did not finish is released (the objects
    keep their errors, and can be saved in a new session), and recording more work on it
    raises ``SessionClosedError``. Reads still work.
    """

    def __init__(
        self,
        sf: Salesforce,
        *,
        halt_on_error: bool = False,
        autoraise: bool = True,
        group_errors: bool = False,
        transaction: bool = False,
        concurrency: int = 4,
        lock_retries: int = 3,
        collections_threshold: int | None = 200,
        autosave: bool = False,
        replay_upserts: bool = True,
        strategy: Strategy = "batch",
        api_budget: int | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigurationError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
        if api_budget is not None and (
            not isinstance(api_budget, int) or isinstance(api_budget, bool) or api_budget < 0
        ):
            raise ConfigurationError(f"api_budget must be an int >= 0, or None; got {api_budget!r}")
        if collections_threshold is not None and collections_threshold < 1:
            raise ConfigurationError("collections_threshold must be >= 1, or None")
        if concurrency < 1 or lock_retries < 0:
            raise ConfigurationError("concurrency must be >= 1 and lock_retries >= 0")
        self.sf = sf
        self.halt_on_error = halt_on_error
        self.autoraise = autoraise
        self.group_errors = group_errors
        self.transaction = transaction
        self.concurrency = concurrency
        self.lock_retries = lock_retries
        self.collections_threshold = collections_threshold
        self.autosave = autosave
        self.replay_upserts = replay_upserts
        self.strategy: Strategy = strategy
        self.last_flush: FlushReport | None = None  # what the last flush sent
        self.api_calls = 0  # API calls this session's flushes spent, as planned and sent
        self.api_budget = api_budget
        self._log = SendLog(concurrency)
        self.closed = False
        self._recorded = 0  # operations recorded so far: numbers them for messages
        # Insertion-ordered, and removal is O(1): a flush of 100,000 records finishes each.
        self._pending: dict[Operation | QueryHandle[Any], None] = {}
        self._identity = IdentityMap()
        self._adopter = Adopter(self, self._identity, _merge)
        self._tokens: list[Token[Session | None]] = []
        self._flush_lock: anyio.Lock | None = None

    # -- context -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._tokens.append(current.set(self))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        outermost = len(self._tokens) <= 1
        try:
            if exc_type is None:
                await self.flush()
                if outermost and not self.autosave:
                    self._warn_unsaved()
            elif not outermost:
                self.discard()  # an inner block failed: nothing recorded so far is sent
            # The outermost block failed: nothing is sent, and close() releases it all.
        finally:
            if self._tokens:
                current.reset(self._tokens.pop())
            if outermost:
                self.close()

    def close(self) -> None:
        """End the unit of work without flushing (the block's end does this after its flush).

        What was not finished is released: failed and unsent operations are dropped from this
        session, and their objects keep their state and errors (``inspect(obj)``), so a new
        session can save them again, once. Recording work here afterwards, or flushing,
        raises ``SessionClosedError``.
        """
        for item in self._pending:
            if isinstance(item, Operation) and item.state.pending is item:
                item.state.pending = None
        self._pending.clear()
        self.closed = True

    def discard(self) -> None:
        """Forget every operation not sent yet, and the errors of those that failed: their
        objects are as they were before being recorded (``close()`` keeps the errors)."""
        for item in self._pending:
            if isinstance(item, Operation) and item.state.pending is item:
                state = item.state
                state.pending = None
                state.failed = False
                state.errors = ()
        self._pending.clear()

    def _check_open(self, doing: str) -> None:
        if self.closed:
            raise SessionClosedError(
                f"this session's block has ended, so it will never flush again: {doing} here "
                "would be lost. Record it in a new `async with Session(sf):` block"
            )

    def unsaved(self) -> list[tuple[SObject, list[str]]]:
        """Records this session loaded that were changed but not saved: (object, API names
        of what would be sent). ``autosave=True`` saves them at each flush."""
        out: list[tuple[SObject, list[str]]] = []
        for ref in list(self._identity.refs.values()):
            obj = ref()
            if obj is None:
                continue
            try:
                slot = _state_slot(obj)
            except AttributeError:
                slot = None
            if isinstance(slot, Loaded) and not slot.copies:
                continue  # never assigned to since it was loaded: unchanged
            state = obj._sobject_state
            if state.session is not self or state.pending is not None or state.deleted:
                continue
            if not state.persistent or state.failed:
                continue
            names = [fm.api_name for fm in changed_fields(obj)]
            names += [name for name in self._relation_changes(obj) if name not in names]
            if names:
                out.append((obj, names))
        return out

    def _warn_unsaved(self) -> None:
        unsaved = self.unsaved()
        if not unsaved:
            return
        shown = [f"{describe(obj)} ({', '.join(names)})" for obj, names in unsaved[:_LISTED]]
        more = f" and {len(unsaved) - _LISTED} more" if len(unsaved) > _LISTED else ""
        warnings.warn(
            UnsavedChangesWarning(
                f"{len(unsaved)} record(s) changed in this session were never saved, and are "
                f"not sent: {'; '.join(shown)}{more}. Call .save() on them, or use "
                "Session(autosave=True)",
                unsaved,
            ),
            stacklevel=3,
        )

    @property
    def pending(self) -> list[Operation | QueryHandle[Any]]:
        """Operations and deferred queries not flushed yet, in the order recorded."""
        return list(self._pending)

    # -- recording ---------------------------------------------------------------------------

    def add(self, obj: SObject) -> SObject:
        """Attach an object to this session (its identity is then tracked here)."""
        self._check_open(f"adding {describe(obj)}")
        obj._sobject_state.session = self
        if obj.id:
            self._identity[obj.id] = obj
        return obj

    def register_save(self, obj: SObject) -> Operation:
        current = obj._sobject_state.pending
        creating = current is not None and current.in_flight and current.kind != "delete"
        # An object whose create is in flight gets an update, sent once the id is known.
        kind: Kind = "update" if obj.id or creating else "create"
        return self._register(obj, kind)

    def register_upsert(self, obj: SObject, external_id: str | None) -> Operation:
        meta = sobject_meta(type(obj))
        if external_id is not None:
            fm = meta.field(external_id)
            if not fm.external_id:
                raise ConfigurationError(f"{meta.api_name}.{external_id} is not an external id")
        else:
            candidates = meta.external_ids
            if len(candidates) != 1:
                raise ConfigurationError(
                    f"{type(obj).__name__} declares {len(candidates)} external id fields; "
                    "say which one: obj.upsert(external_id='field_name')"
                )
            fm = candidates[0]
        if obj.__dict__.get(fm.name) in (None, ""):
            raise ConfigurationError(
                f"{type(obj).__name__}.{fm.name} must have a value to upsert by it"
            )
        return self._register(obj, "upsert", fm)

    def register_delete(self, obj: SObject) -> Operation:
        state = obj._sobject_state
        current = state.pending
        if not obj.id:
            if (
                current is not None
                and current.kind in ("create", "upsert")
                and current in self._pending
                and not current.in_flight
            ):
                # Never sent: forgetting it is the delete.
                del self._pending[current]
                state.pending = None
                current.skipped = True
                return current
            if current is None or not current.in_flight:
                raise ConfigurationError(f"{describe(obj)} has no id: there is nothing to delete")
        return self._register(obj, "delete")

    def _register(
        self, obj: SObject, kind: Kind, external_id: FieldMeta | None = None
    ) -> Operation:
        self._check_open(f"the {kind} of {describe(obj)}")
        if kind != "delete":
            _check_sendable(obj)
        state = obj._sobject_state
        other = state.session
        if (
            other is not None
            and other is not self
            and state.pending is not None
            and state.pending in other._pending
        ):
            raise ConfigurationError(
                f"{describe(obj)} has a pending {state.pending.kind} in another session: "
                "flush or discard it there first"
            )
        state.session = self
        current = state.pending
        if current is not None and current in self._pending and current.outcome_unknown:
            # Saving again is the user's decision after checking the org: replace it.
            del self._pending[current]
        elif current is not None and current in self._pending and not current.in_flight:
            if current.kind == kind or (current.kind == "create" and kind == "update"):
                return current  # already recorded: the flush sends its latest values
            del self._pending[current]
        op = Operation(kind, obj, external_id)
        self._recorded += 1
        op.number = self._recorded
        state.pending = op
        state.failed = False
        state.errors = ()
        self._pending[op] = None
        if obj.id:
            self._identity[obj.id] = obj
        return op

    def query(self, query: Select[T]) -> QueryHandle[T]:
        """Record a query; the flush runs it after the writes recorded before it."""
        self._check_open("a deferred query")
        handle: QueryHandle[T] = QueryHandle(query)
        self._pending[handle] = None
        return handle

    # -- immediate reads -------------------------------------------------------------------------

    @overload
    async def all(self, query: Select[T], /) -> list[T]: ...

    @overload
    async def all(self, query: type[T], soql: str, /) -> list[T]: ...

    async def all(self, query: Select[T] | type[T], soql: str | None = None, /) -> list[T]:
        """Every record of a query, typed: ``await session.all(select(Contact))`` or
        ``await session.all(Contact, "SELECT Id, LastName FROM Contact")``."""
        model, text, shape = self._resolve_query(query, soql)
        records: list[T] = []
        async for page in self._pages(model, text, shape):
            records += page
        return records

    @overload
    def stream(self, query: Select[T], /) -> AsyncIterator[T]: ...

    @overload
    def stream(self, query: type[T], soql: str, /) -> AsyncIterator[T]: ...

    def stream(self, query: Select[T] | type[T], soql: str | None = None, /) -> AsyncIterator[T]:
        """Iterate a query's records across pages, one page in memory at a time."""
        model, text, shape = self._resolve_query(query, soql)
        return self._stream(model, text, shape)

    async def _stream(self, model: type[T], soql: str, shape: Shape | None) -> AsyncIterator[T]:
        async for page in self._pages(model, soql, shape):
            for obj in page:
                yield obj

    async def _pages(
        self, model: type[T], soql: str, shape: Shape | None
    ) -> AsyncIterator[list[T]]:
        result = self.sf.query(soql)
        if shape is not None and not shape.has_children:
            # The hot path: each page's bytes become objects in one pydantic-core call.
            async for objs in result.decoded_pages(decode_page(shape)):
                yield self._adopt(objs, shape)
            return
        # Child subqueries may need more pages (the client fetches them), or the shape is
        # not known (raw SOQL): records are parsed first.
        async for page in result.pages():
            yield self._hydrate_many(model, page, shape)

    async def first(self, query: Select[T]) -> T | None:
        """The first record, or ``None`` (the query is sent with ``LIMIT 1``)."""
        rows = await self.all(query.limit(1))
        return rows[0] if rows else None

    async def one(self, query: Select[T]) -> T:
        """Exactly one record; ``NoResultError`` or ``MultipleResultsError`` otherwise."""
        rows = await self.all(query.limit(2))
        if not rows:
            raise NoResultError(f"no {query.model.__name__} matched: {query.to_soql()}")
        if len(rows) > 1:
            raise MultipleResultsError(
                f"more than one {query.model.__name__} matched: {query.to_soql()}"
            )
        return rows[0]

    async def count(self, query: Select[Any] | CountSelect[Any]) -> int:
        """How many records match: ``await session.count(select(Contact).where(...))``."""
        statement = query if isinstance(query, CountSelect) else query.count()
        return await self.sf.query(statement.to_soql()).count()

    async def get(self, model: type[T], record_id: str) -> T:
        """Read one record by id (all the model's value fields)."""
        meta = sobject_meta(model)
        fields = [fm.api_name for fm in meta.fields.values() if fm.kind == "value"]
        record = await self.sf.sobject.get(meta.api_name, record_id, fields=fields)
        return self._hydrate_many(model, [record], None)[0]

    def _resolve_query(self, query: Any, soql: str | None) -> tuple[type[Any], str, Shape | None]:
        """(model, SOQL, shape of its records: ``None`` for raw SOQL, whose shape is unknown)."""
        if soql is not None:
            if not (isinstance(query, type) and issubclass(query, SObject)):
                raise ConfigurationError("raw SOQL needs the model to read into: all(Model, soql)")
            return query, soql, None
        if not isinstance(query, Select):
            raise ConfigurationError(
                f"expected select(...) or (Model, soql), got {type(query).__name__}"
            )
        return query.model, query.to_soql(), shape_of(query)

    # -- hydration and identity ----------------------------------------------------------------

    def _hydrate_many(
        self, model: type[T], records: Sequence[dict[str, Any]], shape: Shape | None
    ) -> list[T]:
        """Models for parsed records; the objects this session already holds for their ids."""
        return self._adopt(validate_records(model, records, shape), shape)

    def _adopt(self, objs: list[T], shape: Shape | None) -> list[T]:
        """Freshly loaded objects into the identity map; an object already held for an id
        gets the fresh values merged in and is returned instead."""
        return self._adopter.adopt(objs, shape)

    # -- flush ---------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Send everything recorded, in dependency order, as few requests as possible.

        One flush runs at a time per session; work recorded meanwhile goes in the next one.
        """
        self._check_open("a flush")
        if self._flush_lock is None:
            self._flush_lock = anyio.Lock()
        async with self._flush_lock:
            if self.autosave:
                for obj, _ in self.unsaved():
                    self.register_save(obj)
            await self._flush()

    def plan(self) -> FlushPlan:
        """What a flush would send now, and what it would cost; no I/O.

        ``print(session.plan())`` shows it as a table (rounds, requests, subrequests, API
        calls). When nothing fails, ``session.last_flush`` after the flush equals it.
        """
        extra = [obj for obj, _ in self.unsaved()] if self.autosave else []
        work = self._work(mark_skipped=False)
        if extra:
            # What autosave would record, planned without recording it.
            planned = {id(w.obj) for w in work if isinstance(w, Operation)}
            work += [Operation("update", obj) for obj in extra if id(obj) not in planned]
        self._check_parents(work)
        return self._plan(work)

    def _check_budget(self, plan: FlushPlan) -> None:
        """Refuse, before anything is sent, a flush that would pass the session's API budget
        or eat into the client's ``api_reserve``: a flush stopped halfway is worse."""
        cost = plan.api_calls
        if self.api_budget is not None and self.api_calls + cost > self.api_budget:
            raise ApiBudgetError(
                f"this flush would spend {cost} API calls ({plan.http_requests} requests, "
                f"strategy {self.strategy!r}); the session has spent {self.api_calls} of its "
                f"api_budget of {self.api_budget}. Nothing was sent; the work stays pending. "
                "Try strategy='economy', or a larger budget",
                cost=cost,
                budget=self.api_budget,
                spent=self.api_calls,
            )
        available = self.sf.api_calls_available
        reserve = self.sf.api_reserve
        if reserve is not None and available is not None and cost > available:
            raise ApiBudgetError(
                f"this flush would spend {cost} API calls, and only {available} are left before "
                f"the client's api_reserve of {reserve} (the org reported {self.sf.api_usage}). "
                "Nothing was sent; the work stays pending",
                cost=cost,
                usage=self.sf.api_usage,
                reserve=reserve,
            )

    def _work(self, *, mark_skipped: bool) -> list[Operation | QueryHandle[Any]]:
        """What a flush sends: pending work, less outcome-unknown operations and updates with
        nothing to send (marked skipped and finished when ``mark_skipped``)."""
        work: list[Operation | QueryHandle[Any]] = []
        for item in list(self._pending):  # finishing a skipped update removes it
            if isinstance(item, Operation):
                if item.outcome_unknown:
                    continue
                if (
                    item.kind == "update"
                    and item.obj.id
                    and not changed_fields(item.obj)
                    and not self._relation_changes(item.obj)
                ):
                    if mark_skipped:
                        item.skipped = True
                        self._finish(item)
                    continue
            work.append(item)
        return work

    def _plan(self, work: Sequence[Operation | QueryHandle[Any]]) -> FlushPlan:
        return plan_flush(
            work,
            strategy=self.strategy,
            parents_of=self._new_parents,
            collections_threshold=self.collections_threshold,
            halt_on_error=self.halt_on_error,
            # With halt_on_error the requests of a round go one after another.
            concurrency=1 if self.halt_on_error else self.concurrency,
            transaction=self.transaction,
        )

    async def _flush(self) -> None:
        if not self._pending:
            return
        work = self._work(mark_skipped=True)
        if not work:
            return
        self._check_parents(work)
        plan = self._plan(work)
        self._check_budget(plan)
        transport: list[SalesforceError] = []
        self._log = SendLog(self.concurrency if not self.halt_on_error else 1)
        try:
            if self.transaction and plan.requests[0].endpoint == "composite":
                await self._flush_transaction([plan.requests[0].items], transport)
            else:
                await self._execute_plan(plan, transport)
        finally:
            self.last_flush = self._log.report(work)
            self.api_calls += self.last_flush.api_calls
        self._raise_failures(work, transport)

    def _finish(self, op: Operation) -> None:
        self._pending.pop(op, None)
        state = op.state
        if state.pending is op:
            state.pending = None
            state.failed = False
            state.errors = ()

    def _relation_changes(self, obj: SObject) -> dict[str, tuple[str, SObject | None]]:
        """Assigned parent relationships whose lookup id would change: API name -> (relation,
        parent). A parent that has no id yet always counts."""
        state = obj._sobject_state
        if not state.assigned:
            return NOTHING
        meta = sobject_meta(type(obj))
        out: dict[str, tuple[str, SObject | None]] = {}
        for name in state.assigned:
            fm = meta.fields[name]
            parent = obj.__dict__.get(name)
            assert fm.lookup_api_name is not None
            parent_id = parent.id if isinstance(parent, SObject) else None
            known = _known_lookup(state, fm)
            if isinstance(parent, SObject) and not parent.id:
                out[fm.lookup_api_name] = (name, parent)
            elif known is _UNKNOWN or known != parent_id or not state.persistent:
                out[fm.lookup_api_name] = (name, parent if isinstance(parent, SObject) else None)
        return out

    def _new_parents(self, op: Operation) -> list[SObject]:
        if not op.state.assigned or op.kind == "delete":
            return []
        return [
            parent
            for _, parent in self._relation_changes(op.obj).values()
            if parent is not None and not parent.id
        ]

    def _check_parents(self, work: list[Operation | QueryHandle[Any]]) -> None:
        """Refuse, before any HTTP, a record pointing at a new parent that is not being saved."""
        saving = {
            id(w.obj) for w in work if isinstance(w, Operation) and w.kind in ("create", "upsert")
        }
        for item in work:
            if not isinstance(item, Operation):
                continue
            if not item.state.assigned or item.kind == "delete":
                continue
            for relation, parent in self._relation_changes(item.obj).values():
                if parent is None or parent.id:
                    continue
                in_flight = parent._sobject_state.pending
                if id(parent) not in saving and not (in_flight and in_flight.in_flight):
                    raise ConfigurationError(
                        f"{describe(item.obj)} refers through .{relation} to a "
                        f"{describe(parent)}, which has no id and is not being saved: call "
                        ".save() (or .upsert()) on it too"
                    )

    async def _execute_plan(self, plan: FlushPlan, transport: list[SalesforceError]) -> None:
        """Send a plan round by round; in a round, requests go concurrently (one after
        another with halt_on_error). Row locks are retried, and so are records a Composite
        request could not send because a record they refer to failed in it."""
        for requests in plan.rounds():
            items = [item for request in requests for item in request.items]
            for attempt in range(self.lock_retries + 1):
                sendable = self._sendable(requests)
                if not sendable:
                    break
                self._log.round(len(sendable))
                if self.halt_on_error:
                    for request in sendable:
                        await self._send_request(request, transport)
                        if transport or any(_genuine_failure(i) for i in request.items):
                            break
                else:
                    limiter = anyio.CapacityLimiter(self.concurrency)

                    async def send(
                        request: PlannedRequest, limiter: anyio.CapacityLimiter = limiter
                    ) -> None:
                        async with limiter:
                            await self._send_request(request, transport)

                    async with anyio.create_task_group() as group:
                        for request in sendable:
                            group.start_soon(send, request)
                sent = [item for request in sendable for item in request.items]
                retry = _retries(sent, all_or_none=self.transaction)
                if not retry or attempt == self.lock_retries or transport:
                    break
                await anyio.sleep(0.2 * (2**attempt))
                requests = list(self._plan(retry).requests)
            if transport or (self.halt_on_error and any(_genuine_failure(i) for i in items)):
                break  # later rounds are not sent
        # A record a Composite request could not send because its parent failed there is
        # reported as batch reports it: not sent, naming the parent. (In a transaction,
        # everything was rolled back, and says so.)
        for request in [] if self.transaction else plan.requests:
            for item in request.items:
                if isinstance(item, Operation) and _failed_with(item, "PROCESSING_HALTED"):
                    self._ready(item)

    def _sendable(self, requests: Sequence[PlannedRequest]) -> list[PlannedRequest]:
        """The requests of a round with what can be sent now; a request that lost items
        (a parent failed, say) is packed again from the rest."""
        out: list[PlannedRequest] = []
        for request in requests:
            together = (
                {id(op.obj) for op in request.items if isinstance(op, Operation)}
                if request.endpoint != "composite/batch"
                else set()
            )
            ready = [item for item in request.items if self._ready(item, together)]
            if len(ready) == len(request.items):
                out.append(request)
            elif ready:
                out += [
                    PlannedRequest(r.endpoint, request.round, r.calls, r.all_or_none)
                    for r in self._plan(ready).requests
                ]
        return out

    async def _send_request(
        self, request: PlannedRequest, transport: list[SalesforceError]
    ) -> None:
        if request.endpoint == "composite/batch":
            await self._send_chunk(request.items, transport)
        elif request.endpoint == "composite/graph":
            await self._send_graphs(request, transport)
        else:
            await self._send_composite(request.calls, transport)

    async def _send_graphs(self, request: PlannedRequest, transport: list[SalesforceError]) -> None:
        """One Composite Graph request: each graph's nodes refer to the records they depend
        on in it, and Salesforce applies a graph entirely or not at all (a graph that failed
        is sent again without the records that failed, see ``_retries``)."""
        graph_request = self.sf.composite.graph()
        sent: list[_Sent] = []
        for calls in request.graph_calls():
            graph = graph_request.graph()
            refs: dict[int, Subrequest] = {}
            items = [op for call in calls for op in call.items if isinstance(op, Operation)]
            with _landing(items):
                for op in items:
                    sub = self._add_subrequest(graph, op, refs=refs)
                    refs[id(op.obj)] = sub
                    sent.append(_Sent(op, sub))
        self._log.request("composite/graph", len(sent))
        await self._execute(graph_request, sent, transport)
        for entry in sent:
            self._apply(entry.op, entry.subrequest)

    def _ready(
        self, item: Operation | QueryHandle[Any], together: set[int] | frozenset[int] = frozenset()
    ) -> bool:
        """Whether an item can be sent now: not done, not unknown, its parents have ids (or
        go in the same Composite request, ``together``, to be referred to)."""
        if (
            item.__class__ is Operation
            and item.kind == "create"
            and item.subrequest is None
            and not item.state.assigned
        ):
            # Most of a large flush: a create never sent, with no parent to wait for.
            item.blocked_by = None
            item.error = None
            return True
        if isinstance(item, QueryHandle):
            return not item.done
        if item.outcome_unknown or (item.done and item.is_success):
            return False
        if item.kind in ("update", "delete") and not item.obj.id:
            creator = item.obj._sobject_state.pending
            item.blocked_by = creator if creator is not item else None
            item.error = ResponseError(
                0, [ErrorDetail("NOT_SENT", "the record has no id: its create failed")]
            )
            _unsent(item)
            return False
        for parent in self._new_parents(item):
            if id(parent) in together:
                continue  # created earlier in the same Composite request
            item.blocked_by = parent._sobject_state.pending
            item.error = ResponseError(
                0,
                [ErrorDetail("NOT_SENT", f"depends on {describe(parent)}, which was not saved")],
            )
            _unsent(item)
            return False
        item.blocked_by = None
        item.error = None
        return True

    async def _send_composite(
        self, calls: Sequence[Call], transport: list[SalesforceError]
    ) -> None:
        """One Composite request (not all or none): single subrequests that later ones may
        refer to (``@{ref.id}``), Collections calls of up to 200 records, queries."""
        composite = self.sf.composite(all_or_none=False)
        refs: dict[int, Subrequest] = {}
        collections: list[tuple[CollectionSubrequest, list[Operation]]] = []
        sent: list[_Sent] = []
        for call in calls:
            if not call.collection:
                item = call.items[0]
                with _landing([item]):
                    sub = self._add_subrequest(composite, item, refs=refs)
                if isinstance(item, Operation):
                    refs[id(item.obj)] = sub
                sent.append(_Sent(item, sub))
                continue
            chunk = [op for op in call.items if isinstance(op, Operation)]
            with _landing(chunk):
                records = [self._record_values(op, refs) for op in chunk]  # marks them in flight
            first = chunk[0]
            if first.kind == "create":
                collection = composite.collections.create(call.sobject, records)
            elif first.kind == "update":
                collection = composite.collections.update(call.sobject, records)
            elif first.kind == "upsert":
                assert first.external_id is not None
                collection = composite.collections.upsert(
                    call.sobject, records, external_id_field=first.external_id.api_name
                )
            else:
                collection = composite.collections.delete([op.obj.id or "" for op in chunk])
            collections.append((collection, chunk))
            for op in chunk:
                op.subrequest = _item_subrequest(op, call.sobject)
                sent.append(_Sent(op, op.subrequest))
        self._log.request("composite", len(calls))
        await self._execute(composite, sent, transport)
        try:
            for collection, chunk in collections:
                self._bind_collection(collection, chunk, sent, transport)
        finally:
            for entry in sent:
                if isinstance(entry.op, Operation):
                    self._apply(entry.op, entry.subrequest)
        await self._complete_queries(sent)

    def _bind_collection(
        self,
        call: CollectionSubrequest,
        chunk: list[Operation],
        sent: list[_Sent],
        transport: list[SalesforceError],
    ) -> None:
        """Each record's own result, from its Collections call's answer."""
        if not call.done:
            return
        if not call.is_success:
            for op in chunk:
                assert op.subrequest is not None
                op.subrequest._bind(call.status_code, call.result, call.response)
            return
        try:
            results = call.results
            if len(results) != len(chunk):
                raise ValueError(f"{len(results)} results for {len(chunk)} records")
        except (SalesforceError, ValueError) as exc:
            # The call was applied but its answer cannot be matched to the records.
            unknown = OutcomeUnknownError(
                f"a Collections answer could not be matched to its records ({exc}); "
                "they may have been applied, so they are not sent again"
            )
            transport.append(unknown)
            self._unanswered([e for e in sent if e.op in chunk], unknown)
            return
        items = call.result  # the records' answers as Salesforce sent them
        for op, result, item in zip(chunk, results, items, strict=True):
            _bind_item(op, result, item)

    def _record_values(
        self, op: Operation, refs: dict[int, Subrequest] | None = None
    ) -> dict[str, Any]:
        """One record of a Collections call (the same values a subrequest would carry); a
        parent created earlier in the same Composite request is referred to."""
        op.attempts += 1
        op.in_flight = True
        obj = op.obj
        if op.kind == "delete":
            return {}
        values = self._values(op)
        for api_name, (_, parent) in op.derived.items():
            if parent is not None and not parent.id and refs is not None and id(parent) in refs:
                values[api_name] = refs[id(parent)].reference.id
            else:
                values[api_name] = parent.id if parent is not None else None
        if op.kind == "update":
            values["Id"] = obj.id
        elif op.kind == "upsert":
            assert op.external_id is not None
            values[op.external_id.api_name] = obj._wire_value(op.external_id)
        return values

    async def _send_chunk(self, chunk: list[Any], transport: list[SalesforceError]) -> None:
        batch = self.sf.composite.batch(halt_on_error=self.halt_on_error)
        with _landing(chunk):
            sent = [_Sent(item, self._add_subrequest(batch, item, refs=None)) for item in chunk]
        self._log.request("composite/batch", len(chunk))
        await self._execute(batch, sent, transport)
        for entry in sent:
            self._apply(entry.op, entry.subrequest)
        await self._complete_queries(sent)

    async def _execute(
        self,
        request: CompositeBatch | Composite | CompositeGraph,
        sent: list[_Sent],
        transport: list[SalesforceError],
    ) -> None:
        """Send one request; a failure of the request itself is collected, not raised, so
        the results that did arrive (in other requests) are still applied."""
        try:
            await request.execute()
        except SalesforceError as exc:
            transport.append(exc)
            self._unanswered(sent, exc)
        finally:
            for entry in sent:
                if isinstance(entry.op, Operation):
                    entry.op.in_flight = False

    def _unanswered(self, sent: list[_Sent], exc: SalesforceError) -> None:
        """Subrequests left without an answer by a failed request."""
        applied = not nothing_applied(exc)
        for entry in sent:
            if isinstance(entry.op, Operation) and not entry.subrequest.done:
                entry.op.unanswered = exc  # named on the error the flush raises
                if not applied:
                    continue  # certainly not applied: still pending, the next flush sends it
                if entry.op.kind == "upsert" and self.replay_upserts:
                    # Idempotent by its external id: it stays pending and goes again.
                    entry.op.answer_lost = True
                    continue
                entry.op.outcome_unknown = True
                entry.op.error = ResponseError(
                    0,
                    [
                        ErrorDetail(
                            "OUTCOME_UNKNOWN",
                            f"sent, but no answer came back ({type(exc).__name__}): Salesforce "
                            "may have applied it, so it is not sent again; check the org, "
                            "then save the object again if needed",
                        )
                    ],
                )

    async def _flush_transaction(
        self, waves: list[list[Any]], transport: list[SalesforceError]
    ) -> None:
        ordered = [item for wave in waves for item in wave]  # the planner checked the limits
        for attempt in range(self.lock_retries + 1):
            self._log.round(1)
            self._log.request("composite", len(ordered))
            composite = self.sf.composite(all_or_none=True)
            refs: dict[int, Subrequest] = {}
            sent: list[_Sent] = []
            with _landing(ordered):
                for item in ordered:
                    sub = self._add_subrequest(composite, item, refs=refs)
                    if isinstance(item, Operation):
                        refs[id(item.obj)] = sub
                    sent.append(_Sent(item, sub))
            await self._execute(composite, sent, transport)
            # All or none: after a row lock, nothing was kept, so everything may go again.
            locked = [
                e for e in sent if isinstance(e.op, Operation) and _failed_with(e.op, LOCK_ROW)
            ]
            if not locked or attempt == self.lock_retries or transport:
                break
            await anyio.sleep(0.2 * (2**attempt))
        for entry in sent:
            self._apply(entry.op, entry.subrequest)
        await self._complete_queries(sent)

    def _add_subrequest(
        self,
        target: CompositeBatch | Composite | Graph,
        item: Operation | QueryHandle[Any],
        *,
        refs: dict[int, Subrequest] | None,
    ) -> Subrequest:
        if isinstance(item, QueryHandle):
            assert not isinstance(target, Graph)  # the planner puts no query in a graph
            sub = target.query(item.query.to_soql())
            item.subrequest = sub
            return sub
        op = item
        op.attempts += 1
        op.in_flight = True
        obj = op.obj
        meta = op.meta
        if op.kind == "delete":
            assert obj.id
            sub_d: DeleteSubrequest = target.sobject.delete(meta.api_name, obj.id)
            op.subrequest = sub_d
            return sub_d
        values = self._values(op)
        for api_name, (_, parent) in op.derived.items():
            if parent is None:
                values[api_name] = None
            elif parent.id:
                values[api_name] = parent.id
            elif refs is not None and id(parent) in refs:
                values[api_name] = refs[id(parent)].reference.id
        if op.kind == "create":
            sub_c: CreateSubrequest = target.sobject.create(meta.api_name, values)
            op.subrequest = sub_c
            return sub_c
        if op.kind == "update":
            assert obj.id
            sub_u: UpdateSubrequest = target.sobject.update(meta.api_name, obj.id, values)
            op.subrequest = sub_u
            return sub_u
        assert op.external_id is not None
        values[op.external_id.api_name] = obj._wire_value(op.external_id)
        sub_x: UpsertSubrequest = target.sobject.upsert(
            meta.api_name, values, external_id_field=op.external_id.api_name
        )
        op.subrequest = sub_x
        return sub_x

    def _values(self, op: Operation) -> dict[str, Any]:
        """The body of a create, update or upsert (API name -> wire value): for an update
        what changed, otherwise every writable field the user set. Notes on the operation
        what is sent, by Python name, for the snapshot once it succeeds."""
        obj = op.obj
        meta = op.meta
        fields = meta.fields
        if op.kind == "update":
            changed = changed_fields(obj)
            values = {fm.api_name: obj._wire_value(fm) for fm in changed}
            op.sent_values = {fm.name: obj.__dict__[fm.name] for fm in changed}
        else:
            values = {}
            sent: dict[str, Any] = {}
            current = obj.__dict__
            for name in meta.writable.intersection(obj.__pydantic_fields_set__):
                if name in current:
                    fm = fields[name]
                    value = current[name]
                    sent[name] = value
                    values[fm.api_name] = obj._wire_value(fm) if fm.multipicklist else value
            op.sent_values = sent
        op.derived = self._relation_changes(obj)
        return values

    def _apply(self, item: Operation | QueryHandle[Any], sub: Subrequest) -> None:
        """Hydrate one item from its subrequest result."""
        if isinstance(item, QueryHandle):
            return  # completed in _complete_queries (may need more pages)
        op, obj = item, item.obj
        state = op.state
        state.last_result = sub
        if op.outcome_unknown:
            state.failed = True
            state.errors = list(op.error.errors) if isinstance(op.error, ResponseError) else []
            return
        if not sub.succeeded:
            if sub.done:
                state.failed = True
                state.errors = sub.errors
            return  # else not answered and certainly not applied: still pending
        if op.kind == "delete":
            state.deleted = True
            state.persistent = False
            if obj.id:
                self._identity.pop(obj.id, None)
            self._finish(op)
            return
        # What was sent is now what Salesforce holds; other fields stay unknown.
        snapshot = own_snapshot(obj)  # before the id is written into __dict__
        if op.kind == "create":
            obj.__dict__["id"] = _salesforce_id(str(sub.result["id"]))
            state.created = True
        elif op.kind == "upsert":
            assert isinstance(sub, UpsertSubrequest)
            result = sub.upsert_result
            if result.id:
                obj.__dict__["id"] = _salesforce_id(result.id)
            # After a lost answer, "updated" may mean "created by the attempt we never heard
            # back from": unknown.
            state.created = None if op.answer_lost and not result.created else result.created
        state.persistent = True
        for name, value in op.sent_values.items():
            snapshot[name] = frozen_value(value)
        if op.derived:
            self._apply_lookups(op)
        record_id = obj.__dict__.get("id")
        if record_id:
            self._identity[record_id] = obj
        self._finish(op)

    def _apply_lookups(self, op: Operation) -> None:
        """The lookups sent for assigned parents: their ids are known now."""
        obj = op.obj
        state = obj._sobject_state
        fields = sobject_meta(type(obj)).fields
        for api_name, (relation, parent) in op.derived.items():
            parent_id = parent.id if parent is not None else None
            lookup_name = fields[relation].lookup_name
            if lookup_name is not None:
                write_field(obj, lookup_name, parent_id)
                state.snapshot[lookup_name] = parent_id
            else:
                state.lookups = {**(state.lookups or {}), api_name: parent_id}
            if obj.__dict__.get(relation) is parent:
                state.unassign(relation)

    async def _complete_queries(self, sent: list[_Sent]) -> None:
        for entry in sent:
            if not isinstance(entry.op, QueryHandle):
                continue
            handle, sub = entry.op, entry.subrequest
            if not sub.done or not sub.is_success:
                continue
            assert isinstance(sub, QuerySubrequest)
            records = list(sub.records)
            next_url = sub.next_records_url
            while next_url:
                page = await self.sf.request_json("GET", next_url)
                records.extend(page.get("records") or [])
                next_url = page.get("nextRecordsUrl")
            if shape_of(handle.query).has_children:
                # Child subqueries cut short (done: false) are fetched as session.all does.
                more = self.sf.query(handle.query.to_soql())
                for record in records:
                    await more.complete_children(record)
            handle._records = self._hydrate_many(
                handle.query.model, records, shape_of(handle.query)
            )
            self._pending.pop(handle, None)

    def _raise_failures(
        self, work: list[Operation | QueryHandle[Any]], transport: list[SalesforceError]
    ) -> None:
        failures: list[tuple[SObject, SalesforceError]] = []
        for item in work:
            if item.__class__ is Operation:
                sub = item.subrequest
                if item.skipped or (sub is not None and sub.succeeded and not item.outcome_unknown):
                    continue  # the common case, without the property chain below
            if not isinstance(item, Operation) or (item.done and item.is_success):
                continue
            if item in self._pending and item.obj._sobject_state.pending is not item:
                continue  # replaced by a newer operation
            error: SalesforceError | None = None
            if item.outcome_unknown or (item.subrequest is None or not item.subrequest.done):
                if item.outcome_unknown or item.error is not None:
                    error = item.error
                elif transport:
                    continue  # not answered, certainly not applied: still pending
                else:
                    error = ResponseError(
                        0,
                        [ErrorDetail("NOT_SENT", "not sent (an earlier failure halted the flush)")],
                    )
            else:
                error = item.subrequest.error()
            if error is None:
                continue
            state = item.obj._sobject_state
            state.failed = True
            if not state.errors:
                state.errors = list(getattr(error, "errors", []))
            failures.append((item.obj, error))
        if transport:
            # The requests themselves failed: that comes first. Each error lists the objects
            # it left unknown (sent, no answer) or still pending (to be sent again).
            for exc in transport:
                exc.objects = [
                    item.obj
                    for item in work
                    if isinstance(item, Operation) and item.unanswered is exc
                ]
            if len(transport) == 1:
                raise transport[0]
            raise ExceptionGroup(f"{len(transport)} requests of the flush failed", transport)
        for item in work:
            if isinstance(item, QueryHandle) and item.subrequest is not None:
                query_error = item.subrequest.error() if item.subrequest.done else None
                if query_error is not None and self.autoraise:
                    raise query_error
        if not failures or not self.autoraise:
            return
        total = sum(1 for w in work if isinstance(w, Operation))
        if self.group_errors:
            exceptions: list[SalesforceError] = []
            for obj, error in failures:
                error.add_note(f"while saving {describe(obj)}")
                error.objects = [obj]
                exceptions.append(error)
            raise FlushErrorGroup(
                _tally(failures, total),
                exceptions,
                failures,
            )
        raise FlushError(failures, total)


# -- helpers ---------------------------------------------------------------------------------

_state_slot: Any = SObject._sobject_slot.__get__  # type: ignore[attr-defined]


def _check_sendable(obj: SObject) -> None:
    """Refuse values Salesforce cannot take when the work is recorded, not at the flush."""
    datetimes = sobject_meta(type(obj)).datetimes
    if not datetimes:
        return
    values = obj.__dict__
    # Only values given by the user can be naive: Salesforce sends instants.
    for name in datetimes.intersection(obj.__pydantic_fields_set__):
        value = values.get(name)
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise ConfigurationError(
                f"{type(obj).__name__}.{name} is a naive datetime ({value.isoformat()}); "
                "Salesforce stores instants: give it a time zone (e.g. tzinfo=timezone.utc)"
            )


_UNKNOWN: Any = object()


def _known_lookup(state: ObjectState, parent: FieldMeta) -> Any:
    """The lookup id Salesforce holds for a parent relationship, or ``_UNKNOWN``."""
    if parent.lookup_name is not None:
        return state.snapshot.get(parent.lookup_name, _UNKNOWN)
    if state.lookups is not None and parent.lookup_api_name is not None:
        return state.lookups.get(parent.lookup_api_name, _UNKNOWN)
    return _UNKNOWN


@contextmanager
def _landing(items: Sequence[Any]) -> Iterator[None]:
    """If building a request fails before it is sent, nothing of it is in flight."""
    try:
        yield
    except BaseException:
        for item in items:
            if isinstance(item, Operation):
                item.in_flight = False
        raise


_ITEM_CLASSES: dict[str, type[Subrequest]] = {
    "create": CreateSubrequest,
    "update": UpdateSubrequest,
    "upsert": UpsertSubrequest,
    "delete": DeleteSubrequest,
}


def _item_subrequest(op: Operation, api_name: str) -> Subrequest:
    """A stand-alone subrequest object for one record of a Collections call, so the
    operation's handle answers like any other (``status_code``, ``result``, ``id``)."""
    record_id = op.obj.__dict__.get("id")
    path = f"sobjects/{api_name}/{record_id}" if record_id else f"sobjects/{api_name}"
    return _ITEM_CLASSES[op.kind](_ITEM_METHODS[op.kind], path)


_ITEM_METHODS = {"create": "POST", "update": "PATCH", "upsert": "PATCH", "delete": "DELETE"}


# The status the single-record call would have answered for these per-record error codes.
_ITEM_ERROR_STATUS = {"ENTITY_IS_DELETED": 404, "NOT_FOUND": 404}


def _bind_item(op: Operation, result: CollectionResult, raw: dict[str, Any]) -> None:
    """What the single-record call would have answered, from a Collections result (and
    ``raw``, the record's answer as Salesforce sent it)."""
    sub = op.subrequest
    assert sub is not None
    if not result.success:
        errors = [
            {"errorCode": e.code, "message": e.message, "fields": list(e.fields)}
            for e in result.errors
        ]
        code = result.errors[0].code if result.errors else ""
        sub._bind(_ITEM_ERROR_STATUS.get(code, 400), errors, raw)
    elif op.kind == "create":
        # A single create answers {"id", "success", "errors"}: the record's item is just that.
        sub._bind(201, raw, raw)
    elif op.kind == "upsert" and result.created:
        sub._bind(201, {"id": result.id, "success": True, "errors": [], "created": True}, raw)
    elif op.kind == "upsert":
        sub._bind(200, {"id": result.id, "success": True, "errors": [], "created": False}, raw)
    else:
        sub._bind(204, None, raw)


def _genuine_failure(item: Any) -> bool:
    """Failed for its own reason (not halted behind another failure)."""
    if not isinstance(item, Operation):
        return False
    if item.outcome_unknown:
        return True
    sub = item.subrequest
    if sub is None or not sub.done or sub.is_success:
        return False
    return not getattr(sub, "halted", False)


def _unsent(op: Operation) -> None:
    """Forget a collateral answer (a Composite subrequest refused because a record it refers
    to failed): the operation is not sent, as in a batch, and says why."""
    sub = op.subrequest
    if sub is not None and sub.done and not sub.succeeded:
        codes = {d.code for d in sub.errors}
        if codes == {"PROCESSING_HALTED"}:
            op.subrequest = None
            op.state.failed = False
            op.state.errors = ()


def _retries(sent: list[Any], *, all_or_none: bool = False) -> list[Operation]:
    """Operations to send again at once: those that met a row lock, those halted behind
    one, and those a Composite request could not send because a record they refer to in it
    failed (``PROCESSING_HALTED``: the next attempt sends them if their own parent made it,
    and reports them not sent otherwise)."""
    ops = [i for i in sent if isinstance(i, Operation)]
    locked = any(_failed_with(op, LOCK_ROW) for op in ops)
    if all_or_none:
        # Nothing was kept: after a row lock everything may go again; after any other
        # failure, nothing does (the transaction failed).
        return [op for op in ops if not op.outcome_unknown] if locked else []
    out: list[Operation] = []
    for op in ops:
        if op.outcome_unknown:
            continue
        sub = op.subrequest
        if _failed_with(op, LOCK_ROW) or _failed_with(op, "PROCESSING_HALTED"):
            out.append(op)
        elif locked and sub is not None and (getattr(sub, "halted", False) or not sub.done):
            # With halt_on_error, the lock may have stopped items that were never sent.
            out.append(op)
    return out


def _failed_with(op: Operation, code: str) -> bool:
    sub = op.subrequest
    if sub is None or sub.succeeded or not sub.done:
        return False
    return any(e.code == code for e in sub.errors)


def _salesforce_id(record_id: str) -> str:
    # Salesforce answers with 18-character ids; anything else is checked and normalised.
    return record_id if _SALESFORCE_ID.fullmatch(record_id) else to_18(record_id)


_SALESFORCE_ID = re.compile(r"[0-9A-Za-z]{15}[0-9A-Z]{3}")


def _merge(existing: SObject, fresh: SObject) -> None:
    """Bring server values of a re-read record into the object the session already holds;
    fields and relationships changed locally and not flushed yet keep the local value."""
    fresh_values = fresh.__dict__
    slot = getattr(existing, "_sobject_slot", None)
    if isinstance(slot, Loaded) and not slot.copies:
        # Untouched since it was loaded (no state made, no mutable value that could have
        # changed in place): nothing local to keep, and its snapshot is its __dict__, so one
        # update brings both up to date.
        existing.__dict__.update(fresh_values)
        existing.__pydantic_fields_set__.update(fresh_values)
        return
    state = existing._sobject_state
    dirty = {fm.name for fm in changed_fields(existing)} | set(state.assigned)
    if dirty:
        fresh_values = {k: v for k, v in fresh_values.items() if k not in dirty}
    own_snapshot(existing)
    existing.__dict__.update(fresh_values)
    existing.__pydantic_fields_set__.update(fresh_values)
    state.snapshot.update({name: frozen_value(value) for name, value in fresh_values.items()})
    state.persistent = True

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

import weakref
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar, overload

import anyio

from sobjects._ids import to_18
from sobjects.client._composite import (
    Composite,
    CompositeBatch,
    CreateSubrequest,
    DeleteSubrequest,
    QuerySubrequest,
    Reference,
    Subrequest,
    UpdateSubrequest,
    UpsertSubrequest,
)
from sobjects.errors import (
    ConfigurationError,
    ErrorDetail,
    ResponseError,
    ResultNotReadyError,
    SalesforceError,
)
from sobjects.orm._model import FieldMeta, SObject, _freeze, changed_values, sobject_meta
from sobjects.orm._query import CountSelect, Select

if TYPE_CHECKING:
    from sobjects.client import Salesforce

__all__ = [
    "FlushError",
    "MultipleResultsError",
    "NoResultError",
    "NoSessionError",
    "Operation",
    "QueryHandle",
    "Session",
    "current_session",
    "resolve_session",
]

T = TypeVar("T", bound=SObject)

_current: ContextVar[Session | None] = ContextVar("sobjects_session", default=None)

BATCH_LIMIT = 25
LOCK_ROW = "UNABLE_TO_LOCK_ROW"


class NoSessionError(SalesforceError, RuntimeError):
    """``save()``/``upsert()``/``delete()`` was called with no session to record it."""


class NoResultError(SalesforceError, LookupError):
    """``session.one()`` found no record."""


class MultipleResultsError(SalesforceError, LookupError):
    """``session.one()`` found more than one record."""


class FlushError(SalesforceError):
    """Some operations of a flush failed; the others were applied and are clean.

    ``failures`` lists ``(object, error)`` pairs, one per failed object, in order. The failed
    objects stay pending with their errors attached (``sobjects.inspect(obj).errors``).
    """

    def __init__(self, failures: Sequence[tuple[SObject, SalesforceError]], total: int) -> None:
        self.failures = list(failures)
        lines = [f"{len(self.failures)} of {total} operations failed:"]
        for obj, error in self.failures:
            lines.append(f"  {_describe(obj)}: {error}")
        super().__init__("\n".join(lines))


def current_session() -> Session | None:
    """The session of the innermost ``async with Session(...)`` block, if any."""
    return _current.get()


def resolve_session(explicit: Session | None, obj: SObject) -> Session:
    session = explicit or _current.get()
    if session is None:
        raise NoSessionError(
            f"{type(obj).__name__}.save()/upsert()/delete() records work for a session, and "
            "there is none here: call it inside `async with Session(sf):`, or pass session="
        )
    return session


def _describe(obj: SObject) -> str:
    meta = sobject_meta(type(obj))
    shown = [f"id={obj.id!r}"] if obj.id else []
    for fm in meta.fields.values():
        if fm.kind == "value" and fm.name != "id" and obj.__dict__.get(fm.name) is not None:
            shown.append(f"{fm.name}={obj.__dict__[fm.name]!r}")
        if len(shown) >= 3:
            break
    return f"{type(obj).__name__}({', '.join(shown)})"


# -- operations --------------------------------------------------------------------------------


Kind = Literal["create", "update", "upsert", "delete"]


class Operation:
    """A recorded write and, after the flush, its outcome.

    Has the seed attributes of a subrequest: ``done``, ``status_code``, ``result``,
    ``is_success`` and ``raise_for_status()``. ``skipped`` is true for an update with nothing
    to send (no subrequest is spent on it).
    """

    def __init__(self, kind: Kind, obj: SObject, external_id: FieldMeta | None = None) -> None:
        self.kind = kind
        self.obj = obj
        self.external_id = external_id
        self.subrequest: Subrequest | None = None
        self.skipped = False
        self.attempts = 0
        self.blocked_by: Operation | None = None  # a dependency that failed
        self.sent_values: dict[str, Any] = {}

    def __repr__(self) -> str:
        state = "done" if self.done else "pending"
        return f"<Operation {self.kind} {_describe(self.obj)} {state}>"

    @property
    def done(self) -> bool:
        return self.skipped or (self.subrequest is not None and self.subrequest.done)

    def _require(self) -> Subrequest:
        if self.subrequest is None or not self.subrequest.done:
            raise ResultNotReadyError(
                f"the {self.kind} of {_describe(self.obj)} has not been flushed yet: its result "
                "exists after `await session.flush()` or the end of the session block"
            )
        return self.subrequest

    @property
    def status_code(self) -> int | None:
        return None if self.skipped else self._require().status_code

    @property
    def result(self) -> Any:
        return None if self.skipped else self._require().result

    @property
    def is_success(self) -> bool:
        return self.skipped or self._require().is_success

    def raise_for_status(self) -> None:
        if not self.skipped:
            self._require().raise_for_status()


class QueryHandle(Generic[T]):
    """A deferred query; ``records`` is filled by the flush, after the earlier writes."""

    def __init__(self, query: Select[T]) -> None:
        self.query = query
        self.subrequest: QuerySubrequest | None = None
        self._records: list[T] | None = None

    @property
    def done(self) -> bool:
        return self._records is not None

    @property
    def records(self) -> list[T]:
        if self._records is None:
            raise ResultNotReadyError(
                "this query runs at the flush: read .records after `await session.flush()` or "
                "after the session block"
            )
        return self._records

    @property
    def status_code(self) -> int:
        if self.subrequest is None or not self.subrequest.done:
            raise ResultNotReadyError("this query has not been sent yet")
        return self.subrequest.status_code

    def raise_for_status(self) -> None:
        if self.subrequest is None or not self.subrequest.done:
            raise ResultNotReadyError("this query has not been sent yet")
        self.subrequest.raise_for_status()


@dataclass
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
    ``FlushError`` when something failed; default True), ``group_errors`` (raise an
    ``ExceptionGroup`` instead), ``transaction`` (flush through one all-or-none Composite
    request with ``@{ref.id}`` references), ``concurrency`` (independent batch requests in
    flight), ``lock_retries`` (re-sends of subrequests that failed with UNABLE_TO_LOCK_ROW).
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
    ) -> None:
        if concurrency < 1 or lock_retries < 0:
            raise ConfigurationError("concurrency must be >= 1 and lock_retries >= 0")
        self.sf = sf
        self.halt_on_error = halt_on_error
        self.autoraise = autoraise
        self.group_errors = group_errors
        self.transaction = transaction
        self.concurrency = concurrency
        self.lock_retries = lock_retries
        self._pending: list[Operation | QueryHandle[Any]] = []
        self._identity: weakref.WeakValueDictionary[str, SObject] = weakref.WeakValueDictionary()
        self._token: Token[Session | None] | None = None

    # -- context -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._token = _current.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.flush()
            else:
                self.discard()  # the block failed: nothing it recorded is sent
        finally:
            if self._token is not None:
                _current.reset(self._token)
                self._token = None

    def discard(self) -> None:
        """Forget every operation not sent yet."""
        for item in self._pending:
            if isinstance(item, Operation) and item.obj._sobject_state.pending is item:
                item.obj._sobject_state.pending = None
        self._pending.clear()

    @property
    def pending(self) -> list[Operation | QueryHandle[Any]]:
        """Operations and deferred queries not flushed yet, in the order recorded."""
        return list(self._pending)

    # -- recording ---------------------------------------------------------------------------

    def add(self, obj: SObject) -> SObject:
        """Attach an object to this session (its identity is then tracked here)."""
        obj._sobject_state.session = self
        if obj.id:
            self._identity[obj.id] = obj
        return obj

    def register_save(self, obj: SObject) -> Operation:
        kind: Kind = "update" if obj.id else "create"
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
        if not obj.id:
            if state.pending is not None and state.pending.kind == "create":
                # Never sent: forgetting it is the delete.
                self._pending.remove(state.pending)
                op = state.pending
                state.pending = None
                op.skipped = True
                return op
            raise ConfigurationError(f"{_describe(obj)} has no id: there is nothing to delete")
        return self._register(obj, "delete")

    def _register(
        self, obj: SObject, kind: Kind, external_id: FieldMeta | None = None
    ) -> Operation:
        if kind != "delete":
            _check_sendable(obj)
        state = obj._sobject_state
        if state.session is not None and state.session is not self:
            raise ConfigurationError(f"{_describe(obj)} belongs to another session")
        state.session = self
        current = state.pending
        if current is not None and current in self._pending:
            if current.kind == kind or (current.kind == "create" and kind == "update"):
                return current  # already recorded: the flush sends its latest values
            self._pending.remove(current)
        op = Operation(kind, obj, external_id)
        state.pending = op
        state.failed = False
        self._pending.append(op)
        if obj.id:
            self._identity[obj.id] = obj
        return op

    def query(self, query: Select[T]) -> QueryHandle[T]:
        """Record a query; the flush runs it after the writes recorded before it."""
        handle: QueryHandle[T] = QueryHandle(query)
        self._pending.append(handle)
        return handle

    # -- immediate reads -------------------------------------------------------------------------

    @overload
    async def all(self, query: Select[T], /) -> list[T]: ...

    @overload
    async def all(self, query: type[T], soql: str, /) -> list[T]: ...

    async def all(self, query: Select[T] | type[T], soql: str | None = None, /) -> list[T]:
        """Every record of a query, typed: ``await session.all(select(Contact))`` or
        ``await session.all(Contact, "SELECT Id, LastName FROM Contact")``."""
        return [record async for record in self.stream(query, soql)]  # type: ignore[arg-type]

    @overload
    def stream(self, query: Select[T], /) -> AsyncIterator[T]: ...

    @overload
    def stream(self, query: type[T], soql: str, /) -> AsyncIterator[T]: ...

    def stream(self, query: Select[T] | type[T], soql: str | None = None, /) -> AsyncIterator[T]:
        """Iterate a query's records across pages, one page in memory at a time."""
        model, text = self._resolve_query(query, soql)
        return self._stream(model, text)

    async def _stream(self, model: type[T], soql: str) -> AsyncIterator[T]:
        async for page in self.sf.query(soql).pages():
            for obj in self._hydrate_many(model, page):
                yield obj

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
        return self._hydrate(model, record)

    def _resolve_query(self, query: Any, soql: str | None) -> tuple[type[Any], str]:
        if soql is not None:
            if not (isinstance(query, type) and issubclass(query, SObject)):
                raise ConfigurationError("raw SOQL needs the model to read into: all(Model, soql)")
            return query, soql
        from sobjects.orm._query import Select

        if not isinstance(query, Select):
            raise ConfigurationError(
                f"expected select(...) or (Model, soql), got {type(query).__name__}"
            )
        return query.model, query.to_soql()

    # -- hydration and identity ----------------------------------------------------------------

    def _hydrate_many(self, model: type[T], records: Sequence[dict[str, Any]]) -> list[T]:
        return [self._hydrate(model, record) for record in records]

    def _hydrate(self, model: type[T], record: dict[str, Any]) -> T:
        """A model for a record; the same object if this session already holds that id."""
        fresh = model.from_record(record)
        fresh._sobject_state.session = self
        if not fresh.id:
            return fresh
        existing = self._identity.get(fresh.id)
        if existing is None or not isinstance(existing, model):
            self._identity[fresh.id] = fresh
            self._adopt_related(fresh)
            return fresh
        _merge(existing, fresh, record)
        return existing

    def _adopt_related(self, obj: SObject) -> None:
        for fm in sobject_meta(type(obj)).fields.values():
            if fm.kind == "value":
                continue
            value = obj.__dict__.get(fm.name)
            related = value if isinstance(value, list) else [value]
            for item in related:
                if isinstance(item, SObject):
                    item._sobject_state.session = self
                    if item.id and item.id not in self._identity:
                        self._identity[item.id] = item

    # -- flush ---------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Send everything recorded, in dependency order, as few requests as possible."""
        if not self._pending:
            return
        work = list(self._pending)
        for item in work:
            if isinstance(item, Operation) and item.kind == "update":
                values = self._update_values(item.obj)
                if not values:
                    item.skipped = True
                    self._finish(item)
        work = [w for w in work if not (isinstance(w, Operation) and w.skipped)]
        if self.transaction:
            await self._flush_transaction(work)
        else:
            await self._flush_batches(work)
        self._raise_failures(work)

    def _finish(self, op: Operation) -> None:
        if op in self._pending:
            self._pending.remove(op)
        if op.obj._sobject_state.pending is op:
            op.obj._sobject_state.pending = None

    def _waves(self, work: list[Operation | QueryHandle[Any]]) -> list[list[Any]]:
        """Group work so that each item comes after what it depends on."""
        level: dict[int, int] = {}
        by_obj = {id(w.obj): w for w in work if isinstance(w, Operation)}
        latest_write = -1
        waves: list[list[Any]] = []
        for item in work:
            if isinstance(item, QueryHandle):
                wave = latest_write + 1
            else:
                wave = 0
                for parent in _parents(item.obj):
                    dep = by_obj.get(id(parent))
                    if dep is not None and not parent.id:
                        wave = max(wave, level[id(dep)] + 1)
                level[id(item)] = wave
                latest_write = max(latest_write, wave)
            while len(waves) <= wave:
                waves.append([])
            waves[wave].append(item)
        return waves

    async def _flush_batches(self, work: list[Operation | QueryHandle[Any]]) -> None:
        halted = False
        for wave in self._waves(work):
            if halted:
                break
            round_items = wave
            for attempt in range(self.lock_retries + 1):
                sendable = [i for i in round_items if self._ready(i)]
                if not sendable:
                    break
                chunks = [
                    sendable[i : i + BATCH_LIMIT] for i in range(0, len(sendable), BATCH_LIMIT)
                ]
                limiter = anyio.CapacityLimiter(self.concurrency)

                async def send(chunk: list[Any], limiter: anyio.CapacityLimiter = limiter) -> None:
                    async with limiter:
                        await self._send_batch(chunk)

                async with anyio.create_task_group() as group:
                    for chunk in chunks:
                        group.start_soon(send, chunk)
                locked = [
                    i for i in sendable
                    if isinstance(i, Operation) and _failed_with(i, LOCK_ROW)
                ]  # fmt: skip
                if not locked or attempt == self.lock_retries:
                    break
                await anyio.sleep(0.2 * (2**attempt))
                round_items = locked
            if self.halt_on_error and any(_failed(i) for i in wave):
                halted = True

    def _ready(self, item: Operation | QueryHandle[Any]) -> bool:
        """Whether an item can be sent now (its parents have ids)."""
        if isinstance(item, QueryHandle):
            return not item.done
        if item.done and item.is_success:
            return False
        for parent in _parents(item.obj):
            if not parent.id:
                blocker = parent._sobject_state.pending
                item.blocked_by = blocker
                return False
        item.blocked_by = None
        return True

    async def _send_batch(self, chunk: list[Any]) -> None:
        batch = self.sf.composite.batch(halt_on_error=self.halt_on_error)
        sent: list[_Sent] = []
        for item in chunk:
            sent.append(_Sent(item, self._add_subrequest(batch, item, refs=None)))
        await batch.execute()
        for entry in sent:
            self._apply(entry.op, entry.subrequest)
        await self._complete_queries(sent)

    async def _flush_transaction(self, work: list[Operation | QueryHandle[Any]]) -> None:
        if len(work) > 25:
            raise ConfigurationError(
                f"transaction=True sends one all-or-none Composite request of at most 25 "
                f"subrequests; this flush has {len(work)}. Flush in smaller steps."
            )
        composite = self.sf.composite(all_or_none=True)
        refs: dict[int, Subrequest] = {}
        sent: list[_Sent] = []
        ordered = [item for wave in self._waves(work) for item in wave]
        for item in ordered:
            sub = self._add_subrequest(composite, item, refs=refs)
            if isinstance(item, Operation):
                refs[id(item.obj)] = sub
            sent.append(_Sent(item, sub))
        await composite.execute()
        for entry in sent:
            self._apply(entry.op, entry.subrequest)
        await self._complete_queries(sent)

    def _add_subrequest(
        self,
        target: CompositeBatch | Composite,
        item: Operation | QueryHandle[Any],
        *,
        refs: dict[int, Subrequest] | None,
    ) -> Subrequest:
        if isinstance(item, QueryHandle):
            sub = target.query(item.query.to_soql())
            item.subrequest = sub
            return sub
        op = item
        op.attempts += 1
        obj = op.obj
        meta = sobject_meta(type(obj))
        if op.kind == "delete":
            assert obj.id
            sub_d: DeleteSubrequest = target.sobject.delete(meta.api_name, obj.id)
            op.subrequest = sub_d
            return sub_d
        values = self._create_values(obj) if op.kind != "update" else self._update_values(obj)
        values.update(self._lookup_values(obj, refs, only_changed=op.kind == "update"))
        op.sent_values = {k: v for k, v in values.items() if not isinstance(v, Reference)}
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
        values[op.external_id.api_name] = obj.__dict__.get(op.external_id.name)
        sub_x: UpsertSubrequest = target.sobject.upsert(
            meta.api_name, values, external_id_field=op.external_id.api_name
        )
        op.subrequest = sub_x
        return sub_x

    def _create_values(self, obj: SObject) -> dict[str, Any]:
        """Fields the user set (``model_fields_set``), as API name -> wire value."""
        meta = sobject_meta(type(obj))
        values: dict[str, Any] = {}
        for name in obj.model_fields_set:
            fm = meta.fields.get(name)
            if fm is not None and fm.writable:
                values[fm.api_name] = obj._wire_value(fm)
        return values

    def _update_values(self, obj: SObject) -> dict[str, Any]:
        """What an update sends: changed fields and changed parent relationships."""
        values = changed_values(obj)
        values.update(self._lookup_values(obj, None, only_changed=True))
        return values

    def _lookup_values(
        self, obj: SObject, refs: dict[int, Subrequest] | None, *, only_changed: bool
    ) -> dict[str, Any]:
        """Lookup ids for parent relationships set on the object (``contact.account = acme``)."""
        meta = sobject_meta(type(obj))
        values: dict[str, Any] = {}
        for fm in meta.fields.values():
            # Set by the user (constructor or assignment) or read from Salesforce.
            if fm.kind != "parent" or fm.name not in obj.model_fields_set:
                continue
            parent = obj.__dict__.get(fm.name)
            assert fm.lookup_api_name is not None
            if parent is None:
                values[fm.lookup_api_name] = None
            elif isinstance(parent, SObject) and parent.id:
                values[fm.lookup_api_name] = parent.id
            elif isinstance(parent, SObject) and refs is not None and id(parent) in refs:
                values[fm.lookup_api_name] = refs[id(parent)].reference.id
            if fm.lookup_api_name in values:
                lookup_field = meta.by_api.get(fm.lookup_api_name.lower())
                if (
                    only_changed
                    and lookup_field is not None
                    and obj._sobject_state.snapshot.get(fm.lookup_api_name)
                    == values[fm.lookup_api_name]
                ):
                    del values[fm.lookup_api_name]
        return values

    def _apply(self, item: Operation | QueryHandle[Any], sub: Subrequest) -> None:
        """Hydrate one item from its subrequest result."""
        if isinstance(item, QueryHandle):
            return  # completed in _complete_queries (may need more pages)
        op, obj = item, item.obj
        state = obj._sobject_state
        state.last_result = sub
        if not sub.done:
            return
        if not sub.is_success:
            state.failed = True
            state.errors = sub.errors
            return
        state.failed = False
        state.errors = []
        if op.kind == "delete":
            state.deleted = True
            state.persistent = False
            if obj.id:
                self._identity.pop(obj.id, None)
        else:
            if op.kind == "create":
                assert isinstance(sub, CreateSubrequest)
                _set_id(obj, sub.id)
                state.created = True
            elif op.kind == "upsert":
                assert isinstance(sub, UpsertSubrequest)
                result = sub.upsert_result
                if result.id:
                    _set_id(obj, result.id)
                state.created = result.created
            state.persistent = True
            meta = sobject_meta(type(obj))
            for api_name, value in op.sent_values.items():
                fm = meta.by_api.get(api_name.lower())
                if fm is not None and fm.kind == "value" and fm.name != "id":
                    obj.__dict__[fm.name] = value  # e.g. AccountId sent for `account=acme`
            state.snapshot.update({k: _freeze(v) for k, v in op.sent_values.items()})
            for parent_fm in meta.fields.values():
                # Lookups sent as @{ref.id} resolve to the parent's id, known by now.
                parent = obj.__dict__.get(parent_fm.name) if parent_fm.kind == "parent" else None
                if isinstance(parent, SObject) and parent.id and parent_fm.lookup_api_name:
                    lookup = meta.by_api.get(parent_fm.lookup_api_name.lower())
                    if lookup is not None and parent_fm.name in obj.model_fields_set:
                        obj.__dict__[lookup.name] = parent.id
                        state.snapshot[lookup.api_name] = parent.id
            if op.kind in ("create", "upsert"):
                _snapshot_all(obj)
            if obj.id:
                self._identity[obj.id] = obj
        self._finish(op)

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
            handle._records = self._hydrate_many(handle.query.model, records)
            if handle in self._pending:
                self._pending.remove(handle)

    def _raise_failures(self, work: list[Operation | QueryHandle[Any]]) -> None:
        failures: list[tuple[SObject, SalesforceError]] = []
        for item in work:
            if not isinstance(item, Operation) or (item.done and item.is_success):
                continue
            error: SalesforceError
            if item.subrequest is not None and item.subrequest.done:
                found = item.subrequest.error()
                if found is None:
                    continue
                error = found
            elif item.blocked_by is not None:
                error = ResponseError(
                    0,
                    [ErrorDetail("NOT_SENT", f"depends on {_describe(item.blocked_by.obj)}, "
                                 "which was not saved")],
                )  # fmt: skip
            else:
                error = ResponseError(
                    0, [ErrorDetail("NOT_SENT", "not sent (an earlier failure halted the flush)")]
                )
            if not item.obj._sobject_state.errors:
                item.obj._sobject_state.errors = list(getattr(error, "errors", []))
            item.obj._sobject_state.failed = True
            failures.append((item.obj, error))
        for item in work:
            if isinstance(item, QueryHandle) and item.subrequest is not None:
                query_error = item.subrequest.error() if item.subrequest.done else None
                if query_error is not None and self.autoraise:
                    raise query_error
        if not failures or not self.autoraise:
            return
        total = sum(1 for w in work if isinstance(w, Operation))
        if self.group_errors:
            exceptions: list[Exception] = []
            for obj, error in failures:
                error.add_note(f"while saving {_describe(obj)}")
                exceptions.append(error)
            raise ExceptionGroup(f"{len(failures)} of {total} operations failed", exceptions)
        raise FlushError(failures, total)


# -- helpers ---------------------------------------------------------------------------------


def _check_sendable(obj: SObject) -> None:
    """Refuse values Salesforce cannot take when the work is recorded, not at the flush."""
    for fm in sobject_meta(type(obj)).fields.values():
        value = obj.__dict__.get(fm.name)
        if fm.kind == "value" and isinstance(value, datetime) and value.utcoffset() is None:
            raise ConfigurationError(
                f"{type(obj).__name__}.{fm.name} is a naive datetime ({value.isoformat()}); "
                "Salesforce stores instants: give it a time zone (e.g. tzinfo=timezone.utc)"
            )


def _parents(obj: SObject) -> list[SObject]:
    meta = sobject_meta(type(obj))
    parents = []
    for fm in meta.fields.values():
        if fm.kind == "parent" and fm.name in obj.model_fields_set:
            value = obj.__dict__.get(fm.name)
            if isinstance(value, SObject):
                parents.append(value)
    return parents


def _failed(item: Any) -> bool:
    if isinstance(item, Operation):
        return item.subrequest is not None and item.subrequest.done and not item.is_success
    return False


def _failed_with(op: Operation, code: str) -> bool:
    sub = op.subrequest
    return (
        sub is not None
        and sub.done
        and not sub.is_success
        and any(e.code == code for e in sub.errors)
    )


def _set_id(obj: SObject, record_id: str) -> None:
    obj.__dict__["id"] = to_18(record_id)


def _snapshot_all(obj: SObject) -> None:
    obj._sobject_state.snapshot.update(obj._wire_values())


def _merge(existing: SObject, fresh: SObject, record: dict[str, Any]) -> None:
    """Bring server values of a re-read record into the object the session already holds;
    fields changed locally and not flushed yet keep the local value."""
    meta = sobject_meta(type(existing))
    state = existing._sobject_state
    dirty = set()
    for fm in meta.fields.values():
        if (
            fm.kind == "value"
            and fm.api_name in state.snapshot
            and _freeze(existing._wire_value(fm)) != state.snapshot[fm.api_name]
        ):
            dirty.add(fm.name)
    for key in record:
        found = meta.by_api.get(key.lower())
        if found is None or found.name in dirty:
            continue
        fm = found
        existing.__dict__[fm.name] = fresh.__dict__.get(fm.name)
        if fm.kind != "value":
            state.loaded.add(fm.name)
    state.persistent = True
    state.snapshot.update(
        {k: v for k, v in fresh._sobject_state.snapshot.items() if meta.by_api[k.lower()].name
         not in dirty}
    )  # fmt: skip

"""The unit of work: ``Session`` records operations and flushes them in few round trips.

``Contact(...).save()`` records an operation, with no I/O. The session finds itself through
a ContextVar or an explicit ``session=``. It keeps the identity map and tracks changes. A
flush is three steps, each in its own module: the planner (``_plan``) turns the recorded
work into a ``FlushPlan`` (``session.plan()`` shows it), the sender (``_flush``) sends it and
applies the results to the models, and what was sent is kept in ``session.last_flush``.
Nothing that succeeded is sent twice; what failed stays pending with its errors attached.
"""

from __future__ import annotations

import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from contextvars import Token
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

import anyio

from sobjects.client._sosl import escape_sosl
from sobjects.errors import (
    ApiBudgetError,
    ConfigurationError,
    SalesforceError,
)
from sobjects.orm._bulk import BULK_OPTIONS, DEFAULT_BULK_THRESHOLD, QUERY_OPTIONS
from sobjects.orm._context import NoSessionError, current, current_session, resolve_session
from sobjects.orm._flush import _LISTED, FlushError, FlushErrorGroup, Sender
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
)
from sobjects.orm._operation import (
    NOTHING,
    Kind,
    Operation,
    Pending,
    QueryHandle,
    WriteStream,
    describe,
)
from sobjects.orm._plan import (
    STRATEGIES,
    FlushPlan,
    FlushReport,
    SendLog,
    Strategy,
    plan_flush,
    with_streams,
)
from sobjects.orm._progress import Progress
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
    "SearchResult",
    "Session",
    "SessionClosedError",
    "UnsavedChangesWarning",
    "WriteStream",
    "current_session",
    "resolve_session",
]

T = TypeVar("T", bound=SObject)


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


# -- the session ---------------------------------------------------------------------------------


class SearchResult:
    """What ``session.search`` found, per model: ``result[Account]`` is a ``list[Account]``;
    ``len(result)`` counts every record."""

    def __init__(self, found: dict[type[SObject], list[Any]]) -> None:
        self._found = found

    def __getitem__(self, model: type[T]) -> list[T]:
        try:
            return list(self._found[model])
        except KeyError:
            raise KeyError(f"{model.__name__} was not one of the models searched") from None

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._found.values())

    def __repr__(self) -> str:
        counts = ", ".join(f"{m.__name__}: {len(r)}" for m, r in self._found.items())
        return f"SearchResult({counts})"


class Session(Sender):
    """A unit of work against one org.

    >>> async def demo(sf: Salesforce) -> None:
    ...     from sobjects import SObject
    ...     async with Session(sf) as session:
    ...         ...

    Options: ``halt_on_error`` (stop at the first failed subrequest), ``autoraise`` (raise
    ``FlushError`` when something failed; default True), ``group_errors`` (raise a
    ``FlushErrorGroup`` instead), ``transaction`` (flush through one all-or-none Composite
    request, or one Composite Graph beyond 25 operations), ``strategy`` (``"batch"``, or
    ``"economy"`` for the fewest API calls; see ``plan()``), ``api_budget`` (API calls the
    session's flushes may spend: a flush that would pass it is refused before sending),
    ``concurrency`` (independent requests in flight), ``lock_retries`` (re-sends of
    subrequests that failed with UNABLE_TO_LOCK_ROW), ``autosave`` (every flush also saves
    loaded records changed but not saved; otherwise a clean exit warns about them with
    ``UnsavedChangesWarning``), ``replay_upserts`` (an upsert whose answer was lost is sent
    again at the next flush: default True, as upserts by external id are idempotent;
    creates never are), ``bulk_threshold`` (a group of more than this many writes of one kind
    on one sObject goes as a Bulk API 2.0 ingest job; default 10,000, ``None`` never; not
    with ``transaction`` or ``halt_on_error``; see docs/bulk.md) and ``bulk_options`` (passed
    to ``sf.bulk``: ``poll_interval``, ``max_poll_interval``, ``timeout``,
    ``max_upload_bytes``, and ``page_size`` for ``stream(..., bulk=True)``).

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
        bulk_threshold: int | None = DEFAULT_BULK_THRESHOLD,
        bulk_options: Mapping[str, Any] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigurationError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
        if api_budget is not None and (
            not isinstance(api_budget, int) or isinstance(api_budget, bool) or api_budget < 0
        ):
            raise ConfigurationError(f"api_budget must be an int >= 0, or None; got {api_budget!r}")
        if collections_threshold is not None and collections_threshold < 1:
            raise ConfigurationError("collections_threshold must be >= 1, or None")
        if bulk_threshold is not None and (
            not isinstance(bulk_threshold, int) or isinstance(bulk_threshold, bool)
        ):
            raise ConfigurationError(
                f"bulk_threshold must be an int, or None; got {bulk_threshold!r}"
            )
        unknown = set(bulk_options or {}) - BULK_OPTIONS
        if unknown:
            raise ConfigurationError(
                f"unknown bulk_options {sorted(unknown)}; known: {sorted(BULK_OPTIONS)}"
            )
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
        self.bulk_threshold = bulk_threshold
        self.bulk_options: Mapping[str, Any] = dict(bulk_options or {})
        self.autosave = autosave
        self.replay_upserts = replay_upserts
        self.strategy: Strategy = strategy
        self.last_flush: FlushReport | None = None  # what the last flush sent
        self.api_calls = 0  # API calls this session's flushes spent, as planned and sent
        self.api_budget = api_budget
        self._log = SendLog(concurrency)
        self._progress = Progress()
        self.closed = False
        self._recorded = 0  # operations recorded so far: numbers them for messages
        # Insertion-ordered, and removal is O(1): a flush of 100,000 records finishes each.
        self._pending: dict[Pending, None] = {}
        self._streamed: list[WriteStream] = []  # the streams the current flush sent
        self._identity = IdentityMap()
        self._adopter = Adopter(self, self._identity, _merge)
        self._tokens: list[Token[Session | None]] = []
        self._flush_lock: anyio.Lock | None = None

    # -- context -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._enter_block()
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
            self._block_ended(clean=exc_type is None, outermost=outermost)
        finally:
            self._leave_block(outermost)

    # The two halves of a block's end around its flush, shared with ``sobjects.sync.Session``
    # (which flushes through its event loop thread, and sets the ContextVar in its caller's).

    def _enter_block(self) -> None:
        self._tokens.append(current.set(self))

    def _block_ended(self, *, clean: bool, outermost: bool) -> None:
        if clean:
            if outermost and not self.autosave:
                self._warn_unsaved()
        elif not outermost:
            self.discard()  # an inner block failed: nothing recorded so far is sent
        # The outermost block failed: nothing is sent, and close() releases it all.

    def _leave_block(self, outermost: bool) -> None:
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
            if isinstance(slot, ObjectState) and not slot.dirty:
                mutable = sobject_meta(type(obj)).copied_at_load
                if not mutable or mutable.isdisjoint(obj.__pydantic_fields_set__):
                    continue  # never assigned to, nor holding a value changed in place
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
            stacklevel=4,  # the line that ended the block: here < _block_ended < __aexit__
        )

    @property
    def pending(self) -> list[Pending]:
        """Operations, deferred queries and streams (``save_all``) not flushed yet, in the
        order recorded."""
        return list(self._pending)

    # -- recording ---------------------------------------------------------------------------

    def add(self, obj: SObject) -> SObject:
        """Attach an object to this session (its identity is then tracked here)."""
        if self.closed:
            self._check_open(f"adding {describe(obj)}")
        obj._sobject_state.session = self
        if obj.id:
            self._identity[obj.id] = obj
        return obj

    def register_save(self, obj: SObject) -> Operation:
        state = obj._sobject_state
        if state.pending is None and not self.closed and not obj.__dict__.get("id"):
            # A new record saved once (most saves): what _register does, in one step.
            _check_sendable(obj)
            state.session = self
            return self._record(obj, "create", None)
        current = state.pending
        creating = current is not None and current.in_flight and current.kind != "delete"
        # An object whose create is in flight gets an update, sent once the id is known.
        kind: Kind = "update" if obj.id or creating else "create"
        return self._register(obj, kind)

    def register_upsert(self, obj: SObject, external_id: str | None) -> Operation:
        return self._register(obj, "upsert", _upsert_field(obj, external_id))

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
        if self.closed:  # (the message names the object: built only when it is needed)
            self._check_open(f"the {kind} of {describe(obj)}")
        self._admit(obj, kind)
        state = obj._sobject_state
        current = state.pending
        if current is not None and current in self._pending and current.outcome_unknown:
            # Saving again is the user's decision after checking the org: replace it.
            del self._pending[current]
        elif current is not None and current in self._pending and not current.in_flight:
            if current.kind == kind or (current.kind == "create" and kind == "update"):
                return current  # already recorded: the flush sends its latest values
            del self._pending[current]
        return self._record(obj, kind, external_id)

    def _admit(self, obj: SObject, kind: Kind) -> None:
        """Refuse, when it is recorded, a write that could not be sent (streamed models go
        through here too, as they are read)."""
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

    def _record(self, obj: SObject, kind: Kind, external_id: FieldMeta | None) -> Operation:
        """A new pending operation for ``obj`` (checked already)."""
        op = Operation(kind, obj, external_id)
        self._recorded += 1
        op.number = self._recorded
        state = op.state
        state.pending = op
        state.failed = False
        state.errors = ()
        self._pending[op] = None
        if obj.id:
            self._identity[obj.id] = obj
        return op

    def save_all(self, models: Iterable[SObject] | AsyncIterable[SObject]) -> WriteStream:
        """Record ``obj.save()`` for every model of ``models`` (an iterable or async
        iterable: a generator reading a file, say), without reading it: the flush reads it,
        once, after the rest of its work.

        A source that ends within ``bulk_threshold`` models is sent like that many
        ``save()`` calls; a longer one goes as Bulk API 2.0 ingest jobs (one per sObject and
        kind of write), its models encoded as they are read and held by the session only
        through weak references, so memory stays flat however long it is. Each model still
        alive afterwards has its outcome; a failed record is in ``FlushError.failures``
        even when its model is gone (rebuilt from what was sent). Models streamed as jobs
        must not refer to parents without an id, and each comes once. See docs/bulk.md.
        """
        return self._record_stream("save", models, None)

    def upsert_all(
        self, models: Iterable[SObject] | AsyncIterable[SObject], external_id: str | None = None
    ) -> WriteStream:
        """Record ``obj.upsert(external_id=...)`` for every model of ``models``, read at the
        flush as ``save_all`` reads its source."""
        return self._record_stream("upsert", models, external_id)

    def _record_stream(
        self,
        action: Literal["save", "upsert"],
        models: Iterable[SObject] | AsyncIterable[SObject],
        external_id: str | None,
    ) -> WriteStream:
        self._check_open(f"{action}_all()")
        if isinstance(models, SObject) or not isinstance(models, (Iterable, AsyncIterable)):
            raise ConfigurationError(
                f"{action}_all() takes an iterable (or async iterable) of models, not a "
                f"{type(models).__name__}; for one model, call .{action}()"
            )
        if isinstance(models, (str, bytes, Mapping)):
            raise ConfigurationError(f"{action}_all() takes models, not a {type(models).__name__}")
        stream = WriteStream(action, models, external_id)
        self._pending[stream] = None
        return stream

    def _stream_target(self, stream: WriteStream, obj: Any) -> tuple[Kind, FieldMeta | None]:
        """A streamed model's write (kind, external id), checked as ``save()`` or
        ``upsert()`` checks it when it is recorded."""
        if not isinstance(obj, SObject):
            raise ConfigurationError(
                f"a stream given to {stream.action}_all() yields models, not a {type(obj).__name__}"
            )
        current = obj._sobject_state.pending
        if current is not None and (current in self._pending or current.in_flight):
            raise ConfigurationError(
                f"{describe(obj)} already has a pending {current.kind} in this session: a "
                "streamed model is not also saved on its own"
            )
        if stream.action == "upsert":
            external_id: FieldMeta | None = _upsert_field(obj, stream.external_id)
            kind: Kind = "upsert"
        else:
            external_id = None
            kind = "update" if obj.id else "create"
        self._admit(obj, kind)
        return kind, external_id

    async def _read_streams(self) -> None:
        """Read the start of each stream not read yet: one that ends within
        ``bulk_threshold`` models (or any, when the session sends no Bulk API jobs) is
        recorded as that many ``save()`` / ``upsert()`` calls, in place of the stream."""
        limit = self.bulk_threshold
        if self.transaction or self.halt_on_error:
            limit = None  # no Bulk API jobs: a stream is only a way to record its models
        for stream in [item for item in self._pending if isinstance(item, WriteStream)]:
            if stream.done or stream.peeked:
                continue
            try:
                stream.peeked = True
                if not await stream.peek(limit):
                    continue  # a long one: it goes as Bulk API jobs, read as it is sent
                models = stream.take_peeked()
                targets = []
                for number, obj in enumerate(models, 1):
                    try:
                        targets.append(self._stream_target(stream, obj))
                    except ConfigurationError as exc:
                        raise ConfigurationError(
                            f"model {number:,} of the stream: {exc}; none of its models "
                            "was recorded"
                        ) from exc
                if len({id(obj) for obj in models}) != len(models):
                    raise ConfigurationError(
                        "a model came twice from the stream: a source yields each model once "
                        "(a new model per record); none of its models was recorded"
                    )
            except BaseException:
                del self._pending[stream]  # read once: it is not read again
                await stream.close()
                raise
            del self._pending[stream]
            await stream.close()
            for obj, (kind, external_id) in zip(models, targets, strict=True):
                self._register(obj, kind, external_id)

    async def _send_stream(self, stream: Any, transport: list[SalesforceError]) -> None:
        from sobjects.orm._stream import send_stream

        assert isinstance(stream, WriteStream)
        self._pending.pop(stream, None)  # read once, whatever happens now
        self._streamed.append(stream)
        await send_stream(self, stream, transport)

    def query(self, query: Select[T]) -> QueryHandle[T]:
        """Record a query; the flush runs it after the writes recorded before it."""
        self._check_open("a deferred query")
        handle: QueryHandle[T] = QueryHandle(query)
        self._pending[handle] = None
        return handle

    # -- immediate reads -------------------------------------------------------------------------

    @overload
    async def all(self, query: Select[T], /, *, bulk: bool = False) -> list[T]: ...

    @overload
    async def all(self, query: type[T], soql: str, /, *, bulk: bool = False) -> list[T]: ...

    async def all(
        self, query: Select[T] | type[T], soql: str | None = None, /, *, bulk: bool = False
    ) -> list[T]:
        """Every record of a query, typed: ``await session.all(select(Contact))`` or
        ``await session.all(Contact, "SELECT Id, LastName FROM Contact")``. With
        ``bulk=True`` the query runs as a Bulk API 2.0 query job."""
        model, text, shape = self._resolve_query(query, soql)
        records: list[T] = []
        async with aclosing(self._pages(model, text, shape, bulk=bulk)) as pages:
            async for page in pages:
                records += page
        return records

    @overload
    def stream(self, query: Select[T], /, *, bulk: bool = False) -> AsyncIterator[T]: ...

    @overload
    def stream(self, query: type[T], soql: str, /, *, bulk: bool = False) -> AsyncIterator[T]: ...

    def stream(
        self, query: Select[T] | type[T], soql: str | None = None, /, *, bulk: bool = False
    ) -> AsyncIterator[T]:
        """Iterate a query's records across pages, one page in memory at a time. With
        ``bulk=True`` the query runs as a Bulk API 2.0 query job, read a page of
        ``bulk_options["page_size"]`` records (the org's default otherwise) at a time."""
        model, text, shape = self._resolve_query(query, soql)
        return self._stream(model, text, shape, bulk)

    async def _stream(
        self, model: type[T], soql: str, shape: Shape | None, bulk: bool
    ) -> AsyncIterator[T]:
        async with aclosing(self._pages(model, soql, shape, bulk=bulk)) as pages:
            async for page in pages:
                for obj in page:
                    yield obj

    async def _pages(
        self, model: type[T], soql: str, shape: Shape | None, *, bulk: bool = False
    ) -> AsyncGenerator[list[T], None]:
        if bulk:
            options = {k: v for k, v in self.bulk_options.items() if k in QUERY_OPTIONS}
            query = self.sf.bulk.query(soql, **options)
            async with aclosing(query.pages()) as bulk_pages:
                async for records in bulk_pages:
                    # The client already reads empty CSV values as None and nests parents.
                    yield self._hydrate_many(model, records, shape)
            return
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

    async def search(
        self,
        term: str,
        *models: type[SObject],
        fields: str = "ALL",
        limit: int | None = None,
    ) -> SearchResult:
        """Search records by text (SOSL): ``term`` is searched for as words, literally (its
        reserved characters are escaped; it must have 2 characters or more), in ``fields``
        (``"ALL"``, ``"NAME"``, ``"EMAIL"`` or ``"PHONE"``) of each model's sObject. The
        records come back typed, per model, in the identity map like any read:

        >>> async def demo(session: Session) -> None:
        ...     from sobjects.models import Account, Contact
        ...     found = await session.search("Acme", Account, Contact)
        ...     accounts: list[Account] = found[Account]
        """
        if not models:
            raise ConfigurationError("search(term, Model, ...) needs the models to return")
        group = fields.upper()
        if group not in ("ALL", "NAME", "EMAIL", "PHONE"):
            raise ConfigurationError(f"fields must be ALL, NAME, EMAIL or PHONE, not {fields!r}")
        if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 2000):
            raise ConfigurationError("limit must be an int from 1 to 2000 (Salesforce's cap)")
        if not isinstance(term, str) or len(term.strip()) < 2:
            raise ConfigurationError("a search term has at least 2 characters")
        returning = []
        by_name: dict[str, type[SObject]] = {}
        for model in models:
            meta = sobject_meta(model)
            names = [fm.api_name for fm in meta.fields.values() if fm.kind == "value"]
            returning.append(f"{meta.api_name}({', '.join(names)})")
            by_name[meta.api_name.lower()] = model
        sosl = (
            f"FIND {{{escape_sosl(term.strip())}}} IN {group} FIELDS "
            f"RETURNING {', '.join(returning)}"
        )
        if limit is not None:
            sosl += f" LIMIT {limit}"
        records = await self.sf.search(sosl)
        grouped: dict[type[SObject], list[dict[str, Any]]] = {model: [] for model in models}
        for record in records:
            kind = str((record.get("attributes") or {}).get("type", "")).lower()
            if kind in by_name:
                grouped[by_name[kind]].append(record)
        return SearchResult(
            {model: self._hydrate_many(model, rows, None) for model, rows in grouped.items()}
        )

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
        return self._plan(work, streams=self._pending_streams())

    def _pending_streams(self) -> list[WriteStream]:
        return [item for item in self._pending if isinstance(item, WriteStream)]

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
            if isinstance(item, WriteStream):
                continue  # planned apart: sent last
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

    def _plan(
        self,
        work: Sequence[Operation | QueryHandle[Any]],
        *,
        graphs: bool = True,
        streams: Sequence[WriteStream] = (),
    ) -> FlushPlan:
        plan = plan_flush(
            work,
            graphs=graphs,
            strategy=self.strategy,
            parents_of=self._new_parents,
            collections_threshold=self.collections_threshold,
            halt_on_error=self.halt_on_error,
            # With halt_on_error the requests of a round go one after another.
            concurrency=1 if self.halt_on_error else self.concurrency,
            transaction=self.transaction,
            bulk_threshold=self.bulk_threshold,
        )
        return with_streams(plan, streams)

    async def _flush(self) -> None:
        if not self._pending:
            return
        await self._read_streams()
        work = self._work(mark_skipped=True)
        streams = self._pending_streams()
        if not work and not streams:
            return
        self._check_parents(work)
        plan = self._plan(work, streams=streams)
        self._check_budget(plan)
        transport: list[SalesforceError] = []
        self._log = SendLog(self.concurrency if not self.halt_on_error else 1)
        self._progress = Progress(self.sf, work)
        self._streamed = []
        await self._progress.start()
        try:
            if self.transaction and plan.requests[0].endpoint == "composite":
                await self._flush_transaction([plan.requests[0].items], transport)
            else:
                await self._execute_plan(plan, transport)
        finally:
            # Streamed records that did not succeed are operations now; the others counted.
            settled = [op for stream in self._streamed for op in stream.ops]
            counted = {
                "succeeded": sum(s.succeeded for s in self._streamed),
                "not_run": sum(s.not_run for s in self._streamed),
                "unknown": sum(s.unknown for s in self._streamed),
            }
            self.last_flush = self._log.report([*work, *settled], counted)
            self.api_calls += self.last_flush.api_calls
        total = sum(1 for w in work if isinstance(w, Operation))
        total += sum(s.sent for s in self._streamed)
        streamed, self._streamed = self._streamed, []
        self._raise_failures([*work, *(op for s in streamed for op in s.ops)], transport, total)

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


def _upsert_field(obj: SObject, external_id: str | None) -> FieldMeta:
    """The external id an upsert of ``obj`` matches by (``SObject.upsert``'s rules)."""
    meta = sobject_meta(type(obj))
    if external_id is not None:
        fm = meta.field(external_id)
        if not fm.external_id:
            raise ConfigurationError(f"{meta.api_name}.{external_id} is not an external id")
    else:
        candidates = meta.external_id_fields
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
    return fm


_UNKNOWN: Any = object()


def _known_lookup(state: ObjectState, parent: FieldMeta) -> Any:
    """The lookup id Salesforce holds for a parent relationship, or ``_UNKNOWN``."""
    if parent.lookup_name is not None:
        return state.snapshot.get(parent.lookup_name, _UNKNOWN)
    if state.lookups is not None and parent.lookup_api_name is not None:
        return state.lookups.get(parent.lookup_api_name, _UNKNOWN)
    return _UNKNOWN


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

"""Recorded work: an ``Operation`` per write, a ``QueryHandle`` per deferred query, a
``WriteStream`` per source of models given to ``save_all`` / ``upsert_all``.

The session records them, the planner packs them into requests, and the flush binds each to
its subrequest and reads its outcome from it (a stream is read as it is sent, see
``_stream``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from sobjects.client._bulk import each_record
from sobjects.client._composite import QuerySubrequest, Subrequest
from sobjects.errors import ResultNotReadyError, SalesforceError
from sobjects.orm._model import FieldMeta, SObject, sobject_meta

if TYPE_CHECKING:
    from sobjects.client._bulk import BulkJob
    from sobjects.orm._query import Select

__all__ = [
    "NOTHING",
    "Kind",
    "Operation",
    "Pending",
    "QueryHandle",
    "StreamAction",
    "WriteStream",
    "describe",
]

T = TypeVar("T", bound=SObject)


def describe(obj: SObject) -> str:
    """A record's name in messages: sObject and id, or its place among the session's
    operations before it has an id. Never its field values (they may be personal data)."""
    name = type(obj).__name__
    record_id = obj.__dict__.get("id")
    if record_id:
        return f"{name} {record_id}"
    pending = obj._sobject_state.pending
    return (
        f"new {name} #{pending.number}" if pending is not None and pending.number else f"new {name}"
    )


Kind = Literal["create", "update", "upsert", "delete"]
NOTHING: dict[str, Any] = {}  # shared, never written: operations replace it, not fill it


class Operation:
    """A recorded write and, after the flush, its outcome.

    Has the seed attributes of a subrequest: ``done``, ``status_code``, ``result``,
    ``is_success`` and ``raise_for_status()``. ``skipped`` is true for an update with nothing
    to send (no subrequest is spent on it).
    """

    __slots__ = (
        "answer_lost",
        "attempts",
        "blocked_by",
        "derived",
        "error",
        "external_id",
        "in_flight",
        "kind",
        "meta",
        "number",
        "obj",
        "outcome_unknown",
        "sent_values",
        "skipped",
        "state",
        "subrequest",
        "unanswered",
    )

    def __init__(self, kind: Kind, obj: SObject, external_id: FieldMeta | None = None) -> None:
        self.kind = kind
        self.obj = obj
        # Looked up once: the flush reads both several times per record.
        self.state = obj._sobject_state
        self.meta = sobject_meta(type(obj))
        self.external_id = external_id
        self.subrequest: Subrequest | None = None
        self.skipped = False
        self.attempts = 0
        self.blocked_by: Operation | None = None  # a dependency that failed
        # Python name -> value of the fields sent (what Salesforce holds once it succeeds).
        self.sent_values: dict[str, Any] = NOTHING
        # Lookups sent for assigned parent relationships: API name -> (relation, parent).
        self.derived: dict[str, tuple[str, SObject | None]] = NOTHING
        self.in_flight = False
        # Sent, but no answer came back: never sent again unless saved again explicitly.
        self.outcome_unknown = False
        self.error: SalesforceError | None = None  # why it was not sent, or is unknown
        self.unanswered: SalesforceError | None = None  # the request failure behind it
        # An upsert sent once already whose answer was lost: it goes again (idempotent), but
        # its created flag can then only be trusted when it says True.
        self.answer_lost = False
        self.number = 0  # its place among the session's operations: names it in messages

    def __repr__(self) -> str:
        state = "done" if self.done else "pending"
        return f"<Operation {self.kind} {describe(self.obj)} {state}>"

    @property
    def done(self) -> bool:
        return self.skipped or (self.subrequest is not None and self.subrequest.done)

    def _require(self) -> Subrequest:
        if self.outcome_unknown and self.unanswered is not None:
            raise self.unanswered
        if self.subrequest is None or not self.subrequest.done:
            raise ResultNotReadyError(
                f"the {self.kind} of {describe(self.obj)} has not been flushed yet: its result "
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


StreamAction = Literal["save", "upsert"]
_END: Any = object()


class WriteStream:
    """Models recorded by ``session.save_all(models)`` or ``session.upsert_all(models)``.

    The source (any iterable or async iterable of models) is not read when it is recorded:
    the flush reads it, once, after the rest of its work. A source that ends within the
    session's ``bulk_threshold`` models is recorded as that many ``save()`` (or
    ``upsert()``) calls and sent with the rest; a longer one goes as Bulk API 2.0 ingest
    jobs (one per sObject and kind of write), its models encoded as they are read and held
    by the session only through weak references.

    ``done`` once it was read; then ``pulled`` counts the models read from it, ``sent`` the
    records it put in Bulk API jobs, and ``jobs`` lists those jobs.
    """

    def __init__(
        self,
        action: StreamAction,
        source: Iterable[Any] | AsyncIterable[Any],
        external_id: str | None = None,
    ) -> None:
        self.action = action
        self.external_id = external_id
        self.done = False  # read (sent, or recorded as operations): never read again
        self.peeked = False  # its start was read (a flush found it longer than the threshold)
        self.pulled = 0
        self.sent = 0
        self.jobs: list[BulkJob] = []
        # Outcomes of the records sent, for the flush's report: those that did not succeed
        # are recorded as operations (``ops``); the others are only counted.
        self.succeeded = 0
        self.not_run = 0  # not processed, by a job that failed, with no model left
        self.unknown = 0  # possibly processed, with no model left
        self.ops: list[Operation] = []
        self.order: list[int] = []  # each op's place in the stream
        self._source = source
        self._items: AsyncGenerator[Any, None] | None = None
        self._buffer: deque[Any] = deque()  # models read by ``peek``, not sent yet
        self._ended = False  # the source has no more models

    def __repr__(self) -> str:
        state = f"done, {self.pulled} models read" if self.done else "pending"
        return f"<WriteStream {self.describe()} {state}>"

    def describe(self) -> str:
        """What the plan shows for it."""
        by = f" by {self.external_id}" if self.external_id else ""
        return f"{self.action}{by} from a stream (Bulk API jobs; size unknown until sent)"

    async def peek(self, limit: int | None) -> bool:
        """Read up to ``limit`` + 1 models (all with ``None``); whether the source ended
        within ``limit``."""
        while limit is None or len(self._buffer) <= limit:
            model = await self._next()
            if model is _END:
                return True
            self._buffer.append(model)
        return False

    def sort_ops(self) -> None:
        """``ops`` in the order the stream gave their models (results come in any order)."""
        pairs = sorted(zip(self.order, self.ops, strict=True), key=lambda pair: pair[0])
        self.order = [number for number, _ in pairs]
        self.ops = [op for _, op in pairs]

    def take_peeked(self) -> list[Any]:
        """The models ``peek`` read, handed over (the stream keeps none)."""
        models = list(self._buffer)
        self._buffer.clear()
        return models

    async def models(self) -> AsyncGenerator[Any, None]:
        """The models not handed over yet: those ``peek`` read, then the rest of the source."""
        while self._buffer:
            yield self._buffer.popleft()
        while (model := await self._next()) is not _END:
            yield model

    async def close(self) -> None:
        """Read no more (the source itself is left as it is)."""
        self.done = True
        self._buffer.clear()
        items, self._items = self._items, None
        if items is not None:
            await items.aclose()

    async def _next(self) -> Any:
        if self._ended:
            return _END
        if self._items is None:
            self._items = each_record(self._source)
        try:
            model = await self._items.__anext__()
        except StopAsyncIteration:
            self._ended = True
            return _END
        self.pulled += 1
        return model


Pending = Operation | QueryHandle[Any] | WriteStream

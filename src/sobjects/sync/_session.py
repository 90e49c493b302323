"""The blocking ``Session``: an async ``Session`` (its ``unit_of_work``), driven from the
client's loop thread.

``with Session(sf):`` sets the same ContextVar as ``async with`` does, in the caller's thread,
so ``Contact(...).save()`` records into the async session unchanged (recording is no I/O);
reads and flushes go through the loop thread. The models are the same in both worlds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

from sobjects.orm._bulk import DEFAULT_BULK_THRESHOLD
from sobjects.orm._model import SObject
from sobjects.orm._operation import Pending, QueryHandle, WriteStream
from sobjects.orm._plan import FlushPlan, FlushReport, Strategy
from sobjects.orm._query import CountSelect, Select
from sobjects.orm._session import SearchResult
from sobjects.orm._session import Session as AsyncSession

if TYPE_CHECKING:
    from sobjects.sync._client import Salesforce

__all__ = ["Session"]

T = TypeVar("T", bound=SObject)


class Session:
    """A unit of work against one org, for blocking code (see ``sobjects.Session`` for the
    options and the rules: they are the async session's own).

    >>> def demo(sf: Salesforce) -> None:
    ...     from sobjects.models import Contact
    ...     with Session(sf) as session:
    ...         Contact(last_name="Doe").save()
    ...     with Session(sf) as session:
    ...         contacts: list[Contact] = session.all(select(Contact))
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
        self.sf = sf
        self._loop = sf._loop
        self.unit_of_work = AsyncSession(
            sf.async_client,
            halt_on_error=halt_on_error,
            autoraise=autoraise,
            group_errors=group_errors,
            transaction=transaction,
            concurrency=concurrency,
            lock_retries=lock_retries,
            collections_threshold=collections_threshold,
            autosave=autosave,
            replay_upserts=replay_upserts,
            strategy=strategy,
            api_budget=api_budget,
            bulk_threshold=bulk_threshold,
            bulk_options=bulk_options,
        )

    def __repr__(self) -> str:
        return f"sobjects.sync.Session({self.unit_of_work.sf!r})"

    # -- the block -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.unit_of_work._enter_block()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        uow = self.unit_of_work
        outermost = len(uow._tokens) <= 1
        try:
            if exc_type is None:
                self.flush()
            uow._block_ended(clean=exc_type is None, outermost=outermost)
        finally:
            uow._leave_block(outermost)

    def close(self) -> None:
        """End the unit of work without flushing (see ``sobjects.Session.close``)."""
        self.unit_of_work.close()

    def discard(self) -> None:
        """Forget every operation not sent yet (see ``sobjects.Session.discard``)."""
        self.unit_of_work.discard()

    # -- state -----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.unit_of_work.closed

    @property
    def pending(self) -> list[Pending]:
        """Operations, deferred queries and streams not flushed yet, in the order recorded."""
        return self.unit_of_work.pending

    @property
    def last_flush(self) -> FlushReport | None:
        """What the last flush sent."""
        return self.unit_of_work.last_flush

    @property
    def api_calls(self) -> int:
        """API calls this session's flushes spent."""
        return self.unit_of_work.api_calls

    def unsaved(self) -> list[tuple[SObject, list[str]]]:
        """Records loaded here, changed and not saved: (object, API names)."""
        return self.unit_of_work.unsaved()

    # -- recording (no I/O) ----------------------------------------------------------------------

    def add(self, obj: SObject) -> SObject:
        """Attach an object to this session."""
        return self.unit_of_work.add(obj)

    def save_all(self, models: Iterable[SObject]) -> WriteStream:
        """Record ``obj.save()`` for every model of ``models``, read at the flush (see
        ``sobjects.Session.save_all``: a long source goes as Bulk API jobs, memory flat)."""
        return self.unit_of_work.save_all(models)

    def upsert_all(self, models: Iterable[SObject], external_id: str | None = None) -> WriteStream:
        """Record ``obj.upsert()`` for every model of ``models``, read at the flush (see
        ``sobjects.Session.upsert_all``)."""
        return self.unit_of_work.upsert_all(models, external_id)

    def query(self, query: Select[T]) -> QueryHandle[T]:
        """Record a query; the flush runs it after the writes recorded before it."""
        return self.unit_of_work.query(query)

    def plan(self) -> FlushPlan:
        """What a flush would send now, and what it would cost; no I/O."""
        return self.unit_of_work.plan()

    # -- I/O -------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send everything recorded, in dependency order, as few requests as possible."""
        self._loop.call(self.unit_of_work.flush)

    @overload
    def all(self, query: Select[T], /, *, bulk: bool = False) -> list[T]: ...

    @overload
    def all(self, query: type[T], soql: str, /, *, bulk: bool = False) -> list[T]: ...

    def all(
        self, query: Select[T] | type[T], soql: str | None = None, /, *, bulk: bool = False
    ) -> list[T]:
        """Every record of a query, typed: ``session.all(select(Contact))``; with
        ``bulk=True`` through a Bulk API 2.0 query job."""
        return self._loop.call(self.unit_of_work.all, query, soql, bulk=bulk)  # type: ignore[arg-type]

    @overload
    def stream(self, query: Select[T], /, *, bulk: bool = False) -> Iterator[T]: ...

    @overload
    def stream(self, query: type[T], soql: str, /, *, bulk: bool = False) -> Iterator[T]: ...

    def stream(
        self, query: Select[T] | type[T], soql: str | None = None, /, *, bulk: bool = False
    ) -> Iterator[T]:
        """Iterate a query's records across pages, one page in memory at a time (a Bulk API
        2.0 query job's pages with ``bulk=True``)."""
        uow = self.unit_of_work
        model, text, shape = uow._resolve_query(query, soql)  # bad input fails here, at once
        return self._records(self._loop.iterate(uow._pages(model, text, shape, bulk=bulk)))

    @staticmethod
    def _records(pages: Iterator[list[T]]) -> Iterator[T]:
        for page in pages:
            yield from page

    def first(self, query: Select[T]) -> T | None:
        """The first record, or ``None``."""
        return self._loop.call(self.unit_of_work.first, query)

    def one(self, query: Select[T]) -> T:
        """Exactly one record; ``NoResultError`` or ``MultipleResultsError`` otherwise."""
        return self._loop.call(self.unit_of_work.one, query)

    def count(self, query: Select[Any] | CountSelect[Any]) -> int:
        """How many records match."""
        return self._loop.call(self.unit_of_work.count, query)

    def get(self, model: type[T], record_id: str) -> T:
        """Read one record by id (all the model's value fields)."""
        return self._loop.call(self.unit_of_work.get, model, record_id)

    def search(
        self, term: str, *models: type[SObject], fields: str = "ALL", limit: int | None = None
    ) -> SearchResult:
        """Search records by text (SOSL); the records come back typed, per model."""
        return self._loop.call(self.unit_of_work.search, term, *models, fields=fields, limit=limit)

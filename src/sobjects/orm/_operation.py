"""Recorded work: an ``Operation`` per write, a ``QueryHandle`` per deferred query.

The session records them, the planner packs them into requests, and the flush binds each to
its subrequest and reads its outcome from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from sobjects.client._composite import QuerySubrequest, Subrequest
from sobjects.errors import ResultNotReadyError, SalesforceError
from sobjects.orm._model import FieldMeta, SObject, sobject_meta

if TYPE_CHECKING:
    from sobjects.orm._query import Select

__all__ = ["NOTHING", "Kind", "Operation", "QueryHandle", "describe"]

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

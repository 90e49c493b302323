"""Composite Batch and Composite: many subrequests in one HTTP round trip.

Composite Batch (``sf.composite.batch(...)``) runs independent subrequests, 25 per request
(the requests go concurrently, or in order with ``halt_on_error``); each subrequest counts as
one API call. Composite (``sf.composite(...)``) lets a subrequest use an earlier one's result
through ``@{ref.path}`` references and can roll back everything (``all_or_none``); the whole
request counts as one API call.

Both share the builders (``.query``, ``.sobject.create/get/update/delete/upsert``) and the
subrequest objects, whose results are filled in when the request is executed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar
from urllib.parse import urlencode

import anyio

from sobjects.client._collections import (
    MAX_COLLECTION_SIZE,
    CollectionResult,
    collection_records,
    parse_collection_results,
    upsert_records,
)
from sobjects.client._sobject import (
    UpsertResult,
    check_field_list,
    check_field_name,
    check_no_id,
    check_record_id,
    check_sobject_name,
    external_id_value,
    parse_upsert_response,
    record_path,
    upsert_body,
)
from sobjects.errors import (
    AuthenticationError,
    ClientClosedError,
    CompositeLimitError,
    ConfigurationError,
    ErrorDetail,
    OutcomeUnknownError,
    ProcessingHaltedError,
    ResponseError,
    ResultNotReadyError,
    SubrequestErrorGroup,
    TransportError,
    error_for,
    parse_error_details,
)

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce
    from sobjects.client._graph import CompositeGraph

__all__ = [
    "BATCH_SIZE",
    "COMPOSITE_MAX_QUERIES",
    "COMPOSITE_MAX_SUBREQUESTS",
    "CollectionSubrequest",
    "Composite",
    "CompositeAPI",
    "CompositeBatch",
    "CreateSubrequest",
    "DeleteSubrequest",
    "GetSubrequest",
    "QuerySubrequest",
    "Reference",
    "Subrequest",
    "UpdateSubrequest",
    "UpsertSubrequest",
]

BATCH_SIZE: Final = 25
COMPOSITE_MAX_SUBREQUESTS: Final = 25
COMPOSITE_MAX_QUERIES: Final = 5

_REFERENCE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
# One message for every halted subrequest, whether Salesforce halted it (later in the same
# request of 25) or the client did (a later request, never sent): callers see one cause.
_HALTED_MESSAGE = (
    "Not run: an earlier subrequest of this halt_on_error batch failed, so batch processing halted"
)
_ROLLED_BACK_MESSAGE = (
    "Rolled back: another subrequest of this all-or-none composite failed, so nothing was kept"
)
_FORBIDDEN_HEADERS = frozenset({"accept", "authorization", "content-type"})


# -- references -------------------------------------------------------------------------


class Reference:
    """A value taken from an earlier composite subrequest's result: ``@{ref.path}`` on the wire.

    Build it from a subrequest's ``reference``: ``account.reference.id``,
    ``query.reference.records[0].Id``. Paths are case-sensitive, like Salesforce's.
    """

    __slots__ = ("_path", "_subrequest")

    def __init__(self, subrequest: Subrequest, path: str) -> None:
        self._subrequest = subrequest
        self._path = path

    def __getattr__(self, name: str) -> Reference:
        if name.startswith("_"):
            raise AttributeError(name)
        return Reference(self._subrequest, f"{self._path}.{name}")

    def __getitem__(self, index: int) -> Reference:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ConfigurationError(f"reference index must be a non-negative int: {index!r}")
        return Reference(self._subrequest, f"{self._path}[{index}]")

    def __str__(self) -> str:
        return "@{" + self._path + "}"

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"


def _holds_references(value: Any) -> bool:
    """Whether a body holds a Reference anywhere. Most bodies are flat dicts of plain
    values: those take one pass over their values and no generator."""
    if isinstance(value, Reference):
        return True
    if type(value) is dict or isinstance(value, Mapping):
        values: Any = value.values()
    elif isinstance(value, (list, tuple)):
        values = value
    else:
        return False
    for item in values:  # noqa: SIM110 (a loop, not any(<generator>): this runs per record)
        if item.__class__ not in _PLAIN and _holds_references(item):
            return True
    return False


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _references_in(value: Any) -> Iterator[Reference]:
    if isinstance(value, Reference):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _references_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _references_in(item)


def _render_references(value: Any) -> Any:
    """A copy of a body with each Reference replaced by its ``@{...}`` text."""
    if isinstance(value, Reference):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _render_references(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render_references(v) for v in value]
    return value


# -- subrequests ------------------------------------------------------------------------


class Subrequest:
    """One subrequest of a composite or composite batch request.

    Before execution only ``done`` may be read; afterwards ``status_code``, ``result`` (what the
    standalone call would have returned), ``response`` (the raw subresult), ``is_success`` and
    ``raise_for_status()`` tell what happened. A subrequest halted by ``halt_on_error`` (not
    run because an earlier one failed) has ``halted`` true, status 412 and the same
    ``BATCH_PROCESSING_HALTED`` error whether Salesforce halted it or the client never sent it;
    ``response`` keeps what Salesforce sent, if anything.
    """

    kind: str = "request"

    # Slots: a flush of 100,000 records keeps a subrequest per record (its result).
    __slots__ = (
        "_response",
        "_result",
        "_status_code",
        "body",
        "counts_as_query",
        "halted",
        "headers",
        "method",
        "path",
        "path_reference",
        "reference_id",
        "rolled_back",
    )

    def __init__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        counts_as_query: bool = False,
    ) -> None:
        self.method = method
        self.path = path  # relative to /services/data/vNN.N/
        self.body = body
        self.headers = dict(headers) if headers else None
        self.counts_as_query = counts_as_query
        # A reference used as the record id in the URL, checked like those in the body.
        self.path_reference: Reference | None = None
        self.rolled_back = False
        self.reference_id: str | None = None
        self.halted = False
        self._response: dict[str, Any] | None = None
        self._status_code: int | None = None
        self._result: Any = None

    def __repr__(self) -> str:
        state = f"status_code={self._status_code}" if self.done else "pending"
        return f"<{type(self).__name__} {self.method} {self.path} {state}>"

    # -- filled in by execution --

    def _bind(self, status_code: int, result: Any, response: dict[str, Any]) -> None:
        self._status_code = int(status_code)
        self._result = result
        self._response = response

    def _halt(self, response: dict[str, Any] | None = None) -> None:
        """Mark as not run; ``response`` is Salesforce's subresult when it halted this one."""
        error = {"errorCode": "BATCH_PROCESSING_HALTED", "message": _HALTED_MESSAGE}
        self.halted = True
        if response is None:
            response = {"statusCode": 412, "result": [error]}
        self._bind(412, [error], response)

    def _roll_back(self) -> None:
        error = {"errorCode": "PROCESSING_HALTED", "message": _ROLLED_BACK_MESSAGE}
        self.rolled_back = True
        self._status_code = 400
        self._result = [error]

    def _require_done(self) -> None:
        if self._response is None:
            raise ResultNotReadyError(
                f"{self.method} {self.path} has not been executed yet: its result exists once "
                "the batch is executed (at the end of the `async with` block or by "
                "`await batch.execute()`)"
            )

    # -- the seed attributes --

    @property
    def done(self) -> bool:
        """Whether a result was received (or the subrequest was halted)."""
        return self._response is not None

    @property
    def response(self) -> dict[str, Any]:
        """The raw subresult as Salesforce sent it."""
        self._require_done()
        assert self._response is not None
        return self._response

    @property
    def status_code(self) -> int:
        self._require_done()
        assert self._status_code is not None
        return self._status_code

    @property
    def result(self) -> Any:
        """What the standalone call would have returned: a record, a save result, an error
        list, or ``None`` for 204."""
        self._require_done()
        return self._result

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def succeeded(self) -> bool:
        """Executed with a 2xx status; ``False`` before execution (never raises)."""
        status = self._status_code
        return status is not None and 200 <= status < 300

    @property
    def errors(self) -> list[ErrorDetail]:
        """The Salesforce errors of a failed subrequest (empty on success)."""
        return [] if self.is_success else parse_error_details(self.result)

    def error(self) -> ResponseError | None:
        """The exception ``raise_for_status()`` would raise, or ``None`` on success."""
        if self.is_success:
            return None
        return error_for(self.status_code, self.result, method=self.method, url=self.path)

    def raise_for_status(self) -> None:
        """Raise the ``sobjects.errors`` exception for a failed subrequest."""
        error = self.error()
        if error is not None:
            raise error

    # -- composite references --

    @property
    def reference(self) -> Reference:
        """This subrequest's result as a reference root (only in ``sf.composite()``)."""
        if self.reference_id is None:
            raise ConfigurationError(
                "references exist only in sf.composite(); a composite batch cannot pass "
                "results between its subrequests"
            )
        return Reference(self, self.reference_id)


class QuerySubrequest(Subrequest):
    """A SOQL query; ``records`` is the first page (batch subrequests cannot page)."""

    kind = "query"
    __slots__ = ()

    @property
    def records(self) -> list[dict[str, Any]]:
        self.raise_for_status()
        return list((self.result or {}).get("records") or [])

    @property
    def total_size(self) -> int:
        self.raise_for_status()
        return int((self.result or {}).get("totalSize", 0))

    @property
    def next_records_url(self) -> str | None:
        """Where the next page is; ``await sf.request_json("GET", url)`` fetches it."""
        self.raise_for_status()
        url = (self.result or {}).get("nextRecordsUrl")
        return str(url) if url else None


class CreateSubrequest(Subrequest):
    kind = "create"
    __slots__ = ()

    # Most creates succeed, and a flush keeps a subrequest per record: those bound by
    # ``_bind_created`` keep only their new id, and ``result`` / ``response`` are built from
    # it when read, equal to what Salesforce sent, instead of every record keeping its
    # decoded dicts (and their empty error list) for the collector to walk.

    def _bind_created(self, record_id: str, in_batch: bool) -> None:
        """Bind a plain success: ``{"id", "success": true, "errors": []}`` (inside a batch
        item ``{"statusCode": 201, "result": ...}`` when ``in_batch``)."""
        self._status_code = 201
        self._result = record_id
        self._response = _CREATED_IN_BATCH if in_batch else _CREATED

    @property
    def response(self) -> dict[str, Any]:
        self._require_done()
        response = self._response
        if response is _CREATED:
            return _created_result(self._result)
        if response is _CREATED_IN_BATCH:
            return {"statusCode": 201, "result": _created_result(self._result)}
        assert response is not None
        return response

    @property
    def result(self) -> Any:
        self._require_done()
        if self._response is _CREATED or self._response is _CREATED_IN_BATCH:
            return _created_result(self._result)
        return self._result

    def _roll_back(self) -> None:
        self._response = self.response if self.done else None  # as sent, before it changes
        super()._roll_back()

    @property
    def id(self) -> str:
        """The new record's id (raises the subrequest's error if it failed)."""
        if self._response is _CREATED or self._response is _CREATED_IN_BATCH:
            return str(self._result)
        self.raise_for_status()
        return str(self.result["id"])


class _Shape(dict[str, Any]):
    """A marker in ``_response`` of a create bound by ``_bind_created`` (never handed out).
    It stays itself when a subrequest is copied or pickled, so the answer survives both."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __reduce__(self) -> str:
        return self.name  # the module-level name below

    def __copy__(self) -> _Shape:
        return self

    def __deepcopy__(self, memo: Any) -> _Shape:
        return self


_CREATED = _Shape("_CREATED")
_CREATED_IN_BATCH = _Shape("_CREATED_IN_BATCH")


def _created_result(record_id: str) -> dict[str, Any]:
    return {"id": record_id, "success": True, "errors": []}


def plain_created(result: Any) -> bool:
    """Whether a create's answer is exactly ``{"id": "...", "success": true, "errors": []}``
    (then ``_bind_created`` keeps its id alone and loses nothing)."""
    if result.__class__ is not dict or len(result) != 3:
        return False
    record_id = result.get("id")
    return (
        result.get("success") is True
        and result.get("errors") == []
        and record_id.__class__ is str
        and bool(record_id)
    )


class GetSubrequest(Subrequest):
    kind = "get"
    __slots__ = ()

    @property
    def record(self) -> dict[str, Any]:
        self.raise_for_status()
        return dict(self.result)


class UpdateSubrequest(Subrequest):
    kind = "update"
    __slots__ = ()


class DeleteSubrequest(Subrequest):
    kind = "delete"
    __slots__ = ()


class UpsertSubrequest(Subrequest):
    kind = "upsert"
    __slots__ = ()

    @property
    def upsert_result(self) -> UpsertResult:
        self._require_done()
        return parse_upsert_response(self.status_code, self.result, self.path)

    @property
    def id(self) -> str | None:
        """The record's id (``None`` only for a 204 answer from API version 45.0 or older)."""
        return self.upsert_result.id

    @property
    def created(self) -> bool:
        return self.upsert_result.created


class CollectionSubrequest(Subrequest):
    """An sObject Collections call inside ``sf.composite()``; ``results`` as in
    ``sf.collections``."""

    kind = "collection"
    __slots__ = ()

    @property
    def results(self) -> list[CollectionResult]:
        self.raise_for_status()
        body = self.result
        return parse_collection_results(body, len(body) if isinstance(body, list) else -1)


S = TypeVar("S", bound=Subrequest)


# -- builders ---------------------------------------------------------------------------


class _Builder:
    """What the builders add to: a composite batch or a composite request."""

    def _add(self, subrequest: S, *, reference_id: str | None, plain: bool = False) -> S:
        """Add a subrequest; ``plain``: its body was built by sobjects' own flush from model
        values, so it holds no ``Reference`` and need not be searched for one."""
        raise NotImplementedError


class SObjectBuilder:
    """``batch.sobject`` / ``composite.sobject``: single-record subrequests."""

    def __init__(self, owner: _Builder) -> None:
        self._owner = owner

    def create(
        self,
        sobject: str,
        data: Mapping[str, Any],
        *,
        reference_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CreateSubrequest:
        check_no_id(data, "create")
        sub = CreateSubrequest("POST", _create_path(sobject), dict(data), headers=headers)
        return self._owner._add(sub, reference_id=reference_id)

    def _create_plain(self, sobject: str, body: dict[str, Any]) -> CreateSubrequest:
        """A create whose body the session built from a model's writable fields: no id, no
        reference, and a dict of its own (so it is neither checked again nor copied)."""
        sub = CreateSubrequest("POST", _create_path(sobject), body)
        return self._owner._add(sub, reference_id=None, plain=True)

    def get(
        self,
        sobject: str,
        record_id: str | Reference,
        *,
        fields: Sequence[str] | None = None,
        external_id_field: str | None = None,
        reference_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> GetSubrequest:
        path = _record_path(sobject, record_id, external_id_field)
        if fields is not None:
            path += "?" + urlencode({"fields": ",".join(check_field_list(fields))})
        sub = GetSubrequest("GET", path, headers=headers)
        sub.path_reference = record_id if isinstance(record_id, Reference) else None
        return self._owner._add(sub, reference_id=reference_id)

    def update(
        self,
        sobject: str,
        record_id: str | Reference,
        data: Mapping[str, Any],
        *,
        reference_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpdateSubrequest:
        check_no_id(data, "update")
        path = _record_path(sobject, record_id, None)
        sub = UpdateSubrequest("PATCH", path, dict(data), headers=headers)
        sub.path_reference = record_id if isinstance(record_id, Reference) else None
        return self._owner._add(sub, reference_id=reference_id)

    def delete(
        self,
        sobject: str,
        record_id: str | Reference,
        *,
        external_id_field: str | None = None,
        reference_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DeleteSubrequest:
        path = _record_path(sobject, record_id, external_id_field)
        sub = DeleteSubrequest("DELETE", path, headers=headers)
        sub.path_reference = record_id if isinstance(record_id, Reference) else None
        return self._owner._add(sub, reference_id=reference_id)

    def upsert(
        self,
        sobject: str,
        data: Mapping[str, Any],
        *,
        external_id_field: str,
        reference_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpsertSubrequest:
        value = external_id_value(data, external_id_field)
        path = _record_path(sobject, str(value), external_id_field)
        body = upsert_body(data, external_id_field)
        sub = UpsertSubrequest("PATCH", path, body, headers=headers)
        return self._owner._add(sub, reference_id=reference_id)


_CREATE_PATHS: dict[str, str] = {}


def _create_path(sobject: str) -> str:
    """``sobjects/<name>``, checked once and shared by every create of that sObject."""
    path = _CREATE_PATHS.get(sobject) if isinstance(sobject, str) else None
    if path is None:
        path = f"sobjects/{check_sobject_name(sobject)}"
        if len(_CREATE_PATHS) < 10_000:  # names come from code, not data
            _CREATE_PATHS[sobject] = path
    return path


def _record_path(sobject: str, record_id: str | Reference, external_id_field: str | None) -> str:
    if not isinstance(record_id, Reference):
        return record_path(sobject, record_id, external_id_field)
    # A reference is resolved by Salesforce; only the name parts can be checked here.
    check_sobject_name(sobject)
    if external_id_field is None:
        return f"sobjects/{sobject}/{record_id}"
    return f"sobjects/{sobject}/{check_field_name(external_id_field)}/{record_id}"


class CollectionsBuilder:
    """``composite.collections``: sObject Collections subrequests (at most 200 records each)."""

    def __init__(self, owner: _Builder) -> None:
        self._owner = owner

    def _save(
        self,
        method: str,
        path: str,
        records: list[dict[str, Any]],
        all_or_none: bool,
        reference_id: str | None,
        plain: bool = False,
    ) -> CollectionSubrequest:
        if len(records) > MAX_COLLECTION_SIZE:
            raise CompositeLimitError(
                f"a collection subrequest holds at most {MAX_COLLECTION_SIZE} records, "
                f"got {len(records)}"
            )
        body = {"allOrNone": all_or_none, "records": records}
        sub = CollectionSubrequest(method, path, body, counts_as_query=True)
        return self._owner._add(sub, reference_id=reference_id, plain=plain)

    def _create_plain(self, sobject: str, records: list[dict[str, Any]]) -> CollectionSubrequest:
        """A create of records the session built from models' writable fields, each with its
        ``attributes``: no id, no reference, dicts of their own (so neither checked again
        nor copied: ``collection_records`` costs about a microsecond per record)."""
        check_sobject_name(sobject)
        return self._save("POST", "composite/sobjects", records, False, None, plain=True)

    def create(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
        reference_id: str | None = None,
    ) -> CollectionSubrequest:
        body = collection_records(sobject, records, need_id=False, forbid_id=True)
        return self._save("POST", "composite/sobjects", body, all_or_none, reference_id)

    def update(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
        reference_id: str | None = None,
    ) -> CollectionSubrequest:
        body = collection_records(sobject, records, need_id=True, forbid_id=False)
        return self._save("PATCH", "composite/sobjects", body, all_or_none, reference_id)

    def upsert(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str,
        all_or_none: bool = False,
        reference_id: str | None = None,
    ) -> CollectionSubrequest:
        path, body = upsert_records(sobject, records, external_id_field)
        return self._save("PATCH", path, body, all_or_none, reference_id)

    def delete(
        self,
        ids: Sequence[str],
        *,
        all_or_none: bool = False,
        reference_id: str | None = None,
    ) -> CollectionSubrequest:
        checked = [check_record_id(i) for i in ids]
        if not 0 < len(checked) <= MAX_COLLECTION_SIZE:
            raise CompositeLimitError(
                f"a collection delete takes 1 to {MAX_COLLECTION_SIZE} ids, got {len(checked)}"
            )
        query = urlencode({"ids": ",".join(checked), "allOrNone": str(all_or_none).lower()})
        sub = CollectionSubrequest("DELETE", f"composite/sobjects?{query}", counts_as_query=True)
        return self._owner._add(sub, reference_id=reference_id)


# -- the two request kinds ----------------------------------------------------------------


class _Executable(_Builder):
    """Shared by both request kinds: subrequest list, context manager, autoraise."""

    def __init__(self, client: Salesforce, *, autoraise: bool, group_errors: bool) -> None:
        self._client = client
        self.autoraise = autoraise
        self.group_errors = group_errors
        self.subrequests: list[Subrequest] = []
        self.executed = False
        self.sobject = SObjectBuilder(self)

    def __len__(self) -> int:
        return len(self.subrequests)

    def __iter__(self) -> Iterator[Subrequest]:
        return iter(self.subrequests)

    def query(
        self,
        soql: str,
        *,
        include_deleted: bool = False,
        reference_id: str | None = None,
    ) -> QuerySubrequest:
        """Add a SOQL query (its first page of records)."""
        if not isinstance(soql, str) or not soql.strip():
            raise ConfigurationError("soql must be a non-empty string")
        resource = "queryAll" if include_deleted else "query"
        sub = QuerySubrequest("GET", f"{resource}?{urlencode({'q': soql})}", counts_as_query=True)
        return self._add(sub, reference_id=reference_id)

    def _check_not_executed(self) -> None:
        if self.executed:
            raise ConfigurationError("this request was already executed; start a new one")

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        """Send one request. If it failed in a way that proves Salesforce applied nothing, the
        subrequests stay pending and ``execute()`` may be called again to send them; any other
        failure marks the request executed, so nothing can be sent twice."""
        try:
            return await self._client.request_json(
                "POST", path, json=payload, timeout=self._client.long_timeout
            )
        except BaseException as exc:
            if not nothing_applied(exc):
                self.executed = True
            raise

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Only a block that finished cleanly is sent: an exception discards the subrequests.
        if exc_type is None and not self.executed:
            await self.execute()

    async def execute(self) -> Self:
        raise NotImplementedError

    def failures(self) -> list[Subrequest]:
        """The executed subrequests that failed (halted ones included), in order."""
        return [s for s in self.subrequests if s.done and not s.is_success]

    # How the summary names collateral failures (see _raise_failures).
    _collateral = "not run"

    def _raise_failures(self) -> None:
        if not self.autoraise:
            return
        errors = [(s, e) for s in self.failures() if (e := s.error()) is not None]
        if not errors:
            return
        # Genuine failures apart from collateral ones (halted or rolled back because another
        # subrequest failed), so that callers need not parse the message to tell them apart.
        genuine = [(s, e) for s, e in errors if not isinstance(e, ProcessingHaltedError)]
        failed = tuple(s for s, _ in genuine)
        halted = tuple(s for s, e in errors if isinstance(e, ProcessingHaltedError))
        total = len(self.subrequests)
        summary = f"{total} subrequest{'s' if total != 1 else ''}: {len(failed)} failed"
        if halted:
            summary += f", {len(halted)} {self._collateral}"
        if self.group_errors:
            group = SubrequestErrorGroup(summary, [e for _, e in errors])
            group.failed_subrequests, group.halted_subrequests = failed, halted
            raise group
        # The first genuine failure, not a collateral one.
        error = (genuine or errors)[0][1]
        error.failed_subrequests, error.halted_subrequests = failed, halted
        error.add_note(summary)
        raise error


class CompositeBatch(_Executable):
    """A Composite Batch request: independent subrequests, 25 per HTTP request.

    >>> async def demo(sf: Salesforce) -> None:
    ...     async with sf.composite.batch(halt_on_error=True) as batch:
    ...         query = batch.query("SELECT Id, Name FROM Account LIMIT 10")
    ...         contact = batch.sobject.create("Contact", {"LastName": "Doe"})
    ...     print(contact.id, len(query.records))

    More than 25 subrequests go as several requests of 25. Salesforce runs the subrequests of
    one request in order; the requests themselves are sent concurrently (at most the client's
    ``concurrency_limit`` in flight), so subrequests in different requests may run in any
    order. With ``halt_on_error``, the requests go strictly one after another and the first
    failure halts the rest: later subrequests are marked halted (412) and never sent.

    If a request fails, the others still finish and their results are bound; then its error
    is raised (an ``ExceptionGroup`` of the request errors when several failed). With
    ``autoraise``, a failed subrequest raises once every request is done (an
    ``ExceptionGroup`` of every failure with ``group_errors``); otherwise inspect each
    subrequest.
    """

    def __init__(
        self,
        client: Salesforce,
        *,
        halt_on_error: bool = False,
        autoraise: bool = False,
        group_errors: bool = False,
    ) -> None:
        super().__init__(client, autoraise=autoraise, group_errors=group_errors)
        self.halt_on_error = halt_on_error

    @property
    def collections(self) -> CollectionsBuilder:
        """Not available: sObject Collections cannot run inside a Composite Batch."""
        raise ConfigurationError(
            "sObject Collections cannot run inside a Composite Batch; use sf.composite() "
            "(composite.collections) or sf.collections"
        )

    def _add(self, subrequest: S, *, reference_id: str | None, plain: bool = False) -> S:
        self._check_not_executed()
        if reference_id is not None:
            raise ConfigurationError(
                "reference_id is for sf.composite(); batch subrequests cannot reference each other"
            )
        if subrequest.headers:
            raise ConfigurationError(
                "Composite Batch subrequests cannot carry headers; use sf.composite() or "
                "a single sf.sobject call"
            )
        if subrequest.kind == "collection":
            raise ConfigurationError("sObject Collections cannot run inside a Composite Batch")
        if subrequest.path_reference is not None or (
            not plain and _holds_references(subrequest.body)
        ):
            raise ConfigurationError("references only work in sf.composite()")
        self.subrequests.append(subrequest)
        return subrequest

    def _wire(self, subrequest: Subrequest) -> dict[str, Any]:
        item: dict[str, Any] = {
            "method": subrequest.method,
            "url": f"v{self._client.version}/{subrequest.path}",
        }
        if subrequest.body is not None:
            item["richInput"] = subrequest.body
        return item

    async def execute(self) -> Self:
        """Send every subrequest; results are bound in place. Returns the batch.

        Without ``halt_on_error`` the requests of 25 go concurrently (the client's
        ``concurrency_limit`` bounds how many are in flight); with it they go one after
        another, and a failure halts the later ones. A request that fails does not lose the
        others' results: every request finishes, then its error is raised (an
        ``ExceptionGroup`` when several failed).
        """
        self._check_not_executed()
        # One clear error up front, not one per concurrent request of 25.
        self._client._check_open()
        pending = [s for s in self.subrequests if not s.done]
        chunks = [pending[i : i + BATCH_SIZE] for i in range(0, len(pending), BATCH_SIZE)]
        if self.halt_on_error:
            await self._send_in_order(chunks)
        elif len(chunks) == 1:
            # One request needs no task group (the session sends its batches 25 at a time).
            await self._send_chunk(chunks[0])
        else:
            await self._send_concurrently(chunks)
        self.executed = True
        self._raise_failures()
        return self

    async def _send_in_order(self, chunks: list[list[Subrequest]]) -> None:
        # Salesforce halts after a 4xx/5xx only (an upsert's 300 does not halt).
        halted = any(s.status_code >= 400 for s in self.subrequests if s.done)
        for chunk in chunks:
            if halted:
                for sub in chunk:
                    sub._halt()
                continue
            await self._send_chunk(chunk)
            halted = any(s.status_code >= 400 for s in chunk)

    async def _send_concurrently(self, chunks: list[list[Subrequest]]) -> None:
        await send_concurrently(chunks, self._send_chunk, "batch")

    async def _send_chunk(self, chunk: list[Subrequest]) -> None:
        """Send one request of at most 25 subrequests and bind its results."""
        payload = {
            "haltOnError": self.halt_on_error,
            "batchRequests": [self._wire(s) for s in chunk],
        }
        body = await self._post("composite/batch", payload)
        results = body.get("results") if isinstance(body, dict) else None
        statuses = _batch_statuses(results, len(chunk))
        if results is None or statuses is None:
            # Sent and answered, but the answer cannot be matched to the subrequests.
            self.executed = True
            raise ResponseError(
                200,
                [ErrorDetail("UNEXPECTED_RESPONSE", f"batch results do not match: {body!r:.300}")],
                method="POST",
                url="composite/batch",
            )
        for sub, status, item in zip(chunk, statuses, results, strict=True):
            if status == 412 and _is_halted(item.get("result")):
                sub._halt(item)
            elif (
                status == 201
                and isinstance(sub, CreateSubrequest)
                and len(item) == 2
                and plain_created(result := item.get("result"))
            ):
                sub._bind_created(result["id"], in_batch=True)
            else:
                sub._bind(status, item.get("result"), item)


def _batch_statuses(results: Any, expected: int) -> list[int] | None:
    """Each result's status code, or ``None`` unless there is one well-formed result per
    subrequest (checked before anything is bound, so a chunk is bound entirely or not at all)."""
    if not isinstance(results, list) or len(results) != expected:
        return None
    statuses = []
    for item in results:
        if not isinstance(item, dict):
            return None
        try:
            statuses.append(int(item["statusCode"]))
        except (KeyError, TypeError, ValueError):
            return None
    return statuses


C = TypeVar("C")  # a chunk of subrequests or graphs: what one HTTP request carries


async def send_concurrently(
    chunks: Sequence[C], send: Callable[[C], Awaitable[None]], what: str
) -> None:
    """``send`` each chunk (one HTTP request each) at once; then raise what failed: one
    error, or an ``ExceptionGroup`` naming ``what`` was sent.

    Each request's failure is kept, not raised in its task: raising would cancel the requests
    still in flight and lose their results (and, for a cancelled request, whether Salesforce
    applied it).
    """
    errors: list[Exception | None] = [None] * len(chunks)

    async def one(index: int, chunk: C) -> None:
        try:
            await send(chunk)
        except Exception as exc:
            errors[index] = exc

    async with anyio.create_task_group() as group:
        for index, chunk in enumerate(chunks):
            group.start_soon(one, index, chunk)
    failed = [e for e in errors if e is not None]
    if len(failed) == 1:
        raise failed[0]
    if failed:
        raise ExceptionGroup(f"{len(failed)} requests of the {what} failed", failed)


def nothing_applied(exc: BaseException) -> bool:
    """Whether a failed request certainly changed nothing in the org."""
    if isinstance(exc, OutcomeUnknownError):
        return False
    if isinstance(exc, (TransportError, ConfigurationError, ClientClosedError)):
        return True  # never sent, or refused before sending
    if isinstance(exc, AuthenticationError):
        return True  # no token: never sent, or refused with 401 and not sent again
    if isinstance(exc, ResponseError):
        # Refused as a whole (envelope, auth, limits) or throttled before processing.
        return exc.status_code < 500 or exc.status_code == 503
    return False


def _is_halted(result: Any) -> bool:
    return any(d.code == "BATCH_PROCESSING_HALTED" for d in parse_error_details(result))


class Composite(_Executable):
    """A Composite request: up to 25 subrequests that may reference earlier results.

    ``all_or_none=True`` rolls everything back when one subrequest fails (the others then
    report ``PROCESSING_HALTED``). At most 5 subrequests may be queries or collections.

    >>> async def demo(sf: Salesforce) -> None:
    ...     async with sf.composite(all_or_none=True) as composite:
    ...         account = composite.sobject.create("Account", {"Name": "Acme"})
    ...         contact = composite.sobject.create(
    ...             "Contact", {"LastName": "Doe", "AccountId": account.reference.id}
    ...         )
    ...     print(account.id, contact.id)
    """

    def __init__(
        self,
        client: Salesforce,
        *,
        all_or_none: bool = False,
        collate_subrequests: bool = False,
        autoraise: bool = False,
        group_errors: bool = False,
    ) -> None:
        super().__init__(client, autoraise=autoraise, group_errors=group_errors)
        self.all_or_none = all_or_none
        self.collate_subrequests = collate_subrequests
        self.collections = CollectionsBuilder(self)
        self._by_reference: dict[str, Subrequest] = {}
        self._referring: set[Subrequest] = set()  # subrequests whose body holds references
        # All-or-none undoes what ran; otherwise only the dependants of a failure did not run.
        self._collateral = "rolled back" if all_or_none else "not run"

    def _add(self, subrequest: S, *, reference_id: str | None, plain: bool = False) -> S:
        self._check_not_executed()
        if len(self.subrequests) >= COMPOSITE_MAX_SUBREQUESTS:
            raise CompositeLimitError(
                f"a composite request holds at most {COMPOSITE_MAX_SUBREQUESTS} subrequests"
            )
        if subrequest.counts_as_query:
            queries = sum(1 for s in self.subrequests if s.counts_as_query)
            if queries >= COMPOSITE_MAX_QUERIES:
                raise CompositeLimitError(
                    f"a composite request holds at most {COMPOSITE_MAX_QUERIES} query or "
                    "collection subrequests"
                )
        if reference_id is None:
            reference_id = f"ref{len(self.subrequests)}"
            while reference_id in self._by_reference:
                reference_id += "_"
        elif not _REFERENCE_ID_RE.fullmatch(reference_id):
            raise ConfigurationError(
                f"reference_id {reference_id!r} must start with a letter or digit and hold "
                "only letters, digits and underscores"
            )
        if reference_id in self._by_reference:
            raise ConfigurationError(f"reference_id {reference_id!r} is already used")
        if subrequest.headers:
            bad = [h for h in subrequest.headers if h.lower() in _FORBIDDEN_HEADERS]
            if bad:
                raise ConfigurationError(f"composite subrequests cannot set headers {bad}")
        # Referenced subrequests must be earlier ones of this same request.
        if not plain and _holds_references(subrequest.body):
            self._referring.add(subrequest)  # rendered at execution (see _wire)
            for ref in _references_in(subrequest.body):
                self._check_reference(ref)
        if subrequest.path_reference is not None:
            self._check_reference(subrequest.path_reference)
        subrequest.reference_id = reference_id
        self._by_reference[reference_id] = subrequest
        self.subrequests.append(subrequest)
        return subrequest

    def _check_reference(self, ref: Reference) -> None:
        target = ref._subrequest
        if target.reference_id is None or self._by_reference.get(target.reference_id) is not target:
            raise ConfigurationError(
                f"{ref} refers to a subrequest that is not an earlier part of this composite"
            )

    def _wire(self, subrequest: Subrequest) -> dict[str, Any]:
        return composite_subrequest_json(
            subrequest, self._client.data_path, referring=subrequest in self._referring
        )

    async def execute(self) -> Self:
        """Send the composite request; results are bound in place. Returns the composite."""
        self._check_not_executed()
        self._client._check_open()
        if not self.subrequests:
            self.executed = True
            return self
        payload = {
            "allOrNone": self.all_or_none,
            "collateSubrequests": self.collate_subrequests,
            "compositeRequest": [self._wire(s) for s in self.subrequests],
        }
        body = await self._post("composite", payload)
        self.executed = True
        results = body.get("compositeResponse") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise ResponseError(
                200,
                [ErrorDetail("UNEXPECTED_RESPONSE", f"no compositeResponse in {body!r:.300}")],
                method="POST",
                url="composite",
            )
        by_ref = {str(item.get("referenceId")): item for item in results if isinstance(item, dict)}
        for sub in self.subrequests:
            item = by_ref.get(str(sub.reference_id))
            if item is None:
                continue  # not reported: stays not done, so nothing is taken as applied
            sub._bind(int(item["httpStatusCode"]), item.get("body"), item)
        if self.all_or_none and any(s.done and s.status_code >= 400 for s in self.subrequests):
            # Salesforce rolled everything back, but a collection subrequest can still report
            # "success" items: nothing of this request was kept, so say so everywhere.
            for sub in self.subrequests:
                if sub.done and sub.is_success:
                    sub._roll_back()
        self._raise_failures()
        return self


def composite_subrequest_json(
    subrequest: Subrequest, data_path: str, *, referring: bool
) -> dict[str, Any]:
    """A subrequest as Composite and Composite Graph take it; ``referring``: its body holds
    references (rendered as ``@{...}``)."""
    item: dict[str, Any] = {
        "method": subrequest.method,
        "url": f"{data_path}/{subrequest.path}",
        "referenceId": subrequest.reference_id,
    }
    if subrequest.body is not None:
        body = subrequest.body
        # Most bodies (every Collections body of a flush) hold no reference: sent as is.
        item["body"] = _render_references(body) if referring else body
    if subrequest.headers:
        item["httpHeaders"] = subrequest.headers
    return item


class CompositeAPI:
    """``sf.composite``: call it for a Composite request, or use ``.batch()``, ``.graph()``
    (Composite Graph) or ``.tree()`` (sObject Tree).

    >>> async def demo(sf: Salesforce) -> None:
    ...     composite = sf.composite(all_or_none=True)
    ...     batch = sf.composite.batch(halt_on_error=True)
    ...     graph_request = sf.composite.graph()
    """

    def __init__(self, client: Salesforce) -> None:
        self._client = client

    def __call__(
        self,
        *,
        all_or_none: bool = False,
        collate_subrequests: bool = False,
        autoraise: bool = False,
        group_errors: bool = False,
    ) -> Composite:
        return Composite(
            self._client,
            all_or_none=all_or_none,
            collate_subrequests=collate_subrequests,
            autoraise=autoraise,
            group_errors=group_errors,
        )

    def batch(
        self,
        *,
        halt_on_error: bool = False,
        autoraise: bool = False,
        group_errors: bool = False,
    ) -> CompositeBatch:
        return CompositeBatch(
            self._client,
            halt_on_error=halt_on_error,
            autoraise=autoraise,
            group_errors=group_errors,
        )

    def graph(self, *, autoraise: bool = False, group_errors: bool = False) -> CompositeGraph:
        """A Composite Graph request: graphs of sObject nodes, each applied entirely or not at
        all, as few API calls as Salesforce's limits allow (see ``CompositeGraph``)."""
        from sobjects.client._graph import CompositeGraph  # it builds on this module

        return CompositeGraph(self._client, autoraise=autoraise, group_errors=group_errors)

    async def tree(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Create records with their children (sObject Tree), all or nothing, in one API call;
        returns ``{referenceId: id}``.

        Each record has ``attributes.referenceId`` (unique in the call) and, except for a
        root (which is a ``sobject``), ``attributes.type``; children go under a child
        relationship name as ``{"records": [...]}``. At most 200 records, 5 levels and 5
        types (``CompositeLimitError``). If a record cannot be created, nothing is and the
        ``sobjects.errors`` exception for its error is raised: ``exc.errors`` holds every
        per-record error, each naming its record in ``extra["referenceId"]``.

        >>> async def demo(sf: Salesforce) -> None:
        ...     ids = await sf.composite.tree("Account", [
        ...         {"attributes": {"referenceId": "acme"}, "Name": "Acme",
        ...          "Contacts": {"records": [{"attributes": {"type": "Contact",
        ...              "referenceId": "doe"}, "LastName": "Doe"}]}},
        ...     ])
        ...     print(ids["acme"], ids["doe"])
        """
        from sobjects.client._tree import create_tree

        return await create_tree(self._client, sobject, records)

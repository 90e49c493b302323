"""Sending a flush plan and applying its results: the failure ledger.

``Sender`` is the part of ``Session`` that speaks to the client: it sends a ``FlushPlan``
round by round (concurrently within a round), retries row locks and records a Composite
request or graph could not apply because of another record, binds each operation to its
subrequest, applies results onto models (ids, created flags, snapshots, lookups), and
raises what failed (``FlushError``, ``FlushErrorGroup``, or the request errors with the
objects they concern). The session records work and keeps the identity map.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

import anyio

from sobjects._ids import to_18
from sobjects.client._collections import CollectionResult
from sobjects.client._composite import (
    CollectionSubrequest,
    Composite,
    CompositeBatch,
    CreateSubrequest,
    DeleteSubrequest,
    QuerySubrequest,
    Reference,
    Subrequest,
    UpdateSubrequest,
    UpsertSubrequest,
    _create_path,
    nothing_applied,
    plain_created,
)
from sobjects.client._graph import CompositeGraph, Graph
from sobjects.errors import (
    ErrorDetail,
    OutcomeUnknownError,
    ResponseError,
    SalesforceError,
)
from sobjects.orm._hydrate import Shape, shape_of
from sobjects.orm._model import (
    SObject,
    SObjectMeta,
    changed_fields,
    frozen_value,
    sobject_meta,
    write_field,
)
from sobjects.orm._operation import NOTHING, Operation, QueryHandle, describe
from sobjects.orm._plan import (
    Call,
    FlushPlan,
    PlannedRequest,
    SendLog,
)
from sobjects.orm._progress import Progress

if TYPE_CHECKING:
    from sobjects.client import Salesforce
    from sobjects.orm._identity import IdentityMap

__all__ = ["LOCK_ROW", "FlushError", "FlushErrorGroup", "Sender"]


LOCK_ROW = "UNABLE_TO_LOCK_ROW"
# Resends of records another record's failure kept from being applied (a graph rolled back,
# a reference that found nothing): each pass applies them or finds them not sendable, so a
# few passes settle them; the bound only guards against a loop.
_MAX_RESENDS = 3


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


class Sender:
    """Sends a plan and applies what comes back (mixed into ``Session``)."""

    if TYPE_CHECKING:  # provided by Session
        sf: Salesforce
        halt_on_error: bool
        autoraise: bool
        group_errors: bool
        transaction: bool
        concurrency: int
        lock_retries: int
        replay_upserts: bool
        bulk_options: Mapping[str, Any]
        _log: SendLog
        _progress: Progress
        _identity: IdentityMap
        _pending: dict[Any, None]

        def _plan(
            self, work: Sequence[Operation | QueryHandle[Any]], *, graphs: bool = True
        ) -> FlushPlan: ...

        def _new_parents(self, op: Operation) -> list[SObject]: ...

        def _relation_changes(self, obj: SObject) -> dict[str, tuple[str, SObject | None]]: ...

        def _finish(self, op: Operation) -> None: ...

        async def _send_stream(self, stream: Any, transport: list[SalesforceError]) -> None: ...

        def _hydrate_many(
            self, model: type[Any], records: Sequence[dict[str, Any]], shape: Shape | None
        ) -> list[Any]: ...

    async def _execute_plan(
        self,
        plan: FlushPlan,
        transport: list[SalesforceError],
        attempt: int = 0,
        resends: int = 0,
    ) -> None:
        """Send a plan round by round; in a round, requests go concurrently (one after
        another with halt_on_error). Row locks are retried before the next round, and so
        are records a Composite request or graph could not apply because another record in
        it failed: as a plan of their own, up to ``lock_retries`` times."""
        for requests in plan.rounds():
            items = [item for request in requests for item in request.items]
            sendable = self._sendable(requests)
            if sendable:
                self._log.round(len(sendable))
                await self._send_round(sendable, transport)
                sent = [item for request in sendable for item in request.items]
                retry = _retries(sent, all_or_none=self.transaction)
                if retry and not transport:
                    # Row locks are retried lock_retries times, with a backoff. Records a
                    # graph rolled back, or a Composite request could not send, go again at
                    # once (and not as a graph, which would roll back good records again).
                    if any(_failed_with(op, LOCK_ROW) for op in retry):
                        if attempt < self.lock_retries:
                            await anyio.sleep(0.2 * (2**attempt))
                            again = self._plan(retry, graphs=False)
                            await self._execute_plan(again, transport, attempt + 1, resends)
                    elif resends < _MAX_RESENDS:
                        again = self._plan(retry, graphs=False)
                        await self._execute_plan(again, transport, attempt, resends + 1)
            if transport or (self.halt_on_error and any(_genuine_failure(i) for i in items)):
                break  # later rounds are not sent
        if attempt:
            return
        # A record a Composite request could not send because its parent failed there is
        # reported as batch reports it: not sent, naming the parent. (In a transaction,
        # everything was rolled back, and says so.)
        for request in [] if self.transaction else plan.requests:
            for item in request.items:
                sub = item.subrequest
                if sub is not None and sub.succeeded:
                    continue
                if isinstance(item, Operation) and _failed_with(item, "PROCESSING_HALTED"):
                    self._ready(item)

    async def _send_round(
        self, requests: list[PlannedRequest], transport: list[SalesforceError]
    ) -> None:
        if self.halt_on_error:
            for request in requests:
                await self._send_request(request, transport)
                if transport or any(_genuine_failure(i) for i in request.items):
                    return
            return
        if len(requests) == 1:
            # Alone in its round (a stream always is): no task group, whose errors would
            # come wrapped in an exception group.
            await self._send_request(requests[0], transport)
            return
        limiter = anyio.CapacityLimiter(self.concurrency)

        async def send(request: PlannedRequest) -> None:
            async with limiter:
                await self._send_request(request, transport)

        try:
            async with anyio.create_task_group() as group:
                for request in requests:
                    group.start_soon(send, request)
        except BaseExceptionGroup as failed:
            # Failures of Salesforce's are collected, not raised: what is raised here is
            # unexpected (a bug, a cassette without the request). One is raised as itself.
            if len(failed.exceptions) == 1:
                raise failed.exceptions[0] from None
            raise

    def _sendable(self, requests: Sequence[PlannedRequest]) -> list[PlannedRequest]:
        """The requests of a round with what can be sent now. A request that lost items (a
        parent failed, say) keeps its shape without them: the records left still find the
        parents they refer to in it."""
        out: list[PlannedRequest] = []
        for request in requests:
            referring = request.endpoint != "composite/batch"
            together = (
                {id(op.obj) for op in request.items if isinstance(op, Operation)}
                if referring
                else set()
            )
            while True:  # a record whose parent in the request cannot go cannot go either
                ready = [item for item in request.items if self._ready(item, together)]
                if not referring:
                    break
                kept = {id(op.obj) for op in ready if isinstance(op, Operation)}
                if kept == together:
                    break
                together = kept
            if len(ready) == len(request.items):
                out.append(request)
            elif ready:
                out.append(_keeping(request, {id(item) for item in ready}))
        return out

    async def _send_request(
        self, request: PlannedRequest, transport: list[SalesforceError]
    ) -> None:
        if request.stream is not None:
            await self._send_stream(request.stream, transport)
        elif request.endpoint == "composite/batch":
            await self._send_chunk(request.items, transport)
        elif request.endpoint == "jobs/ingest":
            from sobjects.orm._bulk import send_bulk

            await send_bulk(self, request, transport)
        elif request.endpoint == "composite/graph":
            await self._send_graphs(request, transport)
        else:
            await self._send_composite(request.calls, transport)
        await self._progress.answered(request.items)

    async def _send_graphs(self, request: PlannedRequest, transport: list[SalesforceError]) -> None:
        """One Composite Graph request: each graph's nodes refer to the records they depend
        on in it, and Salesforce applies a graph entirely or not at all (a graph that failed
        is sent again without the records that failed, see ``_retries``)."""
        graph_request = self.sf.composite.graph()
        sent: list[_Sent] = []
        with _landing(request.items):
            for calls in request.graph_calls():
                graph = graph_request.graph()
                refs = _Refs()
                for call in calls:
                    for op in call.items:
                        assert isinstance(op, Operation)  # graphs hold writes only
                        sub = self._add_subrequest(graph, op, refs=refs)
                        refs.add(op.obj, sub)
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
        refs = _Refs()
        collections: list[tuple[CollectionSubrequest, list[Operation]]] = []
        sent: list[_Sent] = []
        with _landing([item for call in calls for item in call.items]):
            self._build_composite(composite, calls, refs, collections, sent)
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

    def _build_composite(
        self,
        composite: Composite,
        calls: Sequence[Call],
        refs: _Refs,
        collections: list[tuple[CollectionSubrequest, list[Operation]]],
        sent: list[_Sent],
    ) -> None:
        for call in calls:
            if not call.collection:
                item = call.items[0]
                sub = self._add_subrequest(composite, item, refs=refs)
                if isinstance(item, Operation):
                    refs.add(item.obj, sub)
                sent.append(_Sent(item, sub))
                continue
            chunk = [op for op in call.items if isinstance(op, Operation)]
            first = chunk[0]
            if first.kind == "create" and not any(op.state.assigned for op in chunk):
                # Most of a large flush: new records with no parent to refer to. Their
                # records are built here, once, ready for the wire (marks them in flight).
                collection = composite.collections._create_plain(
                    call.sobject, _plain_records(chunk, call.sobject)
                )
                collections.append((collection, chunk))
                path = _create_path(call.sobject)
                for index, op in enumerate(chunk):
                    op.subrequest = sub = CreateSubrequest("POST", path)
                    sent.append(_Sent(op, sub))
                    refs.add(op.obj, collection, index)
                continue
            records = [self._record_values(op, refs) for op in chunk]  # marks them in flight
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
            for index, op in enumerate(chunk):
                op.subrequest = _item_subrequest(op, call.sobject)
                sent.append(_Sent(op, op.subrequest))
                if op.kind in ("create", "upsert"):
                    # A later call of the request may refer to this record's new id. (A
                    # record that failed has no id in the answer: the reference then fails
                    # the call that uses it, and its records are sent again or not at all.)
                    refs.add(op.obj, collection, index)

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
        items = call.result  # the records' answers as Salesforce sent them
        try:
            if not isinstance(items, list) or len(items) != len(chunk):
                count = len(items) if isinstance(items, list) else "no"
                raise ValueError(f"{count} results for {len(chunk)} records")
            # A created record's answer is what a single create answers: bound by its id
            # alone (see CreateSubrequest); the others are read as CollectionResults.
            results = [
                None if op.kind == "create" and plain_created(item) else _collection_result(item)
                for op, item in zip(chunk, items, strict=True)
            ]
        except (SalesforceError, ValueError) as exc:
            # The call was applied but its answer cannot be matched to the records.
            unknown = OutcomeUnknownError(
                f"a Collections answer could not be matched to its records ({exc}); "
                "they may have been applied, so they are not sent again"
            )
            transport.append(unknown)
            self._unanswered([e for e in sent if e.op in chunk], unknown)
            return
        for op, result, item in zip(chunk, results, items, strict=True):
            if result is None:
                assert isinstance(op.subrequest, CreateSubrequest)
                op.subrequest._bind_created(item["id"], in_batch=False)
            else:
                _bind_item(op, result, item)

    def _record_values(self, op: Operation, refs: _Refs | None = None) -> dict[str, Any]:
        """One record of a Collections call (the same values a subrequest would carry); a
        parent created earlier in the same Composite request is referred to."""
        op.attempts += 1
        op.in_flight = True
        obj = op.obj
        if op.kind == "delete":
            return {}
        values = self._values(op)
        for api_name, (_, parent) in op.derived.items():
            if parent is None or parent.id:
                values[api_name] = parent.id if parent is not None else None
            elif refs is not None and (ref := refs.get(parent)) is not None:
                values[api_name] = ref
            else:
                raise _orphan(op, parent)
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
        except BaseException:
            # Cancelled (a timeout, Ctrl+C) with the request possibly on the wire: what it
            # carried may have been applied, so it is recorded as unknown, never sent twice.
            # (Upserts go again: they are idempotent by their external ids.)
            self._settle_interrupted(
                sent,
                OutcomeUnknownError("the flush was interrupted while this request was in flight"),
                "the flush was interrupted",
            )
            raise
        finally:
            for entry in sent:
                if isinstance(entry.op, Operation):
                    entry.op.in_flight = False

    def _settle_interrupted(self, sent: list[_Sent], error: SalesforceError, reason: str) -> None:
        """Requests stopped before their answers were read (cancelled, or Bulk API jobs that
        stopped partway): what they carried may have been applied, so it is unknown and never
        sent again (upserts stay pending: idempotent), and each object's state says so."""
        self._unanswered(sent, error, reason=reason, maybe_applied=True)
        for entry in sent:
            if isinstance(entry.op, Operation):
                self._apply(entry.op, entry.subrequest)

    def _unanswered(
        self,
        sent: list[_Sent],
        exc: SalesforceError,
        *,
        reason: str | None = None,
        maybe_applied: bool | None = None,
    ) -> None:
        """Subrequests left without an answer by a failed (or interrupted) request
        (``maybe_applied``: whether it may have been applied, when ``exc`` cannot say)."""
        applied = not nothing_applied(exc) if maybe_applied is None else maybe_applied
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
                            f"sent, but no answer came back ({reason or type(exc).__name__}): "
                            "Salesforce "
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
            refs = _Refs()
            sent: list[_Sent] = []
            with _landing(ordered):
                for item in ordered:
                    sub = self._add_subrequest(composite, item, refs=refs)
                    if isinstance(item, Operation):
                        refs.add(item.obj, sub)
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
        await self._progress.answered(ordered)

    def _add_subrequest(
        self,
        target: CompositeBatch | Composite | Graph,
        item: Operation | QueryHandle[Any],
        *,
        refs: _Refs | None,
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
            elif refs is not None and (ref := refs.get(parent)) is not None:
                values[api_name] = ref
            else:
                raise _orphan(op, parent)
        if op.kind == "create":
            sub_c: CreateSubrequest = (
                target.sobject.create(meta.api_name, values)
                if op.derived  # may hold references to records created earlier in the request
                else target.sobject._create_plain(meta.api_name, values)
            )
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
        if op.kind == "update":
            changed = changed_fields(obj)
            values = {fm.api_name: obj._wire_value(fm) for fm in changed}
            op.sent_values = {fm.name: obj.__dict__[fm.name] for fm in changed}
        else:
            values, op.sent_values = _set_values(obj, meta)
        op.derived = self._relation_changes(obj) if op.state.assigned else NOTHING
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
        snapshot = state.snapshot
        if snapshot is obj.__dict__:  # still the loaded values: copied before the id is set
            snapshot = state.snapshot = dict(snapshot)
        if op.kind == "create":
            result = sub._result  # the new id alone for a plain success (_bind_created)
            new_id = result if result.__class__ is str else result["id"]
            obj.__dict__["id"] = _salesforce_id(str(new_id))
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
            snapshot[name] = value if value.__class__ in _IMMUTABLE else frozen_value(value)
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
        self,
        work: list[Operation | QueryHandle[Any]],
        transport: list[SalesforceError],
        total: int | None = None,
    ) -> None:
        """Raise what failed in ``work``; ``total`` counts the flush's operations when it
        had more than ``work`` holds (streamed records that succeeded)."""
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
        if total is None:
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


class _Refs:
    """Where the records created earlier in one Composite request (or graph) are found, for
    the later subrequests that refer to them (``@{ref.id}``). Held as (subrequest, index) and
    turned into a ``Reference`` only when asked for: most records are never referred to."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[int, tuple[Subrequest, int | None]] = {}

    def add(self, obj: SObject, sub: Subrequest, index: int | None = None) -> None:
        self._held[id(obj)] = (sub, index)

    def get(self, obj: SObject) -> Reference | None:
        held = self._held.get(id(obj))
        if held is None:
            return None
        sub, index = held
        return sub.reference.id if index is None else sub.reference[index].id


def _orphan(op: Operation, parent: SObject) -> RuntimeError:
    # Readiness checks keep this from happening; sending the record without its parent's
    # id would create it with an empty lookup, so refuse loudly instead.
    return RuntimeError(
        f"sobjects bug: {describe(op.obj)} was about to be sent without the id of "
        f"{describe(parent)}; please report it"
    )


def _keeping(request: PlannedRequest, keep: set[int]) -> PlannedRequest:
    """``request`` with only the items in ``keep`` (by ``id``), calls and graphs in place."""
    if request.endpoint == "composite/batch":
        items = tuple(item for item in request.batch_items if id(item) in keep)
        return dataclasses.replace(request, batch_items=items)
    groups = request.graph_calls() if request.graphs else [request.calls]
    calls: list[Call] = []
    sizes: list[int] = []
    for group in groups:
        kept = [
            call._replace(items=items)
            for call in group
            if (items := tuple(item for item in call.items if id(item) in keep))
        ]
        if kept:
            calls += kept
            sizes.append(len(kept))
    graphs = tuple(sizes) if request.graphs else ()
    return dataclasses.replace(request, calls=tuple(calls), graphs=graphs)


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
    if record_id:
        path = f"sobjects/{api_name}/{record_id}"
    else:  # one string per sObject, not per record: every flushed record keeps its path
        path = _CREATE_PATHS.get(api_name) or _CREATE_PATHS.setdefault(
            api_name, f"sobjects/{api_name}"
        )
    return _ITEM_CLASSES[op.kind](_ITEM_METHODS[op.kind], path)


_CREATE_PATHS: dict[str, str] = {}


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
    if all(op.subrequest is not None and op.subrequest.succeeded for op in ops):
        return []  # the common case, without looking at errors
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


def _set_values(
    obj: SObject, meta: SObjectMeta, values: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(API name -> wire value, Python name -> value) of every writable field the user set:
    the body of a create or an upsert (into ``values``, if given), and what the snapshot
    takes once it succeeds."""
    body: dict[str, Any] = {} if values is None else values
    sent: dict[str, Any] = {}
    current = obj.__dict__
    wire_names = meta.wire_names
    for name in meta.writable.intersection(obj.__pydantic_fields_set__):
        if name in current:
            value = sent[name] = current[name]
            api_name = wire_names.get(name)
            if api_name is not None:
                body[api_name] = value
            else:  # a multipicklist: its set goes as "A;B"
                fm = meta.fields[name]
                body[fm.api_name] = obj._wire_value(fm)
    return body, sent


def _plain_records(chunk: list[Operation], sobject: str) -> list[dict[str, Any]]:
    """The records of a Collections create of new records that refer to no parent: one pass
    from each model's values to its wire record (the operations are then in flight)."""
    attributes = {"type": sobject}  # shared: the records only go to the JSON encoder
    records: list[dict[str, Any]] = []
    for op in chunk:
        op.attempts += 1
        op.in_flight = True
        record: dict[str, Any] = {"attributes": attributes}
        op.sent_values = _set_values(op.obj, op.meta, record)[1]
        op.derived = NOTHING
        records.append(record)
    return records


def _collection_result(item: Any) -> CollectionResult:
    if not isinstance(item, Mapping):
        raise ValueError(f"a result is not an object: {item!r:.100}")
    return CollectionResult.from_json(item)


# Values a snapshot keeps as they are (frozen_value copies sets and lists).
_IMMUTABLE = frozenset({str, int, float, bool, type(None), Decimal, date, datetime, time})


def _salesforce_id(record_id: str) -> str:
    # Salesforce answers with 18-character ids; anything else is checked and normalised.
    return record_id if _SALESFORCE_ID.fullmatch(record_id) else to_18(record_id)


_SALESFORCE_ID = re.compile(r"[0-9A-Za-z]{15}[0-9A-Z]{3}")

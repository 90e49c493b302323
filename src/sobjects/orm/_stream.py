"""Streamed writes (``session.save_all`` / ``upsert_all``) sent as Bulk API 2.0 jobs.

The models are read from their source as the jobs' CSV is written: each is checked as
``save()`` would check it, encoded, and then held by the session only through a weak
reference and its row's position (with what was sent, for its snapshot, while the model
lives). When the results come back, each model still alive gets what a record of a bulk
flush gets (id, created flag, snapshot, identity map entry); a failed record whose model is
gone is rebuilt from the values Salesforce echoes, so the failure names an object. Records
that did not succeed are recorded as operations (they stay pending, as in any flush); the
others are only counted. One job per sObject and kind of write (a ``save_all`` of new and
existing records makes an insert job and an update job).
"""

from __future__ import annotations

import weakref
from array import array
from collections.abc import Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
from pydantic import ValidationError

from sobjects.client._bulk import BulkRecordResult, IngestRun, ingest_run
from sobjects.client._bulk_csv import NULL
from sobjects.errors import (
    ConfigurationError,
    ErrorDetail,
    OutcomeUnknownError,
    SalesforceError,
)
from sobjects.orm._bulk import (
    BULK_OPERATIONS,
    INGEST_OPTIONS,
    _as_collection_result,
    _not_processed,
    _raw,
)
from sobjects.orm._flush import _bind_item, _item_subrequest, _Sent
from sobjects.orm._hydrate import validate_records
from sobjects.orm._model import (
    FieldMeta,
    ObjectState,
    SObject,
    changed_fields,
    set_state_slot,
    sobject_meta,
)
from sobjects.orm._operation import Kind, Operation, WriteStream, describe

if TYPE_CHECKING:
    from sobjects.orm._session import Session

__all__ = ["send_stream"]

# Rows encoded between two checkpoints: a long stream lets other tasks run, and can be
# cancelled, while it is read.
_CHECKPOINT_EVERY = 100


class _Row(weakref.ref[SObject]):
    """A streamed model, held weakly, with its row and what was sent (for its snapshot)."""

    __slots__ = ("derived", "key", "position", "sent_values")

    position: int
    key: int  # id() of the model, while it lives
    sent_values: dict[str, Any]
    derived: dict[str, tuple[str, SObject | None]]


class _Lane:
    """One kind of write on one sObject: its ingest run, and its rows' models by position.
    It is the run's ``ResultSink``: outcomes are applied as the result files are read."""

    def __init__(
        self,
        session: Session,
        stream: WriteStream,
        seen: dict[int, _Row],
        model: type[SObject],
        kind: Kind,
        external_id: FieldMeta | None,
        run: IngestRun,
    ) -> None:
        self.session = session
        self.stream = stream
        self.seen = seen
        self.model = model
        self.sobject = sobject_meta(model).api_name
        self.kind = kind
        self.external_id = external_id
        self.run = run
        self.rows: dict[int, _Row] = {}  # live models by position
        self.numbers = array("I")  # each row's place in the stream (4 bytes a row)
        self.answered = 0
        self.unprocessed: list[Operation] = []
        self._callback = self.gone  # one bound method for every row's reference

    def gone(self, row: weakref.ref[SObject]) -> None:
        """A streamed model was collected: forget its row (the callback of its reference)."""
        assert isinstance(row, _Row)
        self.rows.pop(row.position, None)
        if self.seen.get(row.key) is row:
            del self.seen[row.key]

    def track(self, obj: SObject, op: Operation) -> None:
        row = _Row(obj, self._callback)
        row.position = self.run.count - 1
        row.key = id(obj)
        row.sent_values = op.sent_values
        row.derived = op.derived
        self.rows[row.position] = row
        self.numbers.append(self.stream.sent)  # the record's place in the stream, from 0
        self.seen[row.key] = row

    def operation(self, obj: SObject, row: _Row | None, *, pending: bool) -> Operation:
        """An operation for a streamed record, as if it had been sent in a Collections call
        (``pending``: recorded in the session, which then keeps it and its model)."""
        if pending:
            op = self.session._record(obj, self.kind, self.external_id)
        else:
            op = Operation(self.kind, obj, self.external_id)
        if row is not None:
            op.sent_values = row.sent_values
            op.derived = row.derived
        op.attempts = 1
        op.subrequest = _item_subrequest(op, self.sobject)
        return op

    def settled(self, position: int, op: Operation) -> None:
        """A record that did not succeed, recorded as an operation: the flush reports it."""
        self.stream.ops.append(op)
        self.stream.order.append(self.numbers[position])

    # -- ResultSink ------------------------------------------------------------------------

    def set(self, position: int, job: int, record_id: str | None, created: bool) -> None:
        self.answered += 1
        self.stream.succeeded += 1
        row, obj = self._take(position)
        if row is None or obj is None:
            return  # nobody holds the model any more: nothing to tell
        op = self.operation(obj, row, pending=False)
        outcome = BulkRecordResult(position, record_id, True, created)
        _bind_item(op, _as_collection_result(outcome), _raw(outcome))
        assert op.subrequest is not None
        self.session._apply(op, op.subrequest)

    def set_failed(
        self,
        position: int,
        job: int,
        record_id: str | None,
        error: ErrorDetail,
        echoed: Mapping[str, str] | None = None,
    ) -> None:
        self.answered += 1
        row, obj = self._take(position)
        if obj is None:
            obj = self._rebuilt(echoed or {})
            row = None
        op = self.operation(obj, row, pending=True)
        if row is None:
            # Rebuilt from what was sent: those are its values to send again.
            op.sent_values = dict(obj.__dict__)
        outcome = BulkRecordResult(position, record_id, False, None, (error,))
        _bind_item(op, _as_collection_result(outcome), _raw(outcome))
        assert op.subrequest is not None
        self.session._apply(op, op.subrequest)
        self.settled(position, op)

    def set_unprocessed(self, position: int, job: int) -> None:
        self.answered += 1
        row, obj = self._take(position)
        if obj is None:
            self.stream.not_run += 1  # never attempted, and nobody holds the model
            return
        op = self.operation(obj, row, pending=True)
        job_ids = self.run.job_ids
        job_id = job_ids[job] if job < len(job_ids) else None
        _not_processed(op, BulkRecordResult(position, None, False, processed=False, job_id=job_id))
        self.unprocessed.append(op)
        self.settled(position, op)

    def _take(self, position: int) -> tuple[_Row | None, SObject | None]:
        """A record's row, no longer tracked, and its model if it still lives."""
        row = self.rows.pop(position, None)
        return row, (row() if row is not None else None)

    def _rebuilt(self, echoed: Mapping[str, str]) -> SObject:
        """A failed record's model, from the values its result row echoes (the model sent
        is gone): a new object, in this session, carrying what was sent."""
        meta = sobject_meta(self.model)
        record: dict[str, Any] = {}
        for api_name, text in echoed.items():
            fm = meta.by_api.get(api_name.lower())
            if fm is None or fm.kind != "value" or text == "":
                continue  # an empty value was not sent
            record[fm.api_name] = None if text == NULL else text
        try:
            (obj,) = validate_records(self.model, [record], None)
        except ValidationError:
            # Not readable back as the model types it: kept as the text sent.
            values = {meta.by_api[k.lower()].name: v for k, v in record.items()}
            obj = self.model.model_construct(**values)
        state = ObjectState(self.session, persistent=self.kind == "update")
        set_state_slot(obj, state)
        return obj


async def send_stream(
    session: Session, stream: WriteStream, transport: list[SalesforceError]
) -> None:
    """Read ``stream`` to its end into Bulk API jobs and apply each record's outcome."""
    lanes: dict[tuple[type[SObject], Kind, str], _Lane] = {}
    try:
        try:
            await _upload(session, stream, lanes)
        finally:
            await stream.close()
        for lane in lanes.values():
            await lane.run.wait()
        for lane in lanes.values():
            await lane.run.read_results(lane)
    except BaseException as exc:
        await _interrupted(session, stream, lanes, exc)
        if isinstance(exc, SalesforceError) and not isinstance(exc, ConfigurationError):
            transport.append(exc)  # raised by the flush, naming the records it left unknown
            return
        raise
    finally:
        stream.sort_ops()
        for lane in lanes.values():
            stream.jobs += lane.run.jobs
            if lane.run.uploads:
                session._log.request("jobs/ingest", len(lane.run.uploads), lane.run.tally.calls)
    for lane in lanes.values():
        job_error = lane.run.failed_job()
        if job_error is not None:
            transport.append(job_error)
            for op in lane.unprocessed:
                op.unanswered = job_error  # the error the flush raises names them


async def _upload(
    session: Session, stream: WriteStream, lanes: dict[tuple[type[SObject], Kind, str], _Lane]
) -> None:
    """Read the stream, checking and encoding each model into its lane's upload."""
    seen: dict[int, _Row] = {}  # the models read so far that still live, by id()
    options = {k: v for k, v in session.bulk_options.items() if k in INGEST_OPTIONS}
    number = 0
    async with aclosing(stream.models()) as models:
        async for obj in models:
            number += 1
            try:
                kind, external_id = session._stream_target(stream, obj)
            except ConfigurationError as exc:
                raise ConfigurationError(f"model {number:,} of the stream: {exc}") from exc
            assert isinstance(obj, SObject)
            earlier = seen.get(id(obj))
            if earlier is not None and earlier() is obj:
                raise ConfigurationError(
                    f"{_named(obj, number)} came twice from the stream: a source yields each "
                    "model once (a new model per record, not one object changed and yielded "
                    "again)"
                )
            if kind == "update" and not changed_fields(obj) and not session._relation_changes(obj):
                continue  # nothing to send, as save() would skip it
            _check_parents(session, obj, number)
            key = (type(obj), kind, external_id.api_name if external_id else "")
            lane = lanes.get(key)
            if lane is None:
                run = ingest_run(
                    session.sf,
                    sobject_meta(type(obj)).api_name,
                    BULK_OPERATIONS[kind],
                    external_id_field=external_id.api_name if external_id else None,
                    **options,
                )
                lane = lanes[key] = _Lane(session, stream, seen, type(obj), kind, external_id, run)
            op = Operation(kind, obj, external_id)
            values = session._record_values(op)
            await lane.run.add(values)
            state = op.state
            state.failed = False
            state.errors = ()
            lane.track(obj, op)
            stream.sent += 1
            del op, obj, state  # the lane holds the model weakly, and nothing else does
            if stream.sent % _CHECKPOINT_EVERY == 0:
                await anyio.lowlevel.checkpoint()
    seen.clear()
    for lane in lanes.values():
        await lane.run.close()


def _named(obj: SObject, number: int) -> str:
    return f"{describe(obj)} (model {number:,} of the stream)"


def _check_parents(session: Session, obj: SObject, number: int) -> None:
    """Refuse a record whose parent has no id: a Bulk API job cannot refer to records
    created in the same request."""
    if not obj._sobject_state.assigned:
        return
    for relation, parent in session._relation_changes(obj).values():
        if parent is not None and not parent.id:
            raise ConfigurationError(
                f"{_named(obj, number)} refers through .{relation} to a {describe(parent)}, "
                "which has no id: streamed records go as Bulk API jobs, which cannot refer to "
                "records created in the same flush. Save the parent first (in an earlier "
                "flush, or recorded before the stream: streams are sent last)"
            )


async def _interrupted(
    session: Session, stream: WriteStream, lanes: Mapping[Any, _Lane], exc: BaseException
) -> None:
    """A stream stopped while its jobs ran (cancelled, a request failed, a model refused):
    the unfinished jobs are aborted, and the records they carried that have no outcome yet
    may have been processed: unknown, never sent twice (upserts go again)."""
    for lane in lanes.values():
        await lane.run.abort()
    interrupted = isinstance(exc, SalesforceError) and not isinstance(exc, ConfigurationError)
    error: SalesforceError = (
        exc
        if interrupted and isinstance(exc, SalesforceError)
        else OutcomeUnknownError("the flush was interrupted while its Bulk API jobs ran")
    )
    sent: list[_Sent] = []
    for lane in lanes.values():
        uploaded = lane.run.uploaded
        live = 0
        for position, row in sorted(lane.rows.items()):
            if position >= uploaded:
                break  # read, never sent
            obj = row()
            if obj is None:
                continue
            live += 1
            op = lane.operation(obj, row, pending=True)
            assert op.subrequest is not None
            sent.append(_Sent(op, op.subrequest))
            lane.settled(position, op)
            lane.rows.pop(position, None)
        stream.unknown += max(0, uploaded - lane.answered - live)
        stream.not_run += lane.run.count - uploaded  # read and encoded, never uploaded
        lane.answered = lane.run.count
    reason = (
        f"its Bulk API job stopped: {type(exc).__name__}"
        if interrupted
        else "the flush was interrupted while its Bulk API jobs ran; they were aborted"
    )
    session._settle_interrupted(sent, error, reason)
    if not interrupted and isinstance(exc, Exception):
        exc.add_note(_what_was_sent(stream, lanes))


def _what_was_sent(stream: WriteStream, lanes: Mapping[Any, _Lane]) -> str:
    uploaded = sum(lane.run.uploaded for lane in lanes.values())
    if not uploaded:
        return "Nothing of the stream was sent; it is not read again (save its models anew)."
    return (
        f"{uploaded:,} of the stream's records were already uploaded in Bulk API jobs, now "
        "aborted: their outcome is unknown (see each model's errors); the rest was not sent, "
        "and the stream is not read again."
    )

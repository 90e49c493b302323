"""A flush's Bulk API 2.0 jobs: a large group of one write on one sObject, sent through
``sf.bulk`` and answered record by record as a Collections call would be.

Each record's outcome lands on its operation as if it had gone in an sObject Collections call
(a stand-alone subrequest bound to the record's result), so ids, created flags, errors, the
failure ledger and ``inspect()`` read the same. Records a job never processed (it was aborted
or failed as a whole) are reported not sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sobjects.client._bulk import BulkIngestResult, BulkRecordResult
from sobjects.client._collections import CollectionResult
from sobjects.errors import (
    BulkJobError,
    ErrorDetail,
    OutcomeUnknownError,
    ResponseError,
    SalesforceError,
)
from sobjects.orm._operation import Operation

if TYPE_CHECKING:
    from sobjects.orm._flush import Sender
    from sobjects.orm._plan import PlannedRequest

__all__ = [
    "BULK_OPERATIONS",
    "BULK_OPTIONS",
    "DEFAULT_BULK_THRESHOLD",
    "INGEST_OPTIONS",
    "QUERY_OPTIONS",
    "send_bulk",
]

# What Session(bulk_options=...) may hold: for ingest jobs, for query jobs.
INGEST_OPTIONS = frozenset({"poll_interval", "max_poll_interval", "timeout", "max_upload_bytes"})
QUERY_OPTIONS = frozenset({"poll_interval", "max_poll_interval", "timeout", "page_size"})
BULK_OPTIONS = INGEST_OPTIONS | QUERY_OPTIONS

# A group of more than this many writes of one kind on one sObject goes as a Bulk API job
# (docs/decisions.md, 34): a flush already carries 1,000 records per API call through
# Collections inside Composite, and a job costs about 7 calls, so Bulk pays from ~7,000
# records on; above 10,000 it is cheaper in calls and spares Salesforce the synchronous load.
DEFAULT_BULK_THRESHOLD = 10_000

# Session operation kind -> Bulk API 2.0 operation.
BULK_OPERATIONS = {"create": "insert", "update": "update", "upsert": "upsert", "delete": "delete"}


async def send_bulk(
    sender: Sender, request: PlannedRequest, transport: list[SalesforceError]
) -> None:
    """Send one planned ``jobs/ingest`` request and apply each record's outcome."""
    from sobjects.orm._flush import _bind_item, _item_subrequest, _Sent

    (call,) = request.calls
    ops = [op for op in call.items if isinstance(op, Operation)]
    first = ops[0]
    for op in ops:
        op.subrequest = _item_subrequest(op, call.sobject)
    sent = [_Sent(op, op.subrequest) for op in ops if op.subrequest is not None]

    def records() -> Iterator[dict[str, Any]]:
        # Encoded as the job's CSV is written: the values are never all held at once.
        for op in ops:
            if op.kind == "delete":
                op.attempts += 1
                op.in_flight = True
                yield {"Id": op.obj.id}
            else:
                yield sender._record_values(op)

    options = {k: v for k, v in sender.bulk_options.items() if k in INGEST_OPTIONS}
    if first.kind == "upsert":
        assert first.external_id is not None
        options["external_id_field"] = first.external_id.api_name
    result: BulkIngestResult | None = None
    try:
        result = await sender.sf.bulk.ingest(
            call.sobject,
            BULK_OPERATIONS[first.kind],  # type: ignore[arg-type]
            records(),
            **options,
        )
    except BulkJobError as exc:
        transport.append(exc)
        result = exc.result if isinstance(exc.result, BulkIngestResult) else None
        if result is None:
            sender._unanswered(sent, exc)
        else:
            for op, outcome in zip(ops, result.results, strict=True):
                if not outcome.processed:
                    op.unanswered = exc  # the error the flush raises names them
    except SalesforceError as exc:
        transport.append(exc)
        sender._unanswered(sent, exc)
    except BaseException:
        # Cancelled: the client aborted the unfinished jobs, but a job may have processed some
        # records first, so they are unknown and never sent twice (upserts go again).
        sender._settle_interrupted(
            sent,
            OutcomeUnknownError("the flush was interrupted while its Bulk API jobs ran"),
            "the flush was interrupted while its Bulk API jobs ran; they were aborted",
        )
        raise
    finally:
        for op in ops:
            op.in_flight = False
        jobs = len(result.jobs) if result is not None else 1
        calls = result.api_calls if result is not None else None
        sender._log.request("jobs/ingest", jobs, calls)
    if result is None:
        return
    for op, outcome in zip(ops, result.results, strict=True):
        if not outcome.processed:
            _not_processed(op, outcome)
            continue
        _bind_item(op, _as_collection_result(outcome), _raw(outcome))
        assert op.subrequest is not None
        sender._apply(op, op.subrequest)


def _as_collection_result(outcome: BulkRecordResult) -> CollectionResult:
    return CollectionResult(outcome.id, outcome.success, outcome.errors, outcome.created)


def _raw(outcome: BulkRecordResult) -> dict[str, Any]:
    """The record's result in the shape of a Collections item."""
    raw: dict[str, Any] = {
        "id": outcome.id,
        "success": outcome.success,
        "errors": [
            {"statusCode": e.code, "message": e.message, "fields": list(e.fields)}
            for e in outcome.errors
        ],
    }
    if outcome.created is not None:
        raw["created"] = outcome.created
    return raw


def _not_processed(op: Operation, outcome: BulkRecordResult) -> None:
    """A record its job never attempted: not sent, and says why (it may go again)."""
    op.subrequest = None
    op.error = ResponseError(
        0,
        [
            ErrorDetail(
                "NOT_SENT",
                f"not processed: its Bulk API job {outcome.job_id or ''} was aborted or failed",
            )
        ],
    )

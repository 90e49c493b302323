"""Bulk API 2.0 (``sf.bulk``): ingest jobs streamed as CSV, query jobs read page by page.

An ingest operation encodes records (any iterable or async iterable of dicts) as CSV in
upload batches under ``max_upload_bytes`` (100 MB: Salesforce takes 150 MB per upload once
base64 encoded). Each batch is one job, as Bulk API 2.0 takes one upload per job: created,
uploaded and closed while the next batch is encoded, so only one batch's CSV is in memory.
Then every job is polled, with backoff, until it is terminal or ``timeout`` passes, and its
successful, failed and unprocessed results are read back and matched to the input records
(results come in any order; each echoes the row as sent). Cancelling the operation aborts
the jobs that are still running.

A query job (``sf.bulk.query(soql)``) is polled until complete, then its results are read a
page (``page_size`` records) at a time with ``Sforce-Locator``: memory holds one page.
"""

from __future__ import annotations

from array import array
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import anyio

from sobjects.client._bulk_csv import (
    DELIMITERS,
    LINE_ENDINGS,
    BatchWriter,
    flatten,
    read_csv_rows,
)
from sobjects.client._sobject import check_field_name, check_sobject_name
from sobjects.errors import (
    BulkJobError,
    BulkJobTimeoutError,
    ConfigurationError,
    ErrorDetail,
    error_for,
)

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "BulkAPI",
    "BulkIngestResult",
    "BulkJob",
    "BulkJobEvent",
    "BulkQuery",
    "BulkRecordResult",
    "BulkResults",
    "IngestOperation",
    "IngestRun",
    "ResultSink",
    "ingest_run",
]

IngestOperation = Literal["insert", "update", "upsert", "delete", "hardDelete"]
# Salesforce takes 150 MB per upload after base64 encoding (4/3 larger): 100 MB of CSV.
DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
TERMINAL_STATES = frozenset({"JobComplete", "Failed", "Aborted"})
DEFAULT_TIMEOUT = 3600.0
DEFAULT_POLL_INTERVAL = 0.5
DEFAULT_MAX_POLL_INTERVAL = 10.0
_CSV = "text/csv"


@dataclass(frozen=True, slots=True)
class BulkJob:
    """A Bulk API 2.0 job as Salesforce last described it.

    ``state`` is ``Open``, ``UploadComplete``, ``InProgress``, ``JobComplete``, ``Failed`` or
    ``Aborted``; ``error_message`` is set when it failed; ``info`` is the whole job info.
    """

    id: str
    operation: str
    object: str
    state: str
    records_processed: int = 0
    records_failed: int = 0
    error_message: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, info: Mapping[str, Any]) -> BulkJob:
        return cls(
            id=str(info["id"]),
            operation=str(info.get("operation", "")),
            object=str(info.get("object", "")),
            state=str(info.get("state", "")),
            records_processed=int(info.get("numberRecordsProcessed") or 0),
            records_failed=int(info.get("numberRecordsFailed") or 0),
            error_message=info.get("errorMessage"),
            info=dict(info),
        )

    @property
    def done(self) -> bool:
        """Whether the job is terminal (``JobComplete``, ``Failed`` or ``Aborted``)."""
        return self.state in TERMINAL_STATES


@dataclass(frozen=True, slots=True)
class BulkRecordResult:
    """The outcome of one input record: ``index`` is its position in the input.

    ``processed`` is ``False`` for a record Salesforce never attempted (its job was aborted
    or failed as a whole); such a record has ``success=False`` and no errors.
    """

    index: int
    id: str | None
    success: bool
    created: bool | None = None
    errors: tuple[ErrorDetail, ...] = ()
    processed: bool = True
    job_id: str | None = None

    def raise_for_status(self) -> None:
        """Raise the matching ``sobjects.errors`` exception if this record failed."""
        if self.success:
            return
        if not self.processed:
            raise BulkJobError(
                f"record {self.index} was not processed (job {self.job_id})",
                code="Unprocessed",
                job=None,
            )
        raise error_for(
            400,
            [{"errorCode": e.code, "message": e.message, "fields": list(e.fields)}
             for e in self.errors],
        )  # fmt: skip


@dataclass
class BulkIngestResult:
    """Every input record's outcome (``results``, in input order) and the jobs that ran."""

    jobs: list[BulkJob]
    results: Sequence[BulkRecordResult]
    api_calls: int = 0  # the HTTP requests the operation sent (each one API call)

    @property
    def successful(self) -> list[BulkRecordResult]:
        return [r for r in self.results if r.success]

    @property
    def failed(self) -> list[BulkRecordResult]:
        """Records Salesforce attempted and refused."""
        return [r for r in self.results if not r.success and r.processed]

    @property
    def unprocessed(self) -> list[BulkRecordResult]:
        return [r for r in self.results if not r.processed]


@dataclass(frozen=True, slots=True)
class BulkJobEvent:
    """Progress of a Bulk API 2.0 job, for the ``bulk`` event hook: after each upload
    (``records_uploaded``), each poll and when the job ends (``state``, counts)."""

    job_id: str
    operation: str
    object: str
    state: str
    records_uploaded: int = 0
    records_processed: int = 0
    records_failed: int = 0


@dataclass
class _Upload:
    job_id: str
    writer: BatchWriter
    job: BulkJob | None = None


class BulkAPI:
    """``sf.bulk``: Bulk API 2.0 ingest and query jobs.

    >>> async def load(sf: Salesforce) -> None:
    ...     result = await sf.bulk.insert("Contact", ({"LastName": f"C{i}"} for i in range(5000)))
    ...     print(len(result.successful), [r.errors for r in result.failed])
    """

    def __init__(self, sf: Salesforce) -> None:
        self._sf = sf

    # -- ingest ---------------------------------------------------------------------------

    async def insert(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        **options: Any,
    ) -> BulkIngestResult:
        """Insert records (see ``ingest`` for the options)."""
        return await self.ingest(sobject, "insert", records, **options)

    async def update(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        **options: Any,
    ) -> BulkIngestResult:
        """Update records by ``Id`` (see ``ingest``)."""
        return await self.ingest(sobject, "update", records, **options)

    async def upsert(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        *,
        external_id_field: str,
        **options: Any,
    ) -> BulkIngestResult:
        """Insert or update records matched by ``external_id_field`` (see ``ingest``)."""
        return await self.ingest(
            sobject, "upsert", records, external_id_field=external_id_field, **options
        )

    async def delete(
        self, sobject: str, records: Iterable[Any] | AsyncIterable[Any], **options: Any
    ) -> BulkIngestResult:
        """Delete records: ids, or dicts with an ``Id`` (see ``ingest``)."""
        return await self.ingest(sobject, "delete", records, **options)

    async def hard_delete(
        self, sobject: str, records: Iterable[Any] | AsyncIterable[Any], **options: Any
    ) -> BulkIngestResult:
        """Delete records for good, bypassing the recycle bin (the user needs the "Bulk API
        Hard Delete" permission; see ``ingest``)."""
        return await self.ingest(sobject, "hardDelete", records, **options)

    async def ingest(
        self,
        sobject: str,
        operation: IngestOperation,
        records: Iterable[Any] | AsyncIterable[Any],
        *,
        external_id_field: str | None = None,
        column_delimiter: str = "COMMA",
        line_ending: str = "LF",
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (a deadline across many requests)
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> BulkIngestResult:
        """Run ``operation`` over ``records`` as Bulk API 2.0 jobs and return each record's
        outcome.

        Records are dicts of field values (``None`` clears a field, a missing key leaves it
        alone; ``{"Account": {"Ext__c": "A-1"}}`` names a parent by external id); for delete,
        ids or dicts with an ``Id``. They are encoded in upload batches of at most
        ``max_upload_bytes`` of CSV, one job each, and read once. Jobs are polled every
        ``poll_interval`` seconds, growing to ``max_poll_interval``; past ``timeout`` seconds
        they are aborted and ``BulkJobTimeoutError`` is raised. A job that fails as a whole
        raises ``BulkJobError`` (its ``result`` holds the other records' outcomes).
        """
        run = ingest_run(
            self._sf,
            sobject,
            operation,
            external_id_field=external_id_field,
            column_delimiter=column_delimiter,
            line_ending=line_ending,
            max_upload_bytes=max_upload_bytes,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )
        return await run.run(records)

    # -- jobs -----------------------------------------------------------------------------

    async def job(self, job_id: str, *, query: bool = False) -> BulkJob:
        """A job's current info."""
        info = await self._sf.request_json("GET", f"jobs/{_kind(query)}/{job_id}")
        return BulkJob.from_json(info)

    async def abort(self, job_id: str, *, query: bool = False) -> BulkJob:
        """Abort a job that has not finished."""
        info = await self._sf.request_json(
            "PATCH", f"jobs/{_kind(query)}/{job_id}", json={"state": "Aborted"}
        )
        return BulkJob.from_json(info)

    async def delete_job(self, job_id: str, *, query: bool = False) -> None:
        """Delete a finished job and its results from the org."""
        await self._sf.request("DELETE", f"jobs/{_kind(query)}/{job_id}")

    # -- query ----------------------------------------------------------------------------

    def query(
        self,
        soql: str,
        *,
        include_deleted: bool = False,
        page_size: int | None = None,
        column_delimiter: str = "COMMA",
        line_ending: str = "LF",
        timeout: float = DEFAULT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> BulkQuery:
        """A Bulk API 2.0 query job (``queryAll`` with ``include_deleted``); iterate it with
        ``async for`` (records as dicts), or ``.pages()``. Values are text as the CSV has
        them (``None`` for empty); ``Account.Name`` columns become nested dicts.

        >>> async def names(sf: Salesforce) -> list[str]:
        ...     return [r["Name"] async for r in sf.bulk.query("SELECT Name FROM Account")]
        """
        _check_dialect(column_delimiter, line_ending)
        if page_size is not None and page_size < 1:
            raise ConfigurationError("page_size must be at least 1")
        return BulkQuery(
            self._sf,
            soql,
            include_deleted=include_deleted,
            page_size=page_size,
            column_delimiter=column_delimiter,
            line_ending=line_ending,
            polling=_Polling(timeout, poll_interval, max_poll_interval),
        )


def ingest_run(
    sf: Salesforce,
    sobject: str,
    operation: str,
    *,
    external_id_field: str | None = None,
    column_delimiter: str = "COMMA",
    line_ending: str = "LF",
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
) -> IngestRun:
    """An ``IngestRun`` with ``sf.bulk.ingest``'s arguments checked (call it in a task: its
    timeout starts now)."""
    sobject = check_sobject_name(sobject)
    if operation not in ("insert", "update", "upsert", "delete", "hardDelete"):
        raise ConfigurationError(f"unknown Bulk API operation {operation!r}")
    if operation == "upsert":
        if not external_id_field:
            raise ConfigurationError("upsert needs external_id_field")
        check_field_name(external_id_field)
    elif external_id_field is not None:
        raise ConfigurationError("external_id_field is for upsert only")
    _check_dialect(column_delimiter, line_ending)
    if max_upload_bytes < 1024:
        raise ConfigurationError("max_upload_bytes must be at least 1024")
    return IngestRun(
        sf,
        sobject,
        operation,
        external_id_field,
        column_delimiter,
        line_ending,
        max_upload_bytes,
        _Polling(timeout, poll_interval, max_poll_interval),
    )


@dataclass(frozen=True)
class _Polling:
    timeout: float
    interval: float
    max_interval: float

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.interval <= 0 or self.max_interval < self.interval:
            raise ConfigurationError(
                "timeout and poll_interval must be positive, max_poll_interval >= poll_interval"
            )


def _kind(query: bool) -> str:
    return "query" if query else "ingest"


def _check_dialect(delimiter: str, line_ending: str) -> None:
    if delimiter not in DELIMITERS:
        raise ConfigurationError(f"column_delimiter must be one of {', '.join(DELIMITERS)}")
    if line_ending not in LINE_ENDINGS:
        raise ConfigurationError(f"line_ending must be one of {', '.join(LINE_ENDINGS)}")


async def each_record(
    records: Iterable[Any] | AsyncIterable[Any],
) -> AsyncGenerator[Any, None]:
    """The items of an iterable or an async iterable, as one async generator."""
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    else:
        for record in records:
            yield record


async def _emit(sf: Salesforce, job: BulkJob, uploaded: int = 0) -> None:
    if sf._hooks.has("bulk"):
        await sf._hooks.emit(
            "bulk",
            BulkJobEvent(
                job.id,
                job.operation,
                job.object,
                job.state,
                uploaded,
                job.records_processed,
                job.records_failed,
            ),
        )


class _Tally:
    """Counts the requests an operation sends."""

    def __init__(self) -> None:
        self.calls = 0


async def _wait(
    sf: Salesforce,
    job_id: str,
    query: bool,
    polling: _Polling,
    deadline: float,
    tally: _Tally | None = None,
) -> BulkJob:
    """Poll a job until it is terminal (``BulkJobTimeoutError`` past ``deadline``)."""
    interval = polling.interval
    while True:
        if tally is not None:
            tally.calls += 1
        job = BulkJob.from_json(await sf.request_json("GET", f"jobs/{_kind(query)}/{job_id}"))
        await _emit(sf, job)
        if job.done:
            return job
        now = anyio.current_time()
        if now >= deadline:
            raise BulkJobTimeoutError(
                f"bulk job {job_id} is still {job.state} after the timeout",
                code="Timeout",
                job=job,
            )
        await anyio.sleep(min(interval, max(0.0, deadline - now)))
        interval = min(polling.max_interval, interval * 1.5)


async def _abort_quietly(sf: Salesforce, job_ids: Sequence[str], query: bool) -> None:
    """Abort jobs on the way out of a cancelled or failed operation (errors ignored: a job
    that finished meanwhile cannot be aborted)."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(30):
        for job_id in job_ids:
            try:
                await sf.request(
                    "PATCH", f"jobs/{_kind(query)}/{job_id}", json={"state": "Aborted"}
                )
            except Exception:
                continue


def _job_error(job: BulkJob, result: Any = None) -> BulkJobError:
    message = job.error_message or f"bulk job {job.id} was {job.state}"
    code = "Aborted" if job.state == "Aborted" else message.split(" : ", 1)[0].strip() or "Failed"
    return BulkJobError(
        f"bulk job {job.id} {job.state}: {message}", code=code, job=job, result=result
    )


def parse_row_error(text: str) -> ErrorDetail:
    """``sf__Error`` (``CODE:message:fields --``) as an ``ErrorDetail``.

    >>> error = parse_row_error("REQUIRED_FIELD_MISSING:Fields are missing: [Name]:Name --")
    >>> error.code, error.message, error.fields
    ('REQUIRED_FIELD_MISSING', 'Fields are missing: [Name]', ('Name',))
    """
    body = text.strip()
    if body.endswith("--"):
        body = body[:-2].rstrip()
    code, _, rest = body.partition(":")
    message, fields = rest, ""
    if ":" in rest:
        message, _, fields = rest.rpartition(":")
    names = tuple(f.strip() for f in fields.split(",") if f.strip())
    return ErrorDetail(code=code.strip() or "UNKNOWN_ERROR", message=message.strip(), fields=names)


class ResultSink(Protocol):
    """Where an ingest run's per-record outcomes go as its result files are read
    (``BulkResults`` keeps them; the session applies them to its models as they come)."""

    def set(self, position: int, job: int, record_id: str | None, created: bool) -> None: ...

    def set_failed(
        self,
        position: int,
        job: int,
        record_id: str | None,
        error: ErrorDetail,
        echoed: Mapping[str, str] | None = None,
    ) -> None: ...

    def set_unprocessed(self, position: int, job: int) -> None: ...


class IngestRun:
    """One ingest operation: its uploads, their jobs and the results.

    Records are pushed one at a time (``add``), each upload going out as its own job once
    full; ``close`` sends the last one, ``wait`` polls the jobs, ``read_results`` hands each
    record's outcome to a ``ResultSink``. ``run`` does it all for an iterable. (The session's
    streamed writes push records of several kinds into several runs at once.)
    """

    def __init__(
        self,
        sf: Salesforce,
        sobject: str,
        operation: str,
        external_id_field: str | None,
        delimiter: str,
        line_ending: str,
        limit: int,
        polling: _Polling,
    ) -> None:
        self.sf = sf
        self.sobject = sobject
        self.operation = operation
        self.external_id_field = external_id_field
        self.delimiter = delimiter
        self.line_ending = line_ending
        self.limit = limit
        self.polling = polling
        self.uploads: list[_Upload] = []
        self.count = 0  # records added
        self.tally = _Tally()
        self.deadline = anyio.current_time() + polling.timeout
        self._writer: BatchWriter | None = None

    @property
    def job_ids(self) -> list[str]:
        return [u.job_id for u in self.uploads]

    @property
    def uploaded(self) -> int:
        """Records in the uploads begun so far: those Salesforce may have (positions below)."""
        return sum(u.writer.rows for u in self.uploads)

    async def run(self, records: Iterable[Any] | AsyncIterable[Any]) -> BulkIngestResult:
        try:
            async with aclosing(each_record(records)) as items:
                async for record in items:
                    await self.add(record)
            await self.close()
            await self.wait()
        except BaseException:
            await self.abort()
            raise
        results = BulkResults(self.count, self.job_ids)
        await self.read_results(results)
        result = BulkIngestResult(self.jobs, results, self.tally.calls)
        failed = self.failed_job(result)
        if failed is not None:
            raise failed
        return result

    async def add(self, record: Any) -> None:
        """Append a record to the current upload; a full one (or one whose header lacks a
        field of the record) is sent as its own job first."""
        columns = self._columns(record)
        self.count += 1
        writer = self._writer
        if writer is not None and writer.fits_columns(columns) and writer.add(columns):
            return
        header = list(columns)
        if writer is not None:
            # The next upload keeps the fields seen so far (an empty value leaves a field
            # alone), so records that alternate between two sets of fields make two jobs,
            # not one per switch.
            header = writer.header + [name for name in columns if name not in writer.header]
            self._writer = None
            await self._upload(writer)
        self._writer = BatchWriter(
            header, self.delimiter, self.line_ending, self.limit, self.count - 1
        )
        self._writer.add(columns)

    async def close(self) -> None:
        """Send the last upload."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await self._upload(writer)

    async def wait(self) -> None:
        """Poll every job until it is terminal (``BulkJobTimeoutError`` past the timeout)."""
        for upload in self.uploads:
            if upload.job is None or not upload.job.done:
                upload.job = await _wait(
                    self.sf, upload.job_id, False, self.polling, self.deadline, self.tally
                )

    async def abort(self) -> None:
        """Abort the jobs that have not finished (on the way out of a cancelled or failed
        operation)."""
        unfinished = [u.job_id for u in self.uploads if u.job is None or not u.job.done]
        await _abort_quietly(self.sf, unfinished, False)

    @property
    def jobs(self) -> list[BulkJob]:
        return [u.job for u in self.uploads if u.job is not None]

    def failed_job(self, result: Any = None) -> BulkJobError | None:
        """The error of the first job that did not complete, if any."""
        for upload in self.uploads:
            assert upload.job is not None
            if upload.job.state != "JobComplete":
                return _job_error(upload.job, result)
        return None

    def _columns(self, record: Any) -> dict[str, Any]:
        if self.operation in ("delete", "hardDelete"):
            if isinstance(record, str):
                return {"Id": record}
            if isinstance(record, Mapping) and record.get("Id"):
                return {"Id": record["Id"]}
            raise ConfigurationError(
                f"a {self.operation} record is an id or a dict with an Id, got {record!r}"
            )
        if not isinstance(record, Mapping):
            raise ConfigurationError(f"a record is a dict of field values, got {record!r}")
        columns = flatten(record)
        if self.operation == "update" and not columns.get("Id"):
            raise ConfigurationError(f"an update record needs its Id: {record!r}")
        return columns

    async def _upload(self, writer: BatchWriter) -> None:
        body: dict[str, Any] = {
            "object": self.sobject,
            "operation": self.operation,
            "contentType": "CSV",
            "columnDelimiter": self.delimiter,
            "lineEnding": self.line_ending,
        }
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        self.tally.calls += 3  # create, upload, close
        info = await self.sf.request_json("POST", "jobs/ingest", json=body)
        job_id = str(info["id"])
        self.uploads.append(_Upload(job_id, writer))
        await self.sf._request(
            "PUT",
            f"jobs/ingest/{job_id}/batches",
            content=writer.take_data(),
            headers={"Content-Type": _CSV},
            idempotent=False,  # a second upload to the same job is refused
        )
        closed = await self.sf.request_json(
            "PATCH", f"jobs/ingest/{job_id}", json={"state": "UploadComplete"}
        )
        await _emit(self.sf, BulkJob.from_json(closed), writer.rows)

    async def read_results(self, sink: ResultSink) -> None:
        """Every record's outcome, job by job, into ``sink`` (each result file is read and
        let go before the next)."""
        for number, upload in enumerate(self.uploads):
            await self._read_results(number, upload, sink)

    async def _read_results(self, number: int, upload: _Upload, sink: ResultSink) -> None:
        job_id = upload.job_id
        matcher = upload.writer.matcher()
        upload.writer.hashes = array("q")  # the matcher has its own copy
        for resource in ("successfulResults", "failedResults", "unprocessedrecords"):
            self.tally.calls += 1
            response = await self.sf.request(
                "GET", f"jobs/ingest/{job_id}/{resource}/", headers={"Accept": _CSV}
            )
            rows = read_csv_rows(response.content, self.delimiter, self.line_ending)
            header = next(rows, None)
            if header is None:
                continue
            skip = 0 if resource == "unprocessedrecords" else 2
            for row in rows:
                position = matcher.take(row[skip:])
                if position is None:
                    continue  # not one of ours (cannot happen unless values were altered)
                if resource == "successfulResults":
                    sink.set(position, number, row[0] or None, row[1].lower() == "true")
                elif resource == "failedResults":
                    echoed = dict(zip(header[2:], row[2:], strict=False))
                    sink.set_failed(
                        position, number, row[0] or None, parse_row_error(row[1]), echoed
                    )
                else:
                    sink.set_unprocessed(position, number)
            del response, rows
        for position in matcher.untaken():  # rows no result file named: not processed
            sink.set_unprocessed(position, number)
        del matcher


class BulkResults(Sequence[BulkRecordResult]):
    """Every input record's outcome, in input order: a sequence of ``BulkRecordResult``.

    Stored compactly (an id and a byte of flags per record, errors only for failures) and
    made into objects as they are read, so a million outcomes cost tens of megabytes, not
    hundreds.
    """

    __slots__ = ("_errors", "_flags", "_ids", "_job_ids", "_jobs")

    _SUCCESS, _CREATED_KNOWN, _CREATED, _PROCESSED = 1, 2, 4, 8

    def __init__(self, count: int, job_ids: Sequence[str]) -> None:
        self._ids: list[str | None] = [None] * count
        self._flags = bytearray(count)
        self._jobs = array("I", [0]) * count  # the job (its number) of each record
        self._errors: dict[int, tuple[ErrorDetail, ...]] = {}
        self._job_ids = list(job_ids)

    def set(self, position: int, job: int, record_id: str | None, created: bool) -> None:
        self._ids[position] = record_id
        self._jobs[position] = job
        flags = self._SUCCESS | self._PROCESSED | self._CREATED_KNOWN
        self._flags[position] = flags | (self._CREATED if created else 0)

    def set_failed(
        self,
        position: int,
        job: int,
        record_id: str | None,
        error: ErrorDetail,
        echoed: Mapping[str, str] | None = None,
    ) -> None:
        del echoed  # the row as sent: the caller has its records
        self._ids[position] = record_id
        self._jobs[position] = job
        self._flags[position] = self._PROCESSED
        self._errors[position] = (error,)

    def set_unprocessed(self, position: int, job: int) -> None:
        self._ids[position] = None
        self._jobs[position] = job
        self._flags[position] = 0

    def __len__(self) -> int:
        return len(self._flags)

    @overload
    def __getitem__(self, index: int) -> BulkRecordResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[BulkRecordResult]: ...

    def __getitem__(self, index: int | slice) -> BulkRecordResult | list[BulkRecordResult]:
        if isinstance(index, slice):
            return [self._make(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("result index out of range")
        return self._make(index)

    def __iter__(self) -> Iterator[BulkRecordResult]:
        for index in range(len(self)):
            yield self._make(index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        failed = sum(1 for f in self._flags if f & self._PROCESSED and not f & self._SUCCESS)
        unprocessed = sum(1 for f in self._flags if not f & self._PROCESSED)
        return f"BulkResults({len(self)} records, {failed} failed, {unprocessed} unprocessed)"

    def _make(self, index: int) -> BulkRecordResult:
        flags = self._flags[index]
        job_id = self._job_ids[self._jobs[index]] if self._job_ids else None
        return BulkRecordResult(
            index,
            self._ids[index],
            bool(flags & self._SUCCESS),
            bool(flags & self._CREATED) if flags & self._CREATED_KNOWN else None,
            self._errors.get(index, ()),
            bool(flags & self._PROCESSED),
            job_id,
        )


class BulkQuery:
    """A Bulk API 2.0 query job, read lazily: ``async for record in query`` or
    ``async for page in query.pages()``. ``job`` is its last known info."""

    def __init__(
        self,
        sf: Salesforce,
        soql: str,
        *,
        include_deleted: bool,
        page_size: int | None,
        column_delimiter: str,
        line_ending: str,
        polling: _Polling,
    ) -> None:
        self._sf = sf
        self.soql = soql
        self.include_deleted = include_deleted
        self.page_size = page_size
        self._delimiter = column_delimiter
        self._line_ending = line_ending
        self._polling = polling
        self.job: BulkJob | None = None

    def __repr__(self) -> str:
        return f"BulkQuery({self.soql!r})"

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._records()

    async def _records(self) -> AsyncIterator[dict[str, Any]]:
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                for record in page:
                    yield record

    async def all(self) -> list[dict[str, Any]]:
        """Every record in one list (memory grows with the result: prefer ``async for``)."""
        return [r async for r in self]

    async def pages(self) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The records a page (``page_size``, or the org's default) at a time."""
        async with aclosing(self.raw_pages()) as pages:
            async for header, rows in pages:
                yield [_record(header, row) for row in rows]

    async def raw_pages(self) -> AsyncGenerator[tuple[list[str], list[list[str]]], None]:
        """Each page's CSV header and rows, as text."""
        deadline = anyio.current_time() + self._polling.timeout
        body = {
            "operation": "queryAll" if self.include_deleted else "query",
            "query": self.soql,
            "columnDelimiter": self._delimiter,
            "lineEnding": self._line_ending,
        }
        info = await self._sf.request_json("POST", "jobs/query", json=body)
        job_id = str(info["id"])
        self.job = BulkJob.from_json(info)
        try:
            self.job = await _wait(self._sf, job_id, True, self._polling, deadline)
        except BaseException:
            await _abort_quietly(self._sf, [job_id], True)
            raise
        if self.job.state != "JobComplete":
            raise _job_error(self.job)
        locator: str | None = None
        while True:
            params: dict[str, str | int] = {}
            if self.page_size is not None:
                params["maxRecords"] = self.page_size
            if locator:
                params["locator"] = locator
            response = await self._sf.request(
                "GET", f"jobs/query/{job_id}/results", params=params, headers={"Accept": _CSV}
            )
            rows = list(read_csv_rows(response.content, self._delimiter, self._line_ending))
            if rows:
                yield rows[0], rows[1:]
            locator = response.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                return


def _record(header: Sequence[str], row: Sequence[str]) -> dict[str, Any]:
    """A result row as a record: empty values are ``None``, ``Account.Name`` nests."""
    record: dict[str, Any] = {}
    for name, value in zip(header, row, strict=False):
        target = record
        *parents, leaf = name.split(".")
        for parent in parents:
            nested = target.get(parent)
            if not isinstance(nested, dict):
                nested = target[parent] = {}
            target = nested
        target[leaf] = value if value != "" else None
    return record

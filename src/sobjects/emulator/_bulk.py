"""Bulk API 2.0 in the local org: ``jobs/ingest`` and ``jobs/query`` (salesforce-rest.md §10).

An ingest job is created ``Open``, takes its CSV in one ``PUT .../batches``, and is closed
with ``PATCH {"state": "UploadComplete"}``. A query job starts at ``UploadComplete``. From
there a worker thread of the org processes the job in the background: ``InProgress``, then
``JobComplete`` (or ``Failed``, or ``Aborted`` when the client aborts first), so clients poll
as they must against Salesforce. Ingest rows are written through the store's own insert,
update, upsert and delete, 200 per transaction as Salesforce chunks its DML, each row
succeeding or failing alone; results come back as CSV (``successfulResults``,
``failedResults``, ``unprocessedrecords``), query results a page at a time with
``Sforce-Locator`` and ``Sforce-NumberOfRecords``.

Where Salesforce's documentation names no error code, the local org answers with the Bulk
API's exception codes (``INVALIDJOB``, ``INVALIDJOBSTATE``) and says so in docs/local-org.md.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sobjects._ids import is_salesforce_id, to_18
from sobjects.emulator._bulk_csv import (
    DELIMITERS,
    LINE_ENDINGS,
    NULL,
    CsvInputError,
    read_csv,
    write_csv,
)
from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import FieldDef, SObjectDef
from sobjects.emulator._store import MultipleMatches, StoreClosed
from sobjects.emulator._values import format_datetime

if TYPE_CHECKING:
    from sobjects.emulator._org import LocalOrg
    from sobjects.emulator._rest import Reply

__all__ = ["MAX_UPLOAD_BYTES", "BulkJobs"]

# 150 MB per upload once Salesforce has base64-encoded it: about 112 MB of raw CSV.
MAX_UPLOAD_BYTES = 150 * 1024 * 1024 * 3 // 4
# Salesforce runs ingest DML 200 records per transaction.
CHUNK = 200
# Salesforce splits ingest data into internal batches of up to 10,000 records, each counted
# against DailyBulkApiBatches.
RECORDS_PER_BATCH = 10_000
# Query results pages when the client names no maxRecords (Salesforce does not document its
# default; the local org's choice).
DEFAULT_MAX_RECORDS = 50_000
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
DELETABLE = frozenset({"UploadComplete", "JobComplete", "Failed", "Aborted"})


@dataclass
class _Job:
    id: str
    kind: str  # "ingest" or "query"
    operation: str
    sobject: str
    version: str
    created_by: str | None
    created: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id: str | None = None
    query: str = ""
    state: str = "Open"
    modstamp: str = ""
    error_message: str | None = None
    upload: bytes | None = None
    processed: int = 0
    failed: int = 0
    started: float = 0.0
    processing_ms: int = 0
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)  # sf__Id, sf__Created, values
    failures: list[list[str]] = field(default_factory=list)  # sf__Id, sf__Error, values
    unprocessed: list[list[str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # query results
    rows: list[list[str]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """The job as ``GET jobs/ingest/{id}`` (or ``jobs/query/{id}``) answers it."""
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
        }
        if self.kind == "ingest":
            info["externalIdFieldName"] = self.external_id
        info.update(
            {
                "concurrencyMode": "Parallel",
                "contentType": "CSV",
                "apiVersion": float(self.version),
                "jobType": "V2Ingest" if self.kind == "ingest" else "V2Query",
                "lineEnding": self.line_ending,
                "columnDelimiter": self.delimiter,
            }
        )
        if self.kind == "ingest":
            info["contentUrl"] = f"services/data/v{self.version}/jobs/ingest/{self.id}/batches"
            info["numberRecordsFailed"] = self.failed
        info.update(
            {
                "numberRecordsProcessed": self.processed,
                "retries": 0,
                "totalProcessingTime": self.processing_ms,
            }
        )
        if self.kind == "ingest":
            info["apiActiveProcessingTime"] = self.processing_ms
            info["apexProcessingTime"] = 0
        if self.error_message is not None:
            info["errorMessage"] = self.error_message
        return info


class BulkJobs:
    """The org's Bulk API 2.0 jobs and the worker thread that processes them.

    ``pause()`` holds processing (jobs stay ``UploadComplete``) until ``resume()``; tests
    use it to abort a job before or while it runs. ``wait(job_id)`` blocks until a job is
    terminal.
    """

    def __init__(self, org: LocalOrg) -> None:
        self.org = org
        self._jobs: dict[str, _Job] = {}
        self._queue: list[str] = []
        self._wake = threading.Condition(threading.Lock())
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._counter = 0
        self.query_jobs = 0  # DailyBulkV2QueryJobs used
        self.batches = 0  # DailyBulkApiBatches used

    # -- controls ----------------------------------------------------------------------------

    def pause(self) -> None:
        """Stop processing between chunks until ``resume()``."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def wait(self, job_id: str, timeout: float = 30.0) -> str:
        """Block until the job is terminal; its state (``TimeoutError`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self._jobs.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job.state in TERMINAL:
                return job.state
            if time.monotonic() > deadline:
                raise TimeoutError(f"bulk job {job_id} is still {job.state}")
            time.sleep(0.005)

    def close(self) -> None:
        """Stop the worker thread (jobs in progress stay where they are)."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._running.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    # -- HTTP --------------------------------------------------------------------------------

    def dispatch(
        self, method: str, version: str, rest: list[str], query: Mapping[str, str], body: Any
    ) -> Reply:
        """``jobs/ingest...`` or ``jobs/query...`` (``rest`` follows ``jobs/``)."""
        from sobjects.emulator._rest import Reply

        if not rest or rest[0] not in ("ingest", "query"):
            raise ApiError.not_found()
        kind, rest = rest[0], rest[1:]
        if not rest:
            if method == "POST":
                return Reply(200, self._create(kind, version, body).info())
            if method == "GET":
                return Reply(200, self._list(kind))
            raise _method_not_allowed(method, "GET,POST")
        job = self._jobs.get(rest[0])
        if job is None or job.kind != kind:
            raise ApiError.not_found()
        if len(rest) == 1:
            if method == "GET":
                return Reply(200, job.info())
            if method == "PATCH":
                return Reply(200, self._set_state(job, body).info())
            if method == "DELETE":
                if job.state not in DELETABLE:
                    raise _job_state(f"Job {job.id} cannot be deleted while it is {job.state}")
                del self._jobs[job.id]
                return Reply(204)
            raise _method_not_allowed(method, "GET,PATCH,DELETE")
        if len(rest) != 2:
            raise ApiError.not_found()
        resource = rest[1]
        if kind == "ingest" and resource == "batches":
            if method != "PUT":
                raise _method_not_allowed(method, "PUT")
            self._upload(job, body)
            return Reply(201)
        if method != "GET":
            raise _method_not_allowed(method, "GET")
        if kind == "query" and resource == "results":
            return self._query_results(job, version, query)
        if kind == "ingest" and resource in (
            "successfulResults",
            "failedResults",
            "unprocessedrecords",
        ):
            return self._ingest_results(job, resource)
        raise ApiError.not_found()

    # -- jobs ----------------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._counter += 1
        return to_18("7505e" + _base62(self._counter, 10))

    def _now(self) -> str:
        return format_datetime(self.org.store.clock())

    def _create(self, kind: str, version: str, body: Any) -> _Job:
        if not isinstance(body, Mapping):
            raise ApiError(400, "JSON_PARSER_ERROR", "The job definition must be a JSON object")
        delimiter = _enum(body, "columnDelimiter", DELIMITERS, "COMMA")
        line_ending = _enum(body, "lineEnding", LINE_ENDINGS, "LF")
        content_type = body.get("contentType", "CSV")
        if content_type != "CSV":
            raise ApiError(400, "INVALIDJOB", f"Unsupported content type: {content_type}")
        if kind == "query":
            return self._create_query(version, body, delimiter, line_ending)
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise ApiError(
                400,
                "INVALIDJOB",
                f"Invalid operation: {operation}. Use one of {', '.join(OPERATIONS)}",
            )
        name = body.get("object")
        sobject = self.org.schema.get(name) if isinstance(name, str) else None
        if sobject is None:
            raise ApiError(400, "INVALIDJOB", f"Unable to find object: {name}")
        external_id = body.get("externalIdFieldName")
        if operation == "upsert":
            if not isinstance(external_id, str) or not external_id:
                raise ApiError(
                    400, "INVALIDJOB", "External ID field is required for upsert operations"
                )
            fd = sobject.field(external_id)
            if fd is None or not (fd.name == "Id" or fd.external_id or fd.describe.get("idLookup")):
                raise ApiError(
                    400,
                    "INVALIDJOB",
                    f"The field {external_id} is not an external id field of {sobject.name}",
                )
            external_id = fd.name
        elif external_id is not None:
            raise ApiError(
                400, "INVALIDJOB", "externalIdFieldName is only allowed for upsert operations"
            )
        now = self._now()
        job = _Job(
            self._new_id(),
            "ingest",
            operation,
            sobject.name,
            version,
            self.org.store.admin_user_id,
            now,
            delimiter,
            line_ending,
            external_id,
        )
        self._jobs[job.id] = job
        return job

    def _create_query(
        self, version: str, body: Mapping[str, Any], delimiter: str, line_ending: str
    ) -> _Job:
        operation = body.get("operation", "query")
        if operation not in QUERY_OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        soql = body.get("query")
        if not isinstance(soql, str) or not soql.strip():
            raise ApiError(400, "INVALIDJOB", "A query is required for a query job")
        from sobjects.emulator.soql import parse

        parsed = parse(soql)  # a malformed query is refused now, as Salesforce does
        _check_bulk_query(parsed)
        sobject = self.org.schema.get(parsed.sobject)
        if sobject is None:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"sObject type '{parsed.sobject}' is not supported.",
            )
        if self.query_jobs >= _limit("DailyBulkV2QueryJobs"):
            raise ApiError(
                400, "LIMIT_EXCEEDED", "Exceeded the maximum number of Bulk API 2.0 query jobs"
            )
        self.query_jobs += 1
        job = _Job(
            self._new_id(),
            "query",
            operation,
            sobject.name,
            version,
            self.org.store.admin_user_id,
            self._now(),
            delimiter,
            line_ending,
            query=soql,
            state="UploadComplete",
        )
        self._jobs[job.id] = job
        self._enqueue(job)
        return job

    def _list(self, kind: str) -> dict[str, Any]:
        return {
            "done": True,
            "records": [j.info() for j in self._jobs.values() if j.kind == kind],
            "nextRecordsUrl": None,
        }

    def _upload(self, job: _Job, body: Any) -> None:
        if job.state != "Open":
            raise _job_state(f"Job {job.id} is {job.state}: data can be uploaded only while Open")
        if job.upload is not None:
            raise _job_state(
                f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / "
                "'Delete' the current Job then create a new Job and make sure you only do "
                "'PUT' once on a given Job."
            )
        if not isinstance(body, bytes | bytearray) or not body:
            raise ApiError(400, "INVALIDJOB", "The upload must be CSV data (text/csv)")
        job.upload = bytes(body)
        job.modstamp = self._now()

    def _set_state(self, job: _Job, body: Any) -> _Job:
        state = body.get("state") if isinstance(body, Mapping) else None
        if state == "UploadComplete" and job.kind == "ingest":
            if job.state != "Open":
                raise _job_state(f"Job {job.id} is {job.state}: only an Open job can be closed")
            job.state = "UploadComplete"
            job.modstamp = self._now()
            self._enqueue(job)
            return job
        if state == "Aborted":
            if job.state in TERMINAL:
                raise _job_state(f"Job {job.id} is {job.state}: it cannot be aborted")
            job.state = "Aborted"
            job.modstamp = self._now()
            return job
        raise ApiError(
            400,
            "INVALIDJOB",
            f"Invalid state: {state}. A job's state can be set to "
            + ("UploadComplete or Aborted" if job.kind == "ingest" else "Aborted"),
        )

    # -- results -------------------------------------------------------------------------------

    def _ingest_results(self, job: _Job, resource: str) -> Reply:
        from sobjects.emulator._rest import Reply

        if job.state not in TERMINAL:
            raise _job_state(f"Job {job.id} is {job.state}: results are ready once it completes")
        if resource == "successfulResults":
            header, rows = ["sf__Id", "sf__Created", *job.header], job.successful
        elif resource == "failedResults":
            header, rows = ["sf__Id", "sf__Error", *job.header], job.failures
        else:
            if job.state == "Aborted" and not job.header and job.upload:
                self._unprocessed_upload(job)
            header, rows = job.header, job.unprocessed
        data = write_csv(header, rows, job.delimiter, job.line_ending) if header else b""
        return Reply(200, data, {"Content-Type": "text/csv"})

    @staticmethod
    def _unprocessed_upload(job: _Job) -> None:
        """A job aborted before it started: every uploaded row is unprocessed."""
        try:
            job.header, job.unprocessed = read_csv(
                job.upload or b"", job.delimiter, job.line_ending
            )
        except CsvInputError:
            return  # data that cannot be read has no rows to list
        job.upload = None

    def _query_results(self, job: _Job, version: str, query: Mapping[str, str]) -> Reply:
        from sobjects.emulator._rest import Reply

        if job.state != "JobComplete":
            raise _job_state(f"Job {job.id} is {job.state}: results are ready once it completes")
        if version != job.version:
            raise ApiError(
                409,
                "INVALIDJOBSTATE",
                f"The job was created in API version {job.version}: get its results in that "
                "version",
            )
        raw_max = query.get("maxRecords")
        if raw_max is None or raw_max == "":
            size = DEFAULT_MAX_RECORDS
        elif raw_max.isdigit() and int(raw_max) > 0:
            size = int(raw_max)
        else:
            raise ApiError(400, "INVALIDJOB", f"maxRecords must be a positive integer: {raw_max}")
        start = _read_locator(query.get("locator"), len(job.rows))
        end = min(start + size, len(job.rows))
        data = write_csv(job.columns, job.rows[start:end], job.delimiter, job.line_ending)
        locator = _locator(end) if end < len(job.rows) else "null"
        return Reply(
            200,
            data,
            {
                "Content-Type": "text/csv",
                "Sforce-Locator": locator,
                "Sforce-NumberOfRecords": str(end - start),
            },
        )

    # -- processing ----------------------------------------------------------------------------

    def _enqueue(self, job: _Job) -> None:
        with self._wake:
            self._queue.append(job.id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="sobjects-local-org-bulk", daemon=True
                )
                self._thread.start()
            self._wake.notify_all()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job_id = self._queue.pop(0)
            job = self._jobs.get(job_id)
            if job is None or job.state in TERMINAL:
                continue
            try:
                if job.kind == "ingest":
                    self._run_ingest(job)
                else:
                    self._run_query(job)
            except StoreClosed:
                self._fail(job, "InternalServerError : the local org is closed")
            except Exception as exc:  # a bug of the emulator: the job fails, the worker lives
                self._fail(job, f"InternalServerError : {exc}")

    def _fail(self, job: _Job, message: str) -> None:
        with self.org.store.lock:
            if job.state not in TERMINAL:
                job.state = "Failed"
                job.error_message = message
                job.modstamp = self._now()

    def _start(self, job: _Job) -> bool:
        with self.org.store.lock:
            if job.state != "UploadComplete":
                return False  # aborted while queued
            job.state = "InProgress"
            job.started = time.monotonic()
            job.modstamp = self._now()
            return True

    def _finish(self, job: _Job) -> None:
        with self.org.store.lock:
            job.processing_ms = int((time.monotonic() - job.started) * 1000)
            if job.state == "InProgress":
                job.state = "JobComplete"
            job.modstamp = self._now()

    def _run_query(self, job: _Job) -> None:
        if not self._start(job):
            return
        self._running.wait()
        if job.state != "InProgress":
            return  # aborted while held
        from sobjects.emulator.soql import parse, run_query

        with self.org.store.lock:
            store = self.org.store
            output = run_query(
                job.query,
                store,
                api_version=job.version,
                include_deleted=job.operation == "queryAll",
                now=store.clock(),
            )
        paths = _select_paths(parse(job.query))
        job.columns = [".".join(p) for p in paths]
        job.rows = [[_csv_value(_walk(r, p)) for p in paths] for r in output.records]
        job.processed = len(job.rows)
        self._finish(job)

    def _run_ingest(self, job: _Job) -> None:
        if not self._start(job):
            return
        try:
            header, rows = read_csv(job.upload or b"", job.delimiter, job.line_ending)
            sobject = self.org.schema.require(job.sobject)
            columns = _columns(sobject, header, self.org.schema)
        except CsvInputError as exc:
            self._fail(job, str(exc))
            return
        except ApiError as exc:
            self._fail(job, exc.errors[0]["message"])
            return
        job.upload = None  # parsed: the raw bytes are no longer needed
        job.header = header
        with self.org.store.lock:
            self.batches += max(1, math.ceil(len(rows) / RECORDS_PER_BATCH))
        write = self._writer(job, sobject, columns)
        for start in range(0, len(rows), CHUNK):
            self._running.wait()
            chunk = rows[start : start + CHUNK]
            with self.org.store.lock:
                if job.state != "InProgress":  # aborted: the rest is never attempted
                    job.unprocessed = rows[start:]
                    break
                with self.org.store.transaction():
                    for row in chunk:
                        self._apply(job, write, columns, header, row)
                job.processed += len(chunk)
            time.sleep(0)  # let requests take the lock between chunks
        self._finish(job)

    def _apply(
        self,
        job: _Job,
        write: Callable[[dict[str, Any]], tuple[str, bool]],
        columns: list[_Column],
        header: list[str],
        row: list[str],
    ) -> None:
        if len(row) != len(header):
            job.failed += 1
            message = f"INVALID_FIELD:The row has {len(row)} values for {len(header)} columns:--"
            job.failures.append(["", message, *row])
            return
        data: dict[str, Any] = {}
        for column, value in zip(columns, row, strict=True):
            if value == "":
                continue  # an empty value leaves the field as it is
            column.put(data, None if value == NULL else value)
        given = data.get("Id")
        try:
            with self.org.store.transaction():
                record_id, created = write(data)
        except ApiError as exc:
            job.failed += 1
            known = given if isinstance(given, str) and is_salesforce_id(given) else ""
            job.failures.append([to_18(known) if known else "", _error_text(exc), *row])
            return
        except MultipleMatches as exc:
            job.failed += 1
            message = (
                f"DUPLICATE_EXTERNAL_ID:{job.external_id}: more than one record found for "
                f"external id field: {exc.ids}:{job.external_id} --"
            )
            job.failures.append(["", message, *row])
            return
        job.successful.append([record_id, "true" if created else "false", *row])

    def _writer(
        self, job: _Job, sobject: SObjectDef, columns: list[_Column]
    ) -> Callable[[dict[str, Any]], tuple[str, bool]]:
        store, faults = self.org.store, self.org.faults

        def record_id(data: dict[str, Any], call: str) -> str:
            value = data.pop("Id", None)
            if not value:
                raise ApiError(400, "MISSING_ARGUMENT", f"Id not specified in {call} call", ["Id"])
            if not is_salesforce_id(str(value)):
                raise ApiError(
                    400, "MALFORMED_ID", f"{sobject.name} ID: invalid id: {value}", ["Id"]
                )
            return to_18(str(value))

        def insert(data: dict[str, Any]) -> tuple[str, bool]:
            faults.check_create_lock(sobject.name)
            return store.insert(sobject, data), True

        def update(data: dict[str, Any]) -> tuple[str, bool]:
            target = record_id(data, "an update")
            faults.check_lock(target)
            store.update(sobject, target, data)
            return target, False

        def delete(data: dict[str, Any], *, hard: bool = False) -> tuple[str, bool]:
            target = record_id(data, "a delete")
            faults.check_lock(target)
            store.retrieve(sobject, target)  # ENTITY_IS_DELETED / NOT_FOUND first
            store.delete(sobject, target, hard=hard)
            return target, False

        def hard_delete(data: dict[str, Any]) -> tuple[str, bool]:
            # Past the recycle bin: queryAll no longer sees the record. (Children a cascade
            # deletes go to the recycle bin.)
            return delete(data, hard=True)

        def upsert(data: dict[str, Any]) -> tuple[str, bool]:
            name = job.external_id or "Id"
            if name == "Id":
                if not data.get("Id"):
                    data.pop("Id", None)
                    return insert(data)
                return update(data)
            value = data.pop(name, None)
            if value is None:
                raise ApiError(400, "REQUIRED_FIELD_MISSING", f"Missing external id {name}", [name])
            fd = store.external_id_field(sobject, name)
            matches = store.find(sobject, fd, value)
            for match in matches:
                faults.check_lock(match["Id"])
            if not matches:
                faults.check_create_lock(sobject.name)
            result: tuple[str, bool] = store.upsert(sobject, name, str(value), data)
            return result

        writers = {
            "insert": insert,
            "update": update,
            "upsert": upsert,
            "delete": delete,
            "hardDelete": hard_delete,
        }
        return writers[job.operation]


# -- columns ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    """One header column: a field, or a parent by external id (``Account.Ext__c``)."""

    name: str  # the field's canonical name, or the relationship's
    parent_field: str | None = None
    parent_type: str | None = None

    def put(self, data: dict[str, Any], value: str | None) -> None:
        if self.parent_field is None:
            data[self.name] = value
        elif value is not None:
            data[self.name] = {
                "attributes": {"type": self.parent_type},
                self.parent_field: value,
            }
        else:
            data[self.name] = None


def _columns(sobject: SObjectDef, header: list[str], schema: Any) -> list[_Column]:
    """The header checked against the object: an unknown name fails the whole job."""
    columns: list[_Column] = []
    seen: set[str] = set()
    for name in header:
        if name.lower() in seen:
            raise ApiError(400, "INVALIDBATCH", f"InvalidBatch : Duplicate field name: {name}")
        seen.add(name.lower())
        relationship, dot, parent_field = name.partition(".")
        if not dot:
            fd = sobject.field(name)
            if fd is None:
                raise _field_not_found(name)
            columns.append(_Column(fd.name))
            continue
        # "Owner:User.Ext__c" names the parent's type for a polymorphic lookup.
        relationship, _, parent_type = relationship.partition(":")
        ref: FieldDef | None = sobject.relationship(relationship)
        if ref is None or not ref.reference_to:
            raise _field_not_found(name)
        parent = schema.get(parent_type or ref.reference_to[0])
        if parent is None or parent.name not in ref.reference_to:
            raise _field_not_found(name)
        target = parent.field(parent_field)
        if target is None or not (
            target.name == "Id" or target.external_id or target.describe.get("idLookup")
        ):
            raise _field_not_found(name)
        if target.name == "Id":
            columns.append(_Column(ref.name))  # Account.Id is the lookup itself
        else:
            columns.append(_Column(ref.relationship_name or "", target.name, parent.name))
    return columns


def _field_not_found(name: str) -> ApiError:
    return ApiError(400, "INVALIDBATCH", f"InvalidBatch : Field name not found : {name}")


def _error_text(exc: ApiError) -> str:
    """``CODE:message:fields --``, as ``sf__Error`` carries a row's failure."""
    first = exc.errors[0]
    fields = ",".join(first.get("fields") or [])
    return f"{first['errorCode']}:{first['message']}:{fields} --"


# -- queries ---------------------------------------------------------------------------------


def _check_bulk_query(parsed: Any) -> None:
    """What Bulk API 2.0 queries do not support (salesforce-rest.md §10.2)."""
    from sobjects.emulator.soql._ast import FieldPath, SelectExpr

    problem = None
    if parsed.group_by:
        problem = "GROUP BY"
    elif parsed.offset is not None:
        problem = "OFFSET"
    for item in parsed.select:
        if not isinstance(item, SelectExpr):
            problem = problem or "child subqueries and TYPEOF"
        elif not isinstance(item.expr, FieldPath):
            problem = problem or "functions and aggregates"
    if problem is not None:
        raise ApiError(400, "API_ERROR", f"Bulk API 2.0 queries do not support {problem}")


def _select_paths(parsed: Any) -> list[tuple[str, ...]]:
    names: list[tuple[str, ...]] = []
    alias = (parsed.alias or "").lower()
    for item in parsed.select:
        path = tuple(item.expr.names)
        if alias and len(path) > 1 and path[0].lower() == alias:
            path = path[1:]
        names.append(path)
    return names


def _walk(record: Mapping[str, Any] | None, path: tuple[str, ...]) -> Any:
    value: Any = record
    for name in path:
        if not isinstance(value, Mapping):
            return None
        key = next((k for k in value if k.lower() == name.lower()), None)
        value = value.get(key) if key is not None else None
    return value


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _read_locator(locator: str | None, total: int) -> int:
    if not locator or locator == "null":
        return 0
    try:
        offset = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError:
        offset = -1
    if not 0 < offset <= total:
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
    return offset


# -- helpers ---------------------------------------------------------------------------------


def _enum(body: Mapping[str, Any], key: str, allowed: Mapping[str, str], default: str) -> str:
    value = body.get(key, default)
    if value not in allowed:
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize {key} from value {value}: use one of {', '.join(allowed)}",
        )
    return str(value)


def _job_state(message: str) -> ApiError:
    return ApiError(409, "INVALIDJOBSTATE", message)


def _method_not_allowed(method: str, allowed: str) -> ApiError:
    return ApiError(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}"
    )


def _limit(name: str) -> int:
    from sobjects.emulator._limits import maximum

    return maximum(name)


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, digit = divmod(n, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))

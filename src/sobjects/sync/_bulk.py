"""``sf.bulk`` for blocking code: Bulk API 2.0 jobs through the async client's own ``BulkAPI``
on the client's loop thread (see ``sobjects.client.BulkAPI`` for what each call does)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sobjects.client._bulk import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    BulkIngestResult,
    BulkJob,
    IngestOperation,
)
from sobjects.client._bulk import BulkQuery as AsyncBulkQuery

if TYPE_CHECKING:
    from sobjects.sync._client import Salesforce

__all__ = ["BulkAPI", "BulkQuery"]


class BulkAPI:
    """``sf.bulk``: Bulk API 2.0 ingest and query jobs, blocking.

    Records may be any iterable (a generator reads lazily, as with the async client; it is
    advanced on the client's loop thread).

    >>> def load(sf: Salesforce) -> None:
    ...     result = sf.bulk.insert("Contact", ({"LastName": f"C{i}"} for i in range(5000)))
    ...     print(len(result.successful), [r.errors for r in result.failed])
    """

    def __init__(self, client: Salesforce) -> None:
        self._client = client
        self._loop = client._loop
        self._api = client.async_client.bulk

    def insert(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        **options: Any,
    ) -> BulkIngestResult:
        """Insert records (see ``ingest`` for the options)."""
        return self._loop.call(self._api.insert, sobject, records, **options)

    def update(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        **options: Any,
    ) -> BulkIngestResult:
        """Update records by ``Id`` (see ``ingest``)."""
        return self._loop.call(self._api.update, sobject, records, **options)

    def upsert(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        *,
        external_id_field: str,
        **options: Any,
    ) -> BulkIngestResult:
        """Insert or update records matched by ``external_id_field`` (see ``ingest``)."""
        return self._loop.call(
            self._api.upsert, sobject, records, external_id_field=external_id_field, **options
        )

    def delete(
        self, sobject: str, records: Iterable[Any] | AsyncIterable[Any], **options: Any
    ) -> BulkIngestResult:
        """Delete records: ids, or dicts with an ``Id`` (see ``ingest``)."""
        return self._loop.call(self._api.delete, sobject, records, **options)

    def hard_delete(
        self, sobject: str, records: Iterable[Any] | AsyncIterable[Any], **options: Any
    ) -> BulkIngestResult:
        """Delete records for good, bypassing the recycle bin (see ``ingest``)."""
        return self._loop.call(self._api.hard_delete, sobject, records, **options)

    def ingest(
        self,
        sobject: str,
        operation: IngestOperation,
        records: Iterable[Any] | AsyncIterable[Any],
        *,
        external_id_field: str | None = None,
        column_delimiter: str = "COMMA",
        line_ending: str = "LF",
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> BulkIngestResult:
        """Run ``operation`` over ``records`` as Bulk API 2.0 jobs and return each record's
        outcome (see ``sobjects.client.BulkAPI.ingest``)."""
        return self._loop.call(
            self._api.ingest,
            sobject,
            operation,
            records,
            external_id_field=external_id_field,
            column_delimiter=column_delimiter,
            line_ending=line_ending,
            max_upload_bytes=max_upload_bytes,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )

    def job(self, job_id: str, *, query: bool = False) -> BulkJob:
        """A job's current info."""
        return self._loop.call(self._api.job, job_id, query=query)

    def abort(self, job_id: str, *, query: bool = False) -> BulkJob:
        """Abort a job that has not finished."""
        return self._loop.call(self._api.abort, job_id, query=query)

    def delete_job(self, job_id: str, *, query: bool = False) -> None:
        """Delete a finished job and its results from the org."""
        self._loop.call(self._api.delete_job, job_id, query=query)

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
        """A Bulk API 2.0 query job; iterate it with ``for`` (records as dicts), or
        ``.pages()``. Nothing is sent until it is iterated."""
        query = self._api.query(
            soql,
            include_deleted=include_deleted,
            page_size=page_size,
            column_delimiter=column_delimiter,
            line_ending=line_ending,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )
        return BulkQuery(self._client, query)


class BulkQuery:
    """A Bulk API 2.0 query job as a blocking iterator, one page in memory at a time."""

    def __init__(self, client: Salesforce, query: AsyncBulkQuery) -> None:
        self._loop = client._loop
        self.async_query = query

    @property
    def soql(self) -> str:
        return self.async_query.soql

    @property
    def job(self) -> BulkJob | None:
        """The job's info once it was created (and after it finished)."""
        return self.async_query.job

    def __repr__(self) -> str:
        return f"BulkQuery({self.soql!r})"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for page in self.pages():
            yield from page

    def all(self) -> list[dict[str, Any]]:
        """Every record in one list (memory grows with the result: prefer ``for``)."""
        return self._loop.call(self.async_query.all)

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """The records a page at a time."""
        return self._loop.iterate(self.async_query.pages())

    def raw_pages(self) -> Iterator[tuple[list[str], list[list[str]]]]:
        """Each page's CSV header and rows, as text."""
        return self._loop.iterate(self.async_query.raw_pages())

"""SOQL queries that follow ``nextRecordsUrl`` so callers see one stream of records.

Pages are fetched lazily, one at a time, so memory stays bounded by the batch size however
many rows match. Child-relationship subqueries that Salesforce cut short (``done: false``)
are completed before their parent record is handed out.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar
from urllib.parse import urlencode

from sobjects.errors import ConfigurationError, ErrorDetail, ResponseError

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce

__all__ = ["DecodedPage", "QueryResult", "decode_json_page"]

T = TypeVar("T")


class DecodedPage(NamedTuple, Generic[T]):
    """One page of query results as a caller's decoder made it from the body's bytes."""

    records: list[T]
    total_size: int
    next_records_url: str | None
    done: bool


MIN_BATCH_SIZE = 200
MAX_BATCH_SIZE = 2000
MAX_URI_BYTES = 16_384


class QueryResult:
    """The records of a SOQL query, as an async iterator over every page.

    ``total_size`` is the number of matching rows, known once the first page arrived
    (``COUNT()`` queries report their count there). Each ``async for`` runs the query afresh.

    >>> async def demo(sf: Salesforce) -> None:
    ...     result = sf.query("SELECT Id, Name FROM Account", batch_size=500)
    ...     async for record in result:
    ...         print(record["Name"])
    ...     print(result.total_size)
    """

    def __init__(
        self,
        client: Salesforce,
        soql: str,
        *,
        include_deleted: bool = False,
        batch_size: int | None = None,
    ) -> None:
        if not isinstance(soql, str) or not soql.strip():
            raise ConfigurationError("soql must be a non-empty string")
        if batch_size is not None and not (
            isinstance(batch_size, int) and MIN_BATCH_SIZE <= batch_size <= MAX_BATCH_SIZE
        ):
            raise ConfigurationError(
                f"batch_size must be an integer from {MIN_BATCH_SIZE} to {MAX_BATCH_SIZE}, "
                f"got {batch_size!r}"
            )
        self._client = client
        self.soql = soql
        self.include_deleted = include_deleted
        self.batch_size = batch_size
        self.total_size: int | None = None

    def __repr__(self) -> str:
        return f"QueryResult({self.soql!r}, total_size={self.total_size!r})"

    @property
    def _headers(self) -> dict[str, str] | None:
        if self.batch_size is None:
            return None
        return {"Sforce-Query-Options": f"batchSize={self.batch_size}"}

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return _RecordIterator(self.pages())

    def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Iterate page by page (each a list of records), for callers that batch their work."""
        return _PageIterator[dict[str, Any]](self)

    def decoded_pages(self, decode: Callable[[bytes], DecodedPage[T]]) -> AsyncIterator[list[T]]:
        """Iterate page by page, each page's JSON body decoded by ``decode`` from the bytes
        Salesforce sent (no intermediate dicts: e.g. straight into models with pydantic).

        The decoder reports the paging keys; child subqueries cut short (``done: false``) are
        not completed here, so use ``pages()`` for queries that have them.
        """
        return _PageIterator(self, decode)

    async def all(self) -> list[dict[str, Any]]:
        """Every record in one list. Prefer ``async for`` when the result may be large."""
        return [record async for record in self]

    async def count(self) -> int:
        """The number of matching rows, from the first page (fetches it if needed)."""
        if self.total_size is None:
            async for _ in self.pages():
                break
        assert self.total_size is not None
        return self.total_size

    async def _first_page(self) -> bytes:
        resource = "queryAll" if self.include_deleted else "query"
        url_length = len(self._client.url_for(resource)) + len(urlencode({"q": self.soql})) + 1
        if url_length > MAX_URI_BYTES:
            # Salesforce would answer 414 (and still count the call): say so before sending.
            raise ConfigurationError(
                f"this query makes a {url_length}-byte URL, over Salesforce's {MAX_URI_BYTES}-"
                "byte limit; shorten it (e.g. split a long IN list into several queries)"
            )
        response = await self._client.request(
            "GET", resource, params={"q": self.soql}, headers=self._headers
        )
        return response.content

    async def _next_page(self, url: str) -> bytes:
        response = await self._client.request("GET", url, headers=self._headers)
        return response.content

    async def _next_page_json(self, url: str) -> dict[str, Any]:
        page: dict[str, Any] = await self._client.request_json("GET", url, headers=self._headers)
        return page

    async def complete_children(self, record: dict[str, Any]) -> None:
        """Fetch the remaining pages of any child subquery of ``record`` (this query's, or
        one its SOQL returned some other way, e.g. in a Composite subrequest) that came back
        with ``done: false``; they are appended to its ``records`` in place."""
        for value in record.values():
            if not (isinstance(value, dict) and isinstance(value.get("records"), list)):
                continue
            while not value.get("done", True) and value.get("nextRecordsUrl"):
                more = await self._next_page_json(str(value["nextRecordsUrl"]))
                value["records"].extend(more.get("records") or [])
                value["done"] = more.get("done", True)
                if more.get("nextRecordsUrl"):
                    value["nextRecordsUrl"] = more["nextRecordsUrl"]
                else:
                    value.pop("nextRecordsUrl", None)
            for child in value["records"]:
                if isinstance(child, dict):
                    await self.complete_children(child)


def decode_json_page(body: bytes) -> DecodedPage[dict[str, Any]]:
    """A query result's JSON body as records (dicts) and its paging keys."""
    try:
        page = json.loads(body) if body else {}
    except ValueError:
        page = body[:300]
    if not isinstance(page, dict):
        raise ResponseError(
            200,
            [ErrorDetail("UNEXPECTED_RESPONSE", f"not a query result: {page!r:.300}")],
            method="GET",
            url="query",
        )
    url = page.get("nextRecordsUrl")
    return DecodedPage(
        list(page.get("records") or []),
        int(page.get("totalSize", 0)),
        str(url) if url else None,
        bool(page.get("done", True)),
    )


class _PageIterator(Generic[T]):
    """Class-based rather than an async generator: nothing to finalise if the caller stops."""

    def __init__(
        self, result: QueryResult, decode: Callable[[bytes], DecodedPage[T]] | None = None
    ) -> None:
        self._result = result
        self._decode = decode
        self._next_url: str | None = None
        self._started = False
        self._done = False

    def __aiter__(self) -> _PageIterator[T]:
        return self

    async def __anext__(self) -> list[T]:
        if self._done:
            raise StopAsyncIteration
        if not self._started:
            body = await self._result._first_page()
        else:
            assert self._next_url is not None
            body = await self._result._next_page(self._next_url)
        if self._decode is not None:
            page = self._decode(body)
        else:
            page = decode_json_page(body)  # type: ignore[assignment]
            for record in page.records:
                await self._result.complete_children(record)  # type: ignore[arg-type]
        # The cursor moves only once the page is complete: after an error, calling again
        # fetches the same page rather than skipping it or ending the stream silently.
        self._started = True
        self._result.total_size = page.total_size
        self._next_url = page.next_records_url
        if page.done or not self._next_url:
            self._done = True
        return page.records


class _RecordIterator:
    def __init__(self, pages: AsyncIterator[list[dict[str, Any]]]) -> None:
        self._pages = pages
        self._buffer: list[dict[str, Any]] = []
        self._index = 0

    def __aiter__(self) -> _RecordIterator:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while self._index >= len(self._buffer):
            self._buffer = await self._pages.__anext__()
            self._index = 0
        record = self._buffer[self._index]
        self._index += 1
        return record

"""The blocking ``Salesforce`` client: the async client, driven from its own loop thread.

Every method here hands the async client's method to the loop and waits; none holds logic of
its own. Signatures mirror the async ones exactly (a test compares them), so that type checkers
see the same result types in both worlds.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from sobjects.client._client import (
    DEFAULT_API_VERSION,
    DEFAULT_CONCURRENCY_LIMIT,
    DEFAULT_TIMEOUT,
)
from sobjects.client._client import Salesforce as AsyncSalesforce
from sobjects.client._collections import CollectionResult
from sobjects.client._events import EventHooks
from sobjects.client._retry import DEFAULT_RETRY, RetryPolicy
from sobjects.client._sobject import UpsertResult
from sobjects.sync._loop import LoopThread, stop_quietly

if TYPE_CHECKING:
    from sobjects.auth import Auth
    from sobjects.client._budget import ApiUsage
    from sobjects.client._param_search import SearchIn, SearchObject
    from sobjects.client._query import QueryResult as AsyncQueryResult
    from sobjects.sync._bulk import BulkAPI
    from sobjects.sync._composite import CompositeAPI

__all__ = ["CollectionsAPI", "QueryResult", "SObjectAPI", "Salesforce"]


class Salesforce:
    """A blocking client for one Salesforce org: ``sobjects.Salesforce``, minus the ``await``.

    Takes the same arguments (``httpx_client``, if given, is an ``httpx.AsyncClient``: the
    requests run on the client's event loop thread). Close it with ``with`` or ``close()``.
    One client may be shared by many threads: their requests run concurrently, within
    ``concurrency_limit``. Event hooks (plain functions or ``async def``) run on the client's
    loop thread. A client started before ``os.fork()`` refuses to run in the child: make one
    per worker process.

    >>> from sobjects.auth import StaticToken
    >>> sf = Salesforce("https://acme.my.salesforce.com", auth=StaticToken("00D!token"))
    >>> sf.data_path
    '/services/data/v62.0'
    >>> sf.close()
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth,
        version: str = DEFAULT_API_VERSION,
        httpx_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        concurrency_limit: int = DEFAULT_CONCURRENCY_LIMIT,
        retry: RetryPolicy = DEFAULT_RETRY,
        event_hooks: EventHooks | None = None,
        api_reserve: int | None = None,
    ) -> None:
        self._setup(
            AsyncSalesforce(
                base_url,
                auth=auth,
                version=version,
                httpx_client=httpx_client,
                timeout=timeout,
                concurrency_limit=concurrency_limit,
                retry=retry,
                event_hooks=event_hooks,
                api_reserve=api_reserve,
            )
        )

    @classmethod
    def wrap(cls, client: AsyncSalesforce) -> Salesforce:
        """Drive an async client from blocking code, e.g. ``Salesforce.wrap(org.client())``
        for a local org. It must not be in use by another event loop: from now on its
        requests run on this client's loop thread, and ``close()`` closes it."""
        if not isinstance(client, AsyncSalesforce):
            raise TypeError(f"wrap() takes an sobjects.Salesforce, got {type(client).__name__}")
        self = cls.__new__(cls)
        self._setup(client)
        return self

    def _setup(self, client: AsyncSalesforce) -> None:
        self.async_client = client
        self._loop = LoopThread()
        self._sobject: SObjectAPI | None = None
        self._collections: CollectionsAPI | None = None
        self._bulk: BulkAPI | None = None
        self._composite: CompositeAPI | None = None
        # A client nobody closed still stops its loop thread once garbage-collected.
        self._finalizer = weakref.finalize(self, stop_quietly, self._loop)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Salesforce:
        self.async_client._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the async client (as ``aclose()``), then stop the loop thread. Twice is fine."""
        if self._loop.closed:
            return
        if self._loop.forked:  # the connections are the parent's to close, not this child's
            self._loop.close()
            self._finalizer.detach()
            return
        try:
            self._loop.call(self.async_client.aclose)
        finally:
            self._loop.close()
            self._finalizer.detach()

    @property
    def is_closed(self) -> bool:
        return self._loop.closed or self.async_client.is_closed

    def __repr__(self) -> str:
        return f"sobjects.sync.{self.async_client!r}"

    # -- state (the async client's) --------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.async_client.base_url

    @property
    def version(self) -> str:
        return self.async_client.version

    @property
    def instance_url(self) -> str:
        return self.async_client.instance_url

    @property
    def data_path(self) -> str:
        return self.async_client.data_path

    @property
    def api_usage(self) -> ApiUsage | None:
        return self.async_client.api_usage

    @property
    def api_reserve(self) -> int | None:
        return self.async_client.api_reserve

    @api_reserve.setter
    def api_reserve(self, value: int | None) -> None:
        self.async_client.api_reserve = value

    @property
    def api_calls_in_flight(self) -> int:
        return self.async_client.api_calls_in_flight

    @property
    def api_calls_available(self) -> int | None:
        return self.async_client.api_calls_available

    def url_for(self, path: str) -> str:
        return self.async_client.url_for(path)

    # -- sub-APIs --------------------------------------------------------------------------

    @property
    def sobject(self) -> SObjectAPI:
        """Single-record operations: create, get, update, delete, upsert."""
        if self._sobject is None:
            self._sobject = SObjectAPI(self)
        return self._sobject

    @property
    def collections(self) -> CollectionsAPI:
        """sObject Collections: up to 200 records per call, chunked for you."""
        if self._collections is None:
            self._collections = CollectionsAPI(self)
        return self._collections

    @property
    def bulk(self) -> BulkAPI:
        """Bulk API 2.0: ingest jobs (insert, update, upsert, delete) and query jobs."""
        if self._bulk is None:
            from sobjects.sync._bulk import BulkAPI

            self._bulk = BulkAPI(self)
        return self._bulk

    @property
    def composite(self) -> CompositeAPI:
        """Composite (``sf.composite(...)``), Composite Batch (``sf.composite.batch(...)``),
        Composite Graph (``.graph()``) and sObject Tree (``.tree(...)``)."""
        if self._composite is None:
            from sobjects.sync._composite import CompositeAPI

            self._composite = CompositeAPI(self)
        return self._composite

    # -- resources -------------------------------------------------------------------------

    def query(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> QueryResult:
        """Run a SOQL query; iterate the result with ``for`` across every page (fetched one
        at a time, as you iterate)."""
        result = self.async_client.query(
            soql, include_deleted=include_deleted, batch_size=batch_size
        )
        return QueryResult(self, result)

    def search(self, sosl: str) -> list[dict[str, Any]]:
        """Run a SOSL search and return its ``searchRecords``."""
        return self._loop.call(self.async_client.search, sosl)

    def parameterized_search(
        self,
        q: str,
        *,
        sobjects: Sequence[str | SearchObject] = (),
        fields: Sequence[str] | None = None,
        in_: SearchIn | None = None,
        default_limit: int | None = None,
        overall_limit: int | None = None,
        offset: int | None = None,
        spell_correction: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Search without SOSL (see ``sobjects.Salesforce.parameterized_search``)."""
        return self._loop.call(
            self.async_client.parameterized_search,
            q,
            sobjects=sobjects,
            fields=fields,
            in_=in_,
            default_limit=default_limit,
            overall_limit=overall_limit,
            offset=offset,
            spell_correction=spell_correction,
        )

    def describe(self, sobject: str | None = None, *, refresh: bool = False) -> dict[str, Any]:
        """The global describe, or one sObject's describe (cached per client)."""
        return self._loop.call(self.async_client.describe, sobject, refresh=refresh)

    def limits(self) -> dict[str, Any]:
        """The org's limits as Salesforce reports them."""
        return self._loop.call(self.async_client.limits)

    def versions(self) -> list[dict[str, Any]]:
        """The API versions the org serves, oldest first."""
        return self._loop.call(self.async_client.versions)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        raise_for_status: bool = True,
        timeout: float | httpx.Timeout | None = None,
        cost: int | None = None,
    ) -> httpx.Response:
        """Send one authenticated request to any REST resource (see the async client)."""
        return self._loop.call(
            self.async_client.request,
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotent=idempotent,
            raise_for_status=raise_for_status,
            timeout=timeout,
            cost=cost,
        )

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and return the decoded JSON body (``None`` for an empty body)."""
        return self._loop.call(self.async_client.request_json, method, path, **kwargs)


class QueryResult:
    """The records of a SOQL query, as a blocking iterator over every page.

    ``total_size`` is known once the first page arrived. Each ``for`` runs the query afresh.
    """

    def __init__(self, client: Salesforce, result: AsyncQueryResult) -> None:
        self._loop = client._loop
        self.async_result = result

    @property
    def soql(self) -> str:
        return self.async_result.soql

    @property
    def total_size(self) -> int | None:
        return self.async_result.total_size

    def __repr__(self) -> str:
        return f"QueryResult({self.soql!r}, total_size={self.total_size!r})"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for page in self.pages():
            yield from page

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Iterate page by page (each a list of records)."""
        return self._loop.iterate(self.async_result.pages())

    def all(self) -> list[dict[str, Any]]:
        """Every record in one list. Prefer ``for`` when the result may be large."""
        return self._loop.call(self.async_result.all)

    def count(self) -> int:
        """The number of matching rows, from the first page (fetches it if needed)."""
        return self._loop.call(self.async_result.count)


class SObjectAPI:
    """``sf.sobject``: single-record operations (see ``sobjects.client.SObjectAPI``)."""

    def __init__(self, client: Salesforce) -> None:
        self._loop = client._loop
        self._api = client.async_client.sobject

    def create(
        self, sobject: str, data: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> str:
        """Create a record; returns its id."""
        return self._loop.call(self._api.create, sobject, data, headers=headers)

    def get(
        self,
        sobject: str,
        record_id: str,
        *,
        fields: Sequence[str] | None = None,
        external_id_field: str | None = None,
    ) -> dict[str, Any]:
        """Read one record (``fields``: which; all by default)."""
        return self._loop.call(
            self._api.get, sobject, record_id, fields=fields, external_id_field=external_id_field
        )

    def update(
        self,
        sobject: str,
        record_id: str,
        data: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Update the given fields of a record."""
        self._loop.call(self._api.update, sobject, record_id, data, headers=headers)

    def delete(self, sobject: str, record_id: str, *, external_id_field: str | None = None) -> None:
        """Delete a record."""
        self._loop.call(self._api.delete, sobject, record_id, external_id_field=external_id_field)

    def upsert(
        self,
        sobject: str,
        data: Mapping[str, Any],
        *,
        external_id_field: str,
        headers: Mapping[str, str] | None = None,
    ) -> UpsertResult:
        """Insert or update a record matched by ``external_id_field``."""
        return self._loop.call(
            self._api.upsert, sobject, data, external_id_field=external_id_field, headers=headers
        )


class CollectionsAPI:
    """``sf.collections``: many records per call (see ``sobjects.client.CollectionsAPI``)."""

    def __init__(self, client: Salesforce) -> None:
        self._loop = client._loop
        self._api = client.async_client.collections

    def create(
        self, sobject: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[CollectionResult]:
        """Insert records (none may carry an Id)."""
        return self._loop.call(self._api.create, sobject, records, all_or_none=all_or_none)

    def update(
        self, sobject: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[CollectionResult]:
        """Update records; each must carry its ``Id``."""
        return self._loop.call(self._api.update, sobject, records, all_or_none=all_or_none)

    def upsert(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str,
        all_or_none: bool = False,
    ) -> list[CollectionResult]:
        """Insert or update records matched by ``external_id_field``."""
        return self._loop.call(
            self._api.upsert,
            sobject,
            records,
            external_id_field=external_id_field,
            all_or_none=all_or_none,
        )

    def delete(self, ids: Sequence[str], *, all_or_none: bool = False) -> list[CollectionResult]:
        """Delete records by id (types may be mixed)."""
        return self._loop.call(self._api.delete, ids, all_or_none=all_or_none)

    def retrieve(
        self, sobject: str, ids: Sequence[str], *, fields: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        """Fetch records of one type by id; ``None`` where an id matched nothing."""
        return self._loop.call(self._api.retrieve, sobject, ids, fields=fields)

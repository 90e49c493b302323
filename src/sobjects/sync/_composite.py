"""Blocking Composite, Composite Batch and Composite Graph requests.

The builders (``batch.sobject.create(...)``, the subrequests they return, ``Graph``) are the
async API's own objects, as they do no I/O; only ``execute()`` and the end of a ``with`` block
go through the client's loop thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from sobjects.client import _composite as aio
from sobjects.client._composite import (
    CollectionsBuilder,
    QuerySubrequest,
    SObjectBuilder,
    Subrequest,
)
from sobjects.client._graph import CompositeGraph as AsyncCompositeGraph
from sobjects.client._graph import Graph

if TYPE_CHECKING:
    from sobjects.sync._client import Salesforce

__all__ = ["Composite", "CompositeAPI", "CompositeBatch", "CompositeGraph"]

E = TypeVar("E", bound=aio._Executable)


class _Executable(Generic[E]):
    """What the three request kinds share: the builder, ``execute()``, the ``with`` block."""

    def __init__(self, client: Salesforce, request: E) -> None:
        self._loop = client._loop
        self.async_request: E = request

    @property
    def subrequests(self) -> list[Subrequest]:
        return self.async_request.subrequests

    @property
    def executed(self) -> bool:
        return self.async_request.executed

    def __len__(self) -> int:
        return len(self.async_request)

    def __iter__(self) -> Iterator[Subrequest]:
        return iter(self.async_request)

    def __repr__(self) -> str:
        return f"sobjects.sync.{type(self).__name__}({len(self)} subrequests)"

    def failures(self) -> list[Subrequest]:
        """The executed subrequests that failed (halted ones included), in order."""
        return self.async_request.failures()

    def execute(self) -> Self:
        """Send the subrequests; results are bound to them in place."""
        self._loop.call(self.async_request.execute)
        return self

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The async request's own rule: only a block that finished cleanly is sent.
        self._loop.call(self.async_request.__aexit__, exc_type, exc, tb)


class _Subrequests(_Executable[E]):
    """The builders (a Composite Graph refuses them as its async twin does: nodes go in
    graphs)."""

    @property
    def sobject(self) -> SObjectBuilder:
        return self.async_request.sobject

    def query(
        self, soql: str, *, include_deleted: bool = False, reference_id: str | None = None
    ) -> QuerySubrequest:
        """Add a SOQL query (its first page of records)."""
        return self.async_request.query(
            soql, include_deleted=include_deleted, reference_id=reference_id
        )


class CompositeBatch(_Subrequests[aio.CompositeBatch]):
    """A Composite Batch request (see ``sobjects.client.CompositeBatch``).

    >>> def demo(sf: Salesforce) -> None:
    ...     with sf.composite.batch(halt_on_error=True) as batch:
    ...         query = batch.query("SELECT Id, Name FROM Account LIMIT 10")
    ...         contact = batch.sobject.create("Contact", {"LastName": "Doe"})
    ...     print(contact.id, len(query.records))
    """

    @property
    def collections(self) -> CollectionsBuilder:
        return self.async_request.collections  # raises: not available in a batch


class Composite(_Subrequests[aio.Composite]):
    """A Composite request (see ``sobjects.client.Composite``)."""

    @property
    def collections(self) -> CollectionsBuilder:
        return self.async_request.collections


class CompositeGraph(_Subrequests[AsyncCompositeGraph]):
    """A Composite Graph request (see ``sobjects.client.CompositeGraph``)."""

    @property
    def graphs(self) -> list[Graph]:
        return self.async_request.graphs

    def graph(self, graph_id: str | None = None) -> Graph:
        """A new graph of this request."""
        return self.async_request.graph(graph_id)

    def requests(self) -> list[list[Graph]]:
        """How ``execute()`` will send the pending graphs, one list per request."""
        return self.async_request.requests()


class CompositeAPI:
    """``sf.composite``: call it for a Composite request, or use ``.batch()``, ``.graph()``
    or ``.tree()``."""

    def __init__(self, client: Salesforce) -> None:
        self._client = client
        self._api = client.async_client.composite

    def __call__(
        self,
        *,
        all_or_none: bool = False,
        collate_subrequests: bool = False,
        autoraise: bool = False,
        group_errors: bool = False,
    ) -> Composite:
        request = self._api(
            all_or_none=all_or_none,
            collate_subrequests=collate_subrequests,
            autoraise=autoraise,
            group_errors=group_errors,
        )
        return Composite(self._client, request)

    def batch(
        self, *, halt_on_error: bool = False, autoraise: bool = False, group_errors: bool = False
    ) -> CompositeBatch:
        request = self._api.batch(
            halt_on_error=halt_on_error, autoraise=autoraise, group_errors=group_errors
        )
        return CompositeBatch(self._client, request)

    def graph(self, *, autoraise: bool = False, group_errors: bool = False) -> CompositeGraph:
        request = self._api.graph(autoraise=autoraise, group_errors=group_errors)
        return CompositeGraph(self._client, request)

    def tree(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Create records with their children (sObject Tree), all or nothing, in one call;
        returns ``{referenceId: id}``."""
        return self._client._loop.call(self._api.tree, sobject, records)

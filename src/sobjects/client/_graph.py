"""Composite Graph: graphs of sObject subrequests, each one all-or-nothing.

``sf.composite.graph()`` collects graphs (``request.graph()``); a graph takes nodes through
``graph.sobject.create/get/update/delete/upsert`` (the builders and subrequest objects of
``sf.composite()``), and a node may use an earlier node's result *of the same graph* through
its ``reference`` (``account.reference.id``). Salesforce runs each graph as one transaction:
if one node fails, the whole graph is rolled back (``graph.is_successful`` is false, the
failed node keeps its error, every other node reports ``PROCESSING_HALTED``). Graphs are
independent: a failed graph undoes nothing in another.

Limits, checked as nodes are added (``CompositeLimitError``): a graph holds at most 500 nodes,
its chains of references are at most 15 nodes long, and its nodes are of at most 15 kinds
(method and sObject). One request holds at most 75 graphs, 500 nodes and 15 kinds of node, so
``execute()`` packs the graphs into as few requests as those limits allow (a graph is never
split; a graph goes into the first request it fits in) and sends them concurrently. Each
request is one API call, so 2,000 single-node graphs cost 4 calls. Salesforce stops
processing a request's graphs after 14 of them failed: the rest have ``halted`` true (nothing
applied).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, Self

from sobjects.client._composite import (
    _FORBIDDEN_HEADERS,
    _REFERENCE_ID_RE,
    S,
    SObjectBuilder,
    Subrequest,
    _Builder,
    _Executable,
    _holds_references,
    _references_in,
    composite_subrequest_json,
    send_concurrently,
)
from sobjects.errors import (
    CompositeLimitError,
    ConfigurationError,
    ErrorDetail,
    ProcessingHaltedError,
    ResponseError,
    ResultNotReadyError,
)

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce
    from sobjects.client._composite import Reference

__all__ = [
    "GRAPH_MAX_DEPTH",
    "GRAPH_MAX_FAILED",
    "GRAPH_MAX_NODES",
    "GRAPH_MAX_NODE_KINDS",
    "REQUEST_MAX_GRAPHS",
    "REQUEST_MAX_NODES",
    "CompositeGraph",
    "Graph",
]

GRAPH_MAX_NODES: Final = 500
GRAPH_MAX_DEPTH: Final = 15
GRAPH_MAX_NODE_KINDS: Final = 15  # in a graph, and in a request
GRAPH_MAX_FAILED: Final = 14  # failed graphs after which Salesforce halts the rest
REQUEST_MAX_GRAPHS: Final = 75
REQUEST_MAX_NODES: Final = 500
# Starts with a letter or digit, shorter than 40 characters, no period.
_GRAPH_ID_RE = re.compile(r"[A-Za-z0-9][^.]{0,38}")


class Graph(_Builder):
    """One graph of a Composite Graph request: nodes that succeed or fail together.

    Add nodes with ``graph.sobject`` (create, get, update, delete, upsert); a node is a
    subrequest object (``.id``, ``.result``, ``.status_code``, ``.is_success``,
    ``.raise_for_status()``, ``.reference``) whose result is bound when the request is
    executed. ``is_successful`` says whether the graph was applied; when it was not, nothing
    of it was, and ``error()`` is the failure (the first node that failed for its own reason;
    a ``ProcessingHaltedError`` for a graph Salesforce did not process, see ``halted``).
    """

    def __init__(self, owner: CompositeGraph, graph_id: str) -> None:
        self._owner = owner
        self.graph_id = graph_id
        self.nodes: list[Subrequest] = []
        self.sobject = SObjectBuilder(self)
        self.halted = False
        self._by_reference: dict[str, Subrequest] = {}
        self._depth: dict[str, int] = {}  # referenceId -> nodes in its longest chain
        self._kinds: set[tuple[str, str]] = set()  # (method, lower-case sObject)
        self._referring: set[Subrequest] = set()  # nodes whose body holds references
        self._response: dict[str, Any] | None = None

    def __repr__(self) -> str:
        state = "pending" if not self.done else "successful" if self.succeeded else "failed"
        return f"<Graph {self.graph_id!r} nodes={len(self.nodes)} {state}>"

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Subrequest]:
        return iter(self.nodes)

    @property
    def kinds(self) -> frozenset[tuple[str, str]]:
        """The kinds of node the graph uses: ``(method, sObject)``, the sObject lower-case."""
        return frozenset(self._kinds)

    @property
    def depth(self) -> int:
        """Nodes in the graph's longest chain of references (0 for an empty graph)."""
        return max(self._depth.values(), default=0)

    # -- adding nodes --

    def _add(self, subrequest: S, *, reference_id: str | None, plain: bool = False) -> S:
        self._owner._check_not_executed()
        if self.done:
            raise ConfigurationError(f"graph {self.graph_id!r} was already executed")
        if subrequest.kind in ("query", "collection"):
            raise ConfigurationError(
                "a Composite Graph node is an sObject operation (create, get, update, delete, "
                f"upsert), not a {subrequest.kind}"
            )
        if len(self.nodes) >= GRAPH_MAX_NODES:
            raise CompositeLimitError(f"a graph holds at most {GRAPH_MAX_NODES} nodes")
        if reference_id is None:
            reference_id = f"ref{len(self.nodes)}"
            while reference_id in self._by_reference:
                reference_id += "_"
        elif not isinstance(reference_id, str) or not _REFERENCE_ID_RE.fullmatch(reference_id):
            raise ConfigurationError(
                f"reference_id {reference_id!r} must start with a letter or digit and hold "
                "only letters, digits and underscores"
            )
        if reference_id in self._by_reference:
            raise ConfigurationError(
                f"reference_id {reference_id!r} is already used in graph {self.graph_id!r}"
            )
        if subrequest.headers:
            bad = [h for h in subrequest.headers if h.lower() in _FORBIDDEN_HEADERS]
            if bad:
                raise ConfigurationError(f"graph nodes cannot set headers {bad}")
        targets: list[Subrequest] = []
        referring = not plain and _holds_references(subrequest.body)
        if referring:
            targets.extend(self._target(ref) for ref in _references_in(subrequest.body))
        if subrequest.path_reference is not None:
            targets.append(self._target(subrequest.path_reference))
        depth = 1 + max((self._depth[str(t.reference_id)] for t in targets), default=0)
        if depth > GRAPH_MAX_DEPTH:
            raise CompositeLimitError(
                f"a graph's references chain at most {GRAPH_MAX_DEPTH} nodes; this node would "
                f"end a chain of {depth}"
            )
        kind = (subrequest.method, subrequest.path.split("/")[1].split("?")[0].lower())
        if kind not in self._kinds and len(self._kinds) >= GRAPH_MAX_NODE_KINDS:
            raise CompositeLimitError(
                f"a graph holds at most {GRAPH_MAX_NODE_KINDS} kinds of node (method and "
                f"sObject); {kind[0]} {kind[1]} would be the {GRAPH_MAX_NODE_KINDS + 1}th"
            )
        self._kinds.add(kind)
        if referring:
            self._referring.add(subrequest)
        subrequest.reference_id = reference_id
        self._by_reference[reference_id] = subrequest
        self._depth[reference_id] = depth
        self.nodes.append(subrequest)
        self._owner.subrequests.append(subrequest)
        return subrequest

    def _target(self, ref: Reference) -> Subrequest:
        target = ref._subrequest
        if target.reference_id is None or self._by_reference.get(target.reference_id) is not target:
            raise ConfigurationError(
                f"{ref} refers to a subrequest that is not an earlier node of graph "
                f"{self.graph_id!r} (a graph cannot use another graph's results)"
            )
        return target

    def _json(self, data_path: str) -> dict[str, Any]:
        return {
            "graphId": self.graph_id,
            "compositeRequest": [
                composite_subrequest_json(n, data_path, referring=n in self._referring)
                for n in self.nodes
            ],
        }

    # -- results --

    @property
    def done(self) -> bool:
        """Whether Salesforce answered for this graph."""
        return self._response is not None

    @property
    def response(self) -> dict[str, Any]:
        """The graph's raw result as Salesforce sent it."""
        self._require_done()
        assert self._response is not None
        return self._response

    @property
    def is_successful(self) -> bool:
        """Whether the graph was applied (every node of it); if not, none of it was."""
        return self.response.get("isSuccessful") is True

    @property
    def succeeded(self) -> bool:
        """Applied; ``False`` before execution (never raises)."""
        return self._response is not None and self._response.get("isSuccessful") is True

    def failures(self) -> list[Subrequest]:
        """The nodes that failed for their own reason (not rolled back for another's)."""
        return [n for n in self.nodes if n.done and not n.is_success and not n.rolled_back]

    def error(self) -> ResponseError | None:
        """Why the graph was not applied (``None`` if it was): the first node that failed
        for its own reason, else (a graph Salesforce halted) its first node's error."""
        if self.is_successful:
            return None
        for node in self.failures() or [n for n in self.nodes if n.done]:
            error = node.error()
            if error is not None:
                return error
        return ProcessingHaltedError(
            400,
            [ErrorDetail("PROCESSING_HALTED", f"graph {self.graph_id!r} was not applied")],
            method="POST",
            url="composite/graph",
        )

    def raise_for_status(self) -> None:
        """Raise ``error()`` if the graph was not applied."""
        error = self.error()
        if error is not None:
            raise error

    def _require_done(self) -> None:
        if self._response is None:
            raise ResultNotReadyError(
                f"graph {self.graph_id!r} has not been executed yet: its result exists once the "
                "request is executed (at the end of the `async with` block or by "
                "`await request.execute()`)"
            )

    def _bind(self, answer: dict[str, Any], items: list[Any], *, failed_before: int) -> None:
        successful = answer.get("isSuccessful") is True
        by_ref = {str(i.get("referenceId")): i for i in items if isinstance(i, dict)}
        for node in self.nodes:
            item = by_ref.get(str(node.reference_id))
            if item is None:
                continue  # not reported: stays not done, so nothing is taken as applied
            node._bind(int(item["httpStatusCode"]), item.get("body"), item)
            if successful:
                continue
            if node.is_success:
                node._roll_back()  # reported as applied, but its graph was not
            elif isinstance(node.error(), ProcessingHaltedError):
                node.rolled_back = True  # undone (or never run) because another node failed
        self._response = answer
        # Salesforce halts the graphs after the 14th failed one of a request: such a graph
        # reports nothing but PROCESSING_HALTED.
        self.halted = (
            not successful
            and failed_before >= GRAPH_MAX_FAILED
            and all(n.rolled_back for n in self.nodes if n.done)
        )


class CompositeGraph(_Executable):
    """A Composite Graph request: graphs of sObject nodes, each applied entirely or not at all.

    >>> async def demo(sf: Salesforce) -> None:
    ...     async with sf.composite.graph() as request:
    ...         graph = request.graph()
    ...         account = graph.sobject.create("Account", {"Name": "Acme"})
    ...         graph.sobject.create(
    ...             "Contact", {"LastName": "Doe", "AccountId": account.reference.id}
    ...         )
    ...     print(graph.is_successful, account.id)

    ``subrequests`` lists every node of every graph in order (``failures()`` and ``autoraise``
    work on it as for ``sf.composite()``). More graphs than one request takes are sent as
    several requests (see ``requests()``), concurrently; if a request fails as a whole, the
    others still finish and are bound, then its error is raised (an ``ExceptionGroup`` when
    several failed). A request that certainly applied nothing leaves its graphs pending
    (``graph.done`` false): ``execute()`` may be called again to send them.
    """

    # How the autoraise summary names nodes undone because another node failed.
    _collateral = "rolled back"

    def __init__(
        self, client: Salesforce, *, autoraise: bool = False, group_errors: bool = False
    ) -> None:
        super().__init__(client, autoraise=autoraise, group_errors=group_errors)
        self.graphs: list[Graph] = []
        self._graph_ids: set[str] = set()

    def graph(self, graph_id: str | None = None) -> Graph:
        """A new graph of this request (``graph_id``: unique in the request, starting with a
        letter or digit, shorter than 40 characters, no period; ``g0``, ``g1``... if not
        given)."""
        self._check_not_executed()
        if graph_id is None:
            number = len(self.graphs)
            graph_id = f"g{number}"
            while graph_id in self._graph_ids:
                number += 1
                graph_id = f"g{number}"
        elif not isinstance(graph_id, str) or not _GRAPH_ID_RE.fullmatch(graph_id):
            raise ConfigurationError(
                f"graph_id {graph_id!r} must start with a letter or digit, be shorter than 40 "
                "characters and hold no period"
            )
        if graph_id in self._graph_ids:
            raise ConfigurationError(f"graph_id {graph_id!r} is already used in this request")
        graph = Graph(self, graph_id)
        self._graph_ids.add(graph_id)
        self.graphs.append(graph)
        return graph

    def _add(self, subrequest: S, *, reference_id: str | None, plain: bool = False) -> S:
        raise ConfigurationError(
            "a Composite Graph request takes its nodes in graphs: "
            "graph = request.graph(); graph.sobject.create(...)"
        )

    def requests(self) -> list[list[Graph]]:
        """How ``execute()`` will send the pending graphs: one list of graphs per request
        (each request one API call). Graphs without nodes are not sent."""
        return _pack([g for g in self.graphs if g.nodes and not g.done])

    async def execute(self) -> Self:
        """Send every pending graph; results are bound in place. Returns the request."""
        self._check_not_executed()
        self._client._check_open()
        await send_concurrently(self.requests(), self._send_chunk, "composite graph")
        self.executed = True
        self._raise_failures()
        return self

    async def _send_chunk(self, chunk: list[Graph]) -> None:
        payload = {"graphs": [g._json(self._client.data_path) for g in chunk]}
        body = await self._post("composite/graph", payload)
        answers = _answers(body)
        if answers is None or any(g.graph_id not in answers for g in chunk):
            # Sent and answered, but the answer cannot be matched to the graphs.
            self.executed = True
            raise ResponseError(
                200,
                [ErrorDetail("UNEXPECTED_RESPONSE", f"graph results do not match: {body!r:.300}")],
                method="POST",
                url="composite/graph",
            )
        failed = 0
        for graph in chunk:  # in request order, as Salesforce processes them
            answer, items = answers[graph.graph_id]
            graph._bind(answer, items, failed_before=failed)
            if not graph.is_successful:
                failed += 1


def _answers(body: Any) -> dict[str, tuple[dict[str, Any], list[Any]]] | None:
    """Each graph's answer and node results by graphId, or ``None`` if the body is not a
    well-formed graph response (checked before anything is bound)."""
    graphs = body.get("graphs") if isinstance(body, dict) else None
    if not isinstance(graphs, list):
        return None
    out: dict[str, tuple[dict[str, Any], list[Any]]] = {}
    for answer in graphs:
        if not isinstance(answer, dict) or not isinstance(answer.get("isSuccessful"), bool):
            return None
        response = answer.get("graphResponse")
        items = response.get("compositeResponse") if isinstance(response, dict) else None
        if not isinstance(items, list):
            return None
        for item in items:
            if isinstance(item, dict):
                try:
                    int(item["httpStatusCode"])
                except (KeyError, TypeError, ValueError):
                    return None
        out[str(answer.get("graphId"))] = (answer, items)
    return out


def _pack(graphs: list[Graph]) -> list[list[Graph]]:
    """Graphs in requests of at most 75 graphs, 500 nodes and 15 kinds of node: each graph in
    the first request it fits in (first fit keeps the request count low; graphs are
    independent, so their grouping does not change what is applied)."""
    requests: list[tuple[list[Graph], list[int], set[tuple[str, str]]]] = []
    for graph in graphs:
        for members, size, kinds in requests:
            if (
                len(members) < REQUEST_MAX_GRAPHS
                and size[0] + len(graph.nodes) <= REQUEST_MAX_NODES
                and len(kinds | graph._kinds) <= GRAPH_MAX_NODE_KINDS
            ):
                members.append(graph)
                size[0] += len(graph.nodes)
                kinds |= graph._kinds
                break
        else:
            requests.append(([graph], [len(graph.nodes)], set(graph._kinds)))
    return [members for members, _, _ in requests]

"""Composite Graph: ``POST /services/data/vNN.N/composite/graph`` (API 50.0 and later).

A request holds up to 75 graphs; each graph is a list of sObject subrequests ("nodes") that
may use earlier nodes' results through ``@{ref.path}`` references, and runs as one
transaction: if a node fails, the whole graph is rolled back, the failed node keeps its
error and every other node reports 400 ``PROCESSING_HALTED``. Graphs are independent: one
failing does not undo another. Once 14 graphs have failed, the remaining ones are not
processed (each of their nodes reports ``PROCESSING_HALTED``). The whole request is one API
call.

The envelope is checked before anything runs (salesforce-rest.md §7): at most 75 graphs and
500 nodes (per graph and in all), a reference chain at most 15 nodes deep, at most 15 kinds of
node (API version, method, sObject), unique graph ids that start with a letter or digit, are
shorter than 40 characters and hold no period, and nodes that are sObject operations only:
``POST sobjects/X``, ``GET|PATCH|DELETE sobjects/X/{id}``,
``GET|PATCH|DELETE|POST sobjects/X/{field}/{value}``. A request that breaks one is refused
with 400 and nothing runs. Each node then behaves exactly like the standalone call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sobjects._ids import is_salesforce_id
from sobjects.emulator._errors import ApiError, error_item
from sobjects.emulator._subrequests import (
    API_VERSIONS,
    REFERENCE_ID_RE,
    REFERENCE_RE,
    Rollback,
    UnresolvedReference,
    composite_item,
    invalid_reference,
    parse_subrequest_url,
    reference_root,
    resolve,
    resolve_text,
    rolled_back,
)

if TYPE_CHECKING:
    from sobjects.emulator._rest import RestApi

__all__ = [
    "MAX_FAILED_GRAPHS",
    "MAX_GRAPHS",
    "MAX_GRAPH_DEPTH",
    "MAX_GRAPH_NODES",
    "MAX_NODE_KINDS",
    "MAX_PAYLOAD_NODES",
    "MIN_GRAPH_VERSION",
    "composite_graph",
]

MIN_GRAPH_VERSION = 50.0
MAX_GRAPHS = 75
MAX_GRAPH_NODES = 500  # in one graph
MAX_PAYLOAD_NODES = 500  # in all the graphs of a request
MAX_GRAPH_DEPTH = 15  # nodes in the longest chain of references
MAX_NODE_KINDS = 15  # distinct (API version, method, sObject) in a request
MAX_FAILED_GRAPHS = 14  # then the remaining graphs are not processed
# Starts with a letter or digit, shorter than 40 characters, no period.
_GRAPH_ID_RE = re.compile(r"[A-Za-z0-9][^.]{0,38}")
_NODE_METHODS = frozenset({"GET", "POST", "PATCH", "DELETE"})
_FORBIDDEN_HEADERS = frozenset({"accept", "authorization", "content-type"})
_HALTED_MESSAGE = (
    f"Processing halted: {MAX_FAILED_GRAPHS} graphs of this request failed, so this graph was "
    "not processed."
)


@dataclass
class _Node:
    reference_id: str
    method: str
    url: str
    body: Any
    headers: Mapping[str, Any] | None


@dataclass
class _Graph:
    graph_id: str
    nodes: list[_Node]


def composite_graph(api: RestApi, version: str, body: Any) -> dict[str, Any]:
    """Check the request, run its graphs in order and answer ``{"graphs": [...]}``."""
    if float(version) < MIN_GRAPH_VERSION:
        raise ApiError.not_found()  # the resource does not exist before 50.0
    graphs = _parse(body, version)
    answers: list[dict[str, Any]] = []
    failed = 0
    for graph in graphs:
        if failed >= MAX_FAILED_GRAPHS:
            answers.append(_halted(graph))
            continue
        answer = _run(api, graph)
        if not answer["isSuccessful"]:
            failed += 1
        answers.append(answer)
    return {"graphs": answers}


# -- running -----------------------------------------------------------------------------------


def _run(api: RestApi, graph: _Graph) -> dict[str, Any]:
    """Run one graph as a transaction: every node, or (after a failure) none."""
    results: dict[str, Any] = {}  # referenceId -> body, for references
    replies: list[dict[str, Any]] = []
    try:
        with api.store.transaction():
            for node in graph.nodes:
                try:
                    url = resolve_text(node.url, results, url_encode=True)
                    body = resolve(node.body, results)
                except UnresolvedReference as missing:
                    replies.append(
                        composite_item(node.reference_id, 400, invalid_reference(missing))
                    )
                    raise Rollback from None
                # Through the same path as Composite subrequests: scripted subrequest
                # failures (org.faults.fail_subrequests) apply to graph nodes too.
                reply = api.subrequest(node.method, url, body, node.headers, batch=False)
                replies.append(
                    composite_item(node.reference_id, reply.status, reply.body, reply.headers)
                )
                if reply.status >= 400:
                    raise Rollback
                results[node.reference_id] = reply.body
    except Rollback:
        failed_at = len(replies) - 1
        halted = [composite_item(node.reference_id, 400, rolled_back()) for node in graph.nodes]
        halted[failed_at] = replies[failed_at]
        return _answer(graph.graph_id, halted, successful=False)
    return _answer(graph.graph_id, replies, successful=True)


def _halted(graph: _Graph) -> dict[str, Any]:
    error = [error_item("PROCESSING_HALTED", _HALTED_MESSAGE)]
    replies = [composite_item(node.reference_id, 400, error) for node in graph.nodes]
    return _answer(graph.graph_id, replies, successful=False)


def _answer(graph_id: str, replies: list[dict[str, Any]], *, successful: bool) -> dict[str, Any]:
    return {
        "graphId": graph_id,
        "graphResponse": {"compositeResponse": replies},
        "isSuccessful": successful,
    }


# -- checking the request ----------------------------------------------------------------------


def _parse(body: Any, version: str) -> list[_Graph]:
    if not isinstance(body, Mapping) or not isinstance(body.get("graphs"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "graphs is required: a list of graphs")
    raw_graphs = body["graphs"]
    if not raw_graphs:
        raise ApiError(400, "INVALID_API_INPUT", "A composite graph request needs a graph")
    if len(raw_graphs) > MAX_GRAPHS:
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"A composite graph request can contain at most {MAX_GRAPHS} graphs, "
            f"got {len(raw_graphs)}",
        )
    graphs: list[_Graph] = []
    seen_ids: set[str] = set()
    kinds: set[tuple[str, str, str]] = set()
    total = 0
    for raw in raw_graphs:
        graph = _parse_graph(raw, version, kinds)
        if graph.graph_id in seen_ids:
            raise ApiError(
                400, "INVALID_API_INPUT", f"Duplicate graphId '{graph.graph_id}' in the request"
            )
        seen_ids.add(graph.graph_id)
        total += len(graph.nodes)
        if total > MAX_PAYLOAD_NODES:
            raise ApiError(
                400,
                "INVALID_API_INPUT",
                f"A composite graph request can contain at most {MAX_PAYLOAD_NODES} nodes in "
                "all its graphs",
            )
        graphs.append(graph)
    if len(kinds) > MAX_NODE_KINDS:
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"A composite graph request can contain at most {MAX_NODE_KINDS} different kinds "
            f"of node (API version, method and sObject), got {len(kinds)}",
        )
    return graphs


def _parse_graph(raw: Any, version: str, kinds: set[tuple[str, str, str]]) -> _Graph:
    if not isinstance(raw, Mapping):
        raise ApiError(400, "JSON_PARSER_ERROR", "each graph must be a JSON object")
    graph_id = raw.get("graphId")
    if not isinstance(graph_id, str):
        raise ApiError(400, "JSON_PARSER_ERROR", "each graph needs a graphId (a string)")
    if not _GRAPH_ID_RE.fullmatch(graph_id):
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"Invalid graphId '{graph_id[:80]}': a graphId starts with a letter or a number, "
            "is shorter than 40 characters and cannot contain a period",
        )
    raw_nodes = raw.get("compositeRequest")
    if not isinstance(raw_nodes, list):
        raise ApiError(
            400, "JSON_PARSER_ERROR", f"graph '{graph_id}' needs a compositeRequest (a list)"
        )
    if not raw_nodes:
        raise ApiError(400, "INVALID_API_INPUT", f"graph '{graph_id}' has no node")
    if len(raw_nodes) > MAX_GRAPH_NODES:
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"graph '{graph_id}' has {len(raw_nodes)} nodes; a graph can contain at most "
            f"{MAX_GRAPH_NODES}",
        )
    nodes: list[_Node] = []
    depths: dict[str, int] = {}
    for raw_node in raw_nodes:
        node, kind = _parse_node(raw_node, graph_id, version)
        if node.reference_id in depths:
            raise ApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Duplicate referenceId '{node.reference_id}' in graph '{graph_id}'",
            )
        kinds.add(kind)
        # A reference to a node that is not an earlier one of this graph fails when the
        # node runs; only resolvable references lengthen a chain.
        used = {name for name in _referenced(node.url, node.body) if name in depths}
        depth = 1 + max((depths[name] for name in used), default=0)
        if depth > MAX_GRAPH_DEPTH:
            raise ApiError(
                400,
                "INVALID_API_INPUT",
                f"graph '{graph_id}' is too deep: node '{node.reference_id}' ends a chain of "
                f"{depth} nodes; a graph can be at most {MAX_GRAPH_DEPTH} deep",
            )
        depths[node.reference_id] = depth
        nodes.append(node)
    return _Graph(graph_id, nodes)


def _parse_node(raw: Any, graph_id: str, version: str) -> tuple[_Node, tuple[str, str, str]]:
    ref = raw.get("referenceId") if isinstance(raw, Mapping) else None
    if not isinstance(ref, str) or not REFERENCE_ID_RE.fullmatch(ref):
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            f"Provided referenceId ('{ref}') must start with a letter or a number, and it can "
            "contain only letters, numbers and underscores ('_').",
        )
    assert isinstance(raw, Mapping)
    method, url = raw.get("method"), raw.get("url")
    if not isinstance(method, str) or method not in _NODE_METHODS:  # case-sensitive
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"Invalid method {method!r} in node '{ref}' of graph '{graph_id}': a graph node "
            f"uses one of {', '.join(sorted(_NODE_METHODS))}",
        )
    if not isinstance(url, str):
        raise ApiError(400, "JSON_PARSER_ERROR", f"Node '{ref}' of graph '{graph_id}' needs a url")
    node_version, path, _ = parse_subrequest_url(url, batch=False)
    if node_version not in API_VERSIONS or not (
        MIN_GRAPH_VERSION <= float(node_version) <= float(version)
    ):
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"The API version of node '{ref}' (v{node_version}) must be between "
            f"v{MIN_GRAPH_VERSION:.1f} and the graph request's own (v{version})",
        )
    sobject = _sobject_of(method, path)
    if sobject is None:
        raise ApiError(
            400,
            "INVALID_API_INPUT",
            f"Node '{ref}' of graph '{graph_id}' is not supported in a composite graph: "
            f"{method} {url[:200]}. A node is POST sobjects/X, GET, PATCH or DELETE "
            "sobjects/X/{id}, or GET, PATCH, DELETE or POST sobjects/X/{field}/{value}",
        )
    headers = raw.get("httpHeaders")
    if headers is not None and not isinstance(headers, Mapping):
        raise ApiError(400, "JSON_PARSER_ERROR", f"httpHeaders of '{ref}' must be a JSON object")
    for name in headers or {}:
        if str(name).lower() in _FORBIDDEN_HEADERS:
            raise ApiError(400, "INVALID_API_INPUT", f"httpHeaders cannot set {name}")
    node = _Node(ref, method, url, raw.get("body"), headers)
    return node, (node_version, method, sobject.lower())


def _sobject_of(method: str, path: str) -> str | None:
    """The sObject a supported node URL path names, or ``None`` for an unsupported one."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "sobjects":
        return None
    if len(parts) == 2:
        return parts[1] if method == "POST" else None
    if len(parts) == 3:
        # A record id (or a reference to one), not another resource such as describe.
        record = parts[2]
        is_record = is_salesforce_id(record) or REFERENCE_RE.search(record) is not None
        return parts[1] if method != "POST" and is_record else None
    if len(parts) == 4:
        return parts[1]
    return None


def _referenced(url: str, body: Any) -> set[str]:
    """The referenceIds that ``@{...}`` references in a node's URL and body start with."""
    return {
        reference_root(match.group(1))
        for text in _strings(url, body)
        for match in REFERENCE_RE.finditer(text)
    }


def _strings(*values: Any) -> Iterator[str]:
    for value in values:
        if isinstance(value, str):
            if "@{" in value:
                yield value
        elif isinstance(value, Mapping):
            yield from _strings(*value.values())
        elif isinstance(value, list):
            yield from _strings(*value)

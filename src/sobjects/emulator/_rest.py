"""The REST resources of the local org, as one dispatcher independent of HTTP.

``RestApi.dispatch(method, path, query, body)`` answers like Salesforce would, with a status,
a JSON-able body and headers. The ASGI app calls it for real requests; Composite and
Composite Batch call it for their subrequests, so a subrequest behaves exactly like the
standalone call.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sobjects._ids import is_salesforce_id, to_18
from sobjects.emulator._columns import column_metadata
from sobjects.emulator._errors import ApiError, error_item
from sobjects.emulator._faults import injected_error
from sobjects.emulator._graph import composite_graph
from sobjects.emulator._limits import record_count
from sobjects.emulator._recent import MAX_RECENT, recent_items, recent_limit
from sobjects.emulator._replication import get_deleted, get_updated
from sobjects.emulator._schema import SObjectDef
from sobjects.emulator._store import MultipleMatches, compound_value
from sobjects.emulator._subrequests import (
    API_VERSIONS,
    REFERENCE_ID_RE,
    Rollback,
    UnresolvedReference,
    check_subrequest,
    composite_item,
    invalid_reference,
    parse_subrequest_url,
    resolve,
    resolve_text,
    rolled_back,
)
from sobjects.emulator._tree import create_trees

if TYPE_CHECKING:
    from sobjects.emulator._org import LocalOrg

__all__ = ["API_VERSIONS", "Reply", "RestApi"]

MAX_BATCH = 25
MAX_COMPOSITE = 25
MAX_COMPOSITE_QUERIES = 5
MAX_COLLECTION = 200
DEFAULT_BATCH_SIZE = 2000
# Query cursors (nextRecordsUrl) are dropped after this long unused, and beyond this many
# (least recently used first).
CURSOR_TTL = 15 * 60.0
MAX_CURSORS = 1000
_LOCATOR_RE = re.compile(r"^(01g[0-9A-Za-z]{15})-(\d+)$")
_FORBIDDEN_SUBREQUEST_HEADERS = frozenset({"accept", "authorization", "content-type"})
_COMPOSITE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_BATCH_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, exc: ApiError) -> Reply:
        return cls(exc.status, exc.errors)


_WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def _rolled_back(result: dict[str, Any], error: dict[str, Any], *, created: bool) -> dict[str, Any]:
    """A Collections item undone by allOrNone: a record it created is gone, so no ``id``."""
    out: dict[str, Any] = {} if created else {"id": result["id"]}
    out.update(success=False, errors=[error])
    if "created" in result:
        out["created"] = False
    return out


# Child subquery results longer than this come back a page at a time (the local org's choice:
# Salesforce pages large child lists but does not document where it cuts them).
CHILD_BATCH = 200


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    total_size: int
    batch_size: int
    version: str
    used: float = 0.0  # time.monotonic() of the last page served


class RestApi:
    """Salesforce's REST resources over the org's schema and store."""

    def __init__(self, org: LocalOrg) -> None:
        self.org = org
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()  # least recently used first
        self.clock = time.monotonic  # for the cursors' idle timeout

    @property
    def store(self) -> Any:
        return self.org.store

    @property
    def schema(self) -> Any:
        return self.org.schema

    # -- entry point -----------------------------------------------------------------------

    def dispatch(
        self,
        method: str,
        version: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Answer one versioned request (``path`` is what follows ``/services/data/vNN.N/``)."""
        try:
            return self._route(method.upper(), version, path.strip("/"), query, body, headers or {})
        except ApiError as exc:
            if method.upper() in _WRITES and exc.code == "ENTITY_IS_DELETED":
                # A write to a deleted record fails as a DML error, and Salesforce's DML
                # errors carry "fields" even when empty (a read of one does not).
                for item in exc.errors:
                    item.setdefault("fields", [])
            return Reply.error(exc)
        except MultipleMatches as exc:
            urls = [self._record_url(version, self.store.sobject_of(i) or "", i) for i in exc.ids]
            return Reply(300, urls)

    def _route(
        self,
        method: str,
        version: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        headers: Mapping[str, str],
    ) -> Reply:
        parts = [unquote(p) for p in path.split("/")] if path else []
        if not parts:
            return self._only(method, "GET", lambda: Reply(200, self._resources(version)))
        head, rest = parts[0], parts[1:]
        if head == "sobjects":
            return self._sobjects(method, version, rest, query, body, headers)
        if head in ("query", "queryAll"):
            if rest:
                return self._only(method, "GET", lambda: self._query_more(version, rest[0]))
            return self._only(
                method,
                "GET",
                lambda: self._query(version, query, headers, include_deleted=head == "queryAll"),
            )
        if head == "search" and not rest:
            return self._only(method, "GET", lambda: self._search(version, query))
        if head == "parameterizedSearch" and not rest:
            if method == "POST":
                return self._parameterized_search(version, None, body)
            return self._only(method, "GET", lambda: self._parameterized_search(version, query))
        if head == "limits" and not rest:
            return self._only(method, "GET", lambda: Reply(200, self.org.limits_body()))
        if head == "limits" and rest == ["recordCount"]:
            return self._only(method, "GET", lambda: Reply(200, record_count(self.store, query)))
        if head == "recent" and not rest:
            return self._only(
                method,
                "GET",
                lambda: Reply(
                    200, recent_items(self.store, self.schema, version, recent_limit(query))
                ),
            )
        if head == "composite":
            return self._composite_resources(method, version, rest, query, body, headers)
        if head == "jobs":
            return self.org.bulk.dispatch(method, version, rest, query, body)
        raise ApiError.not_found()

    @staticmethod
    def _only(method: str, allowed: str, handler: Any) -> Reply:
        if method == "HEAD" and allowed == "GET":
            reply: Reply = handler()
            return Reply(reply.status, None, reply.headers)
        if method != allowed:
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are {allowed}",
            )
        result: Reply = handler()
        return result

    # -- directory ---------------------------------------------------------------------------

    def _resources(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}"
        names = [
            "sobjects", "query", "queryAll", "limits", "composite", "search",
            "parameterizedSearch", "recent",
        ]  # fmt: skip
        return {name: f"{base}/{name}" for name in names}

    # -- sobjects ------------------------------------------------------------------------------

    def _sobjects(
        self,
        method: str,
        version: str,
        rest: list[str],
        query: Mapping[str, str],
        body: Any,
        headers: Mapping[str, str],
    ) -> Reply:
        if not rest:
            return self._only(method, "GET", lambda: Reply(200, self._global_describe(version)))
        sobject = self.schema.require(rest[0])
        if len(rest) == 1:
            if method == "POST":
                return self._create(version, sobject, body)
            return self._only(
                method,
                "GET",
                lambda: Reply(
                    200,
                    {
                        "objectDescribe": self._describe_entry(sobject, version),
                        "recentItems": recent_items(
                            self.store, self.schema, version, MAX_RECENT, sobject
                        ),
                    },
                ),
            )
        if len(rest) == 2 and rest[1] == "describe":
            return self._only(method, "GET", lambda: Reply(200, self._describe(sobject, version)))
        if len(rest) == 2 and rest[1] in ("updated", "deleted"):
            # Resources of every sObject, never an external id field's name.
            replicate = get_updated if rest[1] == "updated" else get_deleted
            return self._only(
                method, "GET", lambda: Reply(200, replicate(self.store, sobject, query))
            )
        if len(rest) == 2:
            record_id = rest[1]
            if not is_salesforce_id(record_id):
                if method == "POST" and record_id == "Id":
                    return self._create(version, sobject, body)  # POST /sobjects/X/Id inserts
                if _ID_SHAPED.fullmatch(record_id):
                    # An id whose checksum is wrong is a malformed id, not a field name.
                    raise ApiError(
                        400,
                        "MALFORMED_ID",
                        f"{sobject.name} ID: id value of incorrect type: {record_id}",
                        ["Id"],
                    )
                raise ApiError(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {record_id}",
                )
            if method in ("GET", "HEAD"):
                record = self.store.retrieve(sobject, record_id)
                fields = _split(query.get("fields"))
                reply = Reply(200, self._present(sobject, record, version, fields))
                return Reply(200, None) if method == "HEAD" else reply
            if method == "PATCH":
                self.org.faults.check_lock(to_18(record_id))
                self.store.update(sobject, record_id, _body_dict(body))
                return Reply(204)
            if method == "DELETE":
                self.org.faults.check_lock(to_18(record_id))
                self.store.delete(sobject, record_id)
                return Reply(204)
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are HEAD,GET,PATCH,DELETE",
            )
        if len(rest) == 3:
            return self._by_external_id(method, version, sobject, rest[1], rest[2], query, body)
        raise ApiError.not_found()

    def _create(self, version: str, sobject: SObjectDef, body: Any) -> Reply:
        data = _body_dict(body)
        self.org.faults.check_create_lock(sobject.name)
        record_id = self.store.insert(sobject, data)
        return Reply(
            201,
            {"id": record_id, "success": True, "errors": []},
            {"Location": self._record_url(version, sobject.name, record_id)},
        )

    def _by_external_id(
        self,
        method: str,
        version: str,
        sobject: SObjectDef,
        field_name: str,
        value: str,
        query: Mapping[str, str],
        body: Any,
    ) -> Reply:
        fd = self.store.external_id_field(sobject, field_name)
        if method in ("GET", "HEAD", "DELETE"):
            matches = self.store.find(sobject, fd, value)
            if not matches:
                raise ApiError.not_found()
            if len(matches) > 1:
                raise MultipleMatches([m["Id"] for m in matches])
            record = matches[0]
            if method == "DELETE":
                self.org.faults.check_lock(record["Id"])
                self.store.delete(sobject, record["Id"])
                return Reply(204)
            fields = _split(query.get("fields"))
            return Reply(
                200, None if method == "HEAD" else self._present(sobject, record, version, fields)
            )
        if method == "PATCH":
            if fd.name == "Id":
                raise ApiError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    "HTTP Method 'PATCH' not allowed. Allowed are GET,HEAD,POST",
                )
            update_only = query.get("updateOnly", "").lower() == "true"
            matches = self.store.find(sobject, fd, value)
            for match in matches:
                self.org.faults.check_lock(match["Id"])
            if not matches and not update_only:
                self.org.faults.check_create_lock(sobject.name)  # it would insert
            record_id, created = self.store.upsert(
                sobject, fd.name, value, _body_dict(body), update_only=update_only
            )
            if created:
                result: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
                if _version_at_least(version, 46):
                    result["created"] = True
                return Reply(
                    201, result, {"Location": self._record_url(version, sobject.name, record_id)}
                )
            if not _version_at_least(version, 46):
                return Reply(204)
            return Reply(200, {"id": record_id, "success": True, "errors": [], "created": False})
        raise ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{method}' not allowed. Allowed are GET,HEAD,PATCH,DELETE",
        )

    # -- describe ------------------------------------------------------------------------------

    def _global_describe(self, version: str) -> dict[str, Any]:
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [self._describe_entry(s, version) for s in self.schema],
        }

    def _urls(self, sobject: SObjectDef, version: str) -> dict[str, str]:
        """The ``urls`` of a describe, as Salesforce lists them (REST API Developer Guide,
        "sObject Describe" and "Describe Global" examples): the layout, list-view, quick-action
        and default-value resources where the object has them. (The local org serves the
        record and describe resources; the others answer 404 here.)"""
        base = f"/services/data/v{version}/sobjects/{sobject.name}"
        d = sobject.describe
        urls = {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}
        if d.get("compactLayoutable"):
            urls["compactLayouts"] = f"{base}/describe/compactLayouts"
        if d.get("layoutable"):
            urls["layouts"] = f"{base}/describe/layouts"
            urls["approvalLayouts"] = f"{base}/describe/approvalLayouts"
            urls["quickActions"] = f"{base}/quickActions"
        if d.get("listviewable"):
            urls["listviews"] = f"{base}/listviews"
        if d.get("createable"):
            urls["defaultValues"] = f"{base}/defaultValues?recordTypeId&fields"
        return urls

    def _describe_entry(self, sobject: SObjectDef, version: str) -> dict[str, Any]:
        keys = (
            "activateable", "createable", "custom", "customSetting", "deepCloneable",
            "deletable", "deprecatedAndHidden", "feedEnabled", "hasSubtypes", "isInterface",
            "isSubtype", "keyPrefix", "label", "labelPlural", "layoutable", "mergeable",
            "mruEnabled", "name", "queryable", "replicateable", "retrieveable", "searchable",
            "triggerable", "undeletable", "updateable",
        )  # fmt: skip
        entry = {k: sobject.describe.get(k) for k in keys}
        entry["associateEntityType"] = None
        entry["associateParentEntity"] = None
        entry["urls"] = self._urls(sobject, version)
        return entry

    def _describe(self, sobject: SObjectDef, version: str) -> dict[str, Any]:
        # Keys every real describe carries, null for an object that uses none of them.
        out = dict.fromkeys(_DESCRIBE_NULL_KEYS)
        out.update(sobject.describe)
        out["urls"] = {
            **self._urls(sobject, version),
            **{
                k: v.replace("{version}", version)
                for k, v in (sobject.describe.get("urls") or {}).items()
                if isinstance(v, str) and k not in ("sobject", "describe", "rowTemplate")
            },
        }
        return out

    # -- records out -------------------------------------------------------------------------------

    def _record_url(self, version: str, sobject: str, record_id: str) -> str:
        return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"

    def _present(
        self,
        sobject: SObjectDef,
        record: Mapping[str, Any],
        version: str,
        fields: list[str] | None = None,
    ) -> dict[str, Any]:
        """A record as GET returns it: attributes first, then fields in describe order (or the
        requested ones, with Id appended)."""
        out: dict[str, Any] = {
            "attributes": {
                "type": sobject.name,
                "url": self._record_url(version, sobject.name, record["Id"]),
            }
        }
        if fields:
            chosen = [sobject.require_field(f) for f in fields]
            if not any(f.name == "Id" for f in chosen):
                chosen.append(sobject.fields["id"])
        else:
            chosen = list(sobject.fields.values())
        for fd in chosen:
            # Compound values are derived on write; derive again for records journaled by an
            # older version.
            out[fd.name] = (
                compound_value(sobject, fd, record) if fd.compound else record.get(fd.name)
            )
        return out

    # -- query -----------------------------------------------------------------------------

    def _query(
        self,
        version: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        *,
        include_deleted: bool,
    ) -> Reply:
        soql = query.get("q")
        if not soql:
            raise ApiError(400, "MALFORMED_QUERY", "A query string must be provided (q=)")
        from sobjects.emulator.soql import run_query

        output = run_query(
            soql,
            self.store,
            api_version=version,
            include_deleted=include_deleted,
            now=self.store.clock(),
        )
        if query.get("columns", "").lower() == "true":
            from sobjects.emulator.soql import parse

            return Reply(200, column_metadata(parse(soql), self.schema))
        batch_size = _batch_size(headers)
        cursor = _Cursor(output.records, output.total_size, batch_size, version)
        return Reply(200, self._page(cursor, None, 0))

    def _search(self, version: str, query: Mapping[str, str]) -> Reply:
        from sobjects.emulator._search import malformed, run_search

        sosl = query.get("q")
        if not sosl:
            raise malformed("A search string must be provided (q=)")
        found = run_search(sosl, self.store, api_version=version, now=self.store.clock())
        return Reply(200, {"searchRecords": found})

    def _parameterized_search(
        self, version: str, query: Mapping[str, str] | None, body: Any = None
    ) -> Reply:
        from sobjects.emulator._param_search import search_from_body, search_from_query
        from sobjects.emulator._search import run_parsed

        search = search_from_query(query) if query is not None else search_from_body(body)
        found = run_parsed(search, self.store, api_version=version, now=self.store.clock())
        return Reply(200, {"searchRecords": found})

    def _page(self, cursor: _Cursor, locator: str | None, offset: int) -> dict[str, Any]:
        end = offset + cursor.batch_size
        page: dict[str, Any] = {
            "totalSize": cursor.total_size,
            "done": end >= len(cursor.records),
            "records": [self._child_pages(r, cursor.version) for r in cursor.records[offset:end]],
        }
        if locator is None and not page["done"]:
            locator = "01g" + "".join(
                secrets.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
                for _ in range(15)
            )
        if locator is not None:
            # Kept after its last page too (a client may fetch a page again) until it idles
            # out or is the least recently used of too many.
            cursor.used = self.clock()
            self._cursors[locator] = cursor
            self._cursors.move_to_end(locator)
            self._expire_cursors()
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/v{cursor.version}/query/{locator}-{end}"
        return page

    def _child_pages(self, record: dict[str, Any], version: str) -> dict[str, Any]:
        """A record whose child subquery holds more than ``CHILD_BATCH`` records, with that
        list cut to its first page (``done: false``, ``nextRecordsUrl``), as Salesforce pages
        large child results; the rest is fetched like any query's next page."""
        out = record
        for key, value in record.items():
            if (
                isinstance(value, dict)
                and isinstance(value.get("records"), list)
                and "totalSize" in value
                and len(value["records"]) > CHILD_BATCH
            ):
                if out is record:
                    out = dict(record)  # the cursor keeps the whole list for later pages
                child = _Cursor(value["records"], value["totalSize"], CHILD_BATCH, version)
                out[key] = self._page(child, None, 0)
        return out

    def _expire_cursors(self) -> None:
        oldest = self.clock() - CURSOR_TTL
        while self._cursors:
            locator, cursor = next(iter(self._cursors.items()))
            if len(self._cursors) <= MAX_CURSORS and cursor.used >= oldest:
                break
            del self._cursors[locator]

    def _query_more(self, version: str, token: str) -> Reply:
        self._expire_cursors()
        match = _LOCATOR_RE.match(token)
        cursor = self._cursors.get(match.group(1)) if match else None
        if match is None or cursor is None or int(match.group(2)) >= len(cursor.records):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return Reply(200, self._page(cursor, match.group(1), int(match.group(2))))

    # -- composite ---------------------------------------------------------------------------

    def _composite_resources(
        self,
        method: str,
        version: str,
        rest: list[str],
        query: Mapping[str, str],
        body: Any,
        headers: Mapping[str, str],
    ) -> Reply:
        if not rest:
            if method == "GET":
                base = f"/services/data/v{version}/composite"
                return Reply(
                    200, {k: f"{base}/{k}" for k in ("batch", "tree", "sobjects", "graph")}
                )
            return self._only(method, "POST", lambda: self._composite(version, body))
        if rest == ["batch"]:
            return self._only(method, "POST", lambda: self._batch(version, body))
        if rest == ["graph"]:
            return self._only(
                method, "POST", lambda: Reply(200, composite_graph(self, version, body))
            )
        if rest[0] == "tree" and len(rest) == 2:
            return self._only(method, "POST", lambda: Reply(*create_trees(self, rest[1], body)))
        if rest[0] == "sobjects":
            return self._collections(method, version, rest[1:], query, body)
        raise ApiError.not_found()

    def subrequest(
        self, method: str, url: str, body: Any, headers: Mapping[str, str] | None, *, batch: bool
    ) -> Reply:
        """Run one subrequest URL (``vNN.N/...`` for batch, ``/services/data/vNN.N/...``)."""
        injected = self.org.faults.take_subrequest_failure()
        if injected is not None:  # this subrequest fails; the request and the others go on
            return Reply(injected[0], [error_item(*injected_error(*injected))])
        try:
            version, rest, query = parse_subrequest_url(url, batch=batch)
        except ApiError as exc:
            return Reply.error(exc)
        if rest.strip("/").split("/", 1)[0] == "jobs":
            # Bulk API jobs take and give CSV: not a resource composite requests can carry.
            return Reply(
                400,
                [error_item("INVALID_API_INPUT", "Bulk API 2.0 resources are not supported here")],
            )
        lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        return self.dispatch(method, version, rest, query, body, lowered)

    def _batch(self, version: str, body: Any) -> Reply:
        if not isinstance(body, Mapping) or not isinstance(body.get("batchRequests"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "batchRequests is required")
        requests = body["batchRequests"]
        if len(requests) > MAX_BATCH:
            raise ApiError(
                400,
                "INVALID_BATCH_REQUEST",
                f"A batch can contain at most {MAX_BATCH} subrequests",
            )
        for sub in requests:
            if not isinstance(sub, Mapping) or not sub.get("method") or not sub.get("url"):
                raise ApiError(400, "JSON_PARSER_ERROR", "each subrequest needs method and url")
            if str(sub["method"]).upper() not in _BATCH_METHODS:
                raise ApiError(
                    400, "JSON_PARSER_ERROR", f"Invalid subrequest method: {sub['method']}"
                )
            # A bad URL refuses the batch.
            sub_version, path, _ = parse_subrequest_url(str(sub["url"]), batch=True)
            check_subrequest(sub_version, path, version, batch=True)
        halt = bool(body.get("haltOnError"))
        results: list[dict[str, Any]] = []
        failed = False
        for sub in requests:
            if failed and halt:
                results.append(
                    {
                        "statusCode": 412,
                        "result": [
                            error_item(
                                "BATCH_PROCESSING_HALTED", "Batch processing halted per request"
                            )
                        ],
                    }
                )
                continue
            reply = self.subrequest(
                str(sub["method"]).upper(),
                str(sub["url"]),
                sub.get("richInput"),
                None,
                batch=True,
            )
            failed = failed or reply.status >= 400
            results.append({"statusCode": reply.status, "result": reply.body})
        return Reply(200, {"hasErrors": failed, "results": results})

    def _composite(self, version: str, body: Any) -> Reply:
        if not isinstance(body, Mapping) or not isinstance(body.get("compositeRequest"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "compositeRequest is required")
        requests = body["compositeRequest"]
        if len(requests) > MAX_COMPOSITE:
            raise ApiError(
                400,
                "INVALID_API_INPUT",
                f"A composite request can contain at most {MAX_COMPOSITE} subrequests",
            )
        seen: set[str] = set()
        queries = 0
        for sub in requests:
            ref = sub.get("referenceId") if isinstance(sub, Mapping) else None
            if not isinstance(ref, str) or not REFERENCE_ID_RE.fullmatch(ref):
                raise ApiError(
                    400,
                    "JSON_PARSER_ERROR",
                    f"Provided referenceId ('{ref}') must start with a letter or a number, and "
                    "it can contain only letters, numbers and underscores ('_').",
                )
            if ref in seen:
                raise ApiError(400, "JSON_PARSER_ERROR", f"Duplicate referenceId '{ref}'")
            seen.add(ref)
            if sub.get("method") not in _COMPOSITE_METHODS:  # case-sensitive, like Salesforce
                raise ApiError(
                    400,
                    "JSON_PARSER_ERROR",
                    f"Invalid method {sub.get('method')!r} in subrequest '{ref}': use one of "
                    f"{', '.join(sorted(_COMPOSITE_METHODS))}",
                )
            if not isinstance(sub.get("url"), str):
                raise ApiError(400, "JSON_PARSER_ERROR", f"Subrequest '{ref}' needs a url")
            sub_version, path, _ = parse_subrequest_url(sub["url"], batch=False)
            check_subrequest(sub_version, path, version, batch=False)
            if path.startswith(("query", "queryAll", "composite/sobjects")):
                queries += 1
            sub_headers = sub.get("httpHeaders")
            if sub_headers is not None and not isinstance(sub_headers, Mapping):
                raise ApiError(
                    400, "JSON_PARSER_ERROR", f"httpHeaders of '{ref}' must be a JSON object"
                )
            for name in sub_headers or {}:
                if name.lower() in _FORBIDDEN_SUBREQUEST_HEADERS:
                    raise ApiError(400, "INVALID_API_INPUT", f"httpHeaders cannot set {name}")
        if queries > MAX_COMPOSITE_QUERIES:
            raise ApiError(
                400,
                "INVALID_API_INPUT",
                f"A composite request can contain at most {MAX_COMPOSITE_QUERIES} query or "
                "sObject Collections subrequests",
            )
        all_or_none = bool(body.get("allOrNone"))
        results: dict[str, Any] = {}
        replies: list[dict[str, Any] | None] = [None] * len(requests)
        failed_at: int | None = None

        def run_all() -> None:
            nonlocal failed_at
            for index, sub in enumerate(requests):
                ref = sub["referenceId"]
                try:
                    url = resolve_text(str(sub["url"]), results, url_encode=True)
                    sub_body = resolve(sub.get("body"), results)
                except UnresolvedReference as missing:
                    replies[index] = composite_item(ref, 400, invalid_reference(missing))
                    if all_or_none:
                        failed_at = index
                        raise Rollback from None
                    continue
                method = str(sub["method"])
                collection_write = method != "GET" and _is_collection(url)
                if all_or_none and collection_write:
                    # The outer allOrNone overrides an embedded collection's own flag.
                    if isinstance(sub_body, Mapping):
                        sub_body = {**sub_body, "allOrNone": True}
                    if method == "DELETE":
                        url += ("&" if "?" in url else "?") + "allOrNone=true"
                reply = self.subrequest(method, url, sub_body, sub.get("httpHeaders"), batch=False)
                replies[index] = composite_item(ref, reply.status, reply.body, reply.headers)
                if reply.status < 400:
                    results[ref] = reply.body
                partly_failed = (
                    collection_write
                    and isinstance(reply.body, list)
                    and any(
                        isinstance(r, Mapping) and r.get("success") is False for r in reply.body
                    )
                )
                if all_or_none and (reply.status >= 400 or partly_failed):
                    failed_at = index
                    raise Rollback

        if all_or_none:
            try:
                with self.store.transaction():
                    run_all()
            except Rollback:
                halted = rolled_back()
                for index, sub in enumerate(requests):
                    if index != failed_at:
                        replies[index] = composite_item(sub["referenceId"], 400, halted)
        else:
            run_all()
        return Reply(200, {"compositeResponse": replies})

    # -- sObject Collections -------------------------------------------------------------------

    def _collections(
        self,
        method: str,
        version: str,
        rest: list[str],
        query: Mapping[str, str],
        body: Any,
    ) -> Reply:
        if not rest:
            if method == "DELETE":
                ids = _split(query.get("ids")) or []
                if not ids:
                    # "ids: Required" (Delete Records Using sObject Collections): a request
                    # that is not well formed answers 400. The code is the one Salesforce
                    # uses for a missing argument; the docs do not name it.
                    raise ApiError(400, "MISSING_ARGUMENT", "ids parameter must be specified")
                all_or_none = query.get("allOrNone", "false").lower() == "true"
                self._check_collection_size(len(ids))
                return Reply(200, self._each(ids, all_or_none, self._delete_one))
            records, all_or_none = self._collection_body(body)
            if method == "POST":
                return Reply(200, self._each(records, all_or_none, self._create_one, creates=True))
            if method == "PATCH":
                return Reply(200, self._each(records, all_or_none, self._update_one))
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")
        sobject = self.schema.require(rest[0])
        if len(rest) == 1 and method in ("GET", "POST"):
            if method == "GET":
                ids, fields = _split(query.get("ids")) or [], _split(query.get("fields")) or []
            else:
                data = body if isinstance(body, Mapping) else {}
                ids, fields = _strings(data, "ids"), _strings(data, "fields")
            if not fields:
                raise ApiError(400, "MALFORMED_QUERY", "fields is required")
            self._check_collection_size(len(ids))
            for name in fields:
                sobject.require_field(name)
            out: list[Any] = []
            for record_id in ids:
                try:
                    record = self.store.retrieve(sobject, str(record_id))
                except ApiError:
                    out.append(None)
                    continue
                out.append(self._present(sobject, record, version, fields))
            return Reply(200, out)
        if len(rest) == 2 and method == "PATCH":
            fd = self.store.external_id_field(sobject, rest[1])
            records, all_or_none = self._collection_body(body)
            for record in records:
                for key, value in record.items():
                    by_id = fd.name == "Id" and value is None  # upsert by Id: null inserts
                    if key.lower() == fd.name.lower() and not _is_scalar(value) and not by_id:
                        # Like any value of the wrong JSON type: the body does not deserialize.
                        raise ApiError(
                            400,
                            "JSON_PARSER_ERROR",
                            f"Cannot deserialize the value of {fd.name}: an external id is a "
                            "string or a number",
                        )

            def upsert_one(record: Mapping[str, Any]) -> dict[str, Any]:
                data = {k: v for k, v in record.items() if k != "attributes"}
                value = next((v for k, v in data.items() if k.lower() == fd.name.lower()), None)
                if fd.name == "Id":
                    data = {k: v for k, v in data.items() if k.lower() != "id"}  # the match key
                if value is None and fd.name == "Id":
                    # Upserting by Id, a record without one is created.
                    self.org.faults.check_create_lock(sobject.name)
                    record_id = self.store.insert(sobject, data)
                    return {"id": record_id, "success": True, "errors": [], "created": True}
                if value is None:
                    raise ApiError(
                        400, "REQUIRED_FIELD_MISSING", f"Missing external id {fd.name}", [fd.name]
                    )
                matches = self.store.find(sobject, fd, value)
                for match in matches:
                    self.org.faults.check_lock(match["Id"])
                if not matches:
                    self.org.faults.check_create_lock(sobject.name)  # it would insert
                try:
                    record_id, created = self.store.upsert(sobject, fd.name, str(value), data)
                except MultipleMatches as exc:
                    raise ApiError(
                        400,
                        "DUPLICATE_EXTERNAL_ID",
                        f"{fd.name}: more than one record found for external id field: {exc.ids}",
                        [fd.name],
                    ) from None
                return {"id": record_id, "success": True, "errors": [], "created": created}

            return Reply(200, self._each(records, all_or_none, upsert_one, upsert=True))
        raise ApiError.not_found()

    def _check_collection_size(self, count: int) -> None:
        if count > MAX_COLLECTION:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {MAX_COLLECTION} records into "
                "this call",
            )

    def _collection_body(self, body: Any) -> tuple[list[Mapping[str, Any]], bool]:
        if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "records is required")
        records = body["records"]
        self._check_collection_size(len(records))
        for record in records:
            if not isinstance(record, Mapping):
                # The body does not deserialize: the whole request fails, nothing runs.
                raise ApiError(
                    400,
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize instance of SObject from {_json_token(record)} value: "
                    "each of records must be a JSON object",
                )
        return records, bool(body.get("allOrNone"))

    def _each(
        self,
        items: list[Any],
        all_or_none: bool,
        action: Any,
        *,
        creates: bool = False,
        upsert: bool = False,
    ) -> list[dict[str, Any]]:
        """Run ``action`` per item; with all_or_none, any failure rolls every item back.

        A rolled-back item that created a record has no ``id`` (the record never existed),
        like an item that failed; one that updated or deleted a record keeps that record's
        id. Upsert items carry ``created`` whatever happened (false unless a record was
        created and kept): it is a boolean of UpsertResult, never null.
        """
        results: list[dict[str, Any]] = []
        failed = False
        try:
            with self.store.transaction():
                for item in items:
                    try:
                        with self.store.transaction():
                            results.append(action(item))
                    except ApiError as exc:
                        failed = True
                        result: dict[str, Any] = {"success": False, "errors": exc.as_save_errors()}
                        if upsert:
                            result["created"] = False
                        results.append(result)
                if all_or_none and failed:
                    raise Rollback
        except Rollback:
            rolled_back = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the "
                "request was using AllOrNone header",
                "fields": [],
            }
            results = [
                _rolled_back(r, rolled_back, created=creates or r.get("created") is True)
                if r["success"]
                else r
                for r in results
            ]
        return results

    def _record_type(self, record: Mapping[str, Any]) -> SObjectDef:
        attributes = record.get("attributes") if isinstance(record, Mapping) else None
        name = attributes.get("type") if isinstance(attributes, Mapping) else None
        if not name:
            raise ApiError(
                400, "INVALID_TYPE", "Must specify a type in the attributes of each record"
            )
        sobject = self.schema.get(str(name))
        if sobject is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return sobject  # type: ignore[no-any-return]

    def _create_one(self, record: Mapping[str, Any]) -> dict[str, Any]:
        sobject = self._record_type(record)
        data = {k: v for k, v in record.items() if k != "attributes"}
        if any(k.lower() == "id" for k in data):
            raise ApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "cannot specify Id in an insert call",
                ["Id"],
            )
        self.org.faults.check_create_lock(sobject.name)
        return {"id": self.store.insert(sobject, data), "success": True, "errors": []}

    def _update_one(self, record: Mapping[str, Any]) -> dict[str, Any]:
        sobject = self._record_type(record)
        data = {k: v for k, v in record.items() if k != "attributes"}
        id_key = next((k for k in data if k.lower() == "id"), None)
        if id_key is None:
            raise ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        record_id = str(data.pop(id_key))
        self.org.faults.check_lock(to_18(record_id) if is_salesforce_id(record_id) else record_id)
        self.store.update(sobject, record_id, data)
        return {"id": to_18(record_id), "success": True, "errors": []}

    def _delete_one(self, record_id: str) -> dict[str, Any]:
        self.org.faults.check_lock(to_18(record_id) if is_salesforce_id(record_id) else record_id)
        self.store.delete(None, record_id)
        return {"id": to_18(record_id), "success": True, "errors": []}


_ID_SHAPED = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")

_DESCRIBE_NULL_KEYS = (
    "associateEntityType",
    "associateParentEntity",
    "defaultImplementation",
    "extendedBy",
    "extendsInterfaces",
    "implementedBy",
    "implementsInterfaces",
)


def _strings(body: Mapping[str, Any], key: str) -> list[str]:
    """``body[key]`` as a list of strings (absent or null: empty); JSON_PARSER_ERROR if it
    is anything else."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize {key} from {_json_token(value)} value: expected an array of "
            "strings",
        )
    return value


def _json_token(value: Any) -> str:
    """The name Salesforce's JSON parser gives the token that starts ``value``."""
    if value is None:
        return "VALUE_NULL"
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, str):
        return "VALUE_STRING"
    return "START_ARRAY" if isinstance(value, list) else "START_OBJECT"


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _is_collection(url: str) -> bool:
    """Whether a (valid) Composite subrequest URL is an sObject Collections resource."""
    return parse_subrequest_url(url, batch=False)[1].startswith("composite/sobjects")


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _body_dict(body: Any) -> dict[str, Any]:
    if body is None:
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            "The HTTP entity body is required, but this request has no entity body.",
        )
    if not isinstance(body, Mapping):
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of SObject from START_ARRAY value [line:1, column:1]",
        )
    return dict(body)


def _batch_size(headers: Mapping[str, str]) -> int:
    options = headers.get("sforce-query-options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", options, re.IGNORECASE)
    if not match:
        return DEFAULT_BATCH_SIZE
    return max(200, min(2000, int(match.group(1))))


def _version_at_least(version: str, major: int) -> bool:
    try:
        return float(version) >= major
    except ValueError:
        return True

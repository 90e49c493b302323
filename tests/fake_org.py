"""An in-memory Salesforce org for tests: a small, honest double of the REST API (not the emulator).

It speaks the wire formats of the shared REST reference (sObject CRUD and upsert, query paging,
Composite Batch, Composite, sObject Collections, the OAuth token endpoint) for Account, Contact
and Opportunity, with a deliberately tiny SOQL subset. What it does not model is refused with
the error Salesforce gives (``MALFORMED_QUERY``, ``INVALID_FIELD``, ``NOT_FOUND``...), so tests
and docs never silently rely on something the fake only pretends to do::

    org = FakeOrg.with_demo_data()
    http = httpx.AsyncClient(transport=httpx.MockTransport(org.handle))
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import string
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from sobjects._ids import is_salesforce_id, to_18

INSTANCE_URL = "https://acme.my.salesforce.com"
# Key prefix, then fields "Name:type" with flags ! required, ^ external id, * read-only;
# "AccountId:reference>Account" is a lookup to Account (relationship name "Account").
_SCHEMA = {
    "Account": (
        "001",
        "Name:string! Industry:picklist Phone:phone Website:url BillingCity:string "
        "NumberOfEmployees:int AnnualRevenue:currency Description:textarea Ext_Id__c:string^",
    ),
    "Contact": (
        "003",
        "AccountId:reference>Account FirstName:string LastName:string! Name:string* "
        "Email:email Phone:phone Title:string Department:string Description:textarea",
    ),
    "Opportunity": (
        "006",
        "AccountId:reference>Account Name:string! StageName:picklist! CloseDate:date! "
        "Amount:currency Probability:percent Description:textarea ExternalId__c:string^",
    ),
}
_SYSTEM = "Id:id* IsDeleted:boolean* CreatedDate:datetime* LastModifiedDate:datetime* "
_VERSIONS = {"60.0": "Spring '24", "61.0": "Summer '24", "62.0": "Winter '25"}
_ORG_ID, _USER_ID = "00D5e0000000001", "0055e0000000001"
_JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_GRANTS = {"client_credentials", "password", "refresh_token", _JWT}
_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_REF = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_VALUE = r"'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?|true|false|null"
_CONDITION = re.compile(rf"(\w+)\s*=\s*({_VALUE})", re.IGNORECASE | re.DOTALL)
_SOQL = re.compile(
    r"SELECT\s+(?P<fields>COUNT\(\s*\)|\w+(?:\s*,\s*\w+)*)\s+FROM\s+(?P<sobject>\w+)"
    rf"(?:\s+WHERE\s+(?P<where>{_CONDITION.pattern}(?:\s+AND\s+{_CONDITION.pattern})*))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>\w+)(?:\s+(?P<dir>ASC|DESC))?)?(?:\s+LIMIT\s+(?P<limit>\d+))?",
    re.IGNORECASE | re.DOTALL,
)
_SUBSET = (
    "FakeOrg understands only SELECT f1, f2 | COUNT() FROM X [WHERE f = value [AND ...]] "
    "[ORDER BY f [ASC|DESC]] [LIMIT n]"
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_ROLLED_BACK = (
    "The transaction was rolled back since another operation in the same transaction failed."
)
_ALL_OR_NONE = (
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header"
)
_NO_EXT_FIELD = "Provided external ID field does not exist or is not accessible"


def _describe_field(name: str, kind: str, target: str, flags: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": kind,
        "externalId": "^" in flags,
        "idLookup": kind == "id" or "^" in flags,
        "nillable": "!" not in flags and kind not in ("id", "boolean"),
        "createable": "*" not in flags,
        "updateable": "*" not in flags,
        "defaultedOnCreate": kind in ("id", "boolean"),
        "custom": name.endswith("__c"),
        "referenceTo": [target] if target else [],
        "relationshipName": name.removesuffix("Id") if target else None,
    }


_FIELDS = {
    sobject: [
        _describe_field(*m.groups())
        for m in re.finditer(r"(\w+):(\w+)>?(\w*)([!^*]*)", _SYSTEM + spec)
    ]
    for sobject, (_, spec) in _SCHEMA.items()
}
_TYPES = {prefix: sobject for sobject, (prefix, _) in _SCHEMA.items()}


class _Fail(Exception):
    """An error reply, raised anywhere in a handler and rendered by ``_call``."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def body(self) -> list[dict[str, Any]]:
        error = {"message": self.message, "errorCode": self.code}
        return [error if self.fields is None else {**error, "fields": self.fields}]

    def record_error(self) -> dict[str, Any]:  # per-record results name the code statusCode
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


def _not_found(message: str = "The requested resource does not exist") -> _Fail:
    return _Fail(404, "NOT_FOUND", message)


class FakeOrg:
    """One org in memory. ``handle`` is an httpx transport handler (or a respx side effect)."""

    def __init__(self, instance_url: str = INSTANCE_URL, *, daily_limit: int = 15000) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.daily_limit, self.api_usage = daily_limit, 0
        self.records: dict[str, dict[str, Any]] = {}  # 18-char id -> fields; type from prefix
        self._tokens: set[str] = set()
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._serial = 0

    @classmethod
    def with_demo_data(cls, instance_url: str = INSTANCE_URL) -> FakeOrg:
        """Accounts Acme, Globex, Initech (Industry set, no external ids) and five Contacts:
        Jane and John Doe at Acme, Hank Scorpio, Peter Gibbons, and Ada Lovelace (no Account)."""
        org = cls(instance_url)
        industries = {"Acme": "Manufacturing", "Globex": "Energy", "Initech": "Technology"}
        acme, globex, initech = (
            org.insert("Account", {"Name": name, "Industry": industry})
            for name, industry in industries.items()
        )
        people = [("Jane", "Doe", acme), ("John", "Doe", acme), ("Hank", "Scorpio", globex)]
        for first, last, account in [
            *people,
            ("Peter", "Gibbons", initech),
            ("Ada", "Lovelace", None),
        ]:
            email = f"{first}.{last}@example.com".lower()
            fields = {"FirstName": first, "LastName": last, "AccountId": account, "Email": email}
            org.insert("Contact", fields)
        return org

    def insert(self, sobject: str, fields: dict[str, Any]) -> str:
        """Create a record without HTTP or API usage (same validation as the API); its id."""
        self._serial += 1
        record_id = to_18(_SCHEMA[sobject][0] + "5e0" + _b62(self._serial, 9))
        record = {f["name"]: None for f in _FIELDS[sobject]}
        record.update(Id=record_id, IsDeleted=False, CreatedDate=_now())
        self._write(sobject, record, fields)
        self.records[record_id] = record
        return record_id

    def expire_tokens(self) -> None:
        """Forget every issued token: the next call gets 401 INVALID_SESSION_ID."""
        self._tokens.clear()

    # -- HTTP ---------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode("ascii")
        path = target.split("?")[0].rstrip("/")
        if path == "/services/oauth2/token" and request.method == "POST":
            return self._token(dict(parse_qsl(request.content.decode())))
        if request.url.host != urlsplit(self.instance_url).hostname:
            return httpx.Response(404, json=_not_found().body())
        if path == "/services/data":  # the versions list: no auth, not metered
            versions = [
                {"label": label, "url": f"/services/data/v{v}", "version": v}
                for v, label in _VERSIONS.items()
            ]
            return httpx.Response(200, json=versions)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme not in ("Bearer", "OAuth") or token not in self._tokens:
            error = _Fail(401, "INVALID_SESSION_ID", "Session expired or invalid")
            return httpx.Response(401, json=error.body())
        try:
            body = json.loads(request.content) if request.content else None
        except ValueError:
            body = _Fail(400, "JSON_PARSER_ERROR", "Unexpected character: the body is not JSON")
        batch = body.get("batchRequests") if isinstance(body, dict) else None
        batch_size = (
            len(batch) if path.endswith("/composite/batch") and isinstance(batch, list) else 0
        )
        self.api_usage += max(batch_size, 1)  # Composite Batch: one call per subrequest
        if isinstance(body, _Fail):
            status, payload = body.status, body.body()
        else:
            status, payload = self._call(request.method, target, body, request.headers)
        headers = {"Sforce-Limit-Info": f"api-usage={self.api_usage}/{self.daily_limit}"}
        headers.update(self._location(target, status, payload))
        return httpx.Response(status, headers=headers, json=None if status == 204 else payload)

    def _token(self, form: dict[str, str]) -> httpx.Response:
        grant = form.get("grant_type", "")
        if grant not in _GRANTS:
            error = {
                "error": "unsupported_grant_type",
                "error_description": "grant type not supported",
            }
            return httpx.Response(400, json=error)
        if not form.get("assertion" if grant == _JWT else "client_id"):
            error = {"error": "invalid_grant", "error_description": "authentication failure"}
            return httpx.Response(400, json=error)
        token = f"{_ORG_ID}!AQ4AQFake.{secrets.token_urlsafe(24)}"
        self._tokens.add(token)
        reply = {
            "access_token": token,
            "instance_url": self.instance_url,
            "id": f"https://login.salesforce.com/id/{to_18(_ORG_ID)}/{to_18(_USER_ID)}",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        return httpx.Response(200, json=reply)

    def _location(self, target: str, status: int, body: Any) -> dict[str, str]:
        version = re.search(r"/v(\d+\.\d+)/", target)
        if status != 201 or not isinstance(body, dict) or "id" not in body or not version:
            return {}
        return {"Location": self._url(version[1], body["id"])}

    def _call(self, method: str, target: str, body: Any, headers: Any) -> tuple[int, Any]:
        """Run one (sub)request for ``/services/data/vNN.N/...[?query]``: (status, body)."""
        url = urlsplit(target)
        m = re.fullmatch(r"/services/data/v(\d+\.\d+)(/.*)?", url.path.rstrip("/"))
        if m is None:
            return 404, _not_found().body()
        parts = [unquote(p) for p in (m[2] or "").split("/")[1:]]
        try:
            return self._route(method, m[1], parts, dict(parse_qsl(url.query)), body, headers)
        except _Fail as fail:
            return fail.status, fail.body()

    def _route(
        self, method: str, v: str, parts: list[str], params: dict[str, str], body: Any, headers: Any
    ) -> tuple[int, Any]:
        match [method, *parts]:
            case ["GET"]:
                names = ["sobjects", "query", "queryAll", "limits", "composite"]
                return 200, {name: f"/services/data/v{v}/{name}" for name in names}
            case ["GET", "limits"]:
                left = self.daily_limit - self.api_usage
                return 200, {"DailyApiRequests": {"Max": self.daily_limit, "Remaining": left}}
            case ["GET", "sobjects"]:
                described = [self._describe(v, sobject, full=False) for sobject in _SCHEMA]
                return 200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": described}
            case ["GET", "sobjects", name, "describe"]:
                return 200, self._describe(v, self._sobject(name), full=True)
            case ["POST", "sobjects", name]:
                new_id = self.insert(self._sobject(name), body)
                return 201, {"id": new_id, "success": True, "errors": []}
            case [_, "sobjects", name, record_id]:
                sobject = self._sobject(name)
                if not _is_id(record_id):
                    raise _not_found(f"{_NO_EXT_FIELD}: {record_id}")
                record = self._record(sobject, record_id)
                return self._on_record(method, v, sobject, record, params, body)
            case [_, "sobjects", name, field, value]:
                return self._on_external_id(
                    method, v, self._sobject(name), field, value, params, body
                )
            case ["GET", ("query" | "queryAll") as resource]:
                size = re.search(r"batchSize=(\d+)", headers.get("Sforce-Query-Options", ""))
                batch_size = min(max(int(size[1]), 200), 2000) if size else 2000
                return 200, self._query(v, params.get("q", ""), resource == "queryAll", batch_size)
            case ["GET", "query" | "queryAll", locator]:
                cursor, _, offset = locator.partition("-")
                if cursor not in self._cursors or not offset.isdigit():
                    raise _Fail(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
                return 200, self._page(v, cursor, int(offset))
            case ["POST", "composite", "batch"]:
                return self._batch(body)
            case ["POST", "composite"]:
                return self._composite(body)
            case ["POST" | "PATCH" | "DELETE", "composite", "sobjects", *rest] if len(rest) < 3:
                return self._collections(method, v, rest, params, body)
        raise _not_found()

    # -- records ------------------------------------------------------------------------------

    def _sobject(self, name: str) -> str:
        found = [sobject for sobject in _SCHEMA if sobject.lower() == name.lower()]
        if not found:
            raise _not_found()
        return found[0]

    def _field(self, sobject: str, name: str, *, relationship: bool = False) -> dict[str, Any]:
        key = "relationshipName" if relationship else "name"
        for field in _FIELDS[sobject]:
            if (field[key] or "").lower() == name.lower():
                return field
        raise _Fail(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}")

    def _url(self, v: str, record_id: str) -> str:
        return f"/services/data/v{v}/sobjects/{_TYPES[record_id[:3]]}/{record_id}"

    def _shape(self, v: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        attributes = {"type": _TYPES[record["Id"][:3]], "url": self._url(v, record["Id"])}
        return {"attributes": attributes, **{f: record[f] for f in fields}}

    def _record(self, sobject: str, record_id: str) -> dict[str, Any]:
        record = self.records.get(to_18(record_id))
        if record is None or _TYPES[record["Id"][:3]] != sobject:
            raise _not_found()
        if record["IsDeleted"]:
            raise _Fail(404, "ENTITY_IS_DELETED", "entity is deleted")
        return record

    def _write(self, sobject: str, record: dict[str, Any], data: Any) -> None:
        """Validate ``data`` and apply it to ``record``, all or nothing."""
        if not isinstance(data, dict):
            raise _Fail(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        new = dict(record)
        for key, value in data.items():
            if key == "attributes":
                continue
            field = self._field(sobject, key, relationship=isinstance(value, dict))
            name = field["name"]
            if not field["createable"]:
                message = f"Unable to create/update fields: {name}."
                raise _Fail(400, "INVALID_FIELD_FOR_INSERT_UPDATE", message, [name])
            new[name] = self._parent_id(field, value) if field["referenceTo"] else value
        required = [
            f["name"] for f in _FIELDS[sobject] if not (f["nillable"] or f["defaultedOnCreate"])
        ]
        missing = [name for name in required if new[name] in (None, "")]
        if missing:
            message = f"Required fields are missing: [{', '.join(missing)}]"
            raise _Fail(400, "REQUIRED_FIELD_MISSING", message, missing)
        if sobject == "Contact":
            new["Name"] = " ".join(n for n in (new["FirstName"], new["LastName"]) if n)
        record.update(new, LastModifiedDate=_now())

    def _parent_id(self, field: dict[str, Any], value: Any) -> str | None:
        """A lookup value: an id, or ``{"ExtField": value}`` naming the parent by external id."""
        target = field["referenceTo"][0]
        if value is None:
            return None
        if isinstance(value, dict) and len(value) == 1:
            matches = self._by_external_id(target, *next(iter(value.items())))
            if len(matches) == 1:
                return str(matches[0]["Id"])
        elif _is_id(value):
            parent = self.records.get(to_18(value))
            if parent and not parent["IsDeleted"] and _TYPES[parent["Id"][:3]] == target:
                return str(parent["Id"])
        name = field["name"]
        raise _Fail(
            400, "INVALID_CROSS_REFERENCE_KEY", f"{name}: invalid cross reference id", [name]
        )

    def _by_external_id(self, sobject: str, field: str, value: Any) -> list[dict[str, Any]]:
        found = [f for f in _FIELDS[sobject] if f["name"].lower() == field.lower()]
        if not found or not found[0]["externalId"]:
            raise _not_found(f"{_NO_EXT_FIELD}: {field}")
        name, wanted = found[0]["name"], str(value).casefold()
        return [
            r
            for r in self.records.values()
            if _TYPES[r["Id"][:3]] == sobject
            and not r["IsDeleted"]
            and r[name] is not None
            and str(r[name]).casefold() == wanted
        ]

    def _on_record(
        self,
        method: str,
        v: str,
        sobject: str,
        record: dict[str, Any],
        params: dict[str, str],
        body: Any,
    ) -> tuple[int, Any]:
        if method == "GET":
            names = [f["name"] for f in _FIELDS[sobject]]
            if "fields" in params:
                names = [self._field(sobject, f)["name"] for f in params["fields"].split(",")]
                names += [] if "Id" in names else ["Id"]
            return 200, self._shape(v, record, names)
        if method == "PATCH":
            self._write(sobject, record, body)
            return 204, None
        if method == "DELETE":
            record["IsDeleted"] = True
            return 204, None
        message = f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE"
        raise _Fail(405, "METHOD_NOT_ALLOWED", message)

    def _on_external_id(
        self,
        method: str,
        v: str,
        sobject: str,
        field: str,
        value: str,
        params: dict[str, str],
        body: Any,
    ) -> tuple[int, Any]:
        matches = self._by_external_id(sobject, field, value)
        if len(matches) > 1:
            return 300, [self._url(v, r["Id"]) for r in matches]
        if method != "PATCH":
            if not matches:
                raise _not_found()
            return self._on_record(method, v, sobject, matches[0], params, body)
        name = self._field(sobject, field)["name"]
        data = dict(body) if isinstance(body, dict) else {}
        if any(
            k.lower() == "id" or (k.lower() == name.lower() and val != value)
            for k, val in data.items()
        ):
            raise _Fail(400, "INVALID_FIELD", f"An upsert body must not hold Id or another {name}")
        data = {k: val for k, val in data.items() if k.lower() != name.lower()}
        if not matches:
            new_id = self.insert(sobject, {**data, name: value})
            return 201, {"id": new_id, "success": True, "errors": [], "created": True}
        self._write(sobject, matches[0], data)
        if float(v) < 46:
            return 204, None
        return 200, {"id": matches[0]["Id"], "success": True, "errors": [], "created": False}

    def _describe(self, v: str, sobject: str, *, full: bool) -> dict[str, Any]:
        base = f"/services/data/v{v}/sobjects/{sobject}"
        out: dict[str, Any] = {"name": sobject, "label": sobject, "keyPrefix": _SCHEMA[sobject][0]}
        out["labelPlural"] = re.sub("y$", "ie", sobject) + "s"
        out.update(dict.fromkeys(["createable", "updateable", "deletable", "queryable"], True))
        out["custom"] = False
        out["urls"] = {
            "sobject": base,
            "describe": f"{base}/describe",
            "rowTemplate": f"{base}/{{ID}}",
        }
        if full:
            out["fields"] = _FIELDS[sobject]
            out["childRelationships"] = [
                {"childSObject": child, "field": f["name"], "relationshipName": child + "s"}
                for child, fields in _FIELDS.items()
                for f in fields
                if f["referenceTo"] == [sobject]
            ]
        return out

    # -- query --------------------------------------------------------------------------------

    def _query(self, v: str, soql: str, include_deleted: bool, batch_size: int) -> dict[str, Any]:
        m = _SOQL.fullmatch(soql.strip())
        if m is None:
            raise _Fail(400, "MALFORMED_QUERY", f"{_SUBSET}; got: {soql}")
        found = [s for s in _SCHEMA if s.lower() == m["sobject"].lower()]
        if not found:
            raise _Fail(400, "INVALID_TYPE", f"sObject type '{m['sobject']}' is not supported.")
        sobject = found[0]

        def column(name: str) -> dict[str, Any]:
            try:
                return self._field(sobject, name)
            except _Fail:
                message = f"No such column '{name}' on entity '{sobject}'."
                raise _Fail(400, "INVALID_FIELD", message) from None

        where = [(column(f), _literal(text)) for f, text in _CONDITION.findall(m["where"] or "")]
        rows = [
            r
            for r in self.records.values()
            if _TYPES[r["Id"][:3]] == sobject
            and (include_deleted or not r["IsDeleted"])
            and all(_equal(field, r[field["name"]], value) for field, value in where)
        ]
        if m["order"]:
            key = column(m["order"])["name"]
            rows.sort(key=lambda r: _sort_key(r[key]), reverse=(m["dir"] or "").upper() == "DESC")
        rows = rows[: int(m["limit"])] if m["limit"] else rows
        if "(" in m["fields"]:  # COUNT()
            return {"totalSize": len(rows), "done": True, "records": []}
        names = [column(f.strip())["name"] for f in m["fields"].split(",")]
        self._serial += 1
        cursor = to_18("01g5e0" + _b62(self._serial, 9))
        self._cursors[cursor] = ([self._shape(v, r, names) for r in rows], batch_size)
        return self._page(v, cursor, 0)

    def _page(self, v: str, cursor: str, offset: int) -> dict[str, Any]:
        records, size = self._cursors[cursor]
        page: dict[str, Any] = {"totalSize": len(records), "done": offset + size >= len(records)}
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/v{v}/query/{cursor}-{offset + size}"
        page["records"] = records[offset : offset + size]
        return page

    # -- composite resources ------------------------------------------------------------------

    def _batch(self, body: Any) -> tuple[int, Any]:
        subs = body.get("batchRequests") if isinstance(body, dict) else None
        if not isinstance(subs, list) or not 0 < len(subs) <= 25:
            raise _Fail(400, "INVALID_BATCH_REQUEST", "batchRequests must hold 1 to 25 subrequests")
        halted = {"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted"}
        results: list[dict[str, Any]] = []
        for sub in subs:
            url = str(sub.get("url", ""))
            if body.get("haltOnError") and any(r["statusCode"] >= 400 for r in results):
                status, result = 412, [halted]
            elif not re.match(r"v\d+\.\d+/", url) or re.match(r"v\d+\.\d+/composite", url):
                status, result = (
                    400,
                    _Fail(400, "INVALID_BATCH_REQUEST", f"Not batchable: {url}").body(),
                )
            else:
                method, data = str(sub.get("method", "")), sub.get("richInput")
                status, result = self._call(method, f"/services/data/{url}", data, {})
            results.append({"statusCode": status, "result": result})
        return 200, {"hasErrors": any(r["statusCode"] >= 400 for r in results), "results": results}

    def _composite(self, body: Any) -> tuple[int, Any]:
        subs = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subs, list) or not 0 < len(subs) <= 25:
            raise _Fail(400, "INVALID_API_INPUT", "compositeRequest must hold 1 to 25 subrequests")
        refs = [sub.get("referenceId") for sub in subs]
        for ref in refs:
            if not re.fullmatch(r"[A-Za-z0-9]\w*", str(ref)) or refs.count(ref) > 1:
                raise _Fail(400, "JSON_PARSER_ERROR", f"Invalid or duplicate referenceId ('{ref}')")
        all_or_none = bool(body.get("allOrNone"))
        before = copy.deepcopy(self.records)
        results: dict[str, Any] = {}
        out: list[dict[str, Any]] = []
        for sub, ref in zip(subs, refs, strict=True):
            if all_or_none and len(results) < len(out):
                break  # a failure: the rest is never run
            try:
                url = str(_resolve(sub.get("url", ""), results))
                if re.fullmatch(r"/services/data/v[\d.]+/composite(/batch)?/?", urlsplit(url).path):
                    raise _Fail(400, "INVALID_API_INPUT", f"Not allowed in a composite: {url}")
                data = _resolve(sub.get("body"), results)
                status, result = self._call(
                    str(sub.get("method")), url, data, sub.get("httpHeaders") or {}
                )
            except _Fail as fail:
                url, status, result = "", fail.status, fail.body()
            if status < 400:
                results[ref] = result
            headers = self._location(url, status, result)
            out.append(
                {
                    "body": result,
                    "httpHeaders": headers,
                    "httpStatusCode": status,
                    "referenceId": ref,
                }
            )
        if all_or_none and len(results) < len(out):
            self.records.clear()
            self.records.update(before)
            failed = {item["referenceId"]: item for item in out if item["httpStatusCode"] >= 400}
            halted = _Fail(400, "PROCESSING_HALTED", _ROLLED_BACK).body()
            rolled_back = {"body": halted, "httpHeaders": {}, "httpStatusCode": 400}
            out = [failed.get(ref) or {**rolled_back, "referenceId": ref} for ref in refs]
        return 200, {"compositeResponse": out}

    def _collections(
        self, method: str, v: str, rest: list[str], params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        if method == "POST" and len(rest) == 1:  # retrieve: {"ids": [...], "fields": [...]}
            sobject = self._sobject(rest[0])
            names = [self._field(sobject, f)["name"] for f in body.get("fields") or []]
            if not names:
                raise _Fail(400, "INVALID_FIELD", "Retrieve needs fields")
            ids = [i for i in body.get("ids") or [] if _is_id(i)]
            found = [self.records.get(to_18(i)) for i in ids]
            alive = [
                r if r and not r["IsDeleted"] and _TYPES[r["Id"][:3]] == sobject else None
                for r in found
            ]
            return 200, [r and self._shape(v, r, names) for r in alive]
        if method == "DELETE" and not rest:
            items: Any = [i for i in params.get("ids", "").split(",") if i]
            all_or_none = params.get("allOrNone", "false").lower() == "true"
        elif (method, len(rest)) in (("POST", 0), ("PATCH", 0), ("PATCH", 2)):
            items, all_or_none = body.get("records"), bool(body.get("allOrNone"))
        else:
            raise _not_found()
        if not isinstance(items, list) or not 0 < len(items) <= 200:
            raise _Fail(400, "EXCEEDED_ID_LIMIT", "A collection takes 1 to 200 records or ids")
        before = copy.deepcopy(self.records)
        results: list[dict[str, Any]] = []
        for item in items:
            try:
                results.append(self._collection_item(method, v, rest, item))
            except _Fail as fail:
                results.append({"success": False, "errors": [fail.record_error()]})
        if all_or_none and not all(r["success"] for r in results):
            self.records.clear()
            self.records.update(before)
            error = _Fail(400, "ALL_OR_NONE_OPERATION_ROLLED_BACK", _ALL_OR_NONE).record_error()
            rolled_back = {"success": False, "errors": [error]}
            results = [{"id": r["id"], **rolled_back} if r["success"] else r for r in results]
        return 200, results

    def _collection_item(self, method: str, v: str, rest: list[str], item: Any) -> dict[str, Any]:
        if method == "DELETE":
            if not _is_id(item) or to_18(item) not in self.records:
                raise _Fail(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            record = self._record(_TYPES[item[:3]], item)  # ENTITY_IS_DELETED the second time
            record["IsDeleted"] = True
            return {"id": record["Id"], "success": True, "errors": []}
        if not isinstance(item, dict) or not (item.get("attributes") or {}).get("type"):
            raise _Fail(400, "INVALID_TYPE", "Must specify a type in the attributes field")
        sobject = self._sobject(str(item["attributes"]["type"]))
        data = {k: value for k, value in item.items() if k.lower() != "id"}
        record_id = next((value for k, value in item.items() if k.lower() == "id"), None)
        if rest:  # upsert by rest[1]
            value = next((val for k, val in item.items() if k.lower() == rest[1].lower()), None)
            if sobject != self._sobject(rest[0]) or value in (None, "") or record_id:
                raise _Fail(
                    400, "INVALID_FIELD", f"Each record needs {rest[0]}.{rest[1]} and no Id"
                )
            status, result = self._on_external_id(
                "PATCH", v, sobject, rest[1], str(value), {}, data
            )
            if status == 300:
                raise _Fail(300, "DUPLICATE_EXTERNAL_ID", f"{rest[1]} matches several records")
            return {"id": result["id"], "success": True, "errors": [], "created": status == 201}
        if method == "POST":
            if record_id is not None:
                raise _Fail(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            return {"id": self.insert(sobject, data), "success": True, "errors": []}
        if not _is_id(record_id):
            raise _Fail(400, "MALFORMED_ID", f"Id: invalid id {record_id}", ["Id"])
        record = self._record(sobject, record_id)
        self._write(sobject, record, data)
        return {"id": record["Id"], "success": True, "errors": []}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _b62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _B62[rest] + digits
    return digits.rjust(width, "0")


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and is_salesforce_id(value)


def _literal(text: str) -> Any:
    if text.startswith("'"):
        if any(e not in _ESCAPES for e in re.findall(r"\\(.)", text, re.DOTALL)):
            raise _Fail(400, "MALFORMED_QUERY", f"Invalid string literal: {text}")
        return re.sub(r"\\(.)", lambda e: _ESCAPES[e[1]], text[1:-1])
    words = {"true": True, "false": False, "null": None}
    if text.lower() in words:
        return words[text.lower()]
    return float(text) if "." in text else int(text)


def _equal(field: dict[str, Any], stored: Any, value: Any) -> bool:
    if isinstance(stored, str) and isinstance(value, str):
        if field["type"] in ("id", "reference") and _is_id(value):
            return stored == to_18(value)
        return stored.casefold() == value.casefold()  # SOQL compares text case-insensitively
    return type(stored) is type(value) and stored == value


def _sort_key(value: Any) -> tuple[bool, Any]:  # nulls first ascending, last descending
    return value is not None, value.casefold() if isinstance(value, str) else value


def _resolve(value: Any, results: dict[str, Any]) -> Any:
    """Replace composite ``@{ref.path}`` references in a url or a body."""
    if isinstance(value, dict):
        return {k: _resolve(item, results) for k, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, results) for item in value]
    if not isinstance(value, str):
        return value
    whole = _REF.fullmatch(value)
    if whole:
        return _lookup(whole, results)
    return _REF.sub(lambda m: str(_lookup(m, results)), value)


def _lookup(match: re.Match[str], results: dict[str, Any]) -> Any:
    ref, path = match[1], match[2]
    message = f"Invalid reference specified. No value for {ref}{path} found in {ref}."
    if ref not in results:
        raise _Fail(400, "PROCESSING_HALTED", message)
    value = results[ref]
    for key, index in re.findall(r"\.(\w+)|\[(\d+)\]", path):
        try:
            value = value[key] if key else value[int(index)]
        except (KeyError, IndexError, TypeError):
            raise _Fail(400, "PROCESSING_HALTED", message) from None
    return value

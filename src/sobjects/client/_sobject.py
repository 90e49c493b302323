"""Single-record operations on ``/sobjects``: create, get, update, delete, upsert.

Names and ids are checked before any HTTP is spent, so a typo is a clear local error rather
than a 404 from the server; values in URLs are always percent-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sobjects._ids import is_salesforce_id
from sobjects.client._client import body_of
from sobjects.errors import ConfigurationError, MultipleRecordsError, error_for

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce

__all__ = [
    "ID_SPELLINGS",
    "SObjectAPI",
    "UpsertResult",
    "check_field_list",
    "check_field_name",
    "check_no_id",
    "check_record_id",
    "check_sobject_name",
    "external_id_value",
    "record_path",
    "upsert_body",
    "upsert_path",
]

# API names: a letter, then letters, digits and single underscores; custom suffixes (__c,
# __r, __e, __mdt, ...) and namespaces (ns__Obj__c) are runs of two underscores.
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_{1,2}[A-Za-z0-9]+)*")


_CHECKED_NAMES: set[str] = set()


def check_sobject_name(name: str) -> str:
    """Return ``name`` if it is a valid sObject API name, else raise ``ConfigurationError``.

    >>> check_sobject_name("Invoice__c")
    'Invoice__c'
    """
    if isinstance(name, str) and name in _CHECKED_NAMES:
        return name
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigurationError(f"not a valid sObject API name: {name!r}")
    if len(_CHECKED_NAMES) < 10_000:  # names come from code, not data: a few per program
        _CHECKED_NAMES.add(name)
    return name


def check_field_name(name: str) -> str:
    """Return ``name`` if it is a valid field API name, else raise ``ConfigurationError``."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigurationError(f"not a valid field API name: {name!r}")
    return name


def check_record_id(record_id: str) -> str:
    """Return ``record_id`` if it is a 15- or 18-character Salesforce id.

    >>> check_record_id("001D000000IRFma")
    '001D000000IRFma'
    """
    if not isinstance(record_id, str) or not is_salesforce_id(record_id):
        raise ConfigurationError(f"not a Salesforce record id: {record_id!r}")
    return record_id


def _path_value(value: object) -> str:
    return quote(str(value), safe="")


def check_field_list(fields: Sequence[str]) -> list[str]:
    """Field names for a ``fields=`` parameter: a non-empty list of valid API names.

    A bare string is refused: ``fields="Name"`` would otherwise be read letter by letter.
    """
    if isinstance(fields, str) or not fields:
        raise ConfigurationError(f"fields must be a non-empty list of field names, got {fields!r}")
    return [check_field_name(f) for f in fields]


_ID_IN_BODY = {
    "create": "create data must not contain Id",
    "update": "update data must not contain Id; it goes in the URL",
    "upsert": "upsert data must not contain Id; upsert matches by external id",
}


# Every spelling of "Id": a set test instead of lower-casing each key of each body.
ID_SPELLINGS = frozenset({"id", "Id", "iD", "ID"})


def check_no_id(data: Mapping[str, Any], action: str) -> None:
    """Refuse an ``Id`` key in a create, update or upsert body (Salesforce takes it elsewhere)."""
    if not ID_SPELLINGS.isdisjoint(data):
        raise ConfigurationError(_ID_IN_BODY[action])


def external_id_value(data: Mapping[str, Any], external_id_field: str) -> Any:
    """The external id value an upsert targets, read from ``data``."""
    check_field_name(external_id_field)
    matches = [k for k in data if k.lower() == external_id_field.lower()]
    if not matches:
        raise ConfigurationError(
            f"upsert data has no value for its external id field {external_id_field!r}"
        )
    value = data[matches[0]]
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigurationError(
            f"upsert by {external_id_field!r} needs a non-empty value, got {value!r}"
        )
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigurationError(
            f"external id {external_id_field!r} must be a string or an integer, "
            f"got {type(value).__name__}"
        )
    return value


def upsert_body(data: Mapping[str, Any], external_id_field: str) -> dict[str, Any]:
    """The upsert body: ``data`` without the external id field (it travels in the URL)."""
    check_no_id(data, "upsert")
    return {k: v for k, v in data.items() if k.lower() != external_id_field.lower()}


def record_path(sobject: str, record_id: str, external_id_field: str | None) -> str:
    """``sobjects/{sobject}/{id}``, or ``sobjects/{sobject}/{field}/{value}`` by external id."""
    check_sobject_name(sobject)
    if external_id_field is None:
        return f"sobjects/{sobject}/{check_record_id(record_id)}"
    if record_id is None or str(record_id) == "":
        raise ConfigurationError("an external id value must not be empty")
    return f"sobjects/{sobject}/{check_field_name(external_id_field)}/{_path_value(record_id)}"


def upsert_path(sobject: str, data: Mapping[str, Any], external_id_field: str) -> str:
    value = external_id_value(data, external_id_field)
    return record_path(sobject, str(value), external_id_field)


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What an upsert did: the record id and whether it was created.

    ``id`` is ``None`` only when an API version up to 45.0 answered an update with 204 (no body).
    """

    id: str | None
    created: bool


class SObjectAPI:
    """``sf.sobject``: one record per call.

    >>> async def demo(sf: Salesforce) -> None:
    ...     contact_id = await sf.sobject.create("Contact", {"LastName": "Doe"})
    ...     await sf.sobject.update("Contact", contact_id, {"Title": "CEO"})
    ...     record = await sf.sobject.get("Contact", contact_id, fields=["LastName", "Title"])
    ...     await sf.sobject.delete("Contact", contact_id)
    """

    def __init__(self, client: Salesforce) -> None:
        self._client = client

    async def create(
        self,
        sobject: str,
        data: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Create one record and return its 18-character id.

        ``headers`` carries per-call options such as ``{"Sforce-Auto-Assign": "FALSE"}`` or
        ``{"Sforce-Duplicate-Rule-Header": "allowSave=true"}``.
        """
        check_no_id(data, "create")
        body = await self._client.request_json(
            "POST", f"sobjects/{check_sobject_name(sobject)}", json=dict(data), headers=headers
        )
        return str(body["id"])

    async def get(
        self,
        sobject: str,
        record_id: str,
        *,
        fields: Sequence[str] | None = None,
        external_id_field: str | None = None,
    ) -> dict[str, Any]:
        """Retrieve one record (all readable fields, or ``fields``).

        With ``external_id_field``, ``record_id`` is that field's value instead of an Id.
        """
        path = record_path(sobject, record_id, external_id_field)
        params = None if fields is None else {"fields": ",".join(check_field_list(fields))}
        body = await self._client.request_json("GET", path, params=params)
        return dict(body)

    async def update(
        self,
        sobject: str,
        record_id: str,
        data: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Update the given fields of one record; a ``None`` value clears the field."""
        check_no_id(data, "update")
        path = record_path(sobject, record_id, None)
        await self._client.request("PATCH", path, json=dict(data), headers=headers)

    async def delete(
        self, sobject: str, record_id: str, *, external_id_field: str | None = None
    ) -> None:
        """Delete one record (to the recycle bin), by Id or by external id.

        If the DELETE had to be sent again (its first answer was lost) and the record is then
        found deleted, that is taken as this call's own success.
        """
        path = record_path(sobject, record_id, external_id_field)
        response = await self._client.request("DELETE", path, raise_for_status=False)
        if response.status_code < 300:
            return
        error = error_for(response.status_code, body_of(response), method="DELETE", url=path)
        replayed = response.extensions.get("sobjects_attempts", 1) > 1
        if replayed and error.code == "ENTITY_IS_DELETED":
            return
        raise error

    async def upsert(
        self,
        sobject: str,
        data: Mapping[str, Any],
        *,
        external_id_field: str,
        headers: Mapping[str, str] | None = None,
    ) -> UpsertResult:
        """Insert or update one record matched by ``external_id_field``, whose value is read
        from ``data``. Several matches raise ``MultipleRecordsError`` with the candidates.

        >>> async def demo(sf: Salesforce) -> None:
        ...     result = await sf.sobject.upsert(
        ...         "Account", {"Ext_Id__c": "A-1", "Name": "Acme"}, external_id_field="Ext_Id__c"
        ...     )
        ...     print(result.id, result.created)
        """
        path = upsert_path(sobject, data, external_id_field)
        response = await self._client.request(
            "PATCH",
            path,
            json=upsert_body(data, external_id_field),
            headers=headers,
            raise_for_status=False,
        )
        return parse_upsert_response(response.status_code, body_of(response), path)


def parse_upsert_response(status_code: int, body: Any, path: str) -> UpsertResult:
    """Read an upsert reply: 201 created, 200 updated (API >= 46), 204 updated (<= 45),
    300 several matches; anything else raises the matching error."""
    if status_code == 201:
        return UpsertResult(id=str(body["id"]), created=True)
    if status_code == 200:
        return UpsertResult(id=str(body["id"]), created=bool(body.get("created", False)))
    if status_code == 204:
        return UpsertResult(id=None, created=False)
    if status_code == 300:
        raise MultipleRecordsError(body if isinstance(body, list) else [], method="PATCH", url=path)
    raise error_for(status_code, body, method="PATCH", url=path)

"""sObject Collections: many records per call (``/composite/sobjects``), chunked by 200.

One Collections call counts as one API call for up to 200 records, where Composite Batch
costs one per subrequest. Results come back one per input record, in input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sobjects.client._sobject import (
    ID_SPELLINGS,
    check_field_list,
    check_field_name,
    check_record_id,
    check_sobject_name,
    external_id_value,
)
from sobjects.errors import (
    CollectionsRequestError,
    ConfigurationError,
    ErrorDetail,
    ResponseError,
    SalesforceError,
    error_for,
)

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce

__all__ = [
    "MAX_COLLECTION_SIZE",
    "CollectionResult",
    "CollectionsAPI",
    "collection_records",
    "parse_collection_results",
    "upsert_records",
]

MAX_COLLECTION_SIZE = 200


@dataclass(frozen=True, slots=True)
class CollectionResult:
    """The outcome for one record: ``id``, ``success``, ``errors`` and (upsert) ``created``.

    A record rolled back by ``all_or_none`` has an ``ALL_OR_NONE_OPERATION_ROLLED_BACK``
    error; it keeps its ``id`` when it existed before (an update, a delete, an upsert that
    matched), and has none when the call would have created it.
    """

    id: str | None
    success: bool
    errors: tuple[ErrorDetail, ...] = ()
    created: bool | None = None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> CollectionResult:
        created = item.get("created")
        return cls(
            id=str(item["id"]) if item.get("id") else None,
            success=bool(item.get("success")),
            errors=tuple(ErrorDetail.from_json(e) for e in item.get("errors") or ()),
            created=None if created is None else bool(created),
        )

    def raise_for_status(self) -> None:
        """Raise the matching ``sobjects.errors`` exception if this record failed."""
        if not self.success:
            raise error_for(400, [_as_rest_error(e) for e in self.errors])


def _as_rest_error(error: ErrorDetail) -> dict[str, Any]:
    return {"errorCode": error.code, "message": error.message, "fields": list(error.fields)}


def collection_records(
    sobject: str, records: Iterable[Mapping[str, Any]], *, need_id: bool, forbid_id: bool
) -> list[dict[str, Any]]:
    """Records for a Collections body: each with ``attributes.type`` and checked ids."""
    check_sobject_name(sobject)
    out: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if type(record) is not dict and not isinstance(record, Mapping):
            raise ConfigurationError(f"record {index} is not a mapping: {record!r}")
        body = dict(record)
        attributes = dict(body.pop("attributes", None) or {})
        declared = attributes.get("type")
        if declared is not None and str(declared).lower() != sobject.lower():
            raise ConfigurationError(f"record {index} is a {declared}, not a {sobject}")
        attributes["type"] = sobject
        id_keys = [] if ID_SPELLINGS.isdisjoint(body) else [k for k in body if k.lower() == "id"]
        if need_id:
            if not id_keys or not body[id_keys[0]]:
                raise ConfigurationError(f"record {index} has no Id to update")
            value = body.pop(id_keys[0])
            body["Id"] = check_record_id(str(value))
        elif forbid_id and id_keys:
            raise ConfigurationError(f"record {index} must not carry an Id here")
        out.append({"attributes": attributes, **body})
    return out


def upsert_records(
    sobject: str, records: Iterable[Mapping[str, Any]], external_id_field: str
) -> tuple[str, list[dict[str, Any]]]:
    """The path and records of a Collections upsert; every record must carry its external id."""
    check_field_name(external_id_field)
    body = collection_records(sobject, records, need_id=False, forbid_id=True)
    for record in body:
        external_id_value(record, external_id_field)
    return f"composite/sobjects/{sobject}/{external_id_field}", body


def parse_collection_results(body: Any, expected: int) -> list[CollectionResult]:
    if not isinstance(body, list) or len(body) != expected:
        raise ResponseError(
            200,
            [ErrorDetail("UNEXPECTED_RESPONSE", f"expected {expected} results, got {body!r:.200}")],
        )
    return [CollectionResult.from_json(item) for item in body]


def _chunks(items: Sequence[Any], size: int = MAX_COLLECTION_SIZE) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class CollectionsAPI:
    """``sf.collections``: create, update, upsert, delete and retrieve many records.

    Inputs of more than 200 records are sent as consecutive requests of 200; results are
    one per input record, in order. ``all_or_none=True`` is limited to one request (200
    records), since Salesforce cannot roll back across requests.

    >>> async def demo(sf: Salesforce) -> None:
    ...     results = await sf.collections.create("Contact", [{"LastName": "Doe"}] * 300)
    ...     ids = [r.id for r in results if r.success]
    """

    def __init__(self, client: Salesforce) -> None:
        self._client = client

    async def create(
        self, sobject: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[CollectionResult]:
        """Insert records (none may carry an Id)."""
        body = collection_records(sobject, records, need_id=False, forbid_id=True)
        return await self._save("POST", "composite/sobjects", body, all_or_none)

    async def update(
        self, sobject: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[CollectionResult]:
        """Update records; each must carry its ``Id``."""
        body = collection_records(sobject, records, need_id=True, forbid_id=False)
        return await self._save("PATCH", "composite/sobjects", body, all_or_none)

    async def upsert(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str,
        all_or_none: bool = False,
    ) -> list[CollectionResult]:
        """Insert or update records matched by ``external_id_field`` (each must carry it)."""
        path, body = upsert_records(sobject, records, external_id_field)
        return await self._save("PATCH", path, body, all_or_none)

    async def delete(
        self, ids: Sequence[str], *, all_or_none: bool = False
    ) -> list[CollectionResult]:
        """Delete records by id (types may be mixed)."""
        checked = [check_record_id(i) for i in ids]
        self._check_all_or_none(len(checked), all_or_none)
        results: list[CollectionResult] = []
        for chunk in _chunks(checked):
            params = {"ids": ",".join(chunk), "allOrNone": str(all_or_none).lower()}
            try:
                body = await self._client.request_json(
                    "DELETE", "composite/sobjects", params=params
                )
                results.extend(parse_collection_results(body, len(chunk)))
            except SalesforceError as exc:
                # The first request failing loses nothing: the caller gets the plain error.
                if not results:
                    raise
                raise CollectionsRequestError(results, exc) from exc
        return results

    async def retrieve(
        self, sobject: str, ids: Sequence[str], *, fields: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        """Fetch records of one type by id; ``None`` where an id matched nothing."""
        check_sobject_name(sobject)
        field_list = check_field_list(fields)
        checked = [check_record_id(i) for i in ids]
        results: list[dict[str, Any] | None] = []
        for chunk in _chunks(checked):
            # POST keeps long id lists out of the URL (GET tops out near 800 ids).
            body = await self._client.request_json(
                "POST",
                f"composite/sobjects/{sobject}",
                json={"ids": list(chunk), "fields": field_list},
                idempotent=True,
            )
            if not isinstance(body, list) or len(body) != len(chunk):
                raise ResponseError(
                    200, [ErrorDetail("UNEXPECTED_RESPONSE", "retrieve returned a wrong count")]
                )
            results.extend(body)
        return results

    def _check_all_or_none(self, count: int, all_or_none: bool) -> None:
        if all_or_none and count > MAX_COLLECTION_SIZE:
            raise ConfigurationError(
                f"all_or_none covers one request of at most {MAX_COLLECTION_SIZE} records; "
                f"got {count}. Split the work, or use all_or_none=False."
            )

    async def _save(
        self, method: str, path: str, records: list[dict[str, Any]], all_or_none: bool
    ) -> list[CollectionResult]:
        self._check_all_or_none(len(records), all_or_none)
        results: list[CollectionResult] = []
        # Sequential on purpose: a failed request stops the rest, so nothing is sent
        # after a failure the caller has not seen.
        for chunk in _chunks(records):
            try:
                body = await self._client.request_json(
                    method,
                    path,
                    json={"allOrNone": all_or_none, "records": list(chunk)},
                    timeout=self._client.long_timeout,
                )
                results.extend(parse_collection_results(body, len(chunk)))
            except SalesforceError as exc:
                # The first request failing loses nothing: the caller gets the plain error.
                if not results:
                    raise
                raise CollectionsRequestError(results, exc) from exc
        return results

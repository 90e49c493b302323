"""sObject Tree: ``POST /services/data/vNN.N/composite/tree/{SObject}``.

The body holds record trees: ``{"records": [record, ...]}`` where each record carries
``attributes`` (``type`` and ``referenceId``), its fields, and child records under a child
relationship name (``"Contacts": {"records": [...]}``). A child is linked to its parent by the
relationship's lookup field. The roots must be of the URL's sObject.

Everything is created or nothing (one transaction), level by level: the roots of every tree,
then every second-level record, and so on, each level in request order (this is also the
order of ``results``). Success is 201 ``{"hasErrors": false, "results": [{"referenceId",
"id"}]}``; a record that cannot be created makes it 400 ``{"hasErrors": true, "results":
[{"referenceId", "errors": [{"statusCode", "message", "fields"}]}]}`` naming that record only
(records with a bad or duplicate referenceId or type are all named, one item each). At most
200 records, 5 levels and 5 sObject types per request (400 otherwise, nothing created). The
whole request is one API call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import SObjectDef
from sobjects.emulator._subrequests import REFERENCE_ID_RE, Rollback

if TYPE_CHECKING:
    from sobjects.emulator._rest import RestApi

__all__ = ["MAX_TREE_DEPTH", "MAX_TREE_RECORDS", "MAX_TREE_TYPES", "create_trees"]

MAX_TREE_RECORDS = 200  # in all the trees of a request
MAX_TREE_DEPTH = 5  # levels: a root is level 1
MAX_TREE_TYPES = 5  # distinct sObject types in a request


@dataclass
class _Record:
    level: int
    sobject: SObjectDef | None  # None: an unknown or mismatched type (reported)
    reference_id: Any
    fields: dict[str, Any]
    parent: _Record | None
    lookup: str | None  # the child relationship's lookup field, set to the parent's id
    id: str | None = None


def create_trees(api: RestApi, sobject_name: str, body: Any) -> tuple[int, Any]:
    """``(status, body)`` of an sObject Tree request."""
    root = api.schema.require(sobject_name)  # 404 NOT_FOUND for an unknown sObject
    if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "records is required: a list of records")
    if not body["records"]:
        raise ApiError(400, "INVALID_INPUT", "records must hold at least one record")
    records: list[_Record] = []
    problems: list[dict[str, Any]] = []
    _walk(api, body["records"], root, None, None, 1, records, problems)
    types = {r.sobject.name for r in records if r.sobject is not None}
    if len(types) > MAX_TREE_TYPES:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"An sObject Tree request can create records of at most {MAX_TREE_TYPES} types, "
            f"got {len(types)}: {', '.join(sorted(types))}",
        )
    problems.extend(_duplicates(records))
    if problems:
        return 400, {"hasErrors": True, "results": problems}
    order = sorted(records, key=lambda r: r.level)  # stable: request order within a level
    failure: dict[str, Any] | None = None
    try:
        with api.store.transaction():
            for record in order:
                failure = _create(api, record)
                if failure is not None:
                    raise Rollback
    except Rollback:
        assert failure is not None
        return 400, {"hasErrors": True, "results": [failure]}
    return 201, {
        "hasErrors": False,
        "results": [{"referenceId": r.reference_id, "id": r.id} for r in order],
    }


def _create(api: RestApi, record: _Record) -> dict[str, Any] | None:
    """Insert one record; the per-record error item if it cannot be."""
    assert record.sobject is not None
    data = dict(record.fields)
    try:
        if any(key.lower() == "id" for key in data):
            raise ApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "cannot specify Id in an insert call",
                ["Id"],
            )
        if record.parent is not None and record.lookup is not None:
            for key in [k for k in data if k.lower() == record.lookup.lower()]:
                del data[key]  # the tree links a child to its parent
            data[record.lookup] = record.parent.id
        api.org.faults.check_create_lock(record.sobject.name)
        record.id = api.store.insert(record.sobject, data)
    except ApiError as exc:
        return {"referenceId": record.reference_id, "errors": exc.as_save_errors()}
    return None


def _walk(
    api: RestApi,
    items: list[Any],
    expected: SObjectDef,
    parent: _Record | None,
    lookup: str | None,
    level: int,
    out: list[_Record],
    problems: list[dict[str, Any]],
) -> None:
    """Collect the records of ``items`` (and their children) into ``out``, depth first."""
    if level > MAX_TREE_DEPTH:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"An sObject Tree can be at most {MAX_TREE_DEPTH} levels deep",
        )
    for item in items:
        if not isinstance(item, Mapping):
            raise ApiError(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of SObject: each of records must be a JSON object",
            )
        if len(out) >= MAX_TREE_RECORDS:
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                f"An sObject Tree request can create at most {MAX_TREE_RECORDS} records",
            )
        attributes = item.get("attributes")
        if not isinstance(attributes, Mapping):
            attributes = {}
        reference_id = attributes.get("referenceId")
        record = _Record(level, None, reference_id, {}, parent, lookup)
        out.append(record)
        error = _reference_id_error(reference_id) or _type_error(api, attributes, expected)
        if error is not None:
            problems.append({"referenceId": reference_id, "errors": error.as_save_errors()})
        else:
            record.sobject = expected
        children: list[tuple[Any, SObjectDef, str]] = []
        for key, value in item.items():
            if key == "attributes":
                continue
            relationship = expected.child_relationship(key) if isinstance(value, Mapping) else None
            child = api.schema.get(relationship.child_sobject) if relationship else None
            if relationship is None or child is None:
                record.fields[key] = value
                continue
            assert isinstance(value, Mapping)
            if not isinstance(value.get("records"), list):
                raise ApiError(
                    400,
                    "JSON_PARSER_ERROR",
                    f'{key} must hold the child records as {{"records": [...]}}',
                )
            lookup_field = child.require_field(relationship.field).name
            children.append((value["records"], child, lookup_field))
        for child_items, child, lookup_field in children:
            _walk(api, child_items, child, record, lookup_field, level + 1, out, problems)


def _reference_id_error(reference_id: Any) -> ApiError | None:
    if isinstance(reference_id, str) and REFERENCE_ID_RE.fullmatch(reference_id):
        return None
    return ApiError(
        400,
        "INVALID_INPUT",
        f"Provided referenceId ('{reference_id}') must start with a letter or a number, and it "
        "can contain only letters, numbers and underscores ('_').",
        [],
    )


def _type_error(
    api: RestApi, attributes: Mapping[str, Any], expected: SObjectDef
) -> ApiError | None:
    declared = attributes.get("type")
    if not isinstance(declared, str) or not declared:
        return ApiError(
            400, "INVALID_TYPE", "Must specify a type in the attributes of each record", []
        )
    sobject = api.schema.get(declared)
    if sobject is None:
        return ApiError(400, "INVALID_TYPE", f"sObject type '{declared}' is not supported.", [])
    if sobject.name != expected.name:
        return ApiError(
            400,
            "INVALID_TYPE",
            f"A record of type {sobject.name} cannot be here: expected {expected.name}",
            [],
        )
    return None


def _duplicates(records: list[_Record]) -> list[dict[str, Any]]:
    """One error item for each instance of a referenceId used more than once."""
    counts: dict[str, int] = {}
    for record in records:
        if isinstance(record.reference_id, str):
            counts[record.reference_id] = counts.get(record.reference_id, 0) + 1
    error = ApiError(400, "INVALID_INPUT", "Duplicate ReferenceId provided in the request.", [])
    return [
        {"referenceId": r.reference_id, "errors": error.as_save_errors()}
        for r in records
        if isinstance(r.reference_id, str) and counts[r.reference_id] > 1
    ]

"""Parameterized search for the local org: ``GET/POST .../parameterizedSearch``.

Salesforce's "search without SOSL": the search string ``q`` and its options come as URI
parameters (GET: ``q``, ``in``, ``fields``, ``sobject`` repeated, ``<SObject>.fields``,
``<SObject>.where``, ``<SObject>.limit``, ``defaultLimit``, ``overallLimit``, ``offset``) or as
a JSON body (POST: ``q``, ``in``, ``fields``, ``sobjects: [{name, fields, where, limit,
orderBy}]``, ``defaultLimit``, ``overallLimit``, ``offset``). Both are turned into the same
``Search`` a SOSL statement parses to and run by the SOSL machinery, so the two resources
match words, apply WHERE clauses and limits alike.

``spellCorrection`` is accepted and has no effect (the local org never corrects spelling).
Options that filter by features the local org does not have (data categories, divisions,
networks, price books, snippets, label metadata, ``updateable``/``viewable``) are refused
with a 400 that names them, rather than ignored: ignoring them would return records a real
org would not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sobjects.emulator._errors import ApiError
from sobjects.emulator._search import MAX_SEARCH_RECORDS, Returning, Search, malformed

__all__ = ["search_from_body", "search_from_query"]

_GROUPS = ("ALL", "NAME", "EMAIL", "PHONE", "SIDEBAR")
_UNSUPPORTED = (
    "dataCategory", "dataCategories", "division", "metadata", "netWorkIds", "pricebookId",
    "snippet", "updateable", "viewable",
)  # fmt: skip
_NAME = re.compile(r"\w+")
_FIELD_PATH = re.compile(r"\w+(?:\.\w+)*")


def _wrong_type(name: str, expected: str, value: Any) -> ApiError:
    # A body value of the wrong JSON type does not deserialize.
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize {name}: expected {expected}, got {type(value).__name__}",
    )


def _count(name: str, value: Any) -> int | None:
    """A limit or offset: the docs type them as strings; JSON numbers are taken too."""
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, (str, int)) else None
    if isinstance(value, bool) or text is None or not text.isdigit():
        raise malformed(f"{name} must be a whole number from 0 to {MAX_SEARCH_RECORDS}")
    number = int(text)
    if number > MAX_SEARCH_RECORDS:
        raise malformed(f"{name} can't be more than {MAX_SEARCH_RECORDS}, got {number}")
    return number


def _group(value: Any) -> str:
    if value is None:
        return "ALL"
    if not isinstance(value, str) or value.upper() not in _GROUPS:
        raise malformed(f"in must be one of {', '.join(_GROUPS)}, got {value!r}")
    return "ALL" if value.upper() == "SIDEBAR" else value.upper()


def _term(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise malformed("A search string must be provided (q=)")
    if not isinstance(value, str):
        raise _wrong_type("q", "a string", value)
    return value


def _field_list(name: str, fields: list[str]) -> str:
    for field in fields:
        if not _FIELD_PATH.fullmatch(field.strip()) and "(" not in field:
            raise malformed(f"{name}: not a field name: {field!r}")
    return ", ".join(f.strip() for f in fields)


class _Options:
    """What both forms share, checked the same way, then turned into a ``Search``."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        for name in _UNSUPPORTED:
            if name in params:
                raise malformed(
                    f"parameterized search option {name} is not supported by the local org "
                    "(it has no such feature to filter by)"
                )
        self.term = _term(params.get("q"))
        self.group = _group(params.get("in"))
        self.default_limit = _count("defaultLimit", params.get("defaultLimit"))
        self.overall_limit = _count("overallLimit", params.get("overallLimit"))
        self.offset = _count("offset", params.get("offset"))

    def search(self, global_fields: list[str] | None, objects: list[Returning]) -> Search:
        if not objects and (global_fields or self.default_limit is not None):
            option = "fields" if global_fields else "defaultLimit"
            raise malformed(f"{option} needs at least one sobject to apply to")
        if self.offset is not None and len(objects) != 1:
            raise malformed("offset needs exactly one sobject")
        for spec in objects:
            clauses = []
            if spec.rest:  # orderBy, already ORDER BY text
                clauses.append(spec.rest)
            limit = spec.limit if spec.limit is not None else self.default_limit
            if limit is not None:
                clauses.append(f"LIMIT {limit}")
            if self.offset is not None:
                clauses.append(f"OFFSET {self.offset}")
            spec.rest = " ".join(clauses)
            if spec.fields == "Id" and global_fields:
                spec.fields = _field_list("fields", global_fields)
        limit = MAX_SEARCH_RECORDS if self.overall_limit is None else self.overall_limit
        return Search(self.term, self.group, objects, limit)


def search_from_query(query: Mapping[str, str]) -> Search:
    """GET: ``sobject`` may be repeated (the org hands the values over comma-joined)."""
    options = _Options(query)
    names = [n.strip() for n in (query.get("sobject") or "").split(",") if n.strip()]
    objects = []
    for name in names:
        if not _NAME.fullmatch(name):
            raise malformed(f"sobject: not an object name: {name!r}")
        fields = query.get(f"{name}.fields")
        spec = Returning(name)
        if fields:
            spec.fields = _field_list(f"{name}.fields", fields.split(","))
        where = query.get(f"{name}.where")
        if where is not None:
            spec.where = where.strip() or None
        spec.limit = _count(f"{name}.limit", query.get(f"{name}.limit"))
        objects.append(spec)
    fields = query.get("fields")
    return options.search(fields.split(",") if fields else None, objects)


def search_from_body(body: Any) -> Search:
    """POST: the JSON body."""
    if not isinstance(body, Mapping):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    options = _Options(body)
    global_fields = _strings("fields", body.get("fields"))
    filters = body.get("sobjects")
    if filters is not None and not isinstance(filters, list):
        raise _wrong_type("sobjects", "an array of objects", filters)
    objects = []
    for item in filters or []:
        if not isinstance(item, Mapping):
            raise _wrong_type("sobjects", "an array of objects", item)
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise malformed(f"each of sobjects needs a name, got {name!r}")
        spec = Returning(name)
        fields = _strings(f"{name}.fields", item.get("fields"))
        if fields:
            spec.fields = _field_list(f"{name}.fields", fields)
        where = item.get("where")
        if where is not None and not isinstance(where, str):
            raise _wrong_type(f"{name}.where", "a string", where)
        spec.where = (where.strip() or None) if where else None
        spec.limit = _count(f"{name}.limit", item.get("limit"))
        spec.rest = _order_by(name, item.get("orderBy"))
        objects.append(spec)
    return options.search(global_fields, objects)


def _strings(name: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _wrong_type(name, "an array of strings", value)
    return list(value)


def _order_by(name: str, value: Any) -> str:
    """``orderBy: [{"field": "Name", "ascending": true, "nullsLast": false}]``."""
    if value is None:
        return ""
    if not isinstance(value, list):
        raise _wrong_type(f"{name}.orderBy", "an array of objects", value)
    parts = []
    for item in value:
        field = item.get("field") if isinstance(item, Mapping) else None
        if not isinstance(field, str) or not _FIELD_PATH.fullmatch(field):
            raise malformed(f"{name}.orderBy: each item needs a field, got {item!r}")
        direction = "ASC" if item.get("ascending", True) is not False else "DESC"
        nulls = " NULLS LAST" if item.get("nullsLast") is True else " NULLS FIRST"
        parts.append(f"{field} {direction}{nulls}")
    return f"ORDER BY {', '.join(parts)}" if parts else ""

"""Column metadata of a query: ``GET query?q=...&columns=true``.

Salesforce does not document this parameter in the REST API guide; the Salesforce CLI asks for
it (``sf data query``, salesforcecli/plugin-data, ``retrieveColumns`` in
src/commands/data/query.ts) and reads ``columnMetadata``: each column's ``columnName``,
``displayName``, ``aggregate`` and ``joinColumns`` (a parent relationship's fields, or a
subquery's columns with ``aggregate`` true). The other keys are those a real org sends with
them. The query runs first, so a bad query gets the same 400 as without ``columns``.
"""

from __future__ import annotations

from typing import Any

from sobjects.emulator._schema import FieldDef, SObjectDef
from sobjects.emulator.soql._ast import (
    FieldPath,
    FuncCall,
    Query,
    SelectExpr,
    SelectSubquery,
    SelectTypeof,
)

__all__ = ["column_metadata"]

_APEX_TYPES = {
    "boolean": "Boolean",
    "int": "Integer",
    "double": "Double",
    "currency": "Double",
    "percent": "Double",
    "date": "Date",
    "datetime": "Datetime",
    "time": "Time",
    "id": "Id",
    "reference": "Id",
}
_NUMBERS = frozenset({"int", "double", "currency", "percent", "long"})


def column_metadata(query: Query, schema: Any) -> dict[str, Any]:
    sobject = schema.require(query.sobject)
    columns = _columns(query, sobject, schema)
    return {
        "columnMetadata": columns,
        "entityName": sobject.name,
        "groupBy": bool(query.group_by),
        "idSelected": any(c["columnName"] == "Id" for c in columns),
        "keyPrefix": sobject.key_prefix,
    }


def _columns(query: Query, sobject: SObjectDef, schema: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    expr_count = 0
    for item in query.select:
        if isinstance(item, SelectSubquery):
            rel = sobject.child_relationship(item.query.sobject)
            child = schema.get(rel.child_sobject) if rel is not None else None
            joins = _columns(item.query, child, schema) if child is not None else []
            name = rel.relationship_name if rel is not None else item.query.sobject
            out.append(_column(name, name, None, aggregate=True, joins=joins))
        elif isinstance(item, SelectTypeof):
            fields = {f.names[-1]: f for w in item.whens for f in w.fields}
            joins = [_column(n, n, None) for n in fields]
            out.append(_column(item.relationship, item.relationship, None, joins=joins))
        elif isinstance(item, SelectExpr) and isinstance(item.expr, FieldPath):
            out.append(_path_column(list(item.expr.names), sobject, schema, query.alias))
        elif isinstance(item, SelectExpr) and isinstance(item.expr, FuncCall):
            display = _display(item.expr)
            if item.alias:
                name = item.alias
            else:
                name = f"expr{expr_count}"
                expr_count += 1
            out.append(_column(name, display, None, aggregate=True))
    return out


def _path_column(
    names: list[str], sobject: SObjectDef, schema: Any, alias: str | None
) -> dict[str, Any]:
    if alias is not None and len(names) > 1 and names[0].lower() == alias.lower():
        names = names[1:]  # "SELECT a.Name FROM Account a"
    if len(names) == 1:
        fd = sobject.field(names[0])
        name = fd.name if fd is not None else names[0]
        return _column(name, name, fd)
    ref = sobject.relationship(names[0])
    parent = schema.get(ref.reference_to[0]) if ref is not None and ref.reference_to else None
    name = ref.relationship_name or names[0] if ref is not None else names[0]
    joins = [_path_column(names[1:], parent, schema, None)] if parent is not None else []
    return _column(name, name, ref, joins=joins)


def _display(call: FuncCall) -> str:
    arg = call.arg
    if arg is None:
        return f"{call.name}()"
    inner = ".".join(arg.names) if isinstance(arg, FieldPath) else ""
    return f"{call.name}({inner})"


def _column(
    name: str,
    display: str,
    fd: FieldDef | None,
    *,
    aggregate: bool = False,
    joins: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    kind = fd.type if fd is not None else ""
    return {
        "aggregate": aggregate,
        "apexType": _APEX_TYPES.get(kind, "String") if fd is not None else None,
        "booleanType": kind == "boolean",
        "columnName": name,
        "custom": name.endswith("__c") or name.endswith("__r"),
        "displayName": display,
        "foreignKeyName": None,
        "insertable": fd.createable if fd is not None else False,
        "joinColumns": joins or [],
        "numberType": kind in _NUMBERS,
        "textType": kind in {"string", "textarea", "picklist", "email", "phone", "url"},
        "updatable": fd.updateable if fd is not None else False,
    }

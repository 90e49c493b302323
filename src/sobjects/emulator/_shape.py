"""Shaping a local org from outside Python code: schema sources, seed files, a schema body.

- ``model_definitions(classes)``: describe-shaped objects and fields for ``SObject`` models
  (what ``LocalOrg.define_models`` applies).
- ``load_schema(org, source)``: a describe JSON file, a directory of them (as ``sobjects
  generate --describe`` reads), or a Python module of models (``mypkg.models``).
- ``seed(org, path)``: records from a JSON or CSV file, with ``@ref`` references.
- ``apply_schema_body(org, body)``: the ``POST /__emulator__/schema`` body, checked on a
  scratch copy of the schema first so a bad body changes nothing.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import decimal
import importlib
import inspect
import io
import json
import os
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import Schema

if TYPE_CHECKING:
    from sobjects.emulator._org import LocalOrg

__all__ = [
    "ShapeError",
    "apply_schema_body",
    "load_schema",
    "model_definitions",
    "seed",
]

REF_KEY = "@ref"  # a seeded record's name for later records
REF_PREFIX = "@ref:"  # a value naming an earlier seeded record: replaced by its Id
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class ShapeError(ValueError):
    """A schema source or seed file that cannot be used; the message names where."""


# -- models ----------------------------------------------------------------------------------


def model_definitions(
    classes: Iterable[type[Any]],
) -> list[tuple[str, list[dict[str, Any]]]]:
    """``[(sObject API name, [describe fields])]`` for SObject model classes."""
    from sobjects.orm._model import sobject_meta

    out: list[tuple[str, list[dict[str, Any]]]] = []
    for cls in classes:
        meta = sobject_meta(cls)
        lookups = {
            f.lookup_api_name.lower(): f.target
            for f in meta.fields.values()
            if f.kind == "parent" and f.lookup_api_name and f.target is not None
        }
        fields: list[dict[str, Any]] = []
        for fm in meta.fields.values():
            if fm.kind != "value" or fm.api_name == "Id":
                continue
            described = _describe_field(fm.api_name, fm.annotation, fm.multipicklist)
            target = lookups.get(fm.api_name.lower())
            if target is not None:
                described = {
                    "name": fm.api_name,
                    "type": "reference",
                    "referenceTo": [sobject_meta(target).api_name],
                    "relationshipName": fm.api_name.removesuffix("Id").removesuffix("__c")
                    + ("__r" if fm.api_name.endswith("__c") else ""),
                }
            if fm.external_id:
                described["externalId"] = True
            if fm.read_only:
                described["createable"] = described["updateable"] = False
            fields.append(described)
        out.append((meta.api_name, fields))
    return out


_SCALARS: dict[Any, dict[str, Any]] = {
    # A checkbox is never null: false unless set (Salesforce's rule, so not required).
    bool: {"type": "boolean", "nillable": False, "defaultedOnCreate": True, "defaultValue": False},
    int: {"type": "int"},
    float: {"type": "double"},
    decimal.Decimal: {"type": "currency"},
    dt.datetime: {"type": "datetime"},
    dt.date: {"type": "date"},
    dt.time: {"type": "time"},
    str: {"type": "string", "length": 255},
}


def _describe_field(name: str, annotation: Any, multipicklist: bool) -> dict[str, Any]:
    inner, nillable = _unwrap(annotation)
    field: dict[str, Any] = {"name": name, "nillable": nillable}
    literals = _literals(inner)
    if literals is not None:
        kind = "multipicklist" if multipicklist else "picklist"
        values = [{"value": v, "label": v, "active": True} for v in literals]
        return {**field, "type": kind, "picklistValues": values}
    if multipicklist:
        return {**field, "type": "multipicklist", "picklistValues": []}
    return {**field, **_SCALARS.get(inner, {"type": "string", "length": 255})}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without ``None`` and ``Annotated``, whether ``None`` was allowed)."""
    nillable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nillable = nillable or len(args) < len(typing.get_args(annotation))
            annotation = args[0] if len(args) == 1 else str
        else:
            return annotation, nillable


def _literals(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(v) for v in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (list, set, frozenset, tuple):
        args = typing.get_args(annotation)
        return _literals(args[0]) if args else None
    return None


def models_in(module: types.ModuleType) -> list[type[Any]]:
    """The SObject subclasses a module defines (not those it only imports)."""
    from sobjects import SObject

    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, SObject)
        and value is not SObject
        and value.__module__ == module.__name__
    ] or [
        # A package such as sobjects.models re-exports its models from submodules.
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, SObject)
        and value is not SObject
        and value.__module__.startswith(module.__name__ + ".")
    ]


# -- schema sources --------------------------------------------------------------------------


def load_schema(org: LocalOrg, source: str) -> str:
    """Define what ``source`` describes on ``org``; returns a one-line summary."""
    path = Path(source)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise ShapeError(f"{source}: no <Name>.json describe files in this directory")
        describes = [d for f in files for d in _read_describes(f)]
    elif path.exists() or source.endswith(".json") or not _MODULE_NAME.match(source):
        describes = _read_describes(path)
    else:
        module = _import(source)
        models = models_in(module)
        if not models:
            raise ShapeError(f"{source}: the module defines no SObject models")
        org.define_models(*models)
        return f"{source}: {len(models)} model(s)"
    for describe in describes:
        _define(org, describe, str(path))
    return f"{source}: {len(describes)} sObject(s)"


def _import(name: str) -> types.ModuleType:
    """Import a models module; the current directory is searched too (a console script does
    not put it on ``sys.path``, ``python -m`` does), so a project's own package is found."""
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ShapeError(f"{name}: no such file, and no importable module ({exc})") from None
    except Exception as exc:  # the module itself failed: say how, without a traceback
        raise ShapeError(f"{name}: importing it failed: {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(os.getcwd())


def _read_describes(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShapeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ShapeError(f"{path}: cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ShapeError(f"{path}: not valid JSON ({exc})") from None
    describes = data if isinstance(data, list) else [data]
    for describe in describes:
        if not isinstance(describe, dict) or not isinstance(describe.get("name"), str):
            raise ShapeError(f"{path}: not an sObject describe (an object with a name)")
    return describes


def _define(org: LocalOrg, describe: Mapping[str, Any], where: str) -> None:
    """Define an object; one the org already has (Account) only gains the missing fields,
    so a describe snapshot of a standard object never drops the org's own fields."""
    try:
        existing = org.schema.get(str(describe["name"]))
        if existing is None or existing.describe.get("custom"):
            org.define(describe)
            return
        for field in describe.get("fields") or []:
            if not isinstance(field, Mapping) or existing.field(str(field.get("name"))) is None:
                org.define_field(existing.name, field)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ShapeError(f"{where}: {describe.get('name')}: {exc}") from None


# -- the admin endpoint's body ---------------------------------------------------------------


def apply_schema_body(org: LocalOrg, body: Mapping[str, Any]) -> dict[str, Any]:
    """``{"objects": [describe, ...], "fields": {"Account": [field, ...]}}``: check it on a
    scratch schema, then define it; returns what was defined."""
    unknown = sorted(set(body) - {"objects", "fields"})
    if unknown:
        raise ShapeError(f"unknown key(s) {', '.join(unknown)}; known: fields, objects")
    objects = body.get("objects", [])
    fields = body.get("fields", {})
    if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
        raise ShapeError("objects must be a list of sObject describes (JSON objects)")
    if not isinstance(fields, dict) or not all(
        isinstance(v, list) and all(isinstance(f, dict) for f in v) for v in fields.values()
    ):
        raise ShapeError('fields must map sObject names to lists of fields: {"Account": [...]}')
    if not objects and not fields:
        raise ShapeError("nothing to define: give objects and/or fields")
    with org.store.lock:  # no other definition between the rehearsal and the real thing
        _rehearse(copy.deepcopy(org.schema), objects, fields)
        for describe in objects:
            _define(org, describe, "objects")
        for sobject, sobject_fields in fields.items():
            for field in sobject_fields:
                org.define_field(sobject, field)
    return {
        "objects": [str(o["name"]) for o in objects],
        "fields": {k: [str(f["name"]) for f in v] for k, v in fields.items()},
    }


def _rehearse(schema: Schema, objects: list[Any], fields: dict[str, Any]) -> None:
    try:
        for describe in objects:
            schema.add(describe)
        schema.link_children()
        for sobject, sobject_fields in fields.items():
            for field in sobject_fields:
                if not isinstance(field.get("name"), str):
                    raise ValueError(f"a field of {sobject} has no name")
                schema.add_field(sobject, field)
    except KeyError as exc:
        raise ShapeError(str(exc.args[0]) if exc.args else str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise ShapeError(str(exc)) from None


# -- seeds -----------------------------------------------------------------------------------


def seed(org: LocalOrg, path_text: str, refs: dict[str, str] | None = None) -> int:
    """Insert the records of a JSON or CSV file in one transaction; returns how many.

    ``refs`` (``@ref`` name -> Id) is shared between files, so a later file may refer to a
    record of an earlier one.
    """
    path = Path(path_text)
    refs = {} if refs is None else refs
    rows = _seed_rows(path)
    with org.store.transaction():
        for where, sobject, record in rows:
            data = dict(record)
            name = data.pop(REF_KEY, None)
            for key, value in data.items():
                if isinstance(value, str) and value.startswith(REF_PREFIX):
                    target = value.removeprefix(REF_PREFIX)
                    if target not in refs:
                        raise ShapeError(
                            f"{where}: {key}: no earlier seeded record has @ref {target!r}"
                        )
                    data[key] = refs[target]
            definition = org.schema.get(sobject)
            if definition is None:
                raise ShapeError(f"{where}: no sObject named {sobject!r}")
            try:
                record_id = org.store.insert(definition, data)
            except ApiError as exc:
                raise ShapeError(f"{where}: {exc}") from None
            if name is not None:
                if not isinstance(name, str) or not name or name in refs:
                    raise ShapeError(f"{where}: @ref must be a new, non-empty name: {name!r}")
                refs[name] = record_id
    return len(rows)


def _seed_rows(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """``[(where, sObject, record)]``: ``where`` names the file and record (or CSV row)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ShapeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ShapeError(f"{path}: cannot be read ({exc})") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))  # quoted cells may span lines
        rows: list[tuple[str, str, dict[str, Any]]] = []
        # Row numbers as a spreadsheet shows them: the header is row 1. Empty cells are null.
        for row in reader:
            where = f"{path}: row {reader.line_num}"
            if None in row:  # DictReader keeps cells beyond the header under None
                raise ShapeError(f"{where}: more cells than the header has columns")
            rows.append((where, path.stem, {k: (v if v != "" else None) for k, v in row.items()}))
        return rows
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ShapeError(f"{path}: not valid JSON ({exc})") from None
    out: list[tuple[str, str, dict[str, Any]]] = []
    if isinstance(data, list):
        for n, record in enumerate(data):
            where = f"{path}: record {n}"
            attributes = record.get("attributes") if isinstance(record, dict) else None
            if not isinstance(attributes, dict) or not isinstance(attributes.get("type"), str):
                raise ShapeError(f"{where}: a record needs attributes.type (its sObject)")
            body = {k: v for k, v in record.items() if k != "attributes"}
            out.append((where, attributes["type"], body))
    elif isinstance(data, dict):
        for sobject, records in data.items():
            if not isinstance(records, list):
                raise ShapeError(f"{path}: {sobject}: a list of records expected")
            for n, record in enumerate(records):
                where = f"{path}: {sobject} record {n}"
                if not isinstance(record, dict):
                    raise ShapeError(f"{where}: a record must be a JSON object")
                out.append((where, sobject, {k: v for k, v in record.items() if k != "attributes"}))
    else:
        raise ShapeError(f'{path}: a list of records or {{"Account": [...], ...}} expected')
    return out

"""Canned Salesforce data: record ids, query pages and the plain models the anchors use.

Everything here is built before any clock starts. Field lists come from sobjects' public
surface only: ``select(Model).to_soql()`` names the API fields a query selects, and
``Model.<field>.api_name`` / ``Model.model_fields`` map them to Python names and types.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pydantic

from sobjects import SObject, select
from sobjects._ids import to_18
from sobjects.fields import Address, Id, MultiPicklist
from sobjects.models import Account, Contact
from sobjects.orm import Select

API_VERSION = "62.0"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Key prefixes of the sObjects the canned records point at.
PREFIXES = {"Contact": "003", "Account": "001", "User": "005"}


def record_id(prefix: str, n: int) -> str:
    """A valid 18-character id, distinct for each ``n`` (mixed case, like real ones)."""
    digits = ""
    for _ in range(6):
        n, rest = divmod(n, 62)
        digits = _BASE62[rest] + digits
    return to_18(f"{prefix}5e0000{digits}")


# -- write inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteInputs:
    """The values of ``n`` new Contacts, the same strings for every client."""

    last_names: list[str]
    first_names: list[str]
    emails: list[str]

    @classmethod
    def build(cls, n: int) -> WriteInputs:
        return cls(
            last_names=[f"Bench {i}" for i in range(n)],
            first_names=[("Ada", "Grace", "Alan", "Edsger")[i % 4] for i in range(n)],
            emails=[f"bench.{i}@example.com" for i in range(n)],
        )


# -- model introspection (public API only) ------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    python_name: str
    api_name: str
    annotation: Any  # the field's type, Field[...] and Optional unwrapped


def _unwrap(annotation: Any) -> Any:
    """``Field[T | None]`` -> ``T`` (``Field`` is generic; its only argument is the type)."""
    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) is not None and len(args) == 1:
        annotation = args[0]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            annotation = rest[0]
    return annotation


def model_fields(model: type[SObject]) -> dict[str, FieldInfo]:
    """A model's fields by API name."""
    out: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        expr = getattr(model, name, None)
        api_name = getattr(expr, "api_name", None)
        if isinstance(api_name, str):
            out[api_name] = FieldInfo(name, api_name, _unwrap(info.annotation))
    return out


def sobject_name(model: type[SObject]) -> str:
    soql = select(model).to_soql()
    return soql.rsplit(" FROM ", 1)[1].split()[0]


def selected(query_soql: str) -> list[str]:
    """The select list of a rendered SOQL statement (``Id``, ``Account.Name``, ...)."""
    head = query_soql.split(" FROM ", 1)[0].removeprefix("SELECT ")
    return [item.strip() for item in head.split(",")]


# -- plausible wire values ------------------------------------------------------------------


def _kind(annotation: Any) -> str:
    if annotation == Id:
        return "id"
    if annotation == MultiPicklist:
        return "multipicklist"
    if annotation is Address:
        return "address"
    if typing.get_origin(annotation) is typing.Literal:
        return "picklist"
    for kind, cls in (
        ("bool", bool),
        ("datetime", datetime),
        ("date", date),
        ("float", float),
        ("decimal", Decimal),
        ("int", int),
    ):
        if annotation is cls:
            return kind
    return "str"


def _wire_value(model_name: str, field: FieldInfo, i: int) -> Any:
    kind = _kind(field.annotation)
    api = field.api_name
    if kind == "id":
        if api == "Id":
            return record_id(PREFIXES.get(model_name, "a00"), i)
        if api in ("AccountId",):
            return record_id(PREFIXES["Account"], i // 4)
        if api in ("OwnerId", "CreatedById", "LastModifiedById"):
            return record_id(PREFIXES["User"], i % 50)
        return record_id(PREFIXES.get(model_name, "a00"), i + 1_000_000)
    if kind == "bool":
        return i % 3 == 0
    if kind == "float":
        return round(48.8566 + (i % 997) * 0.0001, 6)
    if kind == "decimal":
        return 1000.0 + i
    if kind == "int":
        return i
    if kind == "date":
        return f"19{60 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    if kind == "datetime":
        return f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07.000+0000"
    if kind == "picklist":
        choices = typing.get_args(field.annotation)
        return choices[i % len(choices)]
    if kind == "multipicklist":
        return ("Music;Travel", "Cooking", "Sailing;Chess;Music")[i % 3]
    if kind == "address":
        return {
            "city": f"Springfield {i % 100}",
            "country": "United States",
            "geocodeAccuracy": None,
            "latitude": 39.78 + (i % 100) * 0.001,
            "longitude": -89.65,
            "postalCode": f"{62701 + i % 100}",
            "state": "IL",
            "street": f"{100 + i} Main Street",
        }
    if api == "Email":
        return f"contact.{i}@example.com"
    if api.endswith("Phone") or api == "Fax":
        return f"+1 415 555 {i % 10_000:04d}"
    if api in ("FirstName",):
        return ("Ada", "Grace", "Alan", "Edsger")[i % 4]
    if api in ("LastName",):
        return f"Lovelace-{i}"
    if api == "Name":
        return f"Account {i // 4}" if model_name == "Account" else f"Ada Lovelace-{i}"
    return f"{api} value {i}"


def _attributes(model_name: str, record_id_: str) -> dict[str, str]:
    return {
        "type": model_name,
        "url": f"/services/data/v{API_VERSION}/sobjects/{model_name}/{record_id_}",
    }


@dataclass(frozen=True)
class Page:
    """One query page as Salesforce returns it, and the pieces the anchors need."""

    soql: str
    body: bytes  # the whole response: {"totalSize":..,"done":true,"records":[...]}
    records: bytes  # just the records array (what TypeAdapter(list[M]) validates)
    columns: list[str]  # the select list
    size: int


def build_page(query_soql: str, model: type[SObject], n: int) -> Page:
    """The bytes of a single ``done`` page of ``n`` records for a rendered SOQL query."""
    columns = selected(query_soql)
    name = sobject_name(model)
    fields = model_fields(model)
    parents: dict[str, tuple[str, dict[str, FieldInfo]]] = {}
    for column in columns:
        if "." in column:
            rel = column.split(".", 1)[0]
            target = _unwrap(fields[rel].annotation)
            parents[rel] = (sobject_name(target), model_fields(target))
    rows = []
    for i in range(n):
        row: dict[str, Any] = {}
        own_id = record_id(PREFIXES.get(name, "a00"), i)
        row["attributes"] = _attributes(name, own_id)
        for column in columns:
            if "." in column:
                rel, sub = column.split(".", 1)
                parent_name, parent_fields = parents[rel]
                parent = row.get(rel)
                if parent is None:
                    parent_id = record_id(PREFIXES.get(parent_name, "a01"), i // 4)
                    parent = row[rel] = {"attributes": _attributes(parent_name, parent_id)}
                if sub == "Id":
                    parent["Id"] = parent["attributes"]["url"].rsplit("/", 1)[1]
                else:
                    parent[sub] = _wire_value(parent_name, parent_fields[sub], i // 4)
            else:
                row[column] = _wire_value(name, fields[column], i)
        rows.append(row)
    records = json.dumps(rows, separators=(",", ":")).encode()
    body = b'{"totalSize":%d,"done":true,"records":%s}' % (n, records)
    return Page(query_soql, body, records, columns, n)


# -- the plain pydantic model of the same fields (anchor) -----------------------------------


class PlainAddress(pydantic.BaseModel):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = pydantic.Field(None, alias="postalCode")
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    geocode_accuracy: str | None = pydantic.Field(None, alias="geocodeAccuracy")


_PLAIN_TYPES: dict[str, Any] = {
    "id": str,
    "multipicklist": str,
    "picklist": str,
    "address": PlainAddress,
    "bool": bool,
    "datetime": datetime,
    "date": date,
    "float": float,
    "decimal": Decimal,
    "int": int,
    "str": str,
}


def plain_model(page: Page, model: type[SObject], label: str) -> type[pydantic.BaseModel]:
    """A plain pydantic model of a page's columns (aliases = API names, same value types)."""
    fields = model_fields(model)
    own: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for column in page.columns:
        if "." in column:
            rel, sub = column.split(".", 1)
            target = _unwrap(fields[rel].annotation)
            info = model_fields(target)[sub]
            nested.setdefault(rel, {})[info.python_name] = (
                _PLAIN_TYPES[_kind(info.annotation)] | None,
                pydantic.Field(None, alias=sub),
            )
        else:
            info = fields[column]
            own[info.python_name] = (
                _PLAIN_TYPES[_kind(info.annotation)] | None,
                pydantic.Field(None, alias=column),
            )
    for rel, spec in nested.items():
        parent = pydantic.create_model(f"{label}{rel}", **spec)  # type: ignore[call-overload]
        own[fields[rel].python_name] = (parent | None, pydantic.Field(None, alias=rel))
    return pydantic.create_model(label, **own)  # type: ignore[call-overload,no-any-return]


def contact_queries() -> dict[str, Select[Contact]]:
    """The two reads: a narrow projection and every value field, both with Account.Name."""
    narrow = (
        select(Contact)
        .only(
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.phone,
            Contact.title,
            Contact.birthdate,
            Contact.account_id,
            Contact.account.name,
        )
        .where(Contact.email.endswith("@example.com"))
    )
    wide = (
        select(Contact)
        .with_parent(Contact.account.name)
        .where(Contact.email.endswith("@example.com"))
    )
    return {"narrow": narrow, "wide": wide}


__all__ = [
    "Account",
    "Contact",
    "Page",
    "WriteInputs",
    "build_page",
    "contact_queries",
    "model_fields",
    "plain_model",
    "record_id",
]

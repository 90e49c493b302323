"""Python names for sObjects, fields and relationships, from their API names.

A field's Python name is ``inflection.underscore`` of its API name with ``__c`` stripped
(``Interests__c`` -> ``interests``); the model then declares ``Field(api_name=...)`` whenever
``inflection.camelize`` of the Python name does not give the API name back. Names that would
break the model are changed with a trailing underscore (``class_``, ``json_``) or, for pydantic's
protected ``model_`` prefix, an ``sf_`` prefix.

>>> field_name("AccountId"), field_name("Interests__c"), field_name("Primary_Contact__c", True)
('account_id', 'interests', 'primary_contact_id')
>>> avoid_reserved("class"), avoid_reserved("json"), avoid_reserved("model_number")
('class_', 'json_', 'sf_model_number')
>>> class_name("Account"), class_name("Invoice_Line__c"), class_name("ns__Invoice__c")
('Account', 'InvoiceLine', 'NsInvoice')
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Collection

import inflection

__all__ = [
    "RESERVED_CLASS_NAMES",
    "RESERVED_FIELD_NAMES",
    "api_name_needed",
    "avoid_reserved",
    "class_name",
    "field_name",
    "module_name",
    "relationship_name",
    "unique",
]

# Attributes a field must not shadow: pydantic's BaseModel API (the v1-style methods it keeps),
# SObject's own API, and the builtins and types that generated annotations name (a field called
# ``date`` would hide ``datetime.date`` from the annotations of the class that declares it).
# A fixed list, so that the output never depends on the installed pydantic; a test checks it
# against ``dir(SObject)``.
RESERVED_FIELD_NAMES = frozenset(
    {
        # pydantic.BaseModel
        "construct",
        "copy",
        "dict",
        "from_orm",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
        # sobjects.SObject
        "delete",
        "from_record",
        "id",
        "save",
        "upsert",
        # names used in generated annotations
        "bool",
        "date",
        "datetime",
        "float",
        "int",
        "list",
        "str",
        "time",
    }
)

# Module-level names of generated modules: a model class or picklist alias must not take them.
RESERVED_CLASS_NAMES = frozenset(
    {
        "Address",
        "Any",
        "Decimal",
        "Field",
        "Id",
        "Literal",
        "Location",
        "MultiPicklist",
        "SObject",
        "TYPE_CHECKING",
    }
)

# pydantic (before 2.10) warns about any field starting with this prefix.
_PROTECTED_PREFIX = "model_"


def _strip_suffix(api_name: str, suffix: str) -> str:
    if api_name.endswith(suffix) and len(api_name) > len(suffix):
        return api_name[: -len(suffix)]
    return api_name


def _identifier(name: str) -> str:
    name = re.sub(r"\W", "_", name, flags=re.ASCII)
    if not name or name[0].isdigit() or name.startswith("_"):
        name = "f_" + name.lstrip("_")
    return name


def field_name(api_name: str, custom_reference: bool = False) -> str:
    """The Python name of a value field (before reserved names and clashes are resolved).

    A custom lookup (``Primary_Contact__c``) gets an ``_id`` suffix, as standard lookups have
    (``AccountId``), so that its relationship (``Primary_Contact__r``) can be ``primary_contact``.
    """
    name = _identifier(inflection.underscore(_strip_suffix(api_name, "__c")))
    if custom_reference and not name.endswith("_id"):
        name += "_id"
    return name


def relationship_name(api_name: str) -> str:
    """The Python name of a parent or child relationship (``ReportsTo``, ``Invoices__r``)."""
    return _identifier(inflection.underscore(_strip_suffix(api_name, "__r")))


def avoid_reserved(name: str) -> str:
    """``name``, changed if it is a keyword, a reserved attribute or in pydantic's namespace."""
    if name.startswith(_PROTECTED_PREFIX):
        name = "sf_" + name
    while keyword.iskeyword(name) or name in RESERVED_FIELD_NAMES:
        name += "_"
    return name


def unique(name: str, taken: Collection[str], reserved: Collection[str] = ()) -> str:
    """``name`` with underscores appended until it is neither taken nor reserved."""
    while name in taken or name in reserved:
        name += "_"
    return name


def api_name_needed(python_name: str, api_name: str) -> bool:
    """Whether the model must spell out ``api_name`` (camelize does not give it back)."""
    return str(inflection.camelize(python_name)) != api_name


def class_name(sobject: str) -> str:
    """The class name of an sObject: ``Account``; ``Invoice_Line__c`` -> ``InvoiceLine``."""
    base = _strip_suffix(sobject, "__c")
    parts = [part for part in re.split(r"[\W_]+", base, flags=re.ASCII) if part]
    name = "".join(part[:1].upper() + part[1:] for part in parts) or "Model"
    if name[0].isdigit():
        name = "M" + name
    if keyword.iskeyword(name) or name in RESERVED_CLASS_NAMES:
        name += "_"
    return name


def module_name(class_name: str) -> str:
    """The module a model class lives in: ``OpportunityLineItem`` -> ``opportunity_line_item``."""
    name = _identifier(inflection.underscore(class_name).rstrip("_"))
    while keyword.iskeyword(name) or name == "__init__":
        name += "_"
    return name

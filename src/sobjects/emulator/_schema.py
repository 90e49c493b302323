"""The org's metadata: describe-shaped sObject definitions and fast lookups over them.

Definitions are kept exactly as a describe call returns them (so ``GET .../describe`` serves
them as they are); ``FieldDef`` and ``SObjectDef`` add the indexes and helpers that the store,
the SOQL engine and the routes need. Names are case-insensitive in, canonical out.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sobjects.emulator._errors import ApiError

__all__ = ["FIELD_DEFAULTS", "FieldDef", "SObjectDef", "Schema", "complete_field"]

# Every describe field carries every key; unused ones are null/false/0/[] (salesforce-rest §8.2).
FIELD_DEFAULTS: dict[str, Any] = {
    "aggregatable": True,
    "aiPredictionField": False,
    "autoNumber": False,
    "byteLength": 0,
    "calculated": False,
    "calculatedFormula": None,
    "cascadeDelete": False,
    "caseSensitive": False,
    "compoundFieldName": None,
    "controllerName": None,
    "createable": True,
    "custom": False,
    "defaultValue": None,
    "defaultValueFormula": None,
    "defaultedOnCreate": False,
    "dependentPicklist": False,
    "deprecatedAndHidden": False,
    "digits": 0,
    "displayLocationInDecimal": False,
    "encrypted": False,
    "externalId": False,
    "extraTypeInfo": None,
    "filterable": True,
    "filteredLookupInfo": None,
    "formulaTreatNullNumberAsZero": False,
    "groupable": True,
    "highScaleNumber": False,
    "htmlFormatted": False,
    "idLookup": False,
    "inlineHelpText": None,
    "label": None,
    "length": 0,
    "mask": None,
    "maskType": None,
    "name": None,
    "nameField": False,
    "namePointing": False,
    "nillable": True,
    "permissionable": True,
    "picklistValues": [],
    "polymorphicForeignKey": False,
    "precision": 0,
    "queryByDistance": False,
    "referenceTargetField": None,
    "referenceTo": [],
    "relationshipName": None,
    "relationshipOrder": None,
    "restrictedDelete": False,
    "restrictedPicklist": False,
    "scale": 0,
    "searchPrefilterable": False,
    "soapType": "xsd:string",
    "sortable": True,
    "type": "string",
    "unique": False,
    "updateable": True,
    "writeRequiresMasterRead": False,
}

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "long": "xsd:long",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
    "base64": "xsd:base64Binary",
    "address": "urn:address",
    "location": "urn:location",
    "anyType": "xsd:anyType",
}
_TEXT_TYPES = frozenset(
    {
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "encryptedstring",
    }
)


def complete_field(partial: Mapping[str, Any]) -> dict[str, Any]:
    """A full describe field from the keys that matter (name and type at least)."""
    if not partial.get("name") or not partial.get("type"):
        raise ValueError(f"a field needs at least a name and a type: {partial!r}")
    out = copy.deepcopy(FIELD_DEFAULTS)
    out.update(copy.deepcopy(dict(partial)))
    kind = out["type"]
    out.setdefault("label", out["name"])
    if out["label"] is None:
        out["label"] = out["name"]
    if "soapType" not in partial:
        out["soapType"] = _SOAP_TYPES.get(kind, "xsd:string")
    if kind in _TEXT_TYPES and not out["length"]:
        out["length"] = 4099 if kind == "multipicklist" else 255
    if "byteLength" not in partial:
        out["byteLength"] = (
            out["length"] * 3 if kind in _TEXT_TYPES else 18 if kind in ("id", "reference") else 0
        )
    if kind == "boolean" and "nillable" not in partial:
        out["nillable"] = False
        out["defaultedOnCreate"] = True
        out["defaultValue"] = partial.get("defaultValue", False)
    if kind in ("textarea", "multipicklist", "address", "location") and "sortable" not in partial:
        out["sortable"] = False
        out["groupable"] = False
        if kind != "textarea":
            out["filterable"] = kind == "multipicklist"
    if out["name"].endswith("__c") and "custom" not in partial:
        out["custom"] = True
    return out


@dataclass(frozen=True)
class FieldDef:
    """One field: its describe dict and the facts the org checks on every write."""

    describe: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.describe["name"])

    @property
    def type(self) -> str:
        return str(self.describe["type"])

    @property
    def length(self) -> int:
        return int(self.describe.get("length") or 0)

    @property
    def createable(self) -> bool:
        return bool(self.describe.get("createable"))

    @property
    def updateable(self) -> bool:
        return bool(self.describe.get("updateable"))

    @property
    def nillable(self) -> bool:
        return bool(self.describe.get("nillable"))

    @property
    def required_on_create(self) -> bool:
        """nillable false + createable + not defaulted: the rule Salesforce applies."""
        d = self.describe
        return not d["nillable"] and d["createable"] and not d["defaultedOnCreate"]

    @property
    def external_id(self) -> bool:
        return bool(self.describe.get("externalId")) or self.name == "Id"

    @property
    def unique(self) -> bool:
        return bool(self.describe.get("unique"))

    @property
    def reference_to(self) -> list[str]:
        return list(self.describe.get("referenceTo") or [])

    @property
    def relationship_name(self) -> str | None:
        value = self.describe.get("relationshipName")
        return str(value) if value else None

    @property
    def picklist_values(self) -> list[str]:
        return [
            str(v["value"]) for v in self.describe.get("picklistValues") or [] if v.get("active")
        ]

    @property
    def restricted_picklist(self) -> bool:
        return bool(self.describe.get("restrictedPicklist"))

    @property
    def default_value(self) -> Any:
        return self.describe.get("defaultValue")

    @property
    def compound(self) -> bool:
        return self.type in ("address", "location")

    @property
    def compound_field_name(self) -> str | None:
        value = self.describe.get("compoundFieldName")
        return str(value) if value else None


@dataclass(frozen=True)
class ChildRelationship:
    child_sobject: str
    field: str
    relationship_name: str


@dataclass
class SObjectDef:
    """One sObject: its describe dict plus case-insensitive field and relationship indexes."""

    describe: dict[str, Any]
    fields: dict[str, FieldDef] = field(default_factory=dict)  # lower-case name -> field
    relationships: dict[str, FieldDef] = field(default_factory=dict)  # lower rel name -> field

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self.fields = {f["name"].lower(): FieldDef(f) for f in self.describe["fields"]}
        self.relationships = {
            fd.relationship_name.lower(): fd
            for fd in self.fields.values()
            if fd.type == "reference" and fd.relationship_name
        }

    @property
    def name(self) -> str:
        return str(self.describe["name"])

    @property
    def key_prefix(self) -> str:
        return str(self.describe["keyPrefix"])

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def require_field(self, name: str) -> FieldDef:
        found = self.field(name)
        if found is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on sobject of type {self.name}",
            )
        return found

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field behind a parent relationship name (``Account``, ``Owner``)."""
        return self.relationships.get(name.lower())

    def child_relationships(self) -> Iterator[ChildRelationship]:
        for rel in self.describe.get("childRelationships") or []:
            if rel.get("relationshipName"):
                yield ChildRelationship(rel["childSObject"], rel["field"], rel["relationshipName"])

    def child_relationship(self, name: str) -> ChildRelationship | None:
        for rel in self.child_relationships():
            if rel.relationship_name.lower() == name.lower():
                return rel
        return None

    @property
    def name_field(self) -> FieldDef | None:
        for fd in self.fields.values():
            if fd.describe.get("nameField"):
                return fd
        return None


class Schema:
    """Every sObject of an org, by name and by key prefix."""

    def __init__(self, describes: Iterable[Mapping[str, Any]] = ()) -> None:
        self._objects: dict[str, SObjectDef] = {}
        self._prefixes: dict[str, SObjectDef] = {}
        # (child sObject, lookup field) -> the parent's child relationship name.
        self._child_names: dict[tuple[str, str], str] = {}
        # lower-case name -> the describe last passed to add(), as given (see defined_as).
        self._given: dict[str, dict[str, Any]] = {}
        for describe in describes:
            self.add(describe)
        self.link_children()

    def __iter__(self) -> Iterator[SObjectDef]:
        return iter(self._objects.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._objects

    def get(self, name: str) -> SObjectDef | None:
        return self._objects.get(name.lower())

    def require(self, name: str) -> SObjectDef:
        found = self.get(name)
        if found is None:
            raise ApiError.not_found()
        return found

    def by_prefix(self, prefix: str) -> SObjectDef | None:
        return self._prefixes.get(prefix)

    def defined_as(self, name: str) -> dict[str, Any] | None:
        """The describe that ``add`` last got for ``name`` (as given, before completion)."""
        return self._given.get(name.lower())

    def add(self, describe: Mapping[str, Any]) -> SObjectDef:
        """Add (or replace) an sObject from a describe-shaped dict.

        Replacing keeps the object's key prefix (unless the describe names another one), so
        existing ids still resolve; its fields become the new describe's.
        """
        given = copy.deepcopy(dict(describe))
        data = dict(given)  # completed below: fields and child relationships are new lists
        data["childRelationships"] = copy.deepcopy(given.get("childRelationships") or [])
        name = data.get("name")
        if not name or not isinstance(name, str):
            raise ValueError("an sObject describe needs a name")
        data.setdefault("label", name)
        data.setdefault("labelPlural", name + "s")
        data.setdefault("custom", name.endswith("__c"))
        previous = self._objects.get(name.lower())
        if not data.get("keyPrefix"):
            data["keyPrefix"] = (
                previous.key_prefix if previous is not None else self._next_custom_prefix()
            )
        fields = [self._complete(name, f) for f in data.get("fields") or []]
        if not any(f["name"] == "Id" for f in fields):
            fields.insert(0, complete_field(_ID_FIELD))
        data["fields"] = fields
        for key, value in _OBJECT_FLAGS.items():
            data.setdefault(key, value)
        sobject = SObjectDef(data)
        if previous is not None:
            if self._prefixes.get(previous.key_prefix) is previous:
                del self._prefixes[previous.key_prefix]
            if "childRelationships" not in given:
                # Its children still point at it (link_children drops what no longer does).
                sobject.describe["childRelationships"] = previous.describe["childRelationships"]
        self._objects[name.lower()] = sobject
        self._prefixes[sobject.key_prefix] = sobject
        self._given[name.lower()] = given
        return sobject

    def add_field(self, sobject: str, describe_field: Mapping[str, Any]) -> FieldDef:
        target = self.get(sobject)
        if target is None:
            raise KeyError(f"no sObject named {sobject!r}")
        complete = self._complete(target.name, describe_field)
        target.describe["fields"] = [
            f for f in target.describe["fields"] if f["name"].lower() != complete["name"].lower()
        ] + [complete]
        target.reindex()
        self.link_children()
        return target.fields[complete["name"].lower()]

    def link_children(self) -> None:
        """Derive each parent's childRelationships from the children's lookups (and drop
        those whose lookup no longer exists on a known child)."""
        for parent in self._objects.values():
            parent.describe["childRelationships"] = [
                rel
                for rel in parent.describe["childRelationships"]
                if self._still_links(parent, rel)
            ]
            declared = {
                (r["childSObject"], r["field"]) for r in parent.describe["childRelationships"]
            }
            for child in self._objects.values():
                for fd in child.fields.values():
                    if fd.type != "reference" or parent.name not in fd.reference_to:
                        continue
                    if (child.name, fd.name) in declared:
                        continue
                    rel = self._child_names.get((child.name, fd.name))
                    parent.describe["childRelationships"].append(
                        {
                            "cascadeDelete": bool(fd.describe.get("cascadeDelete")),
                            "childSObject": child.name,
                            "deprecatedAndHidden": False,
                            "field": fd.name,
                            "junctionIdListNames": [],
                            "junctionReferenceTo": [],
                            "relationshipName": rel,
                            "restrictedDelete": False,
                        }
                    )
                    declared.add((child.name, fd.name))

    def _still_links(self, parent: SObjectDef, rel: Mapping[str, Any]) -> bool:
        child = self.get(str(rel.get("childSObject")))
        if child is None:
            return True  # a child outside this schema: keep what was declared
        fd = child.field(str(rel.get("field")))
        return fd is not None and fd.type == "reference" and parent.name in fd.reference_to

    def _complete(self, sobject: str, partial: Mapping[str, Any]) -> dict[str, Any]:
        """A full describe field. A lookup may name the relationship its parent sees
        (``childRelationshipName``, not a describe key): it is kept aside, not described."""
        data = dict(partial)
        child_name = data.pop("childRelationshipName", None)
        if child_name:
            self._child_names[(sobject, str(data["name"]))] = str(child_name)
        return complete_field(data)

    def _next_custom_prefix(self) -> str:
        n = 0
        while f"a{n:02d}" in self._prefixes:
            n += 1
        return f"a{n:02d}"


_ID_FIELD = {
    "name": "Id",
    "type": "id",
    "label": "Record ID",
    "length": 18,
    "nillable": False,
    "createable": False,
    "updateable": False,
    "defaultedOnCreate": True,
    "idLookup": True,
    "groupable": True,
}

_OBJECT_FLAGS: dict[str, Any] = {
    "activateable": False,
    "compactLayoutable": True,
    "createable": True,
    "customSetting": False,
    "deepCloneable": False,
    "deletable": True,
    "deprecatedAndHidden": False,
    "feedEnabled": False,
    "hasSubtypes": False,
    "isInterface": False,
    "isSubtype": False,
    "layoutable": True,
    "listviewable": None,
    "lookupLayoutable": None,
    "mergeable": False,
    "mruEnabled": True,
    "queryable": True,
    "replicateable": True,
    "retrieveable": True,
    "searchLayoutable": True,
    "searchable": True,
    "triggerable": True,
    "undeletable": True,
    "updateable": True,
    "recordTypeInfos": [
        {
            "active": True,
            "available": True,
            "defaultRecordTypeMapping": True,
            "developerName": "Master",
            "master": True,
            "name": "Master",
            "recordTypeId": "012000000000000AAA",
            "urls": {},
        }
    ],
    "supportedScopes": [{"label": "All", "name": "everything"}],
    "namedLayoutInfos": [],
    "actionOverrides": [],
    "networkScopeFieldName": None,
    "sobjectDescribeOption": "FULL",
}

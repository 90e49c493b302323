"""Shared pieces of the code generator's tests: describes, paths, and the tools run on output."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from sobjects.emulator._schema import Schema
from sobjects.emulator._standard import standard_sobjects

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = ROOT / "src" / "sobjects" / "models"
SNAPSHOT_DIR = ROOT / "models" / "_describe"
STANDARD = ("Account", "Case", "Contact", "Lead", "Opportunity", "Task", "User")
BIN = Path(sys.executable).parent


def standard_describes() -> dict[str, dict[str, Any]]:
    """The local org's standard describes, completed as the org serves them."""
    return {sobject.name: sobject.describe for sobject in Schema(standard_sobjects())}


def _field(name: str, type_: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **kw}


def _picklist(name: str, values: list[str], **kw: Any) -> dict[str, Any]:
    entries = [{"active": True, "value": v, "label": v, "defaultValue": False} for v in values]
    return _field(name, "picklist", picklistValues=entries, **kw)


def _lookup(name: str, to: list[str], relationship: str, **kw: Any) -> dict[str, Any]:
    return _field(name, "reference", referenceTo=to, relationshipName=relationship, **kw)


READ_ONLY = {"createable": False, "updateable": False}

LONG_FIELD = "A_Very_Long_Custom_Field_Name_For_Wrapping_Tests__c"


def synthetic_describes() -> dict[str, dict[str, Any]]:
    """Standard Account and Contact plus custom objects that exercise every rule."""
    invoice = {
        "name": "Invoice__c",
        "fields": [
            _field("Name", "string", nillable=False),
            _field("Amount__c", "currency"),
            _field("Rate__c", "percent"),
            _field("Weight__c", "double"),
            _field("Quantity__c", "int"),
            _field("Big__c", "long"),
            _field("Paid__c", "boolean"),
            _field("Due__c", "date"),
            _field("Sent__c", "datetime"),
            _field("Cutoff__c", "time"),
            _picklist(
                "Status__c",
                ["Draft", "Sent", "Paid", 'Say "hi"', "it's"],
                restrictedPicklist=True,
            ),
            _picklist("Stage__c", ["New", "Old"]),
            _picklist("Kind__c", ["A", "B"], restrictedPicklist=True, nillable=False),
            {
                **_picklist("Tags__c", ["x", "y"], restrictedPicklist=True),
                "type": "multipicklist",
            },
            _lookup("Account__c", ["Account"], "Account__r", childRelationshipName="Invoices__r"),
            _lookup(
                "Related__c",
                ["Account", "Contact"],
                "Related__r",
                childRelationshipName="Related_Invoices__r",
            ),
            _lookup("Approver__c", ["User"], "Approver__r"),
            _lookup(
                "Parent_Invoice__c",
                ["Invoice__c"],
                "Parent_Invoice__r",
                childRelationshipName="Child_Invoices__r",
            ),
            _field("Ext_Key__c", "string", externalId=True),
            _field("Total__c", "currency", calculated=True, **READ_ONLY),
            _field("Where__c", "location", **READ_ONLY),
            _field("Payload__c", "anyType"),
            _field("Class__c", "string"),
            _field("Json__c", "string"),
            _field("Model_Number__c", "string"),
            _field("Date__c", "date"),
            _field("Save__c", "string"),
            _field("Approved__c", "boolean", defaultValue=True),
            _field(LONG_FIELD, "string", externalId=True, **READ_ONLY),
        ],
    }
    widget = {
        "name": "Widget__c",
        "fields": [
            _field("Account", "string"),
            _lookup("AccountId", ["Account"], "Account", childRelationshipName="Widgets__r"),
            _field("Foo__c", "string"),
            _field("Foo", "string"),
            # The ORM finds a lookup by its relationship's name (Manager -> ManagerId): a
            # relationship named otherwise gets no parent field.
            _lookup("BossId", ["Contact"], "Manager"),
        ],
    }
    location = {"name": "Location", "fields": [_field("Place__c", "location", **READ_ONLY)]}
    standard = [d for d in standard_sobjects() if d["name"] in ("Account", "Contact")]
    schema = Schema([*standard, invoice, widget, location])
    return {sobject.name: sobject.describe for sobject in schema}


def tool(name: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ruff or mypy from this environment (as the Makefile does)."""
    command = [str(BIN / "ruff")] if name == "ruff" else [sys.executable, "-m", name]
    return subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@contextmanager
def imported(directory: Path) -> Iterator[ModuleType]:
    """Import the package at ``directory`` (its parent on sys.path), then forget it."""
    name = directory.name
    sys.path.insert(0, str(directory.parent))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(directory.parent))
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]

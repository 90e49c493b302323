"""Drift between models on disk and describe metadata (``sobjects generate --check``).

Two views: ``source_changes`` compares the modules on disk with freshly generated source (what
decides whether the models are stale), and ``describe_changes`` summarises what changed
between the describe snapshot the models were generated from and the current describe, in
terms a reader cares about: fields added or removed, types, picklist values, required,
read-only, external id and lookup targets.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sobjects.codegen._generate import HEADER, picklist_values, required

__all__ = [
    "SourceChanges",
    "UnreadableFileError",
    "describe_changes",
    "generated_files",
    "is_generated",
    "read_text",
    "source_changes",
]


class UnreadableFileError(Exception):
    """A file that cannot be read as UTF-8 text (the message names it)."""


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; ``UnreadableFileError`` naming the file if it has none."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            f"cannot read {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise UnreadableFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def _fields(describe: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(f["name"]): f for f in describe.get("fields") or [] if f.get("name")}


def _children(describe: Mapping[str, Any]) -> dict[str, str]:
    """Child relationship name -> ``Child.Field``."""
    return {
        str(rel["relationshipName"]): f"{rel.get('childSObject')}.{rel.get('field')}"
        for rel in describe.get("childRelationships") or []
        if rel.get("relationshipName")
    }


def _quoted(values: list[str]) -> str:
    return ", ".join(repr(v) for v in values)


def _inactive(describe_field: Mapping[str, Any]) -> set[str]:
    return {
        str(entry.get("value"))
        for entry in describe_field.get("picklistValues") or []
        if entry.get("active") is False
    }


def _field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    old_type, new_type = old.get("type"), new.get("type")
    if old_type != new_type:
        out.append(f"type changed: {old_type} -> {new_type}")
    old_values, new_values = picklist_values(old), picklist_values(new)
    if old_values != new_values:
        added = [v for v in new_values if v not in old_values]
        removed = [v for v in old_values if v not in new_values]
        parts = []
        if added:
            parts.append(f"added {_quoted(added)}")
        if removed:
            parts.append(f"removed {_quoted(removed)}")
        out.append("picklist values " + ("; ".join(parts) if parts else "reordered"))
    if deactivated := sorted(_inactive(new) - _inactive(old)):
        out.append(f"picklist values deactivated: {_quoted(deactivated)}")
    if bool(old.get("restrictedPicklist")) != bool(new.get("restrictedPicklist")):
        restricted = bool(new.get("restrictedPicklist"))
        out.append("picklist now restricted" if restricted else "picklist no longer restricted")
    if required(old) != required(new):
        out.append("now required" if required(new) else "no longer required")
    old_ro = not old.get("createable", True) and not old.get("updateable", True)
    new_ro = not new.get("createable", True) and not new.get("updateable", True)
    if old_ro != new_ro:
        out.append("now read-only" if new_ro else "no longer read-only")
    if bool(old.get("externalId")) != bool(new.get("externalId")):
        out.append("now an external id" if new.get("externalId") else "no longer an external id")
    old_to, new_to = list(old.get("referenceTo") or []), list(new.get("referenceTo") or [])
    if old_to != new_to:
        out.append(f"lookup targets changed: {_quoted(old_to)} -> {_quoted(new_to)}")
    if (old.get("relationshipName") or None) != (new.get("relationshipName") or None):
        out.append(
            f"relationship renamed: {old.get('relationshipName')} -> {new.get('relationshipName')}"
        )
    return out


def describe_changes(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """What changed from ``old`` to ``new`` describes (sObject name -> describe), one line each.

    >>> old = {"Contact": {"fields": [{"name": "LastName", "type": "string"}]}}
    >>> new = {"Contact": {"fields": [{"name": "LastName", "type": "string"},
    ...                               {"name": "Nickname__c", "type": "string"}]}}
    >>> describe_changes(old, new)
    ['Contact: field added: Nickname__c (string)']
    """
    out: list[str] = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            out.append(f"{name}: new sObject (no snapshot to compare with)")
            continue
        if name not in new:
            out.append(f"{name}: sObject no longer generated")
            continue
        old_fields, new_fields = _fields(old[name]), _fields(new[name])
        for field_name, spec in old_fields.items():
            if field_name not in new_fields:
                out.append(f"{name}: field removed: {field_name} ({spec.get('type')})")
        for field_name, spec in new_fields.items():
            if field_name not in old_fields:
                out.append(f"{name}: field added: {field_name} ({spec.get('type')})")
        for field_name, spec in new_fields.items():
            if field_name in old_fields:
                for change in _field_changes(old_fields[field_name], spec):
                    out.append(f"{name}.{field_name}: {change}")
        old_children, new_children = _children(old[name]), _children(new[name])
        for rel in sorted(set(old_children) - set(new_children)):
            out.append(f"{name}: child relationship removed: {rel} ({old_children[rel]})")
        for rel in sorted(set(new_children) - set(old_children)):
            out.append(f"{name}: child relationship added: {rel} ({new_children[rel]})")
    return out


@dataclass
class SourceChanges:
    """How the files on disk differ from generated ones: a line per file, and a diff."""

    summary: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.summary)


def is_generated(path: Path) -> bool:
    """Whether ``path`` is a file ``sobjects generate`` wrote: its first line is HEADER."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(len(HEADER) + 3)
    except OSError:
        return False
    return first.rstrip(b"\r\n") == HEADER.encode()


def generated_files(out_dir: Path) -> list[Path]:
    """The modules in ``out_dir`` that ``sobjects generate`` wrote (they start with HEADER)."""
    if not out_dir.is_dir():
        return []
    return [path for path in sorted(out_dir.glob("*.py")) if is_generated(path)]


def source_changes(out_dir: Path, files: Mapping[str, str]) -> SourceChanges:
    """Compare ``files`` (name -> generated source) with the files in ``out_dir``."""
    changes = SourceChanges()
    for name, expected in files.items():
        path = out_dir / name
        current = read_text(path) if path.is_file() else None
        if current == expected:
            continue
        changes.summary.append(f"{name}: {'missing' if current is None else 'changed'}")
        changes.diff += difflib.unified_diff(
            (current or "").splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{name} (on disk)" if current is not None else "/dev/null",
            tofile=f"{name} (generated)",
        )
    for path in generated_files(out_dir):
        if path.name not in files:
            changes.summary.append(f"{path.name}: generated before, no longer generated")
    return changes

"""The org's data: records in memory, validated like Salesforce, optionally journaled to disk.

Every write is checked against the schema (unknown or read-only fields, types, lengths,
restricted picklists, references, required fields, unique and external id values) and
answers with Salesforce's error codes. ``transaction()`` groups writes that must succeed or
roll back together (``allOrNone``). With a journal path, each acknowledged write is appended
and fsynced before the call returns, so it survives a ``kill -9``; the journal is locked
(``flock``) while a store has it open, so a second process cannot interleave its writes.
A journal starts with a header line (``JOURNAL_HEADER``); an existing file without it (and not
a journal of an earlier version) is refused, never rewritten.

One re-entrant lock (``Store.lock``, shared by ``LocalOrg``) guards every read and write.
"""

from __future__ import annotations

import json
import logging
import os
import string
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sobjects._ids import is_salesforce_id, to_18
from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import FieldDef, Schema, SObjectDef
from sobjects.emulator._values import format_datetime, normalise_value, utc_now

__all__ = ["JOURNAL_HEADER", "JournalInUse", "Store", "StoreClosed", "UnusableJournal"]

logger = logging.getLogger("sobjects.emulator")

# The first line of every journal: how a file is recognised as one before anything is
# appended to it. Journals of earlier versions have no header; they start with a unit of work.
JOURNAL_FORMAT = 1
JOURNAL_HEADER = b'{"sobjects_journal":1}\n'
_HEADER_START = b'{"sobjects_journal":'
_UNIT_START = b'{"entries":'
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SYSTEM_FIELDS = ("CreatedDate", "LastModifiedDate", "SystemModstamp")
_ADMIN_USER = {
    "Username": "admin@local.org",
    "LastName": "Admin",
    "FirstName": "Local",
    "Email": "admin@local.org",
    "Alias": "admin",
    "IsActive": True,
    "TimeZoneSidKey": "GMT",
    "LocaleSidKey": "en_US",
    "EmailEncodingKey": "UTF-8",
    "LanguageLocaleKey": "en_US",
}


def _base62(n: int, width: int) -> str:
    digits = []
    while n:
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


class StoreClosed(RuntimeError):
    """A write reached a closed store: it is refused, never acknowledged."""


class JournalInUse(RuntimeError):
    """Another open store (in this process or another one) holds the journal file."""


class UnusableJournal(ValueError):
    """The journal path cannot hold a journal: a directory, a missing folder, or an existing
    file that is not a journal (it is never written to)."""


def _check_journal_path(path: Path) -> None:
    if path.is_dir():
        raise UnusableJournal(
            f"the journal {path} is a directory: give the path of a file (a new one is created)"
        )
    if not path.parent.is_dir():
        raise UnusableJournal(
            f"the folder of the journal {path} does not exist: create {path.parent} first"
        )
    if path.exists() and not path.is_file():
        raise UnusableJournal(f"the journal {path} is not a regular file")


def _check_journal_content(path: Path, content: bytes) -> None:
    """Refuse a file that is not a journal, before a byte is appended to it."""
    if not content or JOURNAL_HEADER.startswith(content) or content.startswith(_UNIT_START):
        return  # new, torn while being created, or written by a version without the header
    if content.startswith(_HEADER_START):
        first = content.split(b"\n", 1)[0]
        try:
            header = json.loads(first)
        except ValueError:
            header = None
        version = header.get("sobjects_journal") if isinstance(header, dict) else None
        if version == JOURNAL_FORMAT:
            return
        if isinstance(version, int) and not isinstance(version, bool) and version > 0:
            raise UnusableJournal(
                f"the journal {path} has format {version}, newer than this version of sobjects "
                f"reads ({JOURNAL_FORMAT}): upgrade sobjects"
            )
    raise UnusableJournal(
        f"{path} exists and is not a sobjects journal (it does not start with the journal "
        "header): it is left untouched; give a new file or an existing journal"
    )


def _lock_journal(handle: Any, path: Path) -> None:
    """Take an exclusive, non-blocking lock on the open journal (released when it closes)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, no check
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalInUse(
            f"the journal {path} is in use by another local org (another `sobjects emulator` "
            "or an unclosed LocalOrg(data=...)); stop it or use another file"
        ) from None
    except OSError as exc:  # a file system without locks: go on, unprotected
        logger.warning("local org: cannot lock the journal %s: %s", path, exc)


class Store:
    """Records by id, per sObject, with Salesforce's write rules.

    Implements the SOQL engine's ``RecordSource``: ``records``, ``get``, ``sobject_of``.
    Reads return snapshots (lists, records that are never changed in place: a write stores
    a new dict), so a caller can iterate them while other threads write.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        journal: str | os.PathLike[str] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.schema = schema
        self.clock = clock
        self._records: dict[str, dict[str, Any]] = {}
        self._by_type: dict[str, dict[str, dict[str, Any]]] = {}
        # When each record entered _by_type: several matches of an indexed lookup come back
        # in that order, as a scan of _by_type returned them.
        self._seq: dict[str, int] = {}
        self._next_seq = 0
        # sObject (lower case) -> field name -> live records by value, built on first lookup.
        self._indexes: dict[str, dict[str, _ValueIndex]] = {}
        self._counters: dict[str, int] = {}
        self._undo: list[list[tuple[str, dict[str, Any] | None]]] = []
        self._pending_journal: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self._closed = False
        self._journal_path = Path(journal) if journal is not None else None
        self._journal: Any = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        if self._journal_path is not None:
            _check_journal_path(self._journal_path)
            handle = open(self._journal_path, "a", encoding="utf-8")  # noqa: SIM115
            try:
                _lock_journal(handle, self._journal_path)
                self._replay(self._journal_path)
                if os.fstat(handle.fileno()).st_size == 0:  # a new journal: its header first
                    handle.write(JOURNAL_HEADER.decode())
                    handle.flush()
                    os.fsync(handle.fileno())
            except BaseException:
                handle.close()
                raise
            self._journal = handle
            # A store dropped without close() still closes its file (and releases the lock).
            self._finalizer = weakref.finalize(self, handle.close)
        self.admin_user_id = self._ensure_admin()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the journal (data stays on disk); later writes raise ``StoreClosed``."""
        with self.lock:
            self._closed = True
            self._journal = None
            if self._finalizer is not None:
                self._finalizer()  # closes the file once, whoever asks first

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the local org is closed: writes are refused")

    # -- RecordSource ----------------------------------------------------------------------

    def records(self, sobject: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            rows = list(self._by_type.get(sobject.lower(), {}).values())
        if include_deleted:
            return rows
        return [r for r in rows if not r.get("IsDeleted")]

    def get(self, record_id: str) -> dict[str, Any] | None:
        if not is_salesforce_id(record_id):
            return None
        with self.lock:
            return self._records.get(to_18(record_id))

    def creation_order(self, record_id: str) -> int:
        """When the record was stored, as a rank: orders records written within one second."""
        return self._seq.get(record_id, -1)

    def sobject_of(self, record_id: str) -> str | None:
        record = self.get(record_id)
        return None if record is None else str(record["attributes"]["type"])

    # -- reads -----------------------------------------------------------------------------

    def retrieve(self, sobject: SObjectDef, record_id: str) -> dict[str, Any]:
        """A live record of ``sobject`` by id (404 NOT_FOUND / ENTITY_IS_DELETED otherwise)."""
        record = self.get(record_id)
        if record is None or record["attributes"]["type"] != sobject.name:
            raise ApiError.not_found()
        if record.get("IsDeleted"):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return record

    def find(self, sobject: SObjectDef, fd: FieldDef, value: Any) -> list[dict[str, Any]]:
        """Live records whose ``fd`` equals ``value`` (case-insensitive for text), in the
        order ``records()`` lists them. An index answers, not a scan of the records."""
        if fd.name == "Id":
            try:
                return [self.retrieve(sobject, str(value))]
            except ApiError:
                return []
        wanted = _match_key(fd, value)
        with self.lock:
            ids = self._index(sobject.name, fd).entries.get(wanted)
            if not ids:
                return []
            if len(ids) == 1:
                return [self._records[record_id] for record_id in ids]
            return [self._records[i] for i in sorted(ids, key=self._seq.__getitem__)]

    def _index(self, sobject: str, fd: FieldDef) -> _ValueIndex:
        """The index of ``fd``'s values, built by one scan the first time it is asked for
        (or again when the field's case sensitivity was redefined)."""
        by_field = self._indexes.setdefault(sobject.lower(), {})
        index = by_field.get(fd.name)
        case_sensitive = _case_sensitive(fd)
        if index is None or index.case_sensitive != case_sensitive:
            index = _ValueIndex(fd.name, case_sensitive)
            for record in self._by_type.get(sobject.lower(), {}).values():
                index.move(record["Id"], None, index.key_of(record))
            by_field[fd.name] = index
        return index

    # -- writes ----------------------------------------------------------------------------

    def insert(self, sobject: SObjectDef, data: Mapping[str, Any]) -> str:
        with self.lock:
            self._check_open()
            values = self._validate(sobject, data, existing=None)
            missing = [
                fd.name
                for fd in sobject.fields.values()
                if fd.required_on_create and values.get(fd.name) is None
            ]
            if missing:
                raise ApiError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            record_id = self._new_id(sobject)
            now = format_datetime(self.clock())
            record: dict[str, Any] = {
                "attributes": {"type": sobject.name},
                "Id": record_id,
            }
            for fd in sobject.fields.values():
                if fd.name == "Id" or fd.compound:
                    continue
                if fd.name in values:
                    record[fd.name] = values[fd.name]
                elif fd.name == "IsDeleted" or fd.type == "boolean":
                    record[fd.name] = bool(fd.default_value) if fd.name != "IsDeleted" else False
                elif fd.name in _SYSTEM_FIELDS:
                    record[fd.name] = now
                elif fd.name in ("CreatedById", "LastModifiedById") or (
                    fd.name == "OwnerId" and "OwnerId" not in values
                ):
                    record[fd.name] = self.admin_user_id if self.admin_user_id else None
                elif fd.describe.get("autoNumber"):
                    # Numbered in creation order; deleted records keep theirs.
                    record[fd.name] = f"{len(self._by_type.get(sobject.name.lower(), {})) + 1:08d}"
                else:
                    record[fd.name] = fd.default_value
            self._derive(sobject, record)
            self._check_unique(sobject, record)
            self._put(record_id, None, record)
            return record_id

    def update(self, sobject: SObjectDef, record_id: str, data: Mapping[str, Any]) -> None:
        with self.lock:
            self._check_open()
            existing = self.retrieve(sobject, record_id)
            body = dict(data)
            for key in [k for k in body if k.lower() == "id"]:
                if not is_salesforce_id(str(body[key])) or to_18(str(body[key])) != existing["Id"]:
                    raise ApiError(
                        400,
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "Unable to create/update fields: Id. Please check the security settings "
                        "of this field and verify that it is read/write for your profile or "
                        "permission set.",
                        ["Id"],
                    )
                del body[key]
            values = self._validate(sobject, body, existing=existing)
            cleared = [
                fd.name
                for fd in sobject.fields.values()
                if fd.name in values
                and values[fd.name] is None
                and not fd.nillable
                and fd.type != "boolean"
            ]
            if cleared:
                raise ApiError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(cleared)}]",
                    cleared,
                )
            record = dict(existing)
            record.update(values)
            now = format_datetime(self.clock())
            for name in ("LastModifiedDate", "SystemModstamp"):
                if sobject.field(name) is not None:
                    record[name] = now
            if sobject.field("LastModifiedById") is not None:
                record["LastModifiedById"] = self.admin_user_id
            self._derive(sobject, record)
            self._check_unique(sobject, record)
            self._put(existing["Id"], existing, record)

    def delete(self, sobject: SObjectDef | None, record_id: str) -> None:
        """Move a record to the recycle bin (``sobject=None``: any type, as Collections do).

        In the same transaction, live children pointing at it lose the link: a lookup whose
        child relationship has ``cascadeDelete`` deletes the child (and its own children),
        a nillable one is cleared. (The standard schema marks no relationship as cascading,
        so deleting an Account clears its Contacts' ``AccountId`` where Salesforce would
        delete them; a non-nillable lookup is left pointing at the deleted record.)
        """
        with self.lock:
            self._check_open()
            record = self.get(record_id)
            if record is None or (
                sobject is not None and record["attributes"]["type"] != sobject.name
            ):
                if not is_salesforce_id(record_id):
                    raise ApiError(400, "MALFORMED_ID", f"malformed id {record_id}", ["Id"])
                raise ApiError.not_found()
            if record.get("IsDeleted"):
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
            with self.transaction():
                self._delete_with_children(record)

    def _delete_with_children(self, record: dict[str, Any]) -> None:
        now = format_datetime(self.clock())
        pending = [record["Id"]]
        while pending:
            current = self._records.get(pending.pop())
            if current is None or current.get("IsDeleted"):
                continue
            deleted = dict(current)
            deleted["IsDeleted"] = True
            deleted["SystemModstamp"] = now
            self._put(current["Id"], current, deleted)
            parent = self.schema.get(str(current["attributes"]["type"]))
            relationships = parent.describe.get("childRelationships") if parent else None
            for rel in relationships or []:
                child = self.schema.get(str(rel.get("childSObject")))
                fd = child.field(str(rel.get("field"))) if child is not None else None
                if child is None or fd is None or fd.type != "reference":
                    continue
                cascade = bool(rel.get("cascadeDelete") or fd.describe.get("cascadeDelete"))
                for row in self.records(child.name):
                    if row.get(fd.name) != current["Id"]:
                        continue
                    if cascade:
                        pending.append(row["Id"])
                    elif fd.nillable:
                        latest = self._records[row["Id"]]  # another lookup may have changed it
                        cleared = {**latest, fd.name: None}
                        if "SystemModstamp" in cleared:
                            cleared["SystemModstamp"] = now
                        self._put(row["Id"], latest, cleared)

    def upsert(
        self,
        sobject: SObjectDef,
        field_name: str,
        value: str,
        data: Mapping[str, Any],
        *,
        update_only: bool = False,
    ) -> tuple[str, bool]:
        """Insert or update by external id; returns ``(id, created)``; 300 on several matches.

        With ``update_only`` no match is 404 ``NOT_FOUND`` instead of an insert.
        """
        with self.lock:
            self._check_open()
            fd = self.external_id_field(sobject, field_name)
            body = dict(data)
            for key in list(body):
                if key.lower() == "id":
                    raise ApiError(
                        400,
                        "INVALID_FIELD",
                        f"Id is not allowed in an upsert body; the record is matched by {fd.name}",
                    )
                if key.lower() == fd.name.lower():
                    if body[key] is None or _match_key(fd, body[key]) != _match_key(fd, value):
                        raise ApiError(
                            400,
                            "INVALID_FIELD",
                            f"The value of {fd.name} in the body ({body[key]}) does not match "
                            f"the URL ({value})",
                        )
                    del body[key]
            matches = self.find(sobject, fd, value)
            if len(matches) > 1:
                raise MultipleMatches([m["Id"] for m in matches])
            if matches:
                self.update(sobject, matches[0]["Id"], body)
                return matches[0]["Id"], False
            if update_only:
                raise ApiError.not_found()
            if fd.name != "Id":
                body[fd.name] = value
            return self.insert(sobject, body), True

    def external_id_field(self, sobject: SObjectDef, name: str) -> FieldDef:
        fd = sobject.field(name)
        # Salesforce upserts by an external id or by any field marked idLookup (Email).
        if fd is None or not (fd.external_id or fd.describe.get("idLookup")):
            raise ApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {name}",
            )
        return fd

    # -- transactions and persistence ------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside the block commit together or, if it raises, roll back together."""
        with self.lock:
            self._check_open()
            self._undo.append([])
            journal_mark = len(self._pending_journal)
            counters = dict(self._counters)
            try:
                yield
            except BaseException:
                for record_id, before in reversed(self._undo.pop()):
                    self._restore(record_id, before)
                del self._pending_journal[journal_mark:]  # only this block's writes
                if self._counters != counters:
                    # Ids handed out inside the block (rolled-back items show theirs) stay
                    # used after a restart too.
                    self._pending_journal.append({"counters": dict(self._counters)})
                if not self._undo:
                    self._flush_journal()
                raise
            undo = self._undo.pop()
            if self._undo:
                self._undo[-1].extend(undo)  # a nested block commits into its parent
            else:
                self._flush_journal()

    def _put(self, record_id: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        if self._undo:
            self._undo[-1].append((record_id, before))
        self._restore(record_id, after)
        self._pending_journal.append({"put": after})
        if not self._undo:
            self._flush_journal()

    def _restore(self, record_id: str, record: dict[str, Any] | None) -> None:
        """Make ``record`` (``None``: no record) the stored version of ``record_id``: every
        change of the records goes through here (writes, rollbacks, journal replay), and so
        every index is kept current here."""
        old = self._records.get(record_id)
        if record is None:
            if old is not None:
                del self._records[record_id]
                self._by_type.get(old["attributes"]["type"].lower(), {}).pop(record_id, None)
                self._seq.pop(record_id, None)
        else:
            self._records[record_id] = record
            rows = self._by_type.setdefault(record["attributes"]["type"].lower(), {})
            if record_id not in rows:
                self._seq[record_id] = self._next_seq
                self._next_seq += 1
            rows[record_id] = record
        current = record if record is not None else old
        if current is None:
            return
        for index in self._indexes.get(current["attributes"]["type"].lower(), {}).values():
            index.move(record_id, index.key_of(old), index.key_of(record))

    def journal_schema(self, entry: dict[str, Any]) -> None:
        """Record a schema change (``define`` / ``define_field``) so a restart replays it."""
        with self.lock:
            self._check_open()
            self._pending_journal.append(entry)
            if not self._undo:
                self._flush_journal()

    def _flush_journal(self) -> None:
        entries, self._pending_journal = self._pending_journal, []
        if not entries:
            return
        if self._closed:  # never acknowledge what cannot be journaled
            raise StoreClosed("the local org is closed: writes are refused")
        if self._journal is None:
            return
        # One line per acknowledged unit of work: a torn last line is skipped on replay.
        self._journal.write(json.dumps({"entries": entries}, separators=(",", ":")) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def _replay(self, path: Path) -> None:
        if not path.exists():
            return
        with open(path, "rb") as handle:
            content = handle.read()
        _check_journal_content(path, content)
        complete = content.rfind(b"\n") + 1
        if complete < len(content):
            # A torn last line (a crash mid-write, never acknowledged): cut it off, so the
            # next write starts on a line of its own.
            with open(path, "r+b") as handle:
                handle.truncate(complete)
        for line in content[:complete].decode("utf-8", "replace").splitlines():
            try:
                unit = json.loads(line)
            except ValueError:
                continue
            if not isinstance(unit, dict):
                continue
            for entry in unit.get("entries", []):
                if "put" in entry:
                    record = entry["put"]
                    self._restore(record["Id"], record)
                    prefix, number = record["Id"][:3], int(_from_base62(record["Id"][6:15]))
                    self._counters[prefix] = max(self._counters.get(prefix, 0), number)
                elif "define" in entry:
                    self.schema.add(entry["define"])
                    self.schema.link_children()
                elif "define_field" in entry:
                    sobject, fd = entry["define_field"]
                    self.schema.add_field(sobject, fd)
                elif "counters" in entry:
                    for prefix, number in entry["counters"].items():
                        self._counters[prefix] = max(self._counters.get(prefix, 0), int(number))

    # -- helpers ---------------------------------------------------------------------------

    def _new_id(self, sobject: SObjectDef) -> str:
        prefix = sobject.key_prefix
        number = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = number
        return to_18(f"{prefix}5e0{_base62(number, 9)}")

    def _ensure_admin(self) -> str | None:
        user = self.schema.get("User")
        if user is None:
            return None
        for record in self.records("User"):
            if record.get("Username") == _ADMIN_USER["Username"]:
                return str(record["Id"])
        data = {k: v for k, v in _ADMIN_USER.items() if user.field(k) is not None}
        self.admin_user_id = None
        # The first user creates itself: insert with the audit fields empty, then point them.
        user_id = self.insert(user, data)
        record = self._records[user_id]
        patched = dict(record)
        for name in ("CreatedById", "LastModifiedById"):
            if name in patched:
                patched[name] = user_id
        self._put(user_id, record, patched)
        return user_id

    def _validate(
        self, sobject: SObjectDef, data: Mapping[str, Any], *, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        creating = existing is None
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "attributes":
                continue
            fd = sobject.field(key)
            if fd is None:
                relationship = sobject.relationship(key)
                if relationship is not None and isinstance(value, Mapping):
                    # A parent by external id: its id then goes through the usual checks.
                    fd, value = relationship, self._resolve_parent(relationship, value)
            if fd is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {sobject.name}",
                )
            allowed = fd.createable if creating else fd.updateable
            if fd.name == "Id" or not allowed:
                action = "create" if creating else "update"
                raise ApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to {action} fields: {fd.name}. Please check the security settings "
                    "of this field and verify that it is read/write for your profile or "
                    "permission set.",
                    [fd.name],
                )
            normalised = normalise_value(fd, value)
            if fd.type == "reference" and normalised is not None:
                self._check_reference(fd, normalised)
            values[fd.name] = normalised
        return values

    def _check_reference(self, fd: FieldDef, record_id: str) -> None:
        target = self.get(record_id)
        if (
            target is None
            or target.get("IsDeleted")
            or (fd.reference_to and target["attributes"]["type"] not in fd.reference_to)
        ):
            label = fd.describe.get("label") or fd.name
            raise ApiError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"{label}: id value of incorrect type: {record_id}"
                if target is not None and not target.get("IsDeleted")
                else "invalid cross reference id",
                [fd.name],
            )

    def _resolve_parent(self, fd: FieldDef, ref: Mapping[str, Any]) -> str:
        """``{"Account": {"Ext_Id__c": "A-1"}}``: the parent's id, found by external id."""
        keys = [k for k in ref if k != "attributes"]
        if len(keys) != 1 or not fd.reference_to:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"A reference to {fd.relationship_name} must name exactly one external id field",
            )
        attributes = ref.get("attributes", {})
        if not isinstance(attributes, Mapping):
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"The attributes of the reference to {fd.relationship_name} must be an object",
            )
        parent_type = attributes.get("type") or fd.reference_to[0]
        parent = self.schema.get(parent_type) if isinstance(parent_type, str) else None
        if parent is None or parent.name not in fd.reference_to:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"{fd.relationship_name} cannot reference an sObject of type {parent_type}: "
                f"use one of {', '.join(fd.reference_to)}",
            )
        ext = self.external_id_field(parent, keys[0])
        matches = self.find(parent, ext, ref[keys[0]])
        if len(matches) != 1:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Foreign key external ID: {ref[keys[0]]} not found for field {ext.name} in "
                f"entity {parent.name}"
                if not matches
                else f"Foreign key external ID: {ref[keys[0]]} matched more than one record",
            )
        return str(matches[0]["Id"])

    def _derive(self, sobject: SObjectDef, record: dict[str, Any]) -> None:
        """Read-only fields computed from others: person names and compound fields."""
        name = sobject.field("Name")
        if name is not None and not name.createable and sobject.field("LastName") is not None:
            parts = [record.get("Salutation"), record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(str(p) for p in parts[1:] if p) or None
        for fd in sobject.fields.values():
            if fd.compound:
                record[fd.name] = compound_value(sobject, fd, record)

    def _check_unique(self, sobject: SObjectDef, record: dict[str, Any]) -> None:
        for fd in sobject.fields.values():
            if not fd.unique or fd.name == "Id" or record.get(fd.name) is None:
                continue
            for other in self.find(sobject, fd, record[fd.name]):
                if other["Id"] != record["Id"]:
                    raise ApiError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {fd.name} duplicates value on record with id: "
                        f"{other['Id']}",
                        [fd.name],
                    )


def _match_key(fd: FieldDef, value: Any) -> str:
    """How external id and unique values compare: as text, case-insensitive unless the field
    is case-sensitive."""
    return _value_key(value, _case_sensitive(fd))


def _case_sensitive(fd: FieldDef) -> bool:
    return bool(fd.describe.get("caseSensitive"))


def _value_key(value: Any, case_sensitive: bool) -> str:
    text = str(value)
    return text if case_sensitive else text.lower()


class _ValueIndex:
    """The live records of one sObject by the match key of one field (``_match_key``):
    external id and unique lookups without a scan of every record."""

    __slots__ = ("case_sensitive", "entries", "field")

    def __init__(self, field: str, case_sensitive: bool) -> None:
        self.field = field
        self.case_sensitive = case_sensitive
        self.entries: dict[str, set[str]] = {}

    def key_of(self, record: Mapping[str, Any] | None) -> str | None:
        """Where ``record`` belongs (``None``: nowhere, being absent, deleted or empty)."""
        if record is None or record.get("IsDeleted"):
            return None
        value = record.get(self.field)
        return None if value is None else _value_key(value, self.case_sensitive)

    def move(self, record_id: str, old: str | None, new: str | None) -> None:
        if old == new:
            return
        if old is not None:
            ids = self.entries[old]
            ids.discard(record_id)
            if not ids:
                del self.entries[old]
        if new is not None:
            self.entries.setdefault(new, set()).add(record_id)


_ADDRESS_PARTS = {
    "city": "City",
    "country": "Country",
    "geocodeAccuracy": "GeocodeAccuracy",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "postalCode": "PostalCode",
    "state": "State",
    "street": "Street",
}


def compound_value(sobject: SObjectDef, fd: FieldDef, record: Mapping[str, Any]) -> Any:
    """An address or location as Salesforce returns it, from its component fields (``None``
    when every component is empty)."""
    if fd.type == "address":
        prefix = fd.name[: -len("Address")]
        values = {key: record.get(prefix + suffix) for key, suffix in _ADDRESS_PARTS.items()}
    else:
        parts = [f for f in sobject.fields.values() if f.compound_field_name == fd.name]
        values = {
            key: next((record.get(p.name) for p in parts if key in p.name.lower()), None)
            for key in ("latitude", "longitude")
        }
    return values if any(v is not None for v in values.values()) else None


class MultipleMatches(Exception):
    """An external id value matched several records (the route answers 300)."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        super().__init__(f"{len(ids)} records match")


def _from_base62(text: str) -> int:
    n = 0
    for char in text:
        n = n * 62 + _BASE62.index(char)
    return n

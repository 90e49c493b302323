"""The org's data: records in SQLite, validated like Salesforce, durable with ``data=PATH``.

Every write is checked against the schema (unknown or read-only fields, types, lengths,
restricted picklists, references, required fields, unique and external id values) and
answers with Salesforce's error codes. ``transaction()`` groups writes that must succeed or
roll back together (``allOrNone``): it is a SQLite SAVEPOINT, so a nested block rolls back
alone and the outermost one commits once.

Records live in SQLite (see ``_database``), never all in Python: reads decode rows on demand.
Without a path the database is in memory. With one it is a file in WAL mode with
``synchronous=FULL``: a write returns once its commit is fsynced, so it survives a
``kill -9`` and a power cut. The file is opened with an exclusive lock (a second org, in this
process or another, is refused), checked at start (``PRAGMA quick_check``: a damaged file is
refused, never half-read), and a JSON-lines journal of earlier versions is converted once
(the journal is kept beside it as ``PATH.journal-v1``).

One re-entrant lock (``Store.lock``, shared by ``LocalOrg``) guards every read and write.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import string
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sobjects._ids import is_salesforce_id, to_18
from sobjects.emulator._database import FORMAT, Database, Narrowing, Table, connect
from sobjects.emulator._errors import ApiError
from sobjects.emulator._pushdown import Equal, Pushdown
from sobjects.emulator._schema import FieldDef, Schema, SObjectDef
from sobjects.emulator._values import format_datetime, normalise_value, utc_now

__all__ = [
    "JOURNAL_HEADER",
    "DamagedData",
    "JournalInUse",
    "Store",
    "StoreClosed",
    "UnusableJournal",
]

logger = logging.getLogger("sobjects.emulator")

# The first line of the JSON-lines journals of earlier versions (converted on first start);
# older ones have no header and start with a unit of work.
JOURNAL_FORMAT = 1
JOURNAL_HEADER = b'{"sobjects_journal":1}\n'
_HEADER_START = b'{"sobjects_journal":'
_UNIT_START = b'{"entries":'
_SQLITE_MAGIC = b"SQLite format 3\x00"
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
# Rows read per round trip when a scan streams (the lock is released between chunks).
_CHUNK = 1000


def _base62(n: int, width: int) -> str:
    digits = []
    while n:
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


class StoreClosed(RuntimeError):
    """A write reached a closed store: it is refused, never acknowledged."""


class JournalInUse(RuntimeError):
    """Another open store (in this process or another one) holds the data file."""


class UnusableJournal(ValueError):
    """The data path cannot hold the org: a directory, a missing folder, or an existing
    file that is not a sobjects data file (it is never written to)."""


class DamagedData(UnusableJournal):
    """The data file is a sobjects database whose content is damaged: refused at start."""


def _check_data_path(path: Path) -> None:
    if path.is_dir():
        raise UnusableJournal(
            f"the data file {path} is a directory: give the path of a file (a new one is created)"
        )
    if not path.parent.is_dir():
        raise UnusableJournal(
            f"the folder of the data file {path} does not exist: create {path.parent} first"
        )
    if path.exists() and not path.is_file():
        raise UnusableJournal(f"the data file {path} is not a regular file")


def _kind_of_file(path: Path) -> str:
    """``new``, ``sqlite`` or ``journal`` (an earlier version's); refuses anything else."""
    if not path.exists():
        return "new"
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head:
        return "new"
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if JOURNAL_HEADER.startswith(head) or head.startswith(_UNIT_START):
        return "journal"  # a journal, or one torn while its header was written
    if head.startswith(_HEADER_START):
        first = head.split(b"\n", 1)[0]
        try:
            header = json.loads(first)
        except ValueError:
            header = None
        version = header.get("sobjects_journal") if isinstance(header, dict) else None
        if version == JOURNAL_FORMAT:
            return "journal"
        if isinstance(version, int) and not isinstance(version, bool) and version > 0:
            raise UnusableJournal(
                f"the journal {path} has format {version}, newer than this version of sobjects "
                f"reads ({JOURNAL_FORMAT}): upgrade sobjects"
            )
    raise UnusableJournal(
        f"{path} exists and is not a sobjects data file (neither a sobjects SQLite database "
        "nor a journal of an earlier version): it is left untouched; give a new file or an "
        "existing one"
    )


def _damaged(path: Path, detail: object) -> DamagedData:
    return DamagedData(
        f"the data file {path} is damaged ({detail}): it is left untouched; restore it from "
        "a backup, or start on a new file"
    )


def _open_file(path: Path) -> sqlite3.Connection:
    """The data file, checked and locked for this store alone."""
    _check_data_path(path)
    if _kind_of_file(path) == "journal":
        _convert_journal(path)
    db = connect(str(path))
    try:
        # Held from the first read until close: no other connection reads or writes.
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            tables = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise JournalInUse(
                    f"the data file {path} is in use by another local org (another `sobjects "
                    "emulator` or an unclosed LocalOrg(data=...)); stop it or use another file"
                ) from None
            raise _damaged(path, exc) from None
        except sqlite3.DatabaseError as exc:
            raise _damaged(path, exc) from None
        if tables and "sobjects_meta" not in tables:
            raise UnusableJournal(
                f"{path} is a SQLite database but not a sobjects data file: it is left "
                "untouched; give a new file or an existing one"
            )
        try:
            if tables:
                row = db.execute("SELECT value FROM sobjects_meta WHERE key = 'format'").fetchone()
                version = row[0] if row else None
                if not isinstance(version, int) or version > FORMAT:
                    raise UnusableJournal(
                        f"the data file {path} has format {version}, newer than this version "
                        f"of sobjects reads ({FORMAT}): upgrade sobjects"
                    )
                problems = [r[0] for r in db.execute("PRAGMA quick_check(5)")]
                if problems != ["ok"]:
                    raise _damaged(path, "; ".join(problems))
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            # A checkpointed WAL file is cut back to this size, so it never keeps growing.
            db.execute("PRAGMA journal_size_limit=67108864")
            db.execute("PRAGMA cache_size=-65536")
        except sqlite3.DatabaseError as exc:
            raise _damaged(path, exc) from None
    except BaseException:
        db.close()
        raise
    return db


def _convert_journal(path: Path) -> None:
    """Rewrite an earlier version's JSON-lines journal as a database, once: the journal is
    copied to ``PATH.journal-v1`` first, then the database replaces it in one rename (a crash
    in between leaves the journal in place, converted again on the next start)."""
    content = path.read_bytes()
    units = []
    complete = content.rfind(b"\n") + 1  # a torn last line was never acknowledged
    for line in content[:complete].decode("utf-8", "replace").splitlines():
        try:
            unit = json.loads(line)
        except ValueError:
            continue
        if isinstance(unit, dict):
            units.append(unit)
    building = path.with_name(path.name + ".converting")
    building.unlink(missing_ok=True)
    db = connect(str(building))
    try:
        data = Database(db)
        db.execute("BEGIN")
        data.create_catalog()
        seen: set[str] = set()
        counters: dict[str, int] = {}
        for unit in units:
            for entry in unit.get("entries", []):
                if "put" in entry:
                    record = entry["put"]
                    record_id = str(record["Id"])
                    data.put(record, new=record_id not in seen)
                    seen.add(record_id)
                    prefix, number = record_id[:3], _from_base62(record_id[6:15])
                    counters[prefix] = max(counters.get(prefix, 0), number)
                elif "define" in entry or "define_field" in entry:
                    data.add_schema_entry(entry)
                elif "counters" in entry:
                    for prefix, number in entry["counters"].items():
                        counters[prefix] = max(counters.get(prefix, 0), int(number))
        for prefix, number in counters.items():
            data.save_counter(prefix, number)
        db.execute("COMMIT")
    finally:
        db.close()
    backup = path.with_name(path.name + ".journal-v1")
    if not backup.exists():
        shutil.copy2(path, backup)
    os.replace(building, path)
    logger.warning("local org: converted the journal %s to a database (kept as %s)", path, backup)


class Store:
    """Records by id, per sObject, with Salesforce's write rules.

    Implements the SOQL engine's ``RecordSource``: ``records``, ``get``, ``sobject_of``, and
    ``select`` (reads narrowed by a ``Pushdown``). Reads return records decoded for the
    caller; a record ``get`` returns may be shared with later callers: never change it.
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
        self.lock = threading.RLock()
        self._closed = False
        self._path = Path(journal) if journal is not None else None
        db = _open_file(self._path) if self._path is not None else connect(":memory:")
        # A store dropped without close() still closes its file (and releases the lock).
        self._finalizer: weakref.finalize[Any, Any] = weakref.finalize(self, db.close)
        try:
            self._data = Database(db)
            db.execute("BEGIN IMMEDIATE")
            self._data.create_catalog()
            db.execute("COMMIT")
            self._data.load()
            self._counters = self._data.counters()
            for entry in self._data.schema_entries():
                self._apply_schema(entry)
        except sqlite3.DatabaseError as exc:
            self._finalizer()
            raise _damaged(self._path or Path(":memory:"), exc) from None
        except BaseException:
            self._finalizer()
            raise
        self.admin_user_id = self._ensure_admin()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the data file (data stays on disk); later writes raise ``StoreClosed``.
        Reads still answer, each from a connection of its own while the file is free."""
        with self.lock:
            self._closed = True
            if self._path is not None:
                self._finalizer()  # closes the connection once, whoever asks first

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the local org is closed: writes are refused")

    @contextmanager
    def _reading(self) -> Iterator[Database]:
        """The database to read, under the lock: a closed file store opens it anew."""
        with self.lock:
            if not (self._closed and self._path is not None):
                yield self._data
                return
            try:
                db = connect(str(self._path))
            except sqlite3.Error as exc:  # pragma: no cover - the file went away
                raise StoreClosed(
                    f"the local org is closed and its data unreadable: {exc}"
                ) from None
            try:
                data = Database(db)
                data.load()
                yield data
            finally:
                db.close()

    # -- RecordSource ----------------------------------------------------------------------

    def records(self, sobject: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of ``sobject`` in creation order (a list: for small objects; the
        engine streams with ``select``)."""
        return list(self.iter_records(sobject, include_deleted=include_deleted))

    def iter_records(
        self, sobject: str, *, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        _, rows = self.select(sobject, include_deleted=include_deleted, pushdown=Pushdown())
        return rows

    def select(
        self,
        sobject: str,
        *,
        include_deleted: bool,
        pushdown: Pushdown,
        limit: int | None = None,
    ) -> tuple[bool, Iterator[dict[str, Any]]]:
        """The records of ``sobject`` that may satisfy ``pushdown`` (a superset: the caller
        still checks its own condition), streamed. Returns whether they come in
        ``pushdown.order`` (else in creation order). ``limit`` is how many the caller
        expects to need: the first chunk read."""
        with self._reading() as data:
            table = data.table(sobject)
            if table is None:
                return True, iter(())
            narrowing = self._narrow(data, table, pushdown, include_deleted=include_deleted)
            if narrowing.nothing:
                return True, iter(())
            order = data.order(table, pushdown.order) if pushdown.order else "seq"
            # A range an index answers for few rows: find those now (in creation order)
            # rather than walk the table, and leave any ORDER BY to the caller.
            driver = data.driver(table, narrowing)
            seqs = None if driver is None else data.found_by(table, driver)
            if seqs is not None and order != "seq":
                order = None
            chunk = max(limit or _CHUNK, 64)
            rows = data.scan(table, narrowing, order=order, seqs=seqs, chunk=chunk, lock=self.lock)
            if data is not self._data:  # a closed store: read everything now
                rows = iter(list(rows))
        return order is not None, rows

    def count_selected(
        self, sobject: str, *, include_deleted: bool, pushdown: Pushdown
    ) -> int | None:
        """How many records satisfy ``pushdown``, counted by SQLite, when ``pushdown`` is the
        whole condition (``exact``) and every part of it is applied exactly; else ``None``
        (the caller counts the rows ``select`` gives)."""
        if not pushdown.exact:
            return None
        with self._reading() as data:
            table = data.table(sobject)
            if table is None:
                return 0
            narrowing = self._narrow(data, table, pushdown, include_deleted=include_deleted)
            if not narrowing.exact:
                return None
            return data.count(table, narrowing, create=data is self._data)

    def _narrow(
        self, data: Database, table: Table, pushdown: Pushdown, *, include_deleted: bool
    ) -> Narrowing:
        create = data is self._data
        narrowing = data.narrow(
            table,
            pushdown,
            include_deleted=include_deleted,
            indexed=self._indexed(table.sobject),
            create=create,
        )
        for through in pushdown.parent:
            # Conditions through a lookup: the parents they keep, then the lookup IN their
            # ids (an indexed equality), where that is cheap and provably a superset.
            parent_def = self.schema.get(through.parent)
            parent = data.table(through.parent)
            column = table.by_lower.get(through.field.lower())
            if parent_def is None or parent is None or column is None:
                continue
            on_parent = data.narrow(
                parent,
                through.pushdown,
                include_deleted=True,
                indexed=self._indexed(parent.sobject),
                create=create,
            )
            ids = data.parent_ids(
                table, column, parent, parent_def.key_prefix, on_parent, create=create
            )
            if ids is not None:
                data.narrow_to_ids(narrowing, table, column, ids, create=create)
        return narrowing

    def _indexed(self, sobject: str) -> set[str]:
        """The fields a case-insensitive equality may make an index for: external ids,
        ``idLookup`` and unique fields."""
        definition = self.schema.get(sobject)
        if definition is None:
            return set()
        return {
            fd.name.lower()
            for fd in definition.fields.values()
            if fd.external_id or fd.unique or fd.describe.get("idLookup")
        }

    def get(self, record_id: str) -> dict[str, Any] | None:
        if not is_salesforce_id(record_id):
            return None
        with self._reading() as data:
            return data.get(to_18(record_id))

    def creation_order(self, record_id: str) -> int:
        """When the record was stored, as a rank: orders records written within one second."""
        with self._reading() as data:
            return data.seq_of(record_id)

    def sobject_of(self, record_id: str) -> str | None:
        record = self.get(record_id)
        return None if record is None else str(record["attributes"]["type"])

    def count(self, sobject: str) -> int:
        """How many live records ``sobject`` has (without reading them)."""
        with self._reading() as data:
            table = data.table(sobject)
            return 0 if table is None else data.count(table, create=data is self._data)

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
        """Live records whose ``fd`` equals ``value`` (case-insensitive for text), in
        creation order. An index answers, not a scan of the records."""
        if fd.name == "Id":
            try:
                return [self.retrieve(sobject, str(value))]
            except ApiError:
                return []
        wanted = _match_key(fd, value)
        with self._reading() as data:
            table = data.table(sobject.name)
            column = table.by_lower.get(fd.name.lower()) if table is not None else None
            if table is None or column is None:
                return []
            data.index(table, column, key="fold", create=data is self._data)
            rows = data.rows(
                table, f'{table.live()} AND sobjects_fold("{column}") = ?', [wanted.casefold()]
            )
        return [
            r for r in rows if r.get(fd.name) is not None and _match_key(fd, r[fd.name]) == wanted
        ]

    def _children(self, child: SObjectDef, fd: FieldDef, parent_id: str) -> list[dict[str, Any]]:
        """Live records of ``child`` whose lookup ``fd`` points at ``parent_id`` (indexed)."""
        pushdown = Pushdown(equal=[Equal(fd.name, False, frozenset({parent_id}))])
        _, rows = self.select(child.name, include_deleted=False, pushdown=pushdown)
        return [r for r in rows if r.get(fd.name) == parent_id]

    # -- writes ----------------------------------------------------------------------------

    def insert(self, sobject: SObjectDef, data: Mapping[str, Any]) -> str:
        with self.transaction():
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
                    record[fd.name] = f"{self._autonumber(sobject):08d}"
                else:
                    record[fd.name] = fd.default_value
            self._derive(sobject, record)
            self._check_unique(sobject, record)
            self._put(record_id, None, record)
            return record_id

    def update(self, sobject: SObjectDef, record_id: str, data: Mapping[str, Any]) -> None:
        with self.transaction():
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

    def delete(self, sobject: SObjectDef | None, record_id: str, *, hard: bool = False) -> None:
        """Move a record to the recycle bin (``sobject=None``: any type, as Collections do);
        ``hard`` (a Bulk API hardDelete) purges it instead: ``queryAll`` no longer sees it.

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
                if hard:
                    self._data.remove(record_id)

    def _delete_with_children(self, record: dict[str, Any]) -> None:
        now = format_datetime(self.clock())
        pending = [record["Id"]]
        while pending:
            current = self._data.get(pending.pop())
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
                for row in self._children(child, fd, current["Id"]):
                    if cascade:
                        pending.append(row["Id"])
                    elif fd.nillable:
                        latest = self._data.get(row["Id"])  # another lookup may have changed it
                        assert latest is not None
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
            data = self._data
            counters = dict(self._counters)
            data.begin()
            try:
                yield
            except BaseException:
                data.rollback()
                if self._counters != counters:
                    # Ids handed out inside the block (rolled-back items show theirs) stay
                    # used after a restart too.
                    data.begin()
                    for prefix, number in self._counters.items():
                        data.save_counter(prefix, number)
                    data.commit()
                raise
            data.commit()

    def _put(self, record_id: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        with self.transaction():
            self._data.put(after, new=before is None)

    def journal_schema(self, entry: dict[str, Any]) -> None:
        """Record a schema change (``define`` / ``define_field``) so a restart replays it."""
        with self.transaction():
            self._data.add_schema_entry(entry)

    def _apply_schema(self, entry: dict[str, Any]) -> None:
        if "define" in entry:
            self.schema.add(entry["define"])
            self.schema.link_children()
        elif "define_field" in entry:
            sobject, fd = entry["define_field"]
            self.schema.add_field(sobject, fd)

    # -- helpers ---------------------------------------------------------------------------

    def _new_id(self, sobject: SObjectDef) -> str:
        prefix = sobject.key_prefix
        number = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = number
        self._data.save_counter(prefix, number)
        return to_18(f"{prefix}5e0{_base62(number, 9)}")

    def _autonumber(self, sobject: SObjectDef) -> int:
        table = self._data.table(sobject.name)
        return 1 if table is None else self._data.row_count(table) + 1

    def _ensure_admin(self) -> str | None:
        user = self.schema.get("User")
        if user is None:
            return None
        for existing in self.records("User"):
            if existing.get("Username") == _ADMIN_USER["Username"]:
                return str(existing["Id"])
        data = {k: v for k, v in _ADMIN_USER.items() if user.field(k) is not None}
        self.admin_user_id = None
        # The first user creates itself: insert with the audit fields empty, then point them.
        with self.transaction():
            user_id = self.insert(user, data)
            record = self._data.get(user_id)
            assert record is not None
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
    text = str(value)
    return text if fd.describe.get("caseSensitive") else text.lower()


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

"""The org's records on SQLite (standard library): tables, encoding, indexes, pushed-down reads.

One table per sObject that holds records (``r_<name>``), one column per field ever written,
``seq`` (creation order, unique across the org) as the row id and ``Id`` unique. A value is
stored as it is when SQLite keeps it exactly (text, 64-bit integers, finite floats) and as
JSON in a BLOB otherwise (booleans, addresses, ...), so every record reads back as written.
Catalog tables hold the rest: ``sobjects_meta`` (format), ``sobjects_table`` (which table
holds which sObject), ``sobjects_prefix`` (key prefixes per table, so ``get(id)`` finds the
table), ``sobjects_counter`` (the id counters: ids are never handed out twice),
``sobjects_schema`` (schema changes, replayed at start) and ``sobjects_column`` (which kinds
of values each column has held: an ``ORDER BY`` is pushed to SQLite only where its order is
provably SOQL's).

Indexes are made the first time a read needs them and kept: an index on the column for
exact ids (references: child subqueries, cascades) and for ranges of numbers; one on
``sobjects_fold(column)`` (``str.casefold``) for case-insensitive text (external ids,
``idLookup`` and unique fields); one on ``sobjects_date(column)`` or
``sobjects_datetime(column)`` (the SOQL engine's own comparison keys) for ranges of dates and
datetimes; and two kinds of partial index, which hold only the rows a count or a proof needs:
the recycle bin (``COUNT()`` is every row minus those) and a lookup's values that are not
canonical ids of its parent's type (a condition through the lookup is narrowed only while
that one is empty). The key functions are deterministic and every connection registers them:
a file written by this module cannot be changed by a connection without them; reading it
needs nothing.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sobjects.emulator._pushdown import Equal, LikeFilter, OrderBy, Pushdown, Range
from sobjects.emulator.soql._dates import date_key, datetime_key

__all__ = ["FORMAT", "Database", "Narrowing", "Table", "connect", "fold_key", "quote"]

# The layout's version, in sobjects_meta: a newer file is refused, never half-read.
FORMAT = 1
# Kinds of values a column has held (bits of sobjects_column.mask): text (and text beyond
# ASCII, which SQLite's LIKE and lower() do not fold), numbers, anything else.
_TEXT, _NUMBER, _OTHER, _WIDE = 1, 2, 4, 8
_TRUE = json.dumps(True).encode()
# Beyond these a LIKE or IN is left to Python (SQLite's pattern limit, statement size).
_MAX_LIKE = 1000
_MAX_IN = 500
_CACHE = 20_000  # decoded records kept by id (parents read again and again by queries)
# The SQL functions of the keys indexes are made on (registered by every connection).
_KEY_FUNCTIONS = {"fold": "sobjects_fold", "date": "sobjects_date", "datetime": "sobjects_datetime"}
_ID_PREFIX = re.compile(r"[0-9A-Za-z]{3}")

_CATALOG = """
CREATE TABLE IF NOT EXISTS sobjects_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sobjects_table (
    sobject TEXT PRIMARY KEY, name TEXT NOT NULL, tab TEXT NOT NULL UNIQUE) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sobjects_prefix (
    prefix TEXT NOT NULL, tab TEXT NOT NULL, PRIMARY KEY (prefix, tab)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sobjects_counter (
    prefix TEXT PRIMARY KEY, number INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sobjects_schema (n INTEGER PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sobjects_column (
    tab TEXT NOT NULL, col TEXT NOT NULL, mask INTEGER NOT NULL,
    PRIMARY KEY (tab, col)) WITHOUT ROWID;
"""


# Counter key (in sobjects_counter, beside the id prefixes) of a table's purged rows.
_PURGED = "purged:"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fold_key(value: Any) -> str | None:
    """What the fold indexes hold: the value as text, ``casefold()``-ed. Equal SOQL text
    (``casefold``) and equal external id keys (``lower``) both have equal fold keys (each
    character's ``casefold`` is its ``lower``'s ``casefold``), so a lookup by fold key finds a
    superset of either, which the caller then checks exactly."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = json.loads(value)
    return str(value).casefold()


def connect(target: str) -> sqlite3.Connection:
    """A connection in autocommit mode (the store issues its own SAVEPOINTs), with the
    functions the indexes use."""
    db = sqlite3.connect(
        target, timeout=0, isolation_level=None, check_same_thread=False, cached_statements=512
    )
    db.create_function("sobjects_fold", 1, fold_key, deterministic=True)
    db.create_function("sobjects_date", 1, _keyed(date_key), deterministic=True)
    db.create_function("sobjects_datetime", 1, _keyed(datetime_key), deterministic=True)
    return db


def _keyed(key: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """``key`` on a stored value as the engine reads it back (JSON in a BLOB decoded)."""

    def stored_key(value: Any) -> str | None:
        if type(value) is bytes:
            value = json.loads(value)
        return key(value)

    return stored_key


def _encode(value: Any) -> tuple[Any, int]:
    """The stored form of a wire value and its kind bit."""
    kind = type(value)
    if kind is not str and isinstance(value, str):
        # A str subclass (a StrEnum a caller passed) is text: it read back as a plain str
        # from JSON too, and SQL compares it as the text it is.
        value, kind = str.__str__(value), str
    if kind is str:
        return value, _TEXT if value.isascii() else _TEXT | _WIDE
    if (kind is int and -(2**63) <= value < 2**63) or (kind is float and math.isfinite(value)):
        return value, _NUMBER
    return json.dumps(value, separators=(",", ":")).encode(), _OTHER


@dataclass
class Table:
    """One sObject's table as this connection knows it (reloaded after a rollback)."""

    sobject: str  # canonical name, as records carry it in attributes.type
    tab: str
    columns: list[str]
    masks: dict[str, int]
    by_lower: dict[str, str] = field(default_factory=dict)
    select_sql: str = ""
    rows: int | None = None  # every row it ever had, deleted and purged ones too (autonumbers)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.by_lower = {c.lower(): c for c in self.columns}
        cols = ", ".join(quote(c) for c in self.columns)
        self.select_sql = f"SELECT seq, {cols} FROM {quote(self.tab)}"

    def live(self) -> str:
        """SQL true for records not in the recycle bin."""
        if "isdeleted" not in self.by_lower:
            return "1"
        return f"{quote(self.by_lower['isdeleted'])} IS NOT X'{_TRUE.hex()}'"

    def deleted(self) -> str:
        """SQL true for records in the recycle bin (the table has ``IsDeleted``)."""
        return f"{quote(self.by_lower['isdeleted'])} IS X'{_TRUE.hex()}'"


class Database:
    """The SQL side of the store; the caller holds the store's lock around every call."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.depth = 0  # open SAVEPOINTs
        self.tables: dict[str, Table] = {}
        self.by_prefix: dict[str, list[Table]] = {}
        self.indexes: set[str] = set()
        self.cache: dict[str, dict[str, Any]] = {}
        self.next_seq = 1
        self.ascii_lower = db.execute("SELECT lower('É')").fetchone()[0] == "É"

    # -- catalog ---------------------------------------------------------------------------

    def create_catalog(self) -> None:
        for statement in _CATALOG.split(";"):  # executescript() would commit first
            if statement.strip():
                self.db.execute(statement)
        self.db.execute(
            "INSERT OR IGNORE INTO sobjects_meta (key, value) VALUES ('format', ?)", (FORMAT,)
        )

    def load(self) -> None:
        """Read the catalog: tables, their columns, prefixes and indexes (not the records)."""
        self.tables.clear()
        self.by_prefix.clear()
        self.cache.clear()
        masks: dict[str, dict[str, int]] = {}
        for tab, col, mask in self.db.execute("SELECT tab, col, mask FROM sobjects_column"):
            masks.setdefault(tab, {})[col] = mask
        by_tab: dict[str, Table] = {}
        for key, name, tab in self.db.execute("SELECT sobject, name, tab FROM sobjects_table"):
            columns = [
                row[1]
                for row in self.db.execute(f"PRAGMA table_info({quote(tab)})")
                if row[1] != "seq"
            ]
            table = Table(name, tab, columns, masks.get(tab, {}))
            self.tables[key] = by_tab[tab] = table
            top = self.db.execute(f"SELECT max(seq) FROM {quote(tab)}").fetchone()[0]
            self.next_seq = max(self.next_seq, (top or 0) + 1)
        for prefix, tab in self.db.execute("SELECT prefix, tab FROM sobjects_prefix"):
            if tab in by_tab:
                self.by_prefix.setdefault(prefix, []).append(by_tab[tab])
        self.indexes = {
            row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }

    def counters(self) -> dict[str, int]:
        """The id counters by key prefix (not the purged-row counts kept beside them)."""
        rows = self.db.execute("SELECT prefix, number FROM sobjects_counter")
        return {key: number for key, number in rows if not key.startswith(_PURGED)}

    def save_counter(self, prefix: str, number: int) -> None:
        self.db.execute(
            "INSERT INTO sobjects_counter (prefix, number) VALUES (?, ?) "
            "ON CONFLICT (prefix) DO UPDATE SET number = max(number, excluded.number)",
            (prefix, number),
        )

    def schema_entries(self) -> list[Any]:
        return [json.loads(e) for (e,) in self.db.execute("SELECT entry FROM sobjects_schema")]

    def add_schema_entry(self, entry: Any) -> None:
        self.db.execute(
            "INSERT INTO sobjects_schema (entry) VALUES (?)",
            (json.dumps(entry, separators=(",", ":")),),
        )

    def table(self, sobject: str) -> Table | None:
        return self.tables.get(sobject.lower())

    def _create_table(self, sobject: str) -> Table:
        tab = f"r_{sobject.lower()}"
        self.db.execute(f'CREATE TABLE {quote(tab)} (seq INTEGER PRIMARY KEY, "Id" NOT NULL)')
        self.db.execute(f'CREATE UNIQUE INDEX {quote(f"{tab}_id")} ON {quote(tab)} ("Id")')
        self.db.execute(
            "INSERT INTO sobjects_table (sobject, name, tab) VALUES (?, ?, ?)",
            (sobject.lower(), sobject, tab),
        )
        table = Table(sobject, tab, ["Id"], {})
        self.tables[sobject.lower()] = table
        table.rows = 0
        return table

    # -- transactions ------------------------------------------------------------------------

    def begin(self) -> None:
        self.db.execute(f"SAVEPOINT u{self.depth}")
        self.depth += 1

    def commit(self) -> None:
        self.depth -= 1
        self.db.execute(f"RELEASE u{self.depth}")  # the outermost one commits (and syncs)

    def rollback(self) -> None:
        self.depth -= 1
        self.db.execute(f"ROLLBACK TO u{self.depth}")
        self.db.execute(f"RELEASE u{self.depth}")
        # Tables, columns and indexes made inside the block are gone too.
        self.load()

    # -- writes ----------------------------------------------------------------------------

    def put(self, record: dict[str, Any], *, new: bool) -> None:
        """Store ``record`` (a new row, or the new version of its row)."""
        sobject = str(record["attributes"]["type"])
        table = self.tables.get(sobject.lower()) or self._create_table(sobject)
        by_lower = table.by_lower
        added = [k for k in record if k != "attributes" and k.lower() not in by_lower]
        for name in added:
            self.db.execute(f"ALTER TABLE {quote(table.tab)} ADD COLUMN {quote(name)}")
            table.columns.append(name)
        if added:
            table.refresh()
        values = []
        masks = table.masks
        for column in table.columns:
            value = record.get(column)
            if value is not None:
                value, bit = _encode(value)
                if masks.get(column, 0) & bit != bit:
                    masks[column] = masks.get(column, 0) | bit
                    self.db.execute(
                        "INSERT OR REPLACE INTO sobjects_column (tab, col, mask) VALUES (?, ?, ?)",
                        (table.tab, column, masks[column]),
                    )
            values.append(value)
        record_id = str(record["Id"])
        if new:
            seq = self.next_seq
            self.next_seq += 1
            marks = ", ".join("?" * (len(values) + 1))
            cols = ", ".join(quote(c) for c in table.columns)
            self.db.execute(
                f"INSERT INTO {quote(table.tab)} (seq, {cols}) VALUES ({marks})", (seq, *values)
            )
            if table.rows is not None:
                table.rows += 1
            prefix = record_id[:3]
            if table not in self.by_prefix.get(prefix, []):
                self.db.execute(
                    "INSERT OR IGNORE INTO sobjects_prefix (prefix, tab) VALUES (?, ?)",
                    (prefix, table.tab),
                )
                self.by_prefix.setdefault(prefix, []).append(table)
        else:
            sets = ", ".join(f"{quote(c)} = ?" for c in table.columns)
            self.db.execute(
                f'UPDATE {quote(table.tab)} SET {sets} WHERE "Id" = ?', (*values, record_id)
            )
        self.cache.pop(record_id, None)

    def remove(self, record_id: str) -> None:
        """Purge a record's row (a hard delete). Autonumbers count it still: the rows a
        table ever had are its rows plus those purged (kept as a counter)."""
        for table in self.by_prefix.get(record_id[:3], ()):
            cursor = self.db.execute(f'DELETE FROM {quote(table.tab)} WHERE "Id" = ?', (record_id,))
            if cursor.rowcount:
                key = _PURGED + table.tab
                row = self.db.execute(
                    "SELECT number FROM sobjects_counter WHERE prefix = ?", (key,)
                ).fetchone()
                # (table.rows, the rows it ever had, stays as it is)
                self.save_counter(key, (row[0] if row else 0) + 1)
                break
        self.cache.pop(record_id, None)

    def row_count(self, table: Table) -> int:
        """Every row the table ever had: deleted ones too, purged ones too (autonumbers
        count them, and never hand a number out twice)."""
        if table.rows is None:
            live = self.db.execute(f"SELECT count(*) FROM {quote(table.tab)}").fetchone()[0]
            purged = self.db.execute(
                "SELECT number FROM sobjects_counter WHERE prefix = ?", (_PURGED + table.tab,)
            ).fetchone()
            table.rows = live + (purged[0] if purged else 0)
        return table.rows

    # -- reads -----------------------------------------------------------------------------

    def decode(self, table: Table, row: Sequence[Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": table.sobject}}
        record.update(zip(table.columns, row[1:], strict=True))
        for key, value in record.items():
            if type(value) is bytes:
                record[key] = json.loads(value)
        return record

    def get(self, record_id: str) -> dict[str, Any] | None:
        cached = self.cache.get(record_id)
        if cached is not None:
            return cached
        for table in self.by_prefix.get(record_id[:3], ()):
            row = self.db.execute(f'{table.select_sql} WHERE "Id" = ?', (record_id,)).fetchone()
            if row is not None:
                record = self.decode(table, row)
                if len(self.cache) >= _CACHE:
                    self.cache.clear()
                self.cache[record_id] = record
                return record
        return None

    def seq_of(self, record_id: str) -> int:
        for table in self.by_prefix.get(record_id[:3], ()):
            row = self.db.execute(
                f'SELECT seq FROM {quote(table.tab)} WHERE "Id" = ?', (record_id,)
            ).fetchone()
            if row is not None:
                return int(row[0])
        return -1

    def count(
        self, table: Table, narrowing: Narrowing | None = None, *, create: bool = False
    ) -> int:
        """How many rows ``narrowing`` keeps (every live row without one), counted in SQL.
        The recycle bin is subtracted through a partial index of the deleted rows (made
        if ``create``): counting every row reads only the table's pages, not its rows."""
        tab = quote(table.tab)
        terms, params = ([], []) if narrowing is None else narrowing.counting()
        live = table.live() if narrowing is None else narrowing.live
        # No WHERE at all when nothing narrows: SQLite counts a table's pages without
        # reading its rows only then (WHERE 1 reads every row).
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        condition = " AND ".join(terms) or "1"
        if live == "1":
            sql = f"SELECT count(*) FROM {tab}{where}"
            return int(self.db.execute(sql, params).fetchone()[0])
        binned = self.recycle_bin(table, create=create)
        if binned is None:
            sql = f"SELECT count(*) FROM {tab} WHERE {live} AND {condition}"
            return int(self.db.execute(sql, params).fetchone()[0])
        sql = (
            f"SELECT (SELECT count(*) FROM {tab}{where}) - (SELECT count(*) FROM "
            f"{tab} INDEXED BY {quote(binned)} WHERE {table.deleted()} AND {condition})"
        )
        return int(self.db.execute(sql, [*params, *params]).fetchone()[0])

    def recycle_bin(self, table: Table, *, create: bool) -> str | None:
        """A partial index of the deleted rows (``None`` without one, or without
        ``IsDeleted``): the only index every write touches only when it deletes."""
        if "isdeleted" not in table.by_lower:
            return None
        name = f"{table.tab}__deleted"
        if name not in self.indexes:
            if not create:
                return None
            self.db.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table.tab)} (seq) "
                f"WHERE {table.deleted()}"
            )
            self.indexes.add(name)
        return name

    def index(self, table: Table, column: str, *, key: str = "", create: bool) -> str | None:
        """The index that answers lookups of ``column`` (made now if ``create``), by its
        value (``key=""``) or by a key function: ``fold`` (case-insensitive text), ``date``
        or ``datetime`` (the SOQL engine's comparison keys)."""
        name = f"{table.tab}__{column.lower()}{'__' + key if key else ''}"
        if name in self.indexes:
            return name
        if not create:
            return None
        expr = f"{_KEY_FUNCTIONS[key]}({quote(column)})" if key else quote(column)
        self.db.execute(f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table.tab)} ({expr})")
        self.indexes.add(name)
        return name

    def rows(self, table: Table, where: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """Every row ``where`` selects, in creation order (for small answers only)."""
        sql = f"{table.select_sql} WHERE {where} ORDER BY seq"
        return [self.decode(table, row) for row in self.db.execute(sql, params)]

    def narrow(
        self,
        table: Table,
        pushdown: Pushdown,
        *,
        include_deleted: bool,
        indexed: set[str],
        create: bool,
    ) -> Narrowing:
        """SQL conditions (and their parameters) each true for a superset of the rows SOQL's
        condition keeps. ``indexed``: the fields whose folded equality may use (and make) an
        index; other folded equalities are pushed only where ``lower()`` is exact (ASCII
        text), never as a Python function per row. ``create``: indexes may be made."""
        out = Narrowing(live="1" if include_deleted else table.live())
        for equal in pushdown.equal:
            self._equal(out, table, equal, indexed, create)
        for like in pushdown.like:
            out.exact = False  # SQLite's LIKE lets through what SOQL's may refuse
            like_part = self._like(table, like)
            if like_part is not None:
                out.terms.append(like_part[0])
                out.params.append(like_part[1])
        ranges: dict[tuple[str, str], Range] = {}
        for wanted in pushdown.range:
            column = table.by_lower.get(wanted.field.lower())
            if column is None or not _pushable(table, column, wanted):
                out.exact = False
                continue
            both = ranges.get((column, wanted.kind))
            ranges[column, wanted.kind] = wanted if both is None else _intersect(both, wanted)
        for (column, kind), wanted in ranges.items():
            index = self.index(table, column, key="" if kind == "number" else kind, create=create)
            expr = f"{_KEY_FUNCTIONS[kind]}({quote(column)})" if kind != "number" else quote(column)
            out.ranges.append(_RangeSQL(index, expr, wanted))
        if pushdown.parent:
            out.exact = False
        return out

    def _equal(
        self, out: Narrowing, table: Table, equal: Equal, indexed: set[str], create: bool
    ) -> None:
        column = table.by_lower.get(equal.field.lower())
        if column is None or not equal.values or len(equal.values) > _MAX_IN:
            out.exact = False
            return
        marks = ", ".join("?" * len(equal.values))
        col = quote(column)
        mask = table.masks.get(column, 0)
        if not equal.folded:
            out.keyed |= self.index(table, column, create=create) is not None
            out.terms.append(f"{col} IN ({marks})")
        elif self.index(table, column, key="fold", create=create and column.lower() in indexed):
            out.keyed = True
            # fold_key is casefold() on text: SOQL's own comparison, for text values
            out.exact &= not mask & ~(_TEXT | _WIDE)
            out.terms.append(f"sobjects_fold({col}) IN ({marks})")
        elif self.ascii_lower and not mask & (_WIDE | _OTHER):
            # ASCII text only, ever: lower() is casefold() on it (and lets numbers through;
            # a BLOB's JSON, text in an older file included, is not its text)
            out.exact &= not mask & ~_TEXT
            out.terms.append(f"lower({col}) IN ({marks})")
        else:
            out.exact = False
            return
        out.params.extend(sorted(equal.values))

    def parent_ids(
        self,
        table: Table,
        column: str,
        parent: Table,
        prefix: str,
        narrowing: Narrowing,
        *,
        create: bool,
    ) -> list[str] | None:
        """The ids of the ``parent`` rows (deleted ones too) ``narrowing`` keeps, when they
        are few and finding them is cheap (an index answers, or the parent table has no more
        rows than ``table``); ``None`` otherwise. Only when ``table.column`` provably reaches
        no other record: each of its values is an 18-character id with ``prefix`` and a
        canonical checksum (a partial index of the others, made if ``create``, must be
        empty) and ``prefix`` is ``parent``'s alone, so following a value finds a row of
        ``parent`` or nothing."""
        if not (narrowing.terms or narrowing.ranges):
            return None
        if self.by_prefix.get(prefix) != [parent] or not _ID_PREFIX.fullmatch(prefix):
            return None
        driver = None if narrowing.keyed else self.driver(parent, narrowing)
        if not (narrowing.keyed or driver) and self.row_count(parent) > self.row_count(table):
            return None
        col = quote(column)
        odd = (
            f"{col} IS NOT NULL AND NOT (typeof({col}) = 'text' AND length({col}) = 18 AND "
            f"substr({col}, 1, 3) = '{prefix}' AND substr({col}, 16) = upper(substr({col}, 16)))"
        )
        name = f"{table.tab}__{column.lower()}__odd{prefix}"
        if name not in self.indexes:
            if not create:
                return None
            self.db.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table.tab)} (seq) WHERE {odd}"
            )
            self.indexes.add(name)
        probe = f"SELECT 1 FROM {quote(table.tab)} INDEXED BY {quote(name)} WHERE {odd} LIMIT 1"
        if self.db.execute(probe).fetchone() is not None:
            return None
        terms, params = narrowing.reading(driver)
        sql = f'SELECT "Id" FROM {_through(parent, driver)} WHERE {" AND ".join(terms)} LIMIT ?'
        ids = [row[0] for row in self.db.execute(sql, [*params, _MAX_IN + 1])]
        return ids if len(ids) <= _MAX_IN else None

    def narrow_to_ids(
        self, narrowing: Narrowing, table: Table, column: str, ids: list[str], *, create: bool
    ) -> None:
        """Add ``column IN ids`` (through the column's index) to ``narrowing``."""
        if not ids:
            narrowing.nothing = True
            return
        narrowing.keyed |= self.index(table, column, create=create) is not None
        narrowing.terms.append(f"{quote(column)} IN ({', '.join('?' * len(ids))})")
        narrowing.params.extend(ids)

    def _like(self, table: Table, like: LikeFilter) -> tuple[str, str] | None:
        """SQLite's ``LIKE`` folds ASCII letters only: for an ASCII pattern it is SOQL's on
        ASCII values, and every non-ASCII value is let through for Python to decide, as is
        every BLOB (an earlier version stored a str subclass as JSON: it reads back as
        text)."""
        column = table.by_lower.get(like.field.lower())
        segments = like.pattern.segments
        if column is None or len(segments) > 8:
            return None
        parts = []
        for segment in segments:
            chars = []
            for char in segment:
                if char is None:
                    chars.append("_")
                elif not char.isascii():
                    return None
                else:
                    chars.append("\\" + char if char in "\\%_" else char)
            parts.append("".join(chars))
        pattern = "%".join(parts)
        if len(pattern) > _MAX_LIKE:
            return None
        col = quote(column)
        mask = table.masks.get(column, 0)
        parts = [f"{col} LIKE ? ESCAPE '\\'"]
        if mask & _WIDE:
            parts.append(f"length({col}) != length(CAST({col} AS BLOB))")
        if mask & _OTHER:
            parts.append(f"typeof({col}) = 'blob'")
        return (parts[0] if len(parts) == 1 else f"({' OR '.join(parts)})"), pattern

    def driver(self, table: Table, narrowing: Narrowing) -> _RangeSQL | None:
        """The range whose index keeps fewest rows, if reading those by index beats a walk
        in creation order: at most an eighth of the table's rows (or 256). Each candidate's
        count stops there, so an unselective range costs a bounded index read."""
        if narrowing.keyed or not narrowing.ranges:
            return None
        cap = max(self.row_count(table) // 8, 256)
        best: tuple[int, _RangeSQL] | None = None
        for candidate in narrowing.ranges:
            if candidate.index is None:
                continue
            bounds, params = candidate.condition(indexed=True)
            source = _through(table, candidate)
            sql = f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {bounds} LIMIT ?)"
            kept = int(self.db.execute(sql, [*params, cap + 1]).fetchone()[0])
            if kept <= cap and (best is None or kept < best[0]):
                best = (kept, candidate)
        return None if best is None else best[1]

    def order(self, table: Table, keys: Iterable[OrderBy]) -> str | None:
        """SQL ordering equal to the engine's stable sort, or ``None`` when it cannot be
        proven equal (a column that held values of other kinds, a kind SQL does not order
        the same way)."""
        terms: list[str] = []
        for key in keys:
            column = table.by_lower.get(key.field.lower())
            if column is None:  # never written: null everywhere, no order to keep
                continue
            mask = table.masks.get(column, 0)
            col = quote(column)
            if key.kind in ("text", "id") and not mask & ~(_TEXT | _WIDE):
                if key.kind == "id":  # as they are: UTF-8 byte order is code point order
                    expr = col
                elif self.ascii_lower and not mask & _WIDE:
                    expr = f"lower({col})"
                elif self.ascii_lower:
                    ascii_only = f"length({col}) = length(CAST({col} AS BLOB))"
                    expr = f"CASE WHEN {ascii_only} THEN lower({col}) ELSE sobjects_fold({col}) END"
                else:  # lower() is not ASCII-only here: fold every value in Python
                    expr = f"sobjects_fold({col})"
            elif key.kind == "number" and not mask & ~_NUMBER:
                expr = col
            else:
                return None
            direction = "DESC" if key.descending else "ASC"
            nulls = "ASC" if key.nulls_first else "DESC"
            terms.append(f"({col} IS NOT NULL) {nulls}, {expr} {direction}")
        return ", ".join([*terms, "seq"])

    def found_by(self, table: Table, driver: _RangeSQL) -> list[int]:
        """The row ids ``driver``'s index finds, in creation order: one pass over the index
        (a walk chunk by chunk would read the index range again for every chunk)."""
        bounds, params = driver.condition(indexed=True)
        sql = f"SELECT seq FROM {_through(table, driver)} WHERE {bounds} ORDER BY seq"
        return [row[0] for row in self.db.execute(sql, params)]

    def scan(
        self,
        table: Table,
        narrowing: Narrowing,
        *,
        order: str | None,
        seqs: list[int] | None,
        chunk: int,
        lock: Any,
    ) -> Iterator[dict[str, Any]]:
        """The rows, a chunk at a time, each chunk read under ``lock`` (never held while
        the caller works on the rows). With ``seqs`` (see ``found_by``) those rows, by row
        id, each chunk testing the whole condition again (rows may have changed in
        between); otherwise a walk in creation order (or in ``order``) tests each row."""
        terms, params = narrowing.reading(None)
        condition = " AND ".join(terms)
        if seqs is not None:
            size = min(chunk, _MAX_IN)
            for start in range(0, len(seqs), size):
                part = seqs[start : start + size]
                with lock:
                    marks = ", ".join("?" * len(part))
                    sql = f"{table.select_sql} WHERE seq IN ({marks}) AND {condition} ORDER BY seq"
                    rows = self.db.execute(sql, [*part, *params]).fetchall()
                    records = [self.decode(table, row) for row in rows]
                yield from records
            return
        if order is None or order == "seq":
            last = 0
            while True:
                with lock:
                    sql = f"{table.select_sql} WHERE seq > ? AND {condition} ORDER BY seq LIMIT ?"
                    rows = self.db.execute(sql, [last, *params, chunk]).fetchall()
                    records = [self.decode(table, row) for row in rows]
                yield from records
                if len(rows) < chunk:
                    return
                last = rows[-1][0]
        offset = 0
        while True:
            with lock:
                sql = f"{table.select_sql} WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?"
                rows = self.db.execute(sql, [*params, chunk, offset]).fetchall()
                records = [self.decode(table, row) for row in rows]
            yield from records
            if len(rows) < chunk:
                return
            offset += chunk
            chunk *= 4


@dataclass
class _RangeSQL:
    """A pushed range as SQL: ``expr`` (the column, or a key function of it) between the
    bounds; ``index`` answers it (``None``: none may be made)."""

    index: str | None
    expr: str
    range: Range

    def condition(self, *, indexed: bool) -> tuple[str, list[Any]]:
        """The bounds as SQL. Not ``indexed``: written ``+expr`` so that SQLite does not
        read through the index where the caller walks in creation order."""
        expr = self.expr if indexed else f"+{self.expr}"
        wanted = self.range
        terms, params = [], []
        if wanted.low is not None:
            terms.append(f"{expr} {'>' if wanted.low_strict else '>='} ?")
            params.append(wanted.low)
        if wanted.high is not None:
            terms.append(f"{expr} {'<' if wanted.high_strict else '<='} ?")
            params.append(wanted.high)
        return " AND ".join(terms) or f"{expr} IS NOT NULL", params


@dataclass
class Narrowing:
    """What a read may narrow in SQL: conditions each true for a superset of the rows SOQL
    keeps. ``exact``: together they are exactly SOQL's condition (so SQL may count);
    ``keyed``: an equality among ``terms`` is answered by an index."""

    live: str
    terms: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    ranges: list[_RangeSQL] = field(default_factory=list)
    exact: bool = True
    keyed: bool = False
    nothing: bool = False  # provably no row: nothing to read

    def reading(self, driver: _RangeSQL | None) -> tuple[list[str], list[Any]]:
        """The conditions for a read: ``driver`` as its index answers it, every other range
        out of the indexes' way."""
        terms, params = [self.live, *self.terms], list(self.params)
        for candidate in self.ranges:
            sql, more = candidate.condition(indexed=candidate is driver)
            terms.append(sql)
            params.extend(more)
        return terms, params

    def counting(self) -> tuple[list[str], list[Any]]:
        """The conditions without ``live``, each range in the form its index answers
        (SQLite chooses: a count reads no rows in order)."""
        terms, params = list(self.terms), list(self.params)
        for candidate in self.ranges:
            sql, more = candidate.condition(indexed=True)
            terms.append(sql)
            params.extend(more)
        return terms, params


def _through(table: Table, driver: _RangeSQL | None) -> str:
    """The table in a FROM clause, read through ``driver``'s index when it has one."""
    if driver is None or driver.index is None:
        return quote(table.tab)
    return f"{quote(table.tab)} INDEXED BY {quote(driver.index)}"


def _pushable(table: Table, column: str, wanted: Range) -> bool:
    """Whether SQL compares the column as SOQL does: dates and datetimes through the engine's
    own key functions (any stored value), numbers as they are where the column never held
    anything else (SQLite orders text and BLOBs after numbers; Python refuses to compare
    them, or compares a boolean as 0 or 1)."""
    bounds = [b for b in (wanted.low, wanted.high) if b is not None]
    if wanted.kind in ("date", "datetime"):
        return all(type(b) is str for b in bounds)
    if wanted.kind != "number" or table.masks.get(column, 0) & ~_NUMBER:
        return False
    # Bounds a double holds exactly and no other integer rounds to: compared with an
    # integer or a float, they order as in Python even where SQLite compares an integer with
    # a float as two doubles (3.40 compares them exactly).
    return all(
        (type(b) is int and -(2**53) <= b <= 2**53) or (type(b) is float and -(2**53) < b < 2**53)
        for b in bounds
    )


def _intersect(a: Range, b: Range) -> Range:
    """Both ranges of one key at once (``x > 1 AND x <= 5``): one index range to read."""
    low, low_strict = a.low, a.low_strict
    if b.low is not None and (
        low is None or b.low > low or (b.low == low and b.low_strict)  # type: ignore[operator]
    ):
        low, low_strict = b.low, b.low_strict
    high, high_strict = a.high, a.high_strict
    if b.high is not None and (
        high is None or b.high < high or (b.high == high and b.high_strict)  # type: ignore[operator]
    ):
        high, high_strict = b.high, b.high_strict
    return Range(a.field, a.kind, low, low_strict, high, high_strict)

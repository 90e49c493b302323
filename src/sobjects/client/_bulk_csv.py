"""Records as Bulk API 2.0 CSV, and its result files back as rows.

Salesforce's dialect (salesforce-rest.md §10.1): the first row names the fields; ``#N/A``
sets a field to null and an empty value leaves it alone; booleans are ``true``/``false``,
dates ``2024-01-02``, datetimes ``2024-01-02T03:04:05.000+0000`` (UTC), multipicklists
``a;b``; a parent by external id is the column ``Account.Ext__c``.

A batch's header is its first record's fields. A later record with a field the header lacks
starts a new batch (its own job) whose header adds that field, so records are streamed,
never all held.
"""

from __future__ import annotations

import csv
import io
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sobjects.client._json import render_datetime, render_time
from sobjects.errors import ConfigurationError

__all__ = [
    "DELIMITERS",
    "LINE_ENDINGS",
    "NULL",
    "BatchWriter",
    "RowMatcher",
    "csv_value",
    "flatten",
    "read_csv_rows",
]

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "SEMICOLON": ";",
    "PIPE": "|",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
NULL = "#N/A"


def csv_value(value: Any) -> str:
    """One field value in Salesforce's CSV form (``None`` and ``""`` clear the field).

    >>> [csv_value(v) for v in (None, True, 3, Decimal("1.50"), date(2024, 1, 2), ["a", "b"])]
    ['#N/A', 'true', '3', '1.50', '2024-01-02', 'a;b']
    """
    if value is None or value == "":
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return render_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return render_time(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ConfigurationError(f"{value} is not a number Salesforce can store")
        return f"{value:f}"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigurationError(f"{value} is not a number Salesforce can store")
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):  # a multipicklist
        items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        return ";".join(str(v) for v in items) or NULL
    raise ConfigurationError(
        f"value of type {type(value).__name__} cannot be written to a Bulk API CSV: {value!r}"
    )


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's columns: ``attributes`` dropped, a parent by external id
    (``{"Account": {"Ext__c": "A-1"}}``) as the column ``Account.Ext__c``."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            fields = [k for k in value if k != "attributes"]
            if len(fields) != 1:
                raise ConfigurationError(
                    f"{key}: a parent reference names exactly one external id field, got {fields}"
                )
            out[f"{key}.{fields[0]}"] = value[fields[0]]
        else:
            out[key] = value
    return out


class BatchWriter:
    """The CSV of one upload: ``add`` appends a record while it fits under ``limit`` bytes.

    Its rows are the input records ``start``, ``start + 1``, ... in order. Each row's hash is
    kept (8 bytes a row) so that result rows, which echo the values sent, can be matched back
    to their records (``matcher``) once the CSV itself is gone.
    """

    def __init__(
        self, header: Sequence[str], delimiter: str, line_ending: str, limit: int, start: int
    ):
        self.header = list(header)
        self.start = start
        self._columns = frozenset(header)
        self._scratch = io.StringIO(newline="")
        self._writer = csv.writer(
            self._scratch,
            delimiter=DELIMITERS[delimiter],
            lineterminator=LINE_ENDINGS[line_ending],
            quoting=csv.QUOTE_MINIMAL,
        )
        self._data = bytearray(self._line(self.header))
        self.limit = limit
        self.hashes = array("q")

    @property
    def rows(self) -> int:
        return len(self.hashes)

    def _line(self, values: Sequence[str]) -> bytes:
        self._scratch.seek(0)
        self._scratch.truncate()
        self._writer.writerow(values)
        return self._scratch.getvalue().encode("utf-8")

    def fits_columns(self, columns: Mapping[str, Any]) -> bool:
        """Whether every field of the record is a column of this batch."""
        return self._columns.issuperset(columns)

    def add(self, columns: Mapping[str, Any]) -> bool:
        """Append the next record (``False``, and nothing added, if the upload would go over
        its limit)."""
        values = [csv_value(columns[h]) if h in columns else "" for h in self.header]
        line = self._line(values)
        if len(self._data) + len(line) > self.limit:
            if self.rows:
                return False
            raise ConfigurationError(
                f"one record is {len(line)} bytes of CSV, more than the upload limit "
                f"({self.limit} bytes)"
            )
        self._data += line
        self.hashes.append(row_key(values))
        return True

    def take_data(self) -> bytes:
        """The CSV, handed over once: the writer keeps no copy (only the row hashes)."""
        data = bytes(self._data)
        self._data = bytearray()
        return data

    def matcher(self) -> RowMatcher:
        return RowMatcher(self.hashes, self.start)


class RowMatcher:
    """Finds the input position of a result row by its values' hash: a sorted array and a
    binary search (12 bytes a row, where a dict would take ten times that). Each position
    is given out once, so identical rows get distinct records."""

    def __init__(self, hashes: array[int], start: int) -> None:
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        self._hashes = array("q", (hashes[i] for i in order))
        self._rows = array("L", order)
        del order
        self._start = start
        self._taken = bytearray(len(hashes))

    def take(self, values: Sequence[str]) -> int | None:
        """The input position of a result row (``None`` if no row sent had these values)."""
        key = row_key(values)
        index = bisect_left(self._hashes, key)
        while index < len(self._hashes) and self._hashes[index] == key:
            if not self._taken[index]:
                self._taken[index] = 1
                return self._start + self._rows[index]
            index += 1
        return None

    def untaken(self) -> Iterator[int]:
        """Positions no result row named."""
        for index, taken in enumerate(self._taken):
            if not taken:
                yield self._start + self._rows[index]


def row_key(values: Sequence[str]) -> int:
    """A row's identity for matching results to input rows (results echo the values sent)."""
    return hash(tuple(values))


def read_csv_rows(data: bytes, delimiter: str, line_ending: str) -> Iterator[list[str]]:
    """The rows of a result file, header first, decoded as they are read (no copy of the
    whole text)."""
    del line_ending  # the csv reader takes either
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=DELIMITERS[delimiter])
    for row in reader:
        if row:
            yield row

"""CSV as Bulk API 2.0 reads and writes it (salesforce-rest.md §10).

Job data is UTF-8 CSV whose first row names the fields; the job chooses the column delimiter
(``COMMA``, ``TAB``, ``SEMICOLON``, ``PIPE``, ``CARET``, ``BACKQUOTE``) and the line ending
(``LF`` or ``CRLF``). Values containing the delimiter, a line break or a double quote are
quoted, quotes doubled. An empty value leaves a field alone; ``#N/A`` sets it to null.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

__all__ = [
    "DELIMITERS",
    "LINE_ENDINGS",
    "NULL",
    "CsvInputError",
    "read_csv",
    "write_csv",
]

# Written out here rather than imported from the client's encoder: the local org checks what
# clients send, ours included, so it keeps its own copy of Salesforce's rules.
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


class CsvInputError(ValueError):
    """The upload cannot be read as the job's CSV; ``str(exc)`` is the job's errorMessage."""


def read_csv(data: bytes, delimiter: str, line_ending: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of an upload, checked against the job's dialect."""
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is not part of the first field
    except UnicodeDecodeError:
        raise CsvInputError("ClientInputError : The data is not valid UTF-8") from None
    if not text.strip():
        raise CsvInputError("InvalidBatch : The uploaded data is empty")
    _check_line_ending(text, line_ending)
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=DELIMITERS[delimiter],
        quotechar='"',
        doublequote=True,
        strict=True,
    )
    try:
        rows = [row for row in reader if row != []]
    except csv.Error as exc:
        raise CsvInputError(
            f"ClientInputError : The CSV is malformed at line {reader.line_num}: {exc}"
        ) from None
    return rows[0], rows[1:]


def _check_line_ending(text: str, line_ending: str) -> None:
    """Salesforce fails a job whose data does not end its lines as the job said."""
    first = _first_line_break(text)
    if first is None:
        return  # a header alone, without a line break
    crlf = first > 0 and text[first - 1] == "\r"
    if crlf != (line_ending == "CRLF"):
        raise CsvInputError(
            "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting "
            f"is {line_ending}"
        )


def _first_line_break(text: str) -> int | None:
    """Index of the first ``\\n`` outside double quotes."""
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "\n" and not quoted:
            return index
    return None


def write_csv(
    header: Sequence[str], rows: Iterable[Sequence[str]], delimiter: str, line_ending: str
) -> bytes:
    """Rows as CSV in the job's dialect, every value quoted (as Salesforce writes results)."""
    out = io.StringIO(newline="")
    writer = csv.writer(
        out,
        delimiter=DELIMITERS[delimiter],
        lineterminator=LINE_ENDINGS[line_ending],
        quoting=csv.QUOTE_ALL,
    )
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")

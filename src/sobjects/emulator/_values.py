"""Field values: checking and normalising what a client writes, the way Salesforce does.

Values are stored in their wire form (dates ``2024-01-02``, datetimes
``2024-01-02T03:04:05.000+0000``, multipicklists ``a;b``), so a record can be sent back as is.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from sobjects._ids import is_salesforce_id, to_18
from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import FieldDef

__all__ = ["format_datetime", "normalise_value", "parse_datetime", "utc_now"]

_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A plain decimal number: no NaN/Infinity, no underscores or spaces (which Python would take).
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
# Salesforce's int is 32 bits, its long 64 bits.
_INT_BITS = {"int": 31, "long": 63}
_TIME_RE = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?Z?$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STRING_TYPES = frozenset(
    {"string", "textarea", "phone", "url", "picklist", "combobox", "encryptedstring", "email"}
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_datetime(value: datetime) -> str:
    """Salesforce's stored and output form: UTC, whole seconds (echoed as ``.000``),
    ``+0000``."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + ".000+0000"


def parse_datetime(text: str) -> datetime | None:
    """A datetime from any accepted input form (``Z``, ``+hh:mm``, ``+hhmm``, millis).

    ``None`` if it is not one, or if its offset or its UTC time is out of range.
    """
    match = _DATETIME_RE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or ".0")[1:].ljust(6, "0")[:6])
    try:
        naive = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro
        )
    except ValueError:
        return None
    if zone == "Z":
        return naive.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        return None
    aware = naive.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    try:
        aware.astimezone(UTC)  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
    except OverflowError:
        return None
    return aware


def _deserialize_error(kind: str, value: Any) -> ApiError:
    token = "VALUE_STRING" if isinstance(value, str) else "VALUE_NUMBER_INT"
    if isinstance(value, bool):
        token = "VALUE_TRUE" if value else "VALUE_FALSE"
    elif isinstance(value, float):
        token = "VALUE_NUMBER_FLOAT"
    elif isinstance(value, (list, dict)):
        token = "START_ARRAY" if isinstance(value, list) else "START_OBJECT"
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {token} value {value} or request may be "
        "missing a required field",
    )


def normalise_value(fd: FieldDef, value: Any) -> Any:
    """Check ``value`` for field ``fd`` and return its stored form (``None`` clears it).

    References are checked for shape here; whether they point at a live record of the
    right type is the store's job.
    """
    kind = fd.type
    label = fd.describe.get("label") or fd.name
    if value is None:
        return False if kind == "boolean" else None
    if kind in _STRING_TYPES or kind == "multipicklist":
        if not isinstance(value, str):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)  # Salesforce's JSON reader turns numbers into text
            else:
                raise _deserialize_error("String", value)
        if value == "":
            return None  # an empty text value is stored as null
        if fd.length and len(value) > fd.length:
            raise ApiError(
                400,
                "STRING_TOO_LONG",
                f"{label}: data value too large: {value[:60]} (max length={fd.length})",
                [fd.name],
            )
        if kind == "email" and not _EMAIL_RE.match(value):
            raise ApiError(
                400, "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [fd.name]
            )
        if kind == "multipicklist":
            parts = [p for p in value.split(";") if p]
            _check_picklist(fd, parts, label)
            return ";".join(dict.fromkeys(parts)) or None
        if kind == "picklist":
            _check_picklist(fd, [value], label)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise _deserialize_error("boolean", value)
        return value
    if kind in ("int", "long"):
        integer = _exact_integer(value)
        if integer is None:
            if _number(value) is not None:  # a number, but not a whole one
                raise ApiError(
                    400,
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{label}: value not of required type",
                    [fd.name],
                )
            raise _deserialize_error(kind, value)
        digits = int(fd.describe.get("digits") or fd.describe.get("precision") or 0)
        bits = _INT_BITS[kind]
        if (digits and abs(integer) >= 10**digits) or not -(2**bits) <= integer < 2**bits:
            raise ApiError(
                400,
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{label}: value outside of valid range on numeric field: {value}",
                [fd.name],
            )
        return integer
    if kind in ("double", "currency", "percent"):
        exact = _number(value)
        if exact is None:
            raise _deserialize_error("double", value)
        scale = int(fd.describe.get("scale") or 0)
        precision = int(fd.describe.get("precision") or 0)
        size = exact.copy_abs()
        number = float(exact) if size < Decimal("1e308") else math.inf
        if not math.isfinite(number) or (precision and size >= Decimal(10) ** (precision - scale)):
            raise ApiError(
                400,
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{label}: value outside of valid range on numeric field: {value}",
                [fd.name],
            )
        return round(number, scale) if scale else number
    if kind == "date":
        if not isinstance(value, str) or not _DATE_RE.match(value):
            raise _deserialize_error("date", value)
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise _deserialize_error("date", value) from None
    if kind == "datetime":
        if isinstance(value, str) and _DATE_RE.match(value):
            value = value + "T00:00:00Z"
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise _deserialize_error("datetime", value)
        return format_datetime(parsed)  # in range: parse_datetime checked the UTC conversion
    if kind == "time":
        match = _TIME_RE.match(value) if isinstance(value, str) else None
        if match is None:
            raise _deserialize_error("time", value)
        hour, minute, second, fraction = match.groups()
        try:
            parsed_time = time(int(hour), int(minute), int(second or 0))
        except ValueError:
            raise _deserialize_error("time", value) from None
        millis = (fraction or ".000")[1:].ljust(3, "0")
        return parsed_time.strftime("%H:%M:%S.") + millis + "Z"
    if kind in ("reference", "id"):
        if not isinstance(value, str) or not is_salesforce_id(value):
            raise ApiError(
                400, "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [fd.name]
            )
        return to_18(value)
    return value


def _number(value: Any) -> Decimal | None:
    """The exact, finite number a JSON number or numeric text stands for (``None`` if not one).

    JSON numbers arrive as ``int`` (exact) or ``float``; text is parsed as a decimal, so
    ``"12345678901234567891"`` stays exact and ``"nan"``/``"inf"`` are refused.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER_RE.match(value.strip()):
        exact = Decimal(value.strip())
        return exact if exact.is_finite() else None
    return None


def _exact_integer(value: Any) -> int | None:
    """The integer ``value`` stands for exactly (``5``, ``5.0``, ``"5"``, ``"5.0"``), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    exact = _number(value)
    if exact is None or exact.adjusted() > 4000:  # "1e999999999": not built as an int
        return None
    whole = int(exact)  # truncates: compare to see whether anything was cut
    return whole if exact == whole else None


def _check_picklist(fd: FieldDef, values: list[str], label: str) -> None:
    if not fd.restricted_picklist:
        return
    allowed = set(fd.picklist_values)
    for value in values:
        if value not in allowed:
            raise ApiError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{label}: bad value for restricted picklist field: {value}",
                [fd.name],
            )

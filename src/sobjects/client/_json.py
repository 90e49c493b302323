"""JSON encoding of request bodies in Salesforce's value formats."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sobjects.errors import ConfigurationError

__all__ = ["dumps", "render_datetime", "render_time"]


def render_datetime(value: datetime) -> str:
    """A tz-aware datetime in Salesforce's wire format, converted to UTC.

    >>> from datetime import timezone, timedelta
    >>> render_datetime(datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))))
    '2024-01-02T03:04:05.000+0000'
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(
            f"naive datetime {value.isoformat()} has no time zone; Salesforce stores instants, "
            "so pass a tz-aware datetime (e.g. datetime.now(timezone.utc))"
        )
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def render_time(value: time) -> str:
    """A time field as Salesforce writes it: ``HH:MM:SS.sssZ``."""
    return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return render_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return render_time(value)
    if isinstance(value, Decimal):
        # Salesforce reads JSON numbers and a float would lose digits: emit a marker string
        # now and swap it for the exact decimal text after encoding.
        if not value.is_finite():
            raise TypeError(f"{value} is not a number Salesforce can store")
        return f"{_DECIMAL_MARK}{value:f}{_DECIMAL_MARK}"
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if (
        type(value).__name__ == "Reference"
    ):  # sobjects.client._composite.Reference (no import cycle)
        raise TypeError(f"{value} is a composite reference; references only work in sf.composite()")
    raise TypeError(f"value of type {type(value).__name__} is not JSON serializable: {value!r}")


# A NUL plus a per-process nonce: no value a user can send to Salesforce contains it.
_DECIMAL_MARK = "\x00" + secrets.token_hex(4)
_DECIMAL_MARK_JSON = json.dumps(_DECIMAL_MARK)[1:-1]
_DECIMAL_RE = re.compile(
    '"' + re.escape(_DECIMAL_MARK_JSON) + r"(-?[0-9.]+)" + re.escape(_DECIMAL_MARK_JSON) + '"'
)


def dumps(body: Any) -> bytes:
    """Encode a request body: dates, tz-aware datetimes, times, Decimals (exact) and sets.

    A composite reference (``@{ref.id}``) is refused here: ``sf.composite()`` renders its own
    references, and anywhere else the text would be stored as is.
    """
    try:
        text = json.dumps(
            body, default=_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"request body cannot be sent as JSON: {exc}") from None
    if _DECIMAL_MARK_JSON in text:
        text = _DECIMAL_RE.sub(r"\1", text)
    return text.encode("utf-8")

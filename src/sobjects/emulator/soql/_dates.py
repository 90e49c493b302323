"""Dates, datetimes and times for SOQL: comparable keys and the date-literal ranges.

Comparisons use string keys, which sort like the instants they stand for:

* dates: ``"YYYY-MM-DD"``;
* datetimes: ``"YYYY-MM-DDTHH:MM:SS.mmm"`` in UTC (a date, where one meets a datetime,
  is midnight UTC: ``"YYYY-MM-DDT00:00:00.000"``);
* times: ``"HH:MM:SS.mmm"``.

Date literals (``TODAY``, ``LAST_N_DAYS:7``...) are half-open ranges of dates
``[start, end)`` computed in UTC, which stands in for the user's time zone; weeks start on
Sunday and the fiscal year is the calendar year (Salesforce's defaults).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

__all__ = [
    "DATE_LITERALS",
    "N_DATE_LITERALS",
    "date_key",
    "date_range",
    "datetime_key",
    "midnight_key",
    "time_key",
]

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?[Zz]?")


def _format(value: datetime) -> str:
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}"
    )


def _utc_format(value: datetime) -> str | None:
    """``_format``, or ``None`` when the instant in UTC is before year 1 or after 9999
    (``9999-12-31T23:59:59-14:00``)."""
    try:
        return _format(value)
    except OverflowError:
        return None


def datetime_key(value: object) -> str | None:
    """The UTC comparison key of a wire datetime (or a datetime literal); ``None`` if unreadable.

    >>> datetime_key("2024-01-02T03:04:05.000+0000")
    '2024-01-02T03:04:05.000'
    >>> datetime_key("2024-01-02T05:04:05+02:00")
    '2024-01-02T03:04:05.000'
    """
    if isinstance(value, str):
        if len(value) == 28 and value.endswith("+0000") and value[10] == "T":
            return value[:23]
        match = _DATETIME.fullmatch(value.strip())
        if match is None:
            if len(value) == 10:  # a bare date: midnight UTC
                return midnight_key(value)
            return None
        year, month, day, hour, minute, second, frac, zulu, sign, oh, om = match.groups()
        try:
            stamp = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                int((frac or "0")[:6].ljust(6, "0")),
                tzinfo=UTC,
            )
        except ValueError:
            return None
        if sign:
            offset = timedelta(hours=int(oh), minutes=int(om))
            stamp = stamp.replace(tzinfo=timezone(offset if sign == "+" else -offset))
        del zulu
        return _utc_format(stamp)
    if isinstance(value, datetime):
        return _utc_format(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return midnight_key(value.isoformat())
    return None


def date_key(value: object) -> str | None:
    """The comparison key of a wire date.

    >>> date_key("2024-01-02"), date_key("2024-01-02T23:00:00.000+0000")
    ('2024-01-02', '2024-01-02')
    """
    if isinstance(value, str):
        return value[:10] if len(value) >= 10 else None
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None


def midnight_key(day: str) -> str:
    """A date key widened to the datetime key of its midnight (UTC)."""
    return day[:10] + "T00:00:00.000"


def time_key(value: object) -> str | None:
    """The comparison key of a wire time (``"10:00:00.000Z"`` -> ``"10:00:00.000"``)."""
    if not isinstance(value, str):
        return None
    match = _TIME.fullmatch(value.strip())
    if match is None:
        return None
    hour, minute, second, frac = match.groups()
    millis = (frac or "0")[:3].ljust(3, "0")
    return f"{hour}:{minute}:{second or '00'}.{millis}"


# --- date literals -----------------------------------------------------------------------------

DATE_LITERALS = frozenset(
    {
        "YESTERDAY",
        "TODAY",
        "TOMORROW",
        "LAST_WEEK",
        "THIS_WEEK",
        "NEXT_WEEK",
        "LAST_MONTH",
        "THIS_MONTH",
        "NEXT_MONTH",
        "LAST_90_DAYS",
        "NEXT_90_DAYS",
        "THIS_QUARTER",
        "LAST_QUARTER",
        "NEXT_QUARTER",
        "THIS_YEAR",
        "LAST_YEAR",
        "NEXT_YEAR",
        "THIS_FISCAL_QUARTER",
        "LAST_FISCAL_QUARTER",
        "NEXT_FISCAL_QUARTER",
        "THIS_FISCAL_YEAR",
        "LAST_FISCAL_YEAR",
        "NEXT_FISCAL_YEAR",
    }
)
N_DATE_LITERALS = frozenset(
    {
        "LAST_N_DAYS",
        "NEXT_N_DAYS",
        "N_DAYS_AGO",
        "LAST_N_WEEKS",
        "NEXT_N_WEEKS",
        "N_WEEKS_AGO",
        "LAST_N_MONTHS",
        "NEXT_N_MONTHS",
        "N_MONTHS_AGO",
        "LAST_N_QUARTERS",
        "NEXT_N_QUARTERS",
        "N_QUARTERS_AGO",
        "LAST_N_YEARS",
        "NEXT_N_YEARS",
        "N_YEARS_AGO",
        "LAST_N_FISCAL_QUARTERS",
        "NEXT_N_FISCAL_QUARTERS",
        "N_FISCAL_QUARTERS_AGO",
        "LAST_N_FISCAL_YEARS",
        "NEXT_N_FISCAL_YEARS",
        "N_FISCAL_YEARS_AGO",
    }
)


def _add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _unit_start(today: date, unit: str) -> tuple[date, int]:
    """The start of the current day/week/month/quarter/year and its length in days or months."""
    if unit == "DAY":
        return today, 1
    if unit == "WEEK":
        return today - timedelta(days=(today.weekday() + 1) % 7), 7
    if unit == "MONTH":
        return today.replace(day=1), 1
    if unit == "QUARTER":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), 3
    return date(today.year, 1, 1), 12


def _shift(start: date, unit: str, length: int, count: int) -> date:
    if unit in ("DAY", "WEEK"):
        return start + timedelta(days=length * count)
    return _add_months(start, length * count)


_UNIT_WORDS = {
    "DAY": "DAY",
    "DAYS": "DAY",
    "WEEK": "WEEK",
    "WEEKS": "WEEK",
    "MONTH": "MONTH",
    "MONTHS": "MONTH",
    "QUARTER": "QUARTER",
    "QUARTERS": "QUARTER",
    "YEAR": "YEAR",
    "YEARS": "YEAR",
}


def date_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """The dates ``[start, end)`` a date literal covers on ``today`` (UTC).

    ``name`` must be upper case and valid (one of :data:`DATE_LITERALS` without ``n``, or of
    :data:`N_DATE_LITERALS` with it).

    >>> d = date(2024, 5, 15)  # a Wednesday
    >>> date_range("THIS_WEEK", None, d)
    (datetime.date(2024, 5, 12), datetime.date(2024, 5, 19))
    >>> date_range("LAST_N_DAYS", 2, d)
    (datetime.date(2024, 5, 13), datetime.date(2024, 5, 16))
    >>> date_range("LAST_QUARTER", None, d)
    (datetime.date(2024, 1, 1), datetime.date(2024, 4, 1))
    """
    key = name.replace("FISCAL_", "")
    if key == "TODAY":
        return today, today + timedelta(days=1)
    if key == "YESTERDAY":
        return today - timedelta(days=1), today
    if key == "TOMORROW":
        return today + timedelta(days=1), today + timedelta(days=2)
    if key == "LAST_90_DAYS":
        key, n = "LAST_N_DAYS", 90
    elif key == "NEXT_90_DAYS":
        key, n = "NEXT_N_DAYS", 90
    parts = key.split("_")
    if parts[0] in ("THIS", "LAST", "NEXT") and len(parts) == 2:
        unit = _UNIT_WORDS[parts[1]]
        start, length = _unit_start(today, unit)
        step = {"THIS": 0, "LAST": -1, "NEXT": 1}[parts[0]]
        start = _shift(start, unit, length, step)
        return start, _shift(start, unit, length, 1)
    count = n or 0
    if parts[0] == "N":  # N_DAYS_AGO, N_WEEKS_AGO, ...: the one unit n units back
        unit = _UNIT_WORDS[parts[1]]
        start, length = _unit_start(today, unit)
        start = _shift(start, unit, length, -count)
        return start, _shift(start, unit, length, 1)
    unit = _UNIT_WORDS[parts[2]]  # LAST_N_X / NEXT_N_X
    start, length = _unit_start(today, unit)
    if unit == "DAY":
        # LAST_N_DAYS:n covers the past n days and today; NEXT_N_DAYS:n starts tomorrow.
        if parts[0] == "LAST":
            return today - timedelta(days=count), today + timedelta(days=1)
        return today + timedelta(days=1), today + timedelta(days=1 + count)
    if parts[0] == "LAST":
        return _shift(start, unit, length, -count), start
    begin = _shift(start, unit, length, 1)
    return begin, _shift(begin, unit, length, count)

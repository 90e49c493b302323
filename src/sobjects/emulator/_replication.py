"""sObject Get Updated / Get Deleted: which records changed, or went to the recycle bin, in a
window (``GET sobjects/{type}/updated|deleted?start=...&end=...``, salesforce-rest.md §1.6).

Salesforce's rules, from "sObject Get Updated" / "sObject Get Deleted" (REST API guide) and
getUpdated()/getDeleted() (SOAP API guide): both dates are required and ISO 8601, seconds are
ignored (truncated to the minute), ``start`` must precede ``end`` (else
INVALID_REPLICATION_DATE), results go back at most 30 days (updated) or 15 days (deleted), and
more than 600,000 ids is EXCEEDED_ID_LIMIT. ``latestDateCovered`` is a whole minute, never
after now: a change of the current minute is listed and may be listed again by the next call
starting there, as the docs advise. Changes are dated by SystemModstamp (falling back
to LastModifiedDate); a deleted record's date is the SystemModstamp its deletion set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import SObjectDef
from sobjects.emulator._values import format_datetime, parse_datetime

__all__ = ["MAX_IDS", "get_deleted", "get_updated"]

MAX_IDS = 600_000
UPDATED_DAYS = 30
DELETED_DAYS = 15


def get_updated(store: Any, sobject: SObjectDef, query: Mapping[str, str]) -> dict[str, Any]:
    now = store.clock()
    start, end = _window(query, now, UPDATED_DAYS)
    ids = [str(r["Id"]) for r in store.records(sobject.name) if _in_window(_stamp(r), start, end)]
    _check_count(len(ids))
    return {"ids": ids, "latestDateCovered": format_datetime(min(end, _minute(now)))}


def get_deleted(store: Any, sobject: SObjectDef, query: Mapping[str, str]) -> dict[str, Any]:
    now = store.clock()
    start, end = _window(query, now, DELETED_DAYS)
    deleted: list[dict[str, str]] = []
    for record in store.records(sobject.name, include_deleted=True):
        stamp = _stamp(record)
        if record.get("IsDeleted") and stamp is not None and start <= stamp < end:
            deleted.append({"id": str(record["Id"]), "deletedDate": format_datetime(stamp)})
    _check_count(len(deleted))
    earliest = _minute(now - timedelta(days=DELETED_DAYS))
    return {
        "deletedRecords": deleted,
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(min(end, _minute(now))),
    }


def _window(query: Mapping[str, str], now: datetime, days: int) -> tuple[datetime, datetime]:
    start = _date(query, "start")
    end = _date(query, "end")
    if start >= end:
        raise ApiError(
            400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate"
        )
    if start < _minute(now - timedelta(days=days)):
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            f"startDate cannot be more than {days} days ago",
        )
    return start, end


def _date(query: Mapping[str, str], name: str) -> datetime:
    text = query.get(name)
    if not text:
        raise ApiError(400, "MISSING_ARGUMENT", f"{name} was not specified")
    parsed = parse_datetime(text)
    if parsed is None:
        raise ApiError(
            400,
            "INVALID_PARAMETER_VALUE",
            f"Invalid {name} date/time {text!r}: expected ISO 8601 (YYYY-MM-DDThh:mm:ss+hh:mm)"
            ", URL-encoded",
        )
    return _minute(parsed)


def _minute(value: datetime) -> datetime:
    """Seconds are ignored: 12:30:15 counts as 12:30:00."""
    return value.replace(second=0, microsecond=0)


def _stamp(record: Mapping[str, Any]) -> datetime | None:
    for name in ("SystemModstamp", "LastModifiedDate", "CreatedDate"):
        value = record.get(name)
        if isinstance(value, str) and (parsed := parse_datetime(value)) is not None:
            return parsed
    return None


def _in_window(stamp: datetime | None, start: datetime, end: datetime) -> bool:
    return stamp is not None and start <= stamp < end


def _check_count(count: int) -> None:
    if count > MAX_IDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"More than {MAX_IDS} ids in the window: choose closer start and end dates",
        )

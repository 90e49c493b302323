"""sObject Get Updated / Get Deleted on the local org (salesforce-rest.md §1.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
T0 = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def org(clock: Clock) -> LocalOrg:
    org = LocalOrg()
    org.store.clock = clock
    return org


def window(start: datetime, end: datetime) -> str:
    return f"start={quote(start.isoformat())}&end={quote(end.isoformat())}"


async def create(http: httpx.AsyncClient, name: str) -> str:
    response = await http.post(f"{V}/sobjects/Account", json={"Name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_updated_lists_ids_changed_in_the_window(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    """REST API guide, "sObject Get Updated": {"ids": [...], "latestDateCovered": "..."};
    the call uses SystemModstamp to date a change, and seconds of start and end are ignored."""
    before = await create(http, "Before")
    clock.now = T0 + timedelta(minutes=10)
    inside = await create(http, "Inside")
    clock.now = T0 + timedelta(minutes=20)
    changed = await create(http, "Changed later")
    clock.now = T0 + timedelta(minutes=30)
    response = await http.patch(f"{V}/sobjects/Account/{before}", json={"Name": "Edited"})
    assert response.status_code == 204
    clock.now = T0 + timedelta(hours=1)
    start, end = T0 + timedelta(minutes=5), T0 + timedelta(minutes=14, seconds=59)
    response = await http.get(f"{V}/sobjects/Account/updated/?{window(start, end)}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "ids": [inside],
        "latestDateCovered": "2026-03-01T12:15:00.000+0000",
    }
    start = T0 + timedelta(minutes=15)
    response = await http.get(f"{V}/sobjects/Account/updated?{window(start, clock.now)}")
    assert sorted(response.json()["ids"]) == sorted([before, changed])


async def test_latest_date_covered_is_never_in_the_future(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    """REST API guide, "sObject Get Updated": latestDateCovered is the last date the request
    covered."""
    account = await create(http, "Now")
    end = T0 + timedelta(days=1)
    response = await http.get(f"{V}/sobjects/Account/updated?{window(T0, end)}")
    assert response.json() == {
        "ids": [account],
        "latestDateCovered": "2026-03-01T12:00:00.000+0000",
    }


async def test_deleted_lists_recycle_bin_records_with_their_date(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    """REST API guide, "sObject Get Deleted": {"deletedRecords": [{"id", "deletedDate"}],
    "earliestDateAvailable", "latestDateCovered"}."""
    kept = await create(http, "Kept")
    gone = await create(http, "Gone")
    clock.now = T0 + timedelta(minutes=3)
    assert (await http.delete(f"{V}/sobjects/Account/{gone}")).status_code == 204
    clock.now = T0 + timedelta(minutes=10)
    response = await http.get(f"{V}/sobjects/Account/deleted/?{window(T0, clock.now)}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "deletedRecords": [{"id": gone, "deletedDate": "2026-03-01T12:03:30.000+0000"}],
        "earliestDateAvailable": "2026-02-14T12:10:00.000+0000",
        "latestDateCovered": "2026-03-01T12:10:00.000+0000",
    }
    response = await http.get(f"{V}/sobjects/Account/updated?{window(T0, clock.now)}")
    assert response.json()["ids"] == [kept]  # a deleted record is no longer "updated"


@pytest.mark.parametrize("resource", ["updated", "deleted"])
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "MISSING_ARGUMENT"),
        ("start=2026-03-01T11:00:00Z", "MISSING_ARGUMENT"),
        ("end=2026-03-01T11:00:00Z", "MISSING_ARGUMENT"),
        ("start=yesterday&end=2026-03-01T11:00:00Z", "INVALID_PARAMETER_VALUE"),
        ("start=2026-03-01T11:00:00Z&end=2026-03-01T11:00:59Z", "INVALID_REPLICATION_DATE"),
        ("start=2026-03-01T11:00:00Z&end=2026-03-01T10:00:00Z", "INVALID_REPLICATION_DATE"),
        ("start=2026-01-01T00:00:00Z&end=2026-03-01T10:00:00Z", "INVALID_REPLICATION_DATE"),
    ],
)
async def test_bad_windows_are_refused(
    http: httpx.AsyncClient, resource: str, query: str, code: str
) -> None:
    """REST API guide, "sObject Get Updated"/"Get Deleted": start and end are required ISO
    8601 dates, start precedes end (seconds ignored), at most 30 (updated)
    or 15 (deleted) days back."""
    response = await http.get(f"{V}/sobjects/Account/{resource}?{query}")
    assert response.status_code == 400
    assert [e["errorCode"] for e in response.json()] == [code]


async def test_the_window_goes_back_30_days_for_updated_and_15_for_deleted(
    http: httpx.AsyncClient,
) -> None:
    """REST API guide, "sObject Get Updated": no more than 30 days back; "sObject Get
    Deleted": 15 days."""
    start = T0 - timedelta(days=20)
    updated = await http.get(f"{V}/sobjects/Account/updated?{window(start, T0)}")
    deleted = await http.get(f"{V}/sobjects/Account/deleted?{window(start, T0)}")
    assert updated.status_code == 200
    assert deleted.status_code == 400
    assert deleted.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


async def test_updated_and_deleted_are_resources_not_external_ids(
    http: httpx.AsyncClient,
) -> None:
    """They answer GET only, and never "Provided external ID field does not exist"."""
    response = await http.post(f"{V}/sobjects/Account/updated", json={})
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
    response = await http.get(f"{V}/sobjects/Nope__c/deleted?{window(T0, T0)}")
    assert response.status_code == 404
    assert "external ID" not in response.text

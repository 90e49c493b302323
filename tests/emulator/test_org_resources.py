"""Resources every real org has besides records: limits, record counts, recent items,
identity (salesforce-rest.md §8.3 and the REST API guide pages quoted per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


@pytest.fixture
def org() -> LocalOrg:
    return LocalOrg()


@pytest.fixture
async def http(org: LocalOrg) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {org.access_token}"},
    ) as client:
        yield client


async def create(http: httpx.AsyncClient, sobject: str, data: dict[str, str]) -> str:
    response = await http.post(f"{V}/sobjects/{sobject}", json=data)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# -- limits ---------------------------------------------------------------------------------


async def test_limits_list_every_org_limit(http: httpx.AsyncClient) -> None:
    """REST API guide, "Limits": each limit of the org (DailyApiRequests, DailyAsyncApex-
    Executions, DailyBulkApiBatches, ..., HourlyODataCallout, DataStorageMB, FileStorageMB)
    with its "Max" and "Remaining"."""
    body = (await http.get(f"{V}/limits")).json()
    expected = {
        "DailyApiRequests",
        "DailyAsyncApexExecutions",
        "DailyBulkApiBatches",
        "DailyBulkV2QueryFileStorageMB",
        "DailyBulkV2QueryJobs",
        "DailyDurableStreamingApiEvents",
        "DailyGenericStreamingApiEvents",
        "DailyStreamingApiEvents",
        "DailyWorkflowEmails",
        "DataStorageMB",
        "FileStorageMB",
        "ConcurrentAsyncGetReportInstances",
        "ConcurrentSyncReportRuns",
        "HourlyAsyncReportRuns",
        "HourlySyncReportRuns",
        "HourlyDashboardRefreshes",
        "HourlyDashboardResults",
        "HourlyDashboardStatuses",
        "HourlyODataCallout",
        "HourlyTimeBasedWorkflow",
        "MassEmail",
        "SingleEmail",
        "StreamingApiConcurrentClients",
        "DurableStreamingApiConcurrentClients",
    }
    assert expected <= body.keys()
    for name, value in body.items():
        assert value.keys() == {"Max", "Remaining"}, name
        assert 0 <= value["Remaining"] <= value["Max"], name


async def test_limits_count_api_requests_and_data_storage(
    org: LocalOrg, http: httpx.AsyncClient
) -> None:
    """ "Limits": Remaining is the allocation left after usage; records use data storage."""
    first = (await http.get(f"{V}/limits")).json()
    assert first["DailyApiRequests"]["Remaining"] == org.daily_api_limit - 1
    assert first["DataStorageMB"]["Remaining"] == 4  # the admin user's 2 KB round up to 1 MB
    response = await http.post(
        f"{V}/composite/tree/Account",
        json={
            "records": [
                {"attributes": {"type": "Account", "referenceId": f"a{i}"}, "Name": f"A{i}"}
                for i in range(200)
            ]
        },
    )
    assert response.status_code == 201, response.text
    after = (await http.get(f"{V}/limits")).json()
    assert after["DailyApiRequests"]["Remaining"] == org.daily_api_limit - 3
    assert after["DataStorageMB"]["Remaining"] == 5 - 1  # 201 records x 2 KB: 1 MB


async def test_record_count_of_chosen_sobjects(http: httpx.AsyncClient) -> None:
    """REST API guide, "Record Count": GET limits/recordCount?sObjects=Account,Contact answers
    {"sObjects": [{"count": n, "name": "Account"}, ...]}; deleted records do not count."""
    await create(http, "Account", {"Name": "A"})
    gone = await create(http, "Account", {"Name": "B"})
    await create(http, "Contact", {"LastName": "C"})
    assert (await http.delete(f"{V}/sobjects/Account/{gone}")).status_code == 204
    response = await http.get(f"{V}/limits/recordCount?sObjects=Account,Contact")
    assert response.status_code == 200
    assert response.json() == {
        "sObjects": [{"count": 1, "name": "Account"}, {"count": 1, "name": "Contact"}]
    }
    every = (await http.get(f"{V}/limits/recordCount")).json()["sObjects"]
    assert {"count": 1, "name": "User"} in every
    assert {"count": 0, "name": "Opportunity"} in every

"""Resources every real org has besides records: limits, record counts, recent items,
identity (salesforce-rest.md §8.3 and the REST API guide pages quoted per test)."""

from __future__ import annotations

import httpx
import pytest

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


@pytest.fixture
def org() -> LocalOrg:
    return LocalOrg()


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
    """REST API guide, "Limits": Remaining is the allocation left after usage; records
    use data storage."""
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


# -- identity ------------------------------------------------------------------------------


async def token_response(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_identity_url_of_the_token_response_describes_its_user(
    org: LocalOrg, http: httpx.AsyncClient
) -> None:
    """Salesforce Help, "Identity URLs": the token response's ``id`` answers the user's
    identity (id, user_id, organization_id, username, display_name, email, urls with
    ``{version}`` left in, ...) to a request carrying a valid access token."""
    token = await token_response(http)
    response = await http.get(
        token["id"], headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == token["id"]
    assert body["user_id"] == org.store.admin_user_id
    assert body["organization_id"] == org.org_id
    assert body["username"] == "admin@local.org"
    assert body["display_name"] == "Local Admin"
    assert body["urls"]["rest"] == "http://127.0.0.1/services/data/v{version}/"
    assert body["urls"]["sobjects"].endswith("/services/data/v{version}/sobjects/")
    assert {"email", "first_name", "last_name", "active", "user_type", "locale"} <= body.keys()


async def test_userinfo_answers_openid_connect_claims(
    org: LocalOrg, http: httpx.AsyncClient
) -> None:
    """Salesforce Help, "Query for User Information" (the OpenID Connect UserInfo endpoint,
    /services/oauth2/userinfo): sub, user_id, organization_id, preferred_username, name,
    email, urls... for the access token's user."""
    response = await http.get("/services/oauth2/userinfo")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == org.store.admin_user_id
    assert body["organization_id"] == org.org_id
    assert body["preferred_username"] == "admin@local.org"
    assert body["email"] == "admin@local.org"
    assert body["name"] == "Local Admin"
    assert body["sub"] == f"http://127.0.0.1/id/{org.org_id}/{org.store.admin_user_id}"
    assert body["urls"]["query"] == "http://127.0.0.1/services/data/v{version}/query/"


@pytest.mark.parametrize("where", ["userinfo", "identity"])
async def test_identity_needs_a_valid_token(org: LocalOrg, where: str) -> None:
    """A request without a valid access token is refused: Salesforce answers 403
    "Bad_OAuth_Token" (or "Missing_OAuth_Token"), not the REST API's 401."""
    url = (
        "/services/oauth2/userinfo"
        if where == "userinfo"
        else f"/id/{org.org_id}/{org.store.admin_user_id}"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app), base_url="http://127.0.0.1"
    ) as anonymous:
        missing = await anonymous.get(url)
        bad = await anonymous.get(url, headers={"Authorization": "Bearer nope"})
        query = await anonymous.get(url, params={"oauth_token": org.access_token})
    assert (missing.status_code, missing.text) == (403, "Missing_OAuth_Token")
    assert (bad.status_code, bad.text) == (403, "Bad_OAuth_Token")
    assert query.status_code == 200


async def test_identity_url_of_another_user_is_refused(
    org: LocalOrg, http: httpx.AsyncClient
) -> None:
    """Salesforce Help, "Identity URLs": a token gives the identity of its own user only."""
    other = "005" + "0" * 14 + "Z"
    response = await http.get(f"/id/{org.org_id}/{other}")
    assert response.status_code == 403


# -- recent --------------------------------------------------------------------------------


async def test_recent_lists_the_latest_records_first(
    org: LocalOrg, http: httpx.AsyncClient
) -> None:
    """REST API guide, "Recently Viewed Items": GET recent?limit=n answers a list of
    {"attributes": {"type", "url"}, "Id", "Name"}; the local org counts a write as a view."""
    first = await create(http, "Account", {"Name": "First"})
    second = await create(http, "Contact", {"LastName": "Second"})
    third = await create(http, "Account", {"Name": "Third"})
    response = await http.get(f"{V}/recent", params={"limit": "2"})
    assert response.status_code == 200
    assert response.json() == [
        {
            "attributes": {"type": "Account", "url": f"{V}/sobjects/Account/{third}"},
            "Id": third,
            "Name": "Third",
        },
        {
            "attributes": {"type": "Contact", "url": f"{V}/sobjects/Contact/{second}"},
            "Id": second,
            "Name": "Second",
        },
    ]
    every = [item["Id"] for item in (await http.get(f"{V}/recent")).json()]
    assert every[:3] == [third, second, first]
    basic = (await http.get(f"{V}/sobjects/Account")).json()
    assert [item["Id"] for item in basic["recentItems"]] == [third, first]


@pytest.mark.parametrize("limit", ["0", "-1", "ten"])
async def test_recent_limit_must_be_a_positive_integer(http: httpx.AsyncClient, limit: str) -> None:
    """REST API guide, "Recently Viewed Items": limit is the maximum number of items (a
    number, up to 200)."""
    response = await http.get(f"{V}/recent", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_PARAMETER_VALUE"


# -- query columns ---------------------------------------------------------------------------


async def test_query_columns_describe_the_select_list(http: httpx.AsyncClient) -> None:
    """``query?q=...&columns=true`` is not in the REST API guide: the Salesforce CLI's
    ``sf data query`` asks for it (salesforcecli/plugin-data, ``retrieveColumns``) and reads
    ``columnMetadata`` (columnName, displayName, aggregate, joinColumns)."""
    await create(http, "Account", {"Name": "A"})
    soql = "SELECT Id, Name, Owner.Name, (SELECT LastName FROM Contacts) FROM Account"
    response = await http.get(f"{V}/query", params={"q": soql, "columns": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["entityName"] == "Account"
    assert body["idSelected"] is True and body["groupBy"] is False
    assert body["keyPrefix"] == "001"
    columns = body["columnMetadata"]
    assert [c["columnName"] for c in columns] == ["Id", "Name", "Owner", "Contacts"]
    assert columns[1]["textType"] is True and columns[1]["aggregate"] is False
    assert [j["columnName"] for j in columns[2]["joinColumns"]] == ["Name"]
    assert columns[3]["aggregate"] is True
    assert [j["columnName"] for j in columns[3]["joinColumns"]] == ["LastName"]
    assert "records" not in body


async def test_query_columns_of_aggregates(http: httpx.AsyncClient) -> None:
    """plugin-data's ``retrieveColumns``: an aggregate column is named by its alias, or
    exprN, and displayed as its function call."""
    soql = "SELECT COUNT(Id), MAX(Name) top FROM Account GROUP BY Industry"
    response = await http.get(f"{V}/query", params={"q": soql, "columns": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["groupBy"] is True
    assert [
        (c["columnName"], c["displayName"], c["aggregate"]) for c in body["columnMetadata"]
    ] == [
        ("expr0", "COUNT(Id)", True),
        ("top", "MAX(Name)", True),
    ]


async def test_query_columns_of_a_bad_query_is_the_query_error(http: httpx.AsyncClient) -> None:
    """The same 400 as the query without ``columns``."""
    response = await http.get(
        f"{V}/query", params={"q": "SELECT Nope FROM Account", "columns": "true"}
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"

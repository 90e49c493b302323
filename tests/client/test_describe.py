"""describe (global and per sObject, cached), limits, versions, and the request escape hatch."""

from __future__ import annotations

import httpx
import pytest
import respx

from sobjects import Salesforce
from sobjects.errors import ConfigurationError, NotFoundError

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
ACCOUNT_DESCRIBE = {
    "name": "Account",
    "keyPrefix": "001",
    "fields": [{"name": "Id", "type": "id"}, {"name": "Name", "type": "string"}],
    "childRelationships": [],
}


async def test_global_describe(sf: Salesforce, router: respx.Router) -> None:
    router.get(f"{V}/sobjects").mock(
        return_value=httpx.Response(
            200, json={"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [{"name": "Account"}]}
        )
    )
    described = await sf.describe()
    assert described["sobjects"][0]["name"] == "Account"


async def test_sobject_describe_is_cached_per_client(sf: Salesforce, router: respx.Router) -> None:
    route = router.get(f"{V}/sobjects/Account/describe").mock(
        return_value=httpx.Response(200, json=ACCOUNT_DESCRIBE)
    )
    first = await sf.describe("Account")
    second = await sf.describe("account")
    assert first is second
    assert route.call_count == 1
    await sf.describe("Account", refresh=True)
    assert route.call_count == 2


async def test_unknown_sobject_describe(sf: Salesforce, router: respx.Router) -> None:
    router.get(f"{V}/sobjects/Nope__c/describe").mock(
        return_value=httpx.Response(
            404,
            json=[{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
        )
    )
    with pytest.raises(NotFoundError):
        await sf.describe("Nope__c")
    with pytest.raises(ConfigurationError):
        await sf.describe("../limits")


async def test_versions_and_limits(sf: Salesforce, router: respx.Router) -> None:
    versions = [
        {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"},
    ]
    router.get("/services/data/").mock(return_value=httpx.Response(200, json=versions))
    router.get(f"{V}/limits").mock(
        return_value=httpx.Response(200, json={"DailyApiRequests": {"Max": 15000, "Remaining": 1}})
    )
    assert await sf.versions() == versions
    assert (await sf.limits())["DailyApiRequests"]["Remaining"] == 1


async def test_request_escape_hatch(sf: Salesforce, router: respx.Router) -> None:
    relative = router.get(f"{V}/recent").mock(return_value=httpx.Response(200, json=[]))
    absolute = router.get("/services/apexrest/hello").mock(
        return_value=httpx.Response(200, json={"hi": True})
    )
    assert (await sf.request("GET", "recent")).json() == []
    assert (await sf.request("GET", "/services/apexrest/hello")).json() == {"hi": True}
    assert relative.called and absolute.called
    router.get(f"{V}/broken").mock(return_value=httpx.Response(500, text="<html>oops</html>"))
    response = await sf.request("GET", "broken", raise_for_status=False)
    assert response.status_code == 500

from __future__ import annotations

import httpx
import pytest
import respx

from sobjects import Salesforce
from tests.conftest import TOKEN


@pytest.mark.anyio
async def test_limits_sends_bearer_token_and_reads_usage(
    sf: Salesforce, router: respx.Router
) -> None:
    route = router.get("/services/data/v62.0/limits").mock(
        return_value=httpx.Response(
            200,
            json={"DailyApiRequests": {"Max": 15000, "Remaining": 14998}},
            headers={"Sforce-Limit-Info": "api-usage=2/15000"},
        )
    )
    limits = await sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sf.api_usage is not None
    assert (sf.api_usage.used, sf.api_usage.limit) == (2, 15000)

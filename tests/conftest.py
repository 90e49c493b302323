"""Shared test fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from sobjects import RetryPolicy, Salesforce
from sobjects.auth import StaticToken

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v62.0"
TOKEN = "00Dxx0000000001!AQ4AQFakeSecretTokenValue"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def router() -> respx.Router:
    """A respx router for the fake instance; unmatched requests fail the test."""
    return respx.Router(base_url=INSTANCE, assert_all_called=False)


# Fast retries: tests check behaviour, not wall-clock waits.
FAST_RETRY = RetryPolicy(backoff_base=0.0, backoff_max=0.0, deadline=30.0)


@pytest.fixture
async def sf(router: respx.Router) -> AsyncIterator[Salesforce]:
    """A client wired to ``router`` through httpx's MockTransport, with a static token."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    async with http:
        yield Salesforce(INSTANCE, auth=StaticToken(TOKEN), httpx_client=http, retry=FAST_RETRY)

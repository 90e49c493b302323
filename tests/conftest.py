"""Shared test fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

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


TOKEN_PATH = "/services/oauth2/token"
TOKEN_URL = f"{INSTANCE}{TOKEN_PATH}"


def token_reply(access_token: str = "00Dxx0000000001!AQ4AQFresh", **extra: str) -> httpx.Response:
    """A successful OAuth token endpoint reply (instance_url defaults to INSTANCE)."""
    body = {
        "access_token": access_token,
        "instance_url": INSTANCE,
        "id": "https://login.salesforce.com/id/00Dxx0000000001/005xx0000000001",
        "token_type": "Bearer",
        "issued_at": "1278448832702",
        "signature": "0CmxinZir53Yex7nE0TD+zMpvIWYGb/bdJh6XfOH6EQ=",
        **extra,
    }
    return httpx.Response(200, json=body)


@pytest.fixture
async def http(router: respx.Router) -> AsyncIterator[httpx.AsyncClient]:
    """A caller-owned httpx client routed to ``router`` (for building clients in tests)."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        yield client


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace ``anyio.sleep`` by a checkpoint; the list records every requested delay."""
    import anyio
    import anyio.lowlevel

    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(anyio, "sleep", fake_sleep)
    return recorded


@pytest.fixture(params=["async", "sync"])
def api(request: pytest.FixtureRequest) -> Any:
    """The API a behaviour test runs against: the async one, or ``sobjects.sync`` (see
    ``tests/flavours.py``)."""
    from tests.flavours import Flavour

    return Flavour(str(request.param))

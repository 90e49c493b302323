"""Fixtures shared by the local org's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sobjects.emulator import LocalOrg


@pytest.fixture
async def http(org: LocalOrg) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the module's ``org`` fixture, in-process, with a valid access token."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {org.access_token}"},
    ) as client:
        yield client

"""pytest plugin (entry point ``pytest11``): a fresh local Salesforce org for each test.

Installed with sobjects, so any project gets two fixtures:

- ``local_org``: a new :class:`sobjects.emulator.LocalOrg` (standard schema, no data);
- ``salesforce``: a :class:`sobjects.Salesforce` client wired to it in-process.

::

    import pytest

    @pytest.mark.anyio
    async def test_create(salesforce):
        contact_id = await salesforce.sobject.create("Contact", {"LastName": "Doe"})
        assert (await salesforce.sobject.get("Contact", contact_id))["LastName"] == "Doe"

The emulator's dependencies (``pip install 'sobjects[emulator]'``) are imported only when a
fixture is used, so projects that never ask for them are not affected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sobjects.client import Salesforce
    from sobjects.emulator import LocalOrg


@pytest.fixture
def local_org() -> LocalOrg:
    """A fresh in-memory local org with the standard schema."""
    try:
        from sobjects.emulator import LocalOrg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pytest.fail(f"the local_org fixture needs pip install 'sobjects[emulator]': {exc}")
    return LocalOrg()


@pytest.fixture
async def salesforce(local_org: LocalOrg) -> AsyncIterator[Salesforce]:
    """A ``Salesforce`` client for ``local_org``, in-process (no sockets)."""
    async with local_org.client() as client:
        yield client

"""One behaviour test, run against the async API and against ``sobjects.sync``.

A test takes the ``api`` fixture (``tests/conftest.py``) and spells its calls the async way
(``async with api.Session(sf)``, ``await session.all(...)``, ``async for``). For the sync
flavour, ``Blocking`` gives a ``sobjects.sync`` object that spelling: each ``await`` makes one
blocking call of the sync object, in the test's thread (the sync client's own loop thread
does the work meanwhile), and ``async with`` is its ``with`` block. So the sync facade is
exercised as a user calls it, by the same assertions as the async API.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

from sobjects.client import Salesforce as AsyncSalesforce
from sobjects.emulator import LocalOrg
from sobjects.orm import Session as AsyncSession

# Methods that are coroutines in the async API (so tests ``await`` them).
AWAITED = frozenset(
    {
        "all",
        "count",
        "create",
        "delete",
        "describe",
        "execute",
        "first",
        "flush",
        "get",
        "limits",
        "one",
        "request",
        "request_json",
        "retrieve",
        "search",
        "tree",
        "update",
        "upsert",
        "versions",
    }
)
# Methods that return async iterators in the async API.
ITERATORS = frozenset({"stream", "pages"})


def _wrap(value: Any) -> Any:
    return Blocking(value) if type(value).__module__.startswith("sobjects.sync") else value


async def _aiter(items: Iterator[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


class Blocking:
    """A ``sobjects.sync`` object, spelled like its async counterpart (see the module)."""

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.ismethod(value):  # an attribute, a property's value, a sub-API
            return _wrap(value)
        if name in AWAITED:

            async def awaited(*args: Any, **kwargs: Any) -> Any:
                return _wrap(value(*args, **kwargs))

            return awaited
        if name in ITERATORS:
            return lambda *args, **kwargs: _aiter(value(*args, **kwargs))
        return lambda *args, **kwargs: _wrap(value(*args, **kwargs))

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _wrap(self._target(*args, **kwargs))

    def __aiter__(self) -> AsyncIterator[Any]:
        return _aiter(iter(self._target))

    def __len__(self) -> int:
        return len(self._target)

    async def __aenter__(self) -> Blocking:
        self._target.__enter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._target.__exit__(*exc)

    def __repr__(self) -> str:
        return f"Blocking({self._target!r})"


class Flavour:
    """The async API (``name == "async"``) or the sync facade seen through ``Blocking``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def client(self, org: LocalOrg, **kwargs: Any) -> Any:
        """A client of ``org`` (in-process); use it with ``async with``."""
        return self.wrap(org.client(**kwargs))

    def wrap(self, client: AsyncSalesforce) -> Any:
        if self.name == "async":
            return client
        from sobjects import sync

        return Blocking(sync.Salesforce.wrap(client))

    def Session(self, sf: Any, **options: Any) -> Any:
        if self.name == "async":
            return AsyncSession(sf, **options)
        from sobjects import sync

        return Blocking(sync.Session(sf._target, **options))

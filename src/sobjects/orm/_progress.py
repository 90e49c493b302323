"""A flush's progress, reported through the client's ``flush_progress`` event hook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sobjects.client._events import FlushProgressEvent
from sobjects.orm._operation import Operation

if TYPE_CHECKING:
    from sobjects.client import Salesforce

__all__ = ["Progress"]


class Progress:
    """Counts a flush's records as their answers come (a record sent again after a row
    lock counts once); costs nothing when no ``flush_progress`` hook is registered."""

    def __init__(self, sf: Salesforce | None = None, work: Sequence[Any] = ()) -> None:
        hooks = getattr(sf, "_hooks", None)  # a stand-in client in tests may have none
        self._hooks = hooks if hooks is not None and hooks.has("flush_progress") else None
        self._records = {id(item) for item in work if isinstance(item, Operation)}
        self._done: set[int] = set()

    async def start(self) -> None:
        if self._hooks is not None and self._records:
            await self._hooks.emit("flush_progress", FlushProgressEvent(0, len(self._records)))

    async def answered(self, items: Sequence[Any]) -> None:
        if self._hooks is None:
            return
        before = len(self._done)
        self._done.update(id(item) for item in items if id(item) in self._records)
        if len(self._done) > before:
            event = FlushProgressEvent(len(self._done), len(self._records))
            await self._hooks.emit("flush_progress", event)

"""The identity map: one object per record id within a session, held weakly.

A dict of weak references rather than ``weakref.WeakValueDictionary``: storing into that
runs Python code per entry (a keyed reference with a callback), and a query page stores an
entry per record. Entries whose object is gone are swept as the map grows.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sobjects.orm._model import SObject

__all__ = ["IdentityMap"]

_FIRST_SWEEP = 1024


class IdentityMap:
    """Record id -> the session's object for it, while something else keeps it alive."""

    __slots__ = ("_sweep_at", "refs")

    def __init__(self) -> None:
        # Read directly by the loader's loop (a method call per record costs more).
        self.refs: dict[str, weakref.ref[SObject]] = {}
        self._sweep_at = _FIRST_SWEEP

    def get(self, record_id: str) -> SObject | None:
        ref = self.refs.get(record_id)
        return None if ref is None else ref()

    def __setitem__(self, record_id: str, obj: SObject) -> None:
        self.refs[record_id] = weakref.ref(obj)
        if len(self.refs) >= self._sweep_at:
            self._sweep()

    def pop(self, record_id: str, default: None = None) -> SObject | None:
        ref = self.refs.pop(record_id, None)
        return default if ref is None else ref()

    def __len__(self) -> int:
        return sum(1 for ref in self.refs.values() if ref() is not None)

    def _sweep(self) -> None:
        # In place: a loader holds on to this dict while it adopts a page.
        for key in [key for key, ref in self.refs.items() if ref() is None]:
            del self.refs[key]
        # Amortised: the next sweep waits until the live entries have doubled.
        self._sweep_at = max(_FIRST_SWEEP, 2 * len(self.refs))

"""Which session records work: the ContextVar behind ``async with Session(...)``.

It lives below both the models and the session, so that ``Contact(...).save()`` finds its
session without the model module importing the session module.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sobjects.errors import SalesforceError

if TYPE_CHECKING:
    from sobjects.orm._model import SObject
    from sobjects.orm._session import Session
    from sobjects.sync import Session as SyncSession

__all__ = ["NoSessionError", "current", "current_session", "resolve_session"]

current: ContextVar[Session | None] = ContextVar("sobjects_session", default=None)


class NoSessionError(SalesforceError, RuntimeError):
    """``save()``/``upsert()``/``delete()`` was called with no session to record it."""


def current_session() -> Session | None:
    """The session of the innermost ``async with Session(...)`` block, if any."""
    return current.get()


def resolve_session(explicit: Session | SyncSession | None, obj: SObject) -> Session:
    """``explicit``, else the current session; ``NoSessionError`` when there is neither.

    A ``sobjects.sync.Session`` stands for the async session it drives (``unit_of_work``).
    """
    if explicit is None:  # the common case: no getattr that fails on None
        session: Session | None = current.get()
    else:
        unit: Any = getattr(explicit, "unit_of_work", explicit)
        session = unit or current.get()
    if session is None:
        raise NoSessionError(
            f"{type(obj).__name__}.save()/upsert()/delete() records work for a session, and "
            "there is none here: call it inside `async with Session(sf):` (`with Session(sf):` "
            "with sobjects.sync), or pass session="
        )
    return session

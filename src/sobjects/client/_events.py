"""Event hooks.

Hooks are callables registered per event name: ``async def`` functions, or plain functions for
quick work (a counter, a log line; they run on the event loop, so they must not block). They run
in registration order; an exception in a hook is logged and swallowed, so observability code
never breaks a request.
Events carry no credentials: URLs, statuses and timings only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, TypeAlias, TypedDict, TypeVar

import httpx

from sobjects.client._budget import ApiUsage, parse_limit_info
from sobjects.errors import ConfigurationError

__all__ = [
    "ApiUsage",
    "ApiUsageEvent",
    "EventHooks",
    "FlushProgressEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "parse_limit_info",
]

logger = logging.getLogger("sobjects")


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """A request is about to be sent (once per attempt); ``cost`` is the API calls the
    attempt spends (one per subrequest for a Composite Batch, none for the versions list)."""

    method: str
    url: str
    attempt: int
    cost: int = 1


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """A response arrived (once per attempt, before any retry decision)."""

    method: str
    url: str
    attempt: int
    status_code: int
    elapsed: float
    headers: httpx.Headers  # the response's headers; the request's (with the token) stay out


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """An attempt failed and will be retried after ``delay`` seconds."""

    method: str
    url: str
    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class ApiUsageEvent:
    """A response reported the org's API usage (``usage.per_app`` and ``usage.bursts`` too,
    when the header carried them)."""

    usage: ApiUsage


@dataclass(frozen=True, slots=True)
class FlushProgressEvent:
    """A session's flush moved on: ``done`` of its ``total`` records have been sent and
    answered (failed ones included). Sent once with ``done=0`` before the first request, then
    after each request's answer, so a long flush can draw a progress bar."""

    done: int
    total: int


E = TypeVar("E")
# A hook: ``async def hook(event)``, or a plain ``def hook(event)`` for quick work.
Hook: TypeAlias = Callable[[E], Awaitable[None] | None]


class EventHooks(TypedDict, total=False):
    """Hooks by event name, each a sequence of ``async def hook(event) -> None`` (or of plain
    functions, which run on the event loop and must be quick).

    >>> async def log_usage(event: ApiUsageEvent) -> None:
    ...     print(event.usage.remaining)
    >>> def count(event: RequestEvent) -> None:
    ...     pass
    >>> hooks: EventHooks = {"api_usage": [log_usage], "request": [count]}
    """

    request: Sequence[Hook[RequestEvent]]
    response: Sequence[Hook[ResponseEvent]]
    retry: Sequence[Hook[RetryEvent]]
    api_usage: Sequence[Hook[ApiUsageEvent]]
    flush_progress: Sequence[Hook[FlushProgressEvent]]
    # Bulk API 2.0 progress (sobjects.client.BulkJobEvent): uploads, polls, the end.
    bulk: Sequence[Hook[Any]]


_EVENT_NAMES = frozenset(EventHooks.__annotations__)


class HookRunner:
    """Dispatches events to the registered hooks, shielding requests from hook failures."""

    def __init__(self, hooks: Mapping[str, Sequence[Hook[Any]]] | None):
        hooks = hooks or {}
        unknown = set(hooks) - _EVENT_NAMES
        if unknown:
            raise ConfigurationError(
                f"unknown event hook name(s) {sorted(unknown)}; known: {sorted(_EVENT_NAMES)}"
            )
        for name, fns in hooks.items():
            if callable(fns) or isinstance(fns, (str, bytes)):
                raise ConfigurationError(
                    f"event hook {name!r} must be a sequence of callables, got {fns!r}"
                )
            for fn in fns:
                if not callable(fn):
                    raise ConfigurationError(f"event hook {name!r} holds {fn!r}, not a callable")
        self._hooks = {name: list(fns) for name, fns in hooks.items()}

    def has(self, name: str) -> bool:
        return bool(self._hooks.get(name))

    async def emit(self, name: str, event: object) -> None:
        for hook in self._hooks.get(name, ()):
            try:
                result = hook(event)
                if isawaitable(result):
                    await result
            except Exception:
                logger.exception("sobjects %s hook %r failed; the request goes on", name, hook)

"""The org's API budget: ``Sforce-Limit-Info`` readings, what a request costs, and meters.

Salesforce counts an org's API calls over a rolling 24 hours and reports the count on every
response (``Sforce-Limit-Info: api-usage=USED/MAX``). Most requests cost one call; a Composite
Batch costs one per subrequest; the versions resource costs nothing. The client refuses,
before any HTTP, a request that would eat into its ``api_reserve`` or take an active
``ApiCallMeter`` past its budget (``ApiBudgetError``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from sobjects.errors import ConfigurationError

__all__ = [
    "ApiBursts",
    "ApiCallMeter",
    "ApiUsage",
    "AppApiUsage",
    "active_meters",
    "api_cost",
    "check_call_count",
    "parse_limit_info",
]

# A Composite Batch over this size is refused whole by Salesforce (and by the local org,
# which then charges one call).
_MAX_BATCH: Final = 25


@dataclass(frozen=True, slots=True)
class AppApiUsage:
    """The connected app's own quota, on orgs that set one
    (``per-app-api-usage=17/250(appName=sample-connected-app)``)."""

    app_name: str
    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class ApiBursts:
    """``api-bursts=USED/LIMIT``: how often this month the org ran past its daily allowance,
    and how often its entitlement lets it."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """The org's API calls used and allowed in the rolling 24 hours (``Sforce-Limit-Info``).

    ``per_app`` and ``bursts`` are set when the header carried them. ``used`` may exceed
    ``limit`` (an org bursting past its allowance); ``remaining`` is then 0.

    >>> ApiUsage(used=18, limit=5000).remaining
    4982
    """

    used: int
    limit: int
    per_app: AppApiUsage | None = None
    bursts: ApiBursts | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def fraction(self) -> float:
        """Share of the allowance used, 0.0 and up (1.0 when the limit is 0)."""
        return self.used / self.limit if self.limit else 1.0


# At most 18 ASCII digits: int() refuses strings of more than 4300 digits (and \d would let
# Arabic-Indic digits through).
_NUMBER = r"([0-9]{1,18})"
_PAIR = re.compile(rf"\s*{_NUMBER}\s*/\s*{_NUMBER}\s*")
_PER_APP = re.compile(
    rf"\s*{_NUMBER}\s*/\s*{_NUMBER}\s*\(\s*appName\s*=\s*([^()]*?)\s*\)\s*", re.IGNORECASE
)


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """Read a ``Sforce-Limit-Info`` header; ``None`` unless it holds a valid ``api-usage``.

    Parts (``api-usage``, ``per-app-api-usage``, ``api-bursts``) may come in any order,
    separated by ``;`` or ``,`` with any spacing; unknown parts and malformed values are
    ignored, and the first valid value of each part wins. Never raises.

    >>> parse_limit_info("api-usage=18/5000; per-app-api-usage=17/250(appName=sample)")
    ... # doctest: +NORMALIZE_WHITESPACE
    ApiUsage(used=18, limit=5000,
             per_app=AppApiUsage(app_name='sample', used=17, limit=250), bursts=None)
    >>> parse_limit_info("api-bursts=1/750, api-usage=110018/100000").remaining
    0
    """
    if not header or not isinstance(header, str):
        return None
    usage: tuple[int, int] | None = None
    per_app: AppApiUsage | None = None
    bursts: ApiBursts | None = None
    for part in _parts(header):
        key, sep, value = part.partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "api-usage" and usage is None and (match := _PAIR.fullmatch(value)):
            usage = int(match.group(1)), int(match.group(2))
        elif key == "per-app-api-usage" and per_app is None and (m := _PER_APP.fullmatch(value)):
            per_app = AppApiUsage(m.group(3), int(m.group(1)), int(m.group(2)))
        elif key == "api-bursts" and bursts is None and (match := _PAIR.fullmatch(value)):
            bursts = ApiBursts(int(match.group(1)), int(match.group(2)))
    if usage is None:
        return None
    return ApiUsage(usage[0], usage[1], per_app=per_app, bursts=bursts)


def _parts(header: str) -> list[str]:
    """Split at ``;`` and ``,`` outside parentheses (an app name may hold either); an
    unclosed parenthesis groups nothing, so it cannot swallow the parts after it."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(header):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char in ";," and depth == 0:
            parts.append(header[start:i])
            start = i + 1
    parts.append(header[start:])
    if depth:
        return re.split(r"[;,]", header)
    return parts


_VERSIONED = re.compile(r"/services/data/v[0-9]+\.[0-9]+(?:/(.*))?")


def api_cost(method: str, path: str, body: Any = None) -> int:
    """How many API calls Salesforce counts for one request.

    ``path`` is what ``sf.request`` takes: relative to ``/services/data/vNN.N/``, absolute
    from ``/``, or a full URL. A Composite Batch costs one call per subrequest; the versions
    resource (``GET /services/data/``) costs none; everything else (Composite, Graph, Tree,
    sObject Collections, a query page, ...) costs one.

    >>> api_cost("POST", "composite/batch", {"batchRequests": [{}, {}, {}]})
    3
    >>> api_cost("POST", "composite/sobjects", {"records": [{}] * 200})
    1
    >>> api_cost("GET", "/services/data/")
    0
    """
    target = urlsplit(path).path
    if target.startswith("/"):
        if target.rstrip("/") == "/services/data":
            return 0
        versioned = _VERSIONED.fullmatch(target)
        target = (versioned.group(1) or "") if versioned else target
    if method.upper() == "POST" and target.strip("/") == "composite/batch":
        requests = body.get("batchRequests") if isinstance(body, Mapping) else None
        if isinstance(requests, list) and 1 <= len(requests) <= _MAX_BATCH:
            return len(requests)
    return 1


def check_call_count(value: object, what: str) -> int | None:
    """``None`` or an int >= 0 (a reserve, a budget, a cost), else ``ConfigurationError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{what} must be None or an int >= 0, got {value!r}")
    return value


# The meters of the running task: a tuple, so a task started inside a block shares the
# block's meters (tasks copy their parent's context) and nothing is mutated in place.
_ACTIVE_METERS: ContextVar[tuple[ApiCallMeter, ...]] = ContextVar(
    "sobjects_api_call_meters", default=()
)


class ApiCallMeter:
    """Counts the API calls spent by the requests sent inside its ``counting()`` blocks.

    ``calls`` adds up every attempt's cost (retries and re-authentications included; an
    attempt that never reached Salesforce is not counted). With a ``budget``, a request
    that would take ``calls`` past it raises ``ApiBudgetError`` before any HTTP. Tasks
    started inside a block count too; blocks may nest (every active meter counts) and a
    meter may be used for several blocks, its count going on.

    >>> meter = ApiCallMeter(budget=100)
    >>> with meter.counting():
    ...     pass  # await sf.query(...), a session flush, ...
    >>> meter.calls, meter.remaining
    (0, 100)
    """

    __slots__ = ("budget", "calls")

    def __init__(self, budget: int | None = None) -> None:
        self.budget = check_call_count(budget, "budget")
        self.calls = 0

    @property
    def remaining(self) -> int | None:
        """Calls left in the budget (``None`` without a budget)."""
        return None if self.budget is None else max(0, self.budget - self.calls)

    @contextmanager
    def counting(self) -> Iterator[ApiCallMeter]:
        """Count (and hold to the budget) the requests sent inside the block."""
        active = _ACTIVE_METERS.get()
        token = _ACTIVE_METERS.set(active if self in active else (*active, self))
        try:
            yield self
        finally:
            _ACTIVE_METERS.reset(token)

    def __repr__(self) -> str:
        return f"ApiCallMeter(calls={self.calls}, budget={self.budget})"


def active_meters() -> tuple[ApiCallMeter, ...]:
    """The meters counting the current task's requests."""
    return _ACTIVE_METERS.get()


@contextmanager
def metering(meters: tuple[ApiCallMeter, ...]) -> Iterator[None]:
    """Make ``meters`` the current task's meters: for work a caller hands to another thread's
    event loop (``sobjects.sync``), which does not inherit the caller's context."""
    token = _ACTIVE_METERS.set(meters)
    try:
        yield
    finally:
        _ACTIVE_METERS.reset(token)

"""Scripted faults and latency, for tests and benchmarks.

Set them from Python (``org.faults.fail_next(2)``) or over HTTP (``POST /__emulator__/faults``,
see ``_admin``). Every argument is checked (types and ranges), from Python and HTTP alike: a
fault that would hang the org for ever or fill its memory is refused with a ``ValueError``.
The server answers on its own thread, so every read and change of the state holds one mutex.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sobjects._ids import is_salesforce_id, to_18
from sobjects.emulator._errors import ApiError, unknown_exception

if TYPE_CHECKING:
    from sobjects.emulator._schema import Schema

__all__ = [
    "MAX_COUNT",
    "MAX_LATENCY",
    "MAX_RETRY_AFTER",
    "Faults",
    "check_count",
    "check_seconds",
    "check_status",
    "injected_error",
]

MAX_COUNT = 10_000  # requests a single call may script
MAX_LATENCY = 60.0  # seconds: longer would only look like a hang
MAX_RETRY_AFTER = 3600  # seconds
_ERROR_CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{0,79}")
# The error Salesforce answers for a status, and the message of each code we inject.
_CODE_FOR_STATUS = {
    401: "INVALID_SESSION_ID",
    403: "REQUEST_LIMIT_EXCEEDED",
    404: "NOT_FOUND",
    503: "SERVER_UNAVAILABLE",
}
_MESSAGES = {
    "INVALID_SESSION_ID": "Session expired or invalid",
    "REQUEST_LIMIT_EXCEEDED": "TotalRequests Limit exceeded.",
    "NOT_FOUND": "The requested resource does not exist",
    "SERVER_UNAVAILABLE": "Server temporarily unavailable (injected fault)",
    "UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record",
}


def injected_error(status: int, code: str | None = None) -> tuple[str, str]:
    """``(errorCode, message)`` of an injected failure: ``code`` or the one Salesforce gives
    for ``status`` (``UNKNOWN_EXCEPTION`` with an ErrorId when it has none)."""
    code = code or _CODE_FOR_STATUS.get(status, "UNKNOWN_EXCEPTION")
    if code == "UNKNOWN_EXCEPTION":
        return unknown_exception()
    return code, _MESSAGES.get(code, f"{code} (injected fault)")


T = TypeVar("T")


def check_count(what: str, value: object) -> int:
    """An integer 0..MAX_COUNT (not a bool, not a float), or ``ValueError`` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{what} must be an integer from 0 to {MAX_COUNT}, got {value!r}")
    return value


def check_status(what: str, value: object) -> int:
    """An HTTP error status (an integer 400..599)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        raise ValueError(f"{what} must be an HTTP error status (400..599), got {value!r}")
    return value


def check_seconds(what: str, value: object, maximum: float = MAX_LATENCY) -> float:
    """A finite number of seconds, 0..maximum."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= maximum
    ):
        raise ValueError(f"{what} must be a number of seconds from 0 to {maximum:g}, got {value!r}")
    return float(value)


def _check_retry_after(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRY_AFTER:
        raise ValueError(
            f"throttle_next: retry_after must be an integer number of seconds from 0 to "
            f"{MAX_RETRY_AFTER}, got {value!r}"
        )
    return value


class _Runs(Generic[T]):
    """A queue of scripted outcomes kept as runs (value, how many more times): a count of
    10,000 is one entry, not 10,000. Used under the ``Faults`` mutex."""

    def __init__(self) -> None:
        self._runs: deque[list[Any]] = deque()

    def add(self, value: T, count: int) -> None:
        if not count:
            return
        if self._runs and self._runs[-1][0] == value:
            self._runs[-1][1] += count  # consecutive calls for the same outcome: one run
        else:
            self._runs.append([value, count])

    def take(self) -> T | None:
        if not self._runs:
            return None
        run = self._runs[0]
        run[1] -= 1
        if not run[1]:
            self._runs.popleft()
        value: T = run[0]
        return value

    def clear(self) -> None:
        self._runs.clear()

    def snapshot(self) -> list[list[Any]]:
        return [list(run) for run in self._runs]


class Faults:
    """What the org does wrong on purpose.

    Each API request (``/services/data...``) goes through them in this order: ``latency``
    plus ``delay_next``; ``drop_next``; ``throttle_next``; the token check; ``fail_next``;
    the request itself (where ``lock_record``, ``lock_creates`` and ``fail_subrequests``
    act); then ``drop_answer_next``. Counts are 0..10,000 per call, and calls queue up in
    order. None of them applies to ``/__emulator__/*`` (the controls); only
    ``fail_token_next`` applies to the token endpoint.

    - ``latency``: seconds (0..60) added to every request;
    - ``delay_next(n, seconds=s)``: the next ``n`` requests wait ``s`` more seconds;
    - ``drop_next(n)``: the next ``n`` requests get their connection dropped, unanswered
      and without effect;
    - ``throttle_next(n, retry_after=1)``: the next ``n`` requests answer 429 with a
      ``Retry-After`` header (as gateways do; Salesforce itself answers 403), without effect;
    - ``fail_next(n, status=503)``: the next ``n`` requests answer ``status`` without effect,
      with the error Salesforce gives for it (401 ``INVALID_SESSION_ID``, 403
      ``REQUEST_LIMIT_EXCEEDED``, 404 ``NOT_FOUND``, 503 ``SERVER_UNAVAILABLE``, otherwise
      ``UNKNOWN_EXCEPTION`` with an ErrorId);
    - ``lock_record(id, times=1)``: the next ``times`` writes to that record answer
      ``UNABLE_TO_LOCK_ROW``;
    - ``lock_creates(sobject=None, times=1)``: the next ``times`` creates (of that sObject,
      or of any) answer ``UNABLE_TO_LOCK_ROW``, in the shape of the operation;
    - ``fail_subrequests(n, status=500, error_code=None)``: the next ``n`` Composite,
      Composite Batch subrequests or Composite Graph nodes answer that error; the request
      and the others go on (a graph whose node fails is rolled back, as for any failure);
    - ``drop_answer_next(n)``: the next ``n`` requests are applied (and journaled), then the
      connection is dropped instead of answering;
    - ``fail_token_next(n, status=503)``: the next ``n`` token requests fail (4xx:
      ``invalid_grant``, 5xx: ``unknown_error``).
    """

    def __init__(self, schema: Schema | None = None) -> None:
        self._schema = schema  # to check lock_creates' sObject names
        self._mutex = threading.Lock()
        self._latency = 0.0
        self._delay: _Runs[float] = _Runs()
        self._drop = 0
        self._throttle: _Runs[int] = _Runs()
        self._fail: _Runs[int] = _Runs()
        self._locks: dict[str, int] = {}
        self._create_locks: dict[str | None, int] = {}  # sObject name (None: any) -> times
        self._subrequests: _Runs[tuple[int, str | None]] = _Runs()
        self._drop_answer = 0
        self._token: _Runs[int] = _Runs()

    def __repr__(self) -> str:
        return f"Faults({self.pending()!r})"

    @property
    def latency(self) -> float:
        """Seconds added to every request (0..60)."""
        with self._mutex:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        value = check_seconds("latency", seconds)
        with self._mutex:
            self._latency = value

    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        count = check_count("fail_next: count", count)
        status = check_status("fail_next: status", status)
        with self._mutex:
            self._fail.add(status, count)

    def drop_next(self, count: int = 1) -> None:
        count = check_count("drop_next: count", count)
        with self._mutex:
            self._drop += count

    def lock_record(self, record_id: str, *, times: int = 1) -> None:
        if not isinstance(record_id, str) or not is_salesforce_id(record_id):
            raise ValueError(
                f"lock_record: record_id must be a 15- or 18-character record id, got {record_id!r}"
            )
        times = check_count("lock_record: times", times)
        with self._mutex:
            if times:
                self._locks[to_18(record_id)] = times
            else:
                self._locks.pop(to_18(record_id), None)

    def lock_creates(self, sobject: str | None = None, *, times: int = 1) -> None:
        if sobject is not None:
            if not isinstance(sobject, str):
                raise ValueError(f"lock_creates: sobject must be a name or None, got {sobject!r}")
            known = self._schema.get(sobject) if self._schema is not None else None
            if self._schema is not None and known is None:
                raise ValueError(f"lock_creates: no sObject {sobject!r} in this org")
            sobject = known.name if known is not None else sobject
        times = check_count("lock_creates: times", times)
        with self._mutex:
            if times:
                self._create_locks[sobject] = times
            else:
                self._create_locks.pop(sobject, None)

    def delay_next(self, count: int = 1, *, seconds: float) -> None:
        count = check_count("delay_next: count", count)
        value = check_seconds("delay_next: seconds", seconds)
        with self._mutex:
            self._delay.add(value, count)

    def throttle_next(self, count: int = 1, *, retry_after: int = 1) -> None:
        count = check_count("throttle_next: count", count)
        retry_after = _check_retry_after(retry_after)
        with self._mutex:
            self._throttle.add(retry_after, count)

    def fail_subrequests(
        self, count: int = 1, *, status: int = 500, error_code: str | None = None
    ) -> None:
        count = check_count("fail_subrequests: count", count)
        status = check_status("fail_subrequests: status", status)
        if error_code is not None and (
            not isinstance(error_code, str) or not _ERROR_CODE_RE.fullmatch(error_code)
        ):
            raise ValueError(
                "fail_subrequests: error_code must be None or an error code such as "
                f"UNABLE_TO_LOCK_ROW (A-Z, 0-9, _), got {error_code!r}"
            )
        with self._mutex:
            self._subrequests.add((status, error_code), count)

    def drop_answer_next(self, count: int = 1) -> None:
        count = check_count("drop_answer_next: count", count)
        with self._mutex:
            self._drop_answer += count

    def fail_token_next(self, count: int = 1, *, status: int = 503) -> None:
        count = check_count("fail_token_next: count", count)
        status = check_status("fail_token_next: status", status)
        with self._mutex:
            self._token.add(status, count)

    def clear(self) -> None:
        """No more faults, and no latency."""
        with self._mutex:
            self._latency = 0.0
            self._delay.clear()
            self._drop = 0
            self._throttle.clear()
            self._fail.clear()
            self._locks.clear()
            self._create_locks.clear()
            self._subrequests.clear()
            self._drop_answer = 0
            self._token.clear()

    def pending(self) -> dict[str, Any]:
        """What is still scripted, by method name (runs are ``[value, remaining]`` pairs in
        order; ``lock_creates`` by sObject, ``"*"`` for any)."""
        with self._mutex:
            return {
                "latency": self._latency,
                "delay_next": self._delay.snapshot(),
                "drop_next": self._drop,
                "throttle_next": self._throttle.snapshot(),
                "fail_next": self._fail.snapshot(),
                "lock_record": dict(self._locks),
                "lock_creates": {k or "*": v for k, v in self._create_locks.items()},
                "fail_subrequests": [[list(value), n] for value, n in self._subrequests.snapshot()],
                "drop_answer_next": self._drop_answer,
                "fail_token_next": self._token.snapshot(),
            }

    # -- used by the org --

    def take_failure(self) -> int | None:
        with self._mutex:
            return self._fail.take()

    def take_delay(self) -> float:
        """Seconds the next request waits: the latency and its scripted delay, if any."""
        with self._mutex:
            return self._latency + (self._delay.take() or 0.0)

    def take_drop(self) -> bool:
        with self._mutex:
            if self._drop:
                self._drop -= 1
                return True
            return False

    def take_throttle(self) -> int | None:
        """The ``Retry-After`` seconds of a scripted 429, or None."""
        with self._mutex:
            return self._throttle.take()

    def take_answer_drop(self) -> bool:
        with self._mutex:
            if self._drop_answer:
                self._drop_answer -= 1
                return True
            return False

    def take_token_failure(self) -> int | None:
        with self._mutex:
            return self._token.take()

    def take_subrequest_failure(self) -> tuple[int, str | None] | None:
        with self._mutex:
            return self._subrequests.take()

    def check_create_lock(self, sobject: str) -> None:
        """``UNABLE_TO_LOCK_ROW`` if a create of ``sobject`` is scripted to fail."""
        with self._mutex:
            key = next(
                (k for k in self._create_locks if k is not None and k.lower() == sobject.lower()),
                None,
            )
            if key is None and None not in self._create_locks:
                return
            remaining = self._create_locks[key] - 1
            if remaining:
                self._create_locks[key] = remaining
            else:
                del self._create_locks[key]
        raise ApiError(400, "UNABLE_TO_LOCK_ROW", _MESSAGES["UNABLE_TO_LOCK_ROW"], [])

    def check_lock(self, record_id: str) -> None:
        with self._mutex:
            remaining = self._locks.get(record_id, 0)
            if not remaining:
                return
            if remaining == 1:
                del self._locks[record_id]
            else:
                self._locks[record_id] = remaining - 1
        raise ApiError(
            400,
            "UNABLE_TO_LOCK_ROW",
            f"unable to obtain exclusive access to this record or 1 records: {record_id}",
            [],
        )

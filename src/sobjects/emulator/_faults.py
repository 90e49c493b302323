"""Scripted faults and latency, for tests and benchmarks.

Set them from Python (``org.faults.fail_next(2)``) or over HTTP (``POST /__emulator__/faults``,
see ``_admin``). Every argument is checked (types and ranges), from Python and HTTP alike: a
fault that would hang the org for ever or fill its memory is refused with a ``ValueError``.
The server answers on its own thread, so every read and change of the state holds one mutex.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any, Generic, TypeVar

from sobjects._ids import is_salesforce_id, to_18
from sobjects.emulator._errors import ApiError

__all__ = ["MAX_COUNT", "MAX_LATENCY", "Faults", "check_count", "check_seconds", "check_status"]

MAX_COUNT = 10_000  # requests a single call may script
MAX_LATENCY = 60.0  # seconds: longer would only look like a hang

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

    - ``latency``: seconds (0..60) added to every request;
    - ``fail_next(n, status=503)``: the next ``n`` requests answer ``status`` without effect,
      with the error Salesforce gives for it (401 ``INVALID_SESSION_ID``, 403
      ``REQUEST_LIMIT_EXCEEDED``, 404 ``NOT_FOUND``, 503 ``SERVER_UNAVAILABLE``, otherwise
      ``UNKNOWN_EXCEPTION`` with an ErrorId); calls queue up in order;
    - ``drop_next(n)``: the next ``n`` requests get their connection dropped, unanswered;
    - ``lock_record(id, times=1)``: the next ``times`` writes to that record answer
      ``UNABLE_TO_LOCK_ROW``.

    Counts are 0..10,000 per call. None of them applies to ``/__emulator__/*`` (the controls)
    or the token endpoint.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._latency = 0.0
        self._fail: _Runs[int] = _Runs()
        self._drop = 0
        self._locks: dict[str, int] = {}

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

    def clear(self) -> None:
        """No more faults, and no latency."""
        with self._mutex:
            self._latency = 0.0
            self._fail.clear()
            self._drop = 0
            self._locks.clear()

    def pending(self) -> dict[str, Any]:
        """What is still scripted (runs are ``[value, remaining]`` pairs, in order)."""
        with self._mutex:
            return {
                "latency": self._latency,
                "fail_next": self._fail.snapshot(),
                "drop_next": self._drop,
                "lock_record": dict(self._locks),
            }

    # -- used by the org --

    def take_failure(self) -> int | None:
        with self._mutex:
            return self._fail.take()

    def take_drop(self) -> bool:
        with self._mutex:
            if self._drop:
                self._drop -= 1
                return True
            return False

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

"""Scripted faults and latency, for tests and benchmarks.

Set them from Python (``org.faults.fail_next(2)``) or over HTTP (``POST /__emulator__/faults``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sobjects.emulator._errors import ApiError

__all__ = ["Faults"]


@dataclass
class Faults:
    """What the org does wrong on purpose.

    - ``latency``: seconds added to every request;
    - ``fail_next(n, status=503)``: the next ``n`` requests answer ``status`` without effect,
      with the error Salesforce gives for it (401 ``INVALID_SESSION_ID``, 403
      ``REQUEST_LIMIT_EXCEEDED``, 404 ``NOT_FOUND``, 503 ``SERVER_UNAVAILABLE``, otherwise
      ``UNKNOWN_EXCEPTION`` with an ErrorId);
    - ``drop_next(n)``: the next ``n`` requests get their connection dropped, unanswered;

    None of them applies to ``/__emulator__/*`` (the controls) or the token endpoint.
    - ``lock_record(id, times=1)``: the next ``times`` writes to that record answer
      ``UNABLE_TO_LOCK_ROW``.
    """

    latency: float = 0.0
    _fail: list[int] = field(default_factory=list)
    _drop: int = 0
    _locks: dict[str, int] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        if count < 0 or not 400 <= status <= 599:
            raise ValueError("fail_next takes a count >= 0 and an HTTP error status")
        with self._mutex:
            self._fail.extend([status] * count)

    def drop_next(self, count: int = 1) -> None:
        if count < 0:
            raise ValueError("drop_next takes a count >= 0")
        with self._mutex:
            self._drop += count

    def lock_record(self, record_id: str, *, times: int = 1) -> None:
        if times < 0:
            raise ValueError("lock_record takes times >= 0")
        from sobjects._ids import to_18

        with self._mutex:
            self._locks[to_18(record_id)] = times

    def clear(self) -> None:
        with self._mutex:
            self._fail.clear()
            self._drop = 0
            self._locks.clear()
            self.latency = 0.0

    # -- used by the org --

    def take_failure(self) -> int | None:
        with self._mutex:
            return self._fail.pop(0) if self._fail else None

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
            self._locks[record_id] = remaining - 1
        raise ApiError(
            400,
            "UNABLE_TO_LOCK_ROW",
            f"unable to obtain exclusive access to this record or 1 records: {record_id}",
            [],
        )

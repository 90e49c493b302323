"""Retry rules: which failures are retried, how long to wait, and when to give up.

Rules are declarative (``RetryRule``) and checked in order; the first that matches decides.
Waits use full-jitter exponential backoff, a server's ``Retry-After`` wins when it is longer,
and the whole sequence of attempts is bounded by a total deadline.

A request that is not idempotent (POST create, composite) is only retried by rules marked
``non_idempotent=True``: failures after which Salesforce cannot have applied it (the
connection was never made, 429, 503).
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from sobjects.errors import ConfigurationError

__all__ = ["DEFAULT_RETRY", "NO_RETRY", "RetryPolicy", "RetryRule", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class RetryRule:
    """One kind of failure worth retrying.

    A rule matches a transport exception of one of ``exceptions``, a response whose status is
    in ``status_codes``, or a response whose first Salesforce ``errorCode`` is in
    ``error_codes``. ``non_idempotent`` lets it retry POSTs too: only set it for failures after
    which the server cannot have applied the request.

    >>> RetryRule(status_codes={503}, non_idempotent=True).matches_status(503, None)
    True
    """

    status_codes: Collection[int] = ()
    error_codes: Collection[str] = ()
    exceptions: tuple[type[BaseException], ...] = ()
    non_idempotent: bool = False

    def matches_exception(self, exc: BaseException) -> bool:
        return bool(self.exceptions) and isinstance(exc, self.exceptions)

    def matches_status(self, status_code: int, error_code: str | None) -> bool:
        if status_code in self.status_codes:
            return True
        return error_code is not None and error_code in self.error_codes


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the client retries.

    ``max_attempts`` counts the first try; ``deadline`` (seconds) bounds all attempts and waits
    together; waits are ``uniform(0, min(backoff_max, backoff_base * 2**n))``.

    >>> policy = RetryPolicy(max_attempts=5, deadline=30.0)
    >>> RetryPolicy(rules=())  # never retry
    RetryPolicy(rules=(), max_attempts=4, backoff_base=0.5, backoff_max=20.0, deadline=60.0)
    """

    rules: tuple[RetryRule, ...] = field(
        default_factory=lambda: (
            # The connection was never established: nothing can have been applied.
            RetryRule(
                exceptions=(httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout),
                non_idempotent=True,
            ),
            # Throttled or unavailable: the request was refused before being processed.
            RetryRule(status_codes={429, 503}, non_idempotent=True),
            # Server and gateway errors, broken connections, read timeouts: the request may
            # have been applied, so only idempotent requests are repeated.
            RetryRule(
                status_codes={500, 502, 504},
                exceptions=(
                    httpx.ReadError,
                    httpx.ReadTimeout,
                    httpx.RemoteProtocolError,
                    httpx.WriteError,
                ),
            ),
            RetryRule(error_codes={"UNABLE_TO_LOCK_ROW"}),
        )
    )
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    deadline: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.deadline <= 0:
            raise ConfigurationError("backoff_base/backoff_max must be >= 0 and deadline > 0")

    def rule_for_exception(self, exc: BaseException, *, idempotent: bool) -> RetryRule | None:
        for rule in self.rules:
            if rule.matches_exception(exc) and (idempotent or rule.non_idempotent):
                return rule
        return None

    def rule_for_response(
        self, status_code: int, error_code: str | None, *, idempotent: bool
    ) -> RetryRule | None:
        for rule in self.rules:
            if rule.matches_status(status_code, error_code) and (idempotent or rule.non_idempotent):
                return rule
        return None

    def backoff(self, attempt: int) -> float:
        """Full-jitter wait before attempt ``attempt + 1`` (``attempt`` starts at 1)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(0.0, ceiling)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(rules=(), max_attempts=1)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())

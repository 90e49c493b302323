"""The HTTP layer: everything that speaks to Salesforce's REST API."""

from sobjects.client._client import DEFAULT_API_VERSION, DEFAULT_TIMEOUT, Salesforce
from sobjects.client._events import (
    ApiUsage,
    ApiUsageEvent,
    EventHooks,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
)
from sobjects.client._retry import RetryPolicy, RetryRule

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_TIMEOUT",
    "ApiUsage",
    "ApiUsageEvent",
    "EventHooks",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "RetryRule",
    "Salesforce",
]

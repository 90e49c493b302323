"""sobjects: an async, typed unit-of-work ORM for Salesforce.

>>> from sobjects import Salesforce
>>> from sobjects.auth import StaticToken
>>> Salesforce("https://acme.my.salesforce.com", auth=StaticToken("00D!x")).data_path
'/services/data/v62.0'
"""

from sobjects import errors
from sobjects.client import (
    ApiUsage,
    ApiUsageEvent,
    EventHooks,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    RetryPolicy,
    RetryRule,
    Salesforce,
)

__all__ = [
    "ApiUsage",
    "ApiUsageEvent",
    "EventHooks",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "RetryRule",
    "Salesforce",
    "errors",
]

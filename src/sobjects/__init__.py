"""sobjects: an async, typed unit-of-work ORM for Salesforce.

The client layer is ready; the ORM (models, sessions, typed queries) builds on it.

>>> from sobjects import Salesforce
>>> from sobjects.auth import StaticToken
>>> Salesforce("https://acme.my.salesforce.com", auth=StaticToken("00D!x")).data_path
'/services/data/v62.0'
"""

from sobjects import auth, errors
from sobjects.client import (
    ApiUsage,
    ApiUsageEvent,
    CollectionResult,
    EventHooks,
    QueryResult,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    RetryPolicy,
    RetryRule,
    Salesforce,
    UpsertResult,
    format_soql,
)

__all__ = [
    "ApiUsage",
    "ApiUsageEvent",
    "CollectionResult",
    "EventHooks",
    "QueryResult",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "RetryRule",
    "Salesforce",
    "UpsertResult",
    "auth",
    "errors",
    "format_soql",
]

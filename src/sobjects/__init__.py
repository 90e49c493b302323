"""sobjects: an async, typed unit-of-work ORM for Salesforce.

>>> from sobjects import Salesforce
>>> from sobjects.auth import StaticToken
>>> Salesforce("https://acme.my.salesforce.com", auth=StaticToken("00D!x")).data_path
'/services/data/v62.0'
"""

from sobjects import auth, errors, fields
from sobjects.client import (
    ApiUsage,
    ApiUsageEvent,
    CollectionResult,
    EventHooks,
    FlushProgressEvent,
    QueryResult,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    RetryPolicy,
    RetryRule,
    Salesforce,
    SearchObject,
    UpsertResult,
    escape_sosl,
    format_soql,
)
from sobjects.orm import (
    FlushError,
    FlushErrorGroup,
    MultipleResultsError,
    NoResultError,
    NoSessionError,
    RelationshipNotLoadedError,
    Session,
    SessionClosedError,
    SObject,
    UnsavedChangesWarning,
    inspect,
    select,
)

__all__ = [
    "ApiUsage",
    "ApiUsageEvent",
    "CollectionResult",
    "EventHooks",
    "FlushError",
    "FlushErrorGroup",
    "FlushProgressEvent",
    "MultipleResultsError",
    "NoResultError",
    "NoSessionError",
    "QueryResult",
    "RelationshipNotLoadedError",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "RetryRule",
    "SObject",
    "Salesforce",
    "SearchObject",
    "Session",
    "SessionClosedError",
    "UnsavedChangesWarning",
    "UpsertResult",
    "auth",
    "errors",
    "escape_sosl",
    "fields",
    "format_soql",
    "inspect",
    "select",
]

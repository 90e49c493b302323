"""The HTTP layer: everything that speaks to Salesforce's REST API."""

from sobjects.client._budget import ApiBursts, ApiCallMeter, ApiUsage, AppApiUsage, api_cost
from sobjects.client._bulk import (
    BulkAPI,
    BulkIngestResult,
    BulkJob,
    BulkJobEvent,
    BulkQuery,
    BulkRecordResult,
    BulkResults,
)
from sobjects.client._client import DEFAULT_API_VERSION, DEFAULT_TIMEOUT, Salesforce
from sobjects.client._collections import CollectionResult, CollectionsAPI
from sobjects.client._composite import (
    CollectionSubrequest,
    Composite,
    CompositeAPI,
    CompositeBatch,
    CreateSubrequest,
    DeleteSubrequest,
    GetSubrequest,
    QuerySubrequest,
    Reference,
    Subrequest,
    UpdateSubrequest,
    UpsertSubrequest,
)
from sobjects.client._events import (
    ApiUsageEvent,
    EventHooks,
    FlushProgressEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
)
from sobjects.client._graph import CompositeGraph, Graph
from sobjects.client._param_search import SearchIn, SearchObject
from sobjects.client._query import DecodedPage, QueryResult
from sobjects.client._retry import RetryPolicy, RetryRule
from sobjects.client._sobject import SObjectAPI, UpsertResult
from sobjects.client._soql import format_soql, quote_soql_like, quote_soql_string, soql_literal
from sobjects.client._sosl import escape_sosl

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_TIMEOUT",
    "ApiBursts",
    "ApiCallMeter",
    "ApiUsage",
    "ApiUsageEvent",
    "AppApiUsage",
    "BulkAPI",
    "BulkIngestResult",
    "BulkJob",
    "BulkJobEvent",
    "BulkQuery",
    "BulkRecordResult",
    "BulkResults",
    "CollectionResult",
    "CollectionSubrequest",
    "CollectionsAPI",
    "Composite",
    "CompositeAPI",
    "CompositeBatch",
    "CompositeGraph",
    "CreateSubrequest",
    "DecodedPage",
    "DeleteSubrequest",
    "EventHooks",
    "FlushProgressEvent",
    "GetSubrequest",
    "Graph",
    "QueryResult",
    "QuerySubrequest",
    "Reference",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "RetryRule",
    "SObjectAPI",
    "Salesforce",
    "SearchIn",
    "SearchObject",
    "Subrequest",
    "UpdateSubrequest",
    "UpsertResult",
    "UpsertSubrequest",
    "api_cost",
    "escape_sosl",
    "format_soql",
    "quote_soql_like",
    "quote_soql_string",
    "soql_literal",
]

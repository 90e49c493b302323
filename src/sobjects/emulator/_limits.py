"""The org's limits: ``GET limits`` and ``GET limits/recordCount`` (salesforce-rest.md §8.3).

The keys are those the REST API guide's "Limits" resource lists for an org (each
``{"Max": n, "Remaining": n}``); the maxima are a Developer Edition org's. Only the daily API
requests and the data storage are actually consumed here: the rest stay at their maximum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["limits", "maximum", "record_count"]

# Salesforce counts most records as 2 KB of data storage.
RECORD_KB = 2

_MAXIMA: dict[str, int] = {
    "ActiveScratchOrgs": 3,
    "AnalyticsExternalDataSizeMB": 40960,
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentEinsteinDataInsightsStoryCreation": 5,
    "ConcurrentEinsteinDiscoveryStoryCreation": 2,
    "ConcurrentSyncReportRuns": 20,
    "DailyAnalyticsDataflowJobExecutions": 60,
    "DailyAnalyticsUploadedFilesSizeMB": 51200,
    "DailyApiRequests": 15000,
    "DailyAsyncApexExecutions": 250000,
    "DailyAsyncApexTests": 500,
    "DailyBulkApiBatches": 15000,
    "DailyBulkV2QueryFileStorageMB": 976562,
    "DailyBulkV2QueryJobs": 10000,
    "DailyDeliveredPlatformEvents": 10000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000,
    "DailyGenericStreamingApiEvents": 10000,
    "DailyScratchOrgs": 6,
    "DailyStandardVolumePlatformEvents": 10000,
    "DailyStreamingApiEvents": 10000,
    "DailyWorkflowEmails": 1000,
    "DataStorageMB": 5,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 20,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999999999,
    "HourlyLongTermIdMapping": 100000,
    "HourlyManagedContentPublicRequests": 50000,
    "HourlyODataCallout": 20000,
    "HourlyPublishedPlatformEvents": 50000,
    "HourlyPublishedStandardVolumePlatformEvents": 100000,
    "HourlyShortTermIdMapping": 100000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 50,
    "MassEmail": 10,
    "PermissionSets": 1500,
    "SingleEmail": 15,
    "StreamingApiConcurrentClients": 20,
}


def maximum(name: str) -> int:
    """A limit's maximum (``DailyBulkV2QueryJobs``...)."""
    return _MAXIMA[name]


def limits(
    store: Any,
    *,
    daily_api_limit: int,
    api_usage: int,
    used: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The limits body; ``used`` counts what was spent of other limits (Bulk API jobs)."""
    body = {name: {"Max": top, "Remaining": top} for name, top in _MAXIMA.items()}
    for name, spent in (used or {}).items():
        body[name]["Remaining"] = max(0, body[name]["Max"] - spent)
    body["DailyApiRequests"] = {
        "Max": daily_api_limit,
        "Remaining": max(0, daily_api_limit - api_usage),
    }
    records = sum(store.count(s.name) for s in store.schema)
    used_mb = math.ceil(records * RECORD_KB / 1024)
    storage = body["DataStorageMB"]
    storage["Remaining"] = storage["Max"] - used_mb  # negative when over, as in Salesforce
    return body


def record_count(store: Any, query: Mapping[str, str]) -> dict[str, Any]:
    """``{"sObjects": [{"count": n, "name": "Account"}, ...]}``: every sObject, or those of
    ``sObjects=A,B`` (unknown names are left out, as Salesforce does)."""
    wanted = [n.strip() for n in (query.get("sObjects") or "").split(",") if n.strip()]
    chosen = [store.schema.get(n) for n in wanted] if wanted else list(store.schema)
    return {
        "sObjects": [
            {"count": store.count(s.name), "name": s.name} for s in chosen if s is not None
        ]
    }

"""Blocking sobjects: the same models, queries, sessions and client, without ``await``.

For synchronous code (Django or Flask views, scripts, notebooks, Airflow tasks)::

    from sobjects.sync import Salesforce, Session, select

    with Salesforce(base_url, auth=auth) as sf:
        with Session(sf) as session:
            Contact(last_name="Doe").save()
        with Session(sf) as session:
            contacts = session.all(select(Contact))  # list[Contact]

One core: each client runs the async implementation on an event loop of its own, on a
daemon thread, and every blocking call waits for it there (docs/decisions.md, 35). Models,
queries, errors and the rest are the async API's own objects.
"""

from sobjects.orm import inspect, select
from sobjects.orm._model import SObject
from sobjects.sync._bulk import BulkAPI, BulkQuery
from sobjects.sync._client import CollectionsAPI, QueryResult, Salesforce, SObjectAPI
from sobjects.sync._composite import Composite, CompositeAPI, CompositeBatch, CompositeGraph
from sobjects.sync._session import Session

__all__ = [
    "BulkAPI",
    "BulkQuery",
    "CollectionsAPI",
    "Composite",
    "CompositeAPI",
    "CompositeBatch",
    "CompositeGraph",
    "QueryResult",
    "SObject",
    "SObjectAPI",
    "Salesforce",
    "Session",
    "inspect",
    "select",
]

"""The ORM: sObject models, the unit-of-work session and typed queries."""

from sobjects.orm._expr import Condition, FieldExpr, OrderBy, RelationExpr, and_, not_, or_
from sobjects.orm._inspect import InstanceState, inspect
from sobjects.orm._model import RelationshipNotLoadedError, SObject
from sobjects.orm._plan import FlushPlan, FlushReport
from sobjects.orm._query import CountSelect, Select, select
from sobjects.orm._session import (
    FlushError,
    FlushErrorGroup,
    MultipleResultsError,
    NoResultError,
    NoSessionError,
    Operation,
    QueryHandle,
    SearchResult,
    Session,
    SessionClosedError,
    UnsavedChangesWarning,
    WriteStream,
    current_session,
)

__all__ = [
    "Condition",
    "CountSelect",
    "FieldExpr",
    "FlushError",
    "FlushErrorGroup",
    "FlushPlan",
    "FlushReport",
    "InstanceState",
    "MultipleResultsError",
    "NoResultError",
    "NoSessionError",
    "Operation",
    "OrderBy",
    "QueryHandle",
    "RelationExpr",
    "RelationshipNotLoadedError",
    "SObject",
    "SearchResult",
    "Select",
    "Session",
    "SessionClosedError",
    "UnsavedChangesWarning",
    "WriteStream",
    "and_",
    "current_session",
    "inspect",
    "not_",
    "or_",
    "select",
]

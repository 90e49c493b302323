"""The local org's SOQL engine: parse a statement, evaluate it over the org's records.

``run_query(soql, source, api_version=...)`` returns every matching row, shaped like the
REST query response's ``records`` (``attributes`` first, canonical names, nested parents,
child subqueries, ``AggregateResult`` rows); paging is the caller's job. ``source`` is any
:class:`RecordSource`. ``parse(soql)`` only checks the syntax (cached by text). Problems are
raised as ``ApiError`` with Salesforce's codes: ``MALFORMED_QUERY``, ``INVALID_TYPE``,
``INVALID_FIELD``, ``INVALID_QUERY_FILTER_OPERATOR``, ``NUMBER_OUTSIDE_VALID_RANGE``.
"""

from __future__ import annotations

from sobjects.emulator.soql._engine import QueryOutput, RecordSource, run_query
from sobjects.emulator.soql._parser import parse

__all__ = ["QueryOutput", "RecordSource", "parse", "run_query"]

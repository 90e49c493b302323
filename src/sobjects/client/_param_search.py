"""Parameterized search (``POST .../parameterizedSearch``): search without writing SOSL.

The search string and its options travel as a JSON body, so a user's text needs no SOSL
escaping into ``FIND {...}`` and a WHERE clause no URL encoding. The options are Salesforce's
(``in``, ``fields``, ``sobjects`` with per-object ``fields``/``where``/``limit``,
``defaultLimit``, ``overallLimit``, ``offset``, ``spellCorrection``), named in Python style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from sobjects.errors import ConfigurationError

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce

__all__ = ["SearchIn", "SearchObject", "parameterized_search"]

SearchIn: TypeAlias = Literal["ALL", "NAME", "EMAIL", "PHONE", "SIDEBAR"]
MAX_SEARCH_RECORDS = 2000  # Salesforce's cap on the rows of one search, and on its offset


@dataclass(frozen=True, slots=True)
class SearchObject:
    """One sObject to search, and what to return for it (an item of ``sobjects``).

    ``fields`` defaults to the search's global ``fields`` (or just ``Id``); ``where`` is a SOQL
    condition on the matches; ``limit`` overrides the search's ``default_limit``.

    >>> SearchObject("Account", fields=["Id", "Name"], where="Industry = 'Energy'", limit=10)
    SearchObject(name='Account', fields=['Id', 'Name'], where="Industry = 'Energy'", limit=10)
    """

    name: str
    fields: Sequence[str] | None = None
    where: str | None = None
    limit: int | None = None


def _count(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_SEARCH_RECORDS:
        raise ConfigurationError(f"{name} must be from 0 to {MAX_SEARCH_RECORDS}, got {value}")
    return value


def _names(name: str, values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
        raise ConfigurationError(f"{name} must be a list of field names, got {values!r}")
    return list(values)


def build_body(
    q: str,
    *,
    sobjects: Sequence[str | SearchObject] = (),
    fields: Sequence[str] | None = None,
    in_: SearchIn | None = None,
    default_limit: int | None = None,
    overall_limit: int | None = None,
    offset: int | None = None,
    spell_correction: bool | None = None,
) -> dict[str, Any]:
    """The JSON body for ``POST parameterizedSearch``, checked before anything is sent."""
    if not isinstance(q, str) or not q.strip():
        raise ConfigurationError("a search string must be a non-empty str")
    body: dict[str, Any] = {"q": q}
    if in_ is not None:
        if not isinstance(in_, str) or in_.upper() not in SearchIn.__args__:  # type: ignore[attr-defined]
            raise ConfigurationError(f"in_ must be ALL, NAME, EMAIL, PHONE or SIDEBAR, not {in_!r}")
        body["in"] = in_.upper()
    if (global_fields := _names("fields", fields)) is not None:
        body["fields"] = global_fields
    items = []
    for item in [sobjects] if isinstance(sobjects, (str, SearchObject)) else sobjects:
        spec = SearchObject(item) if isinstance(item, str) else item
        if not isinstance(spec, SearchObject) or not spec.name:
            raise ConfigurationError(f"sobjects holds names or SearchObject, not {item!r}")
        entry: dict[str, Any] = {"name": spec.name}
        if (object_fields := _names(f"{spec.name} fields", spec.fields)) is not None:
            entry["fields"] = object_fields
        if spec.where is not None:
            entry["where"] = spec.where
        if (limit := _count(f"{spec.name} limit", spec.limit)) is not None:
            entry["limit"] = limit
        items.append(entry)
    if items:
        body["sobjects"] = items
    if (fields is not None or default_limit is not None) and not items:
        # Salesforce: the global fields and defaultLimit apply to the sobjects listed.
        raise ConfigurationError("fields and default_limit need sobjects to apply to")
    if offset is not None and len(items) != 1:
        raise ConfigurationError("offset needs exactly one sobject")
    for key, value in (
        ("defaultLimit", _count("default_limit", default_limit)),
        ("overallLimit", _count("overall_limit", overall_limit)),
        ("offset", _count("offset", offset)),
    ):
        if value is not None:
            body[key] = value
    if spell_correction is not None:
        body["spellCorrection"] = bool(spell_correction)
    return body


async def parameterized_search(client: Salesforce, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Send a built body; return the ``searchRecords`` (see ``Salesforce.parameterized_search``)."""
    # A POST that only reads: safe to send again after a dropped connection.
    answer = await client.request_json("POST", "parameterizedSearch", json=body, idempotent=True)
    records = answer.get("searchRecords", []) if isinstance(answer, dict) else answer
    return list(records or [])

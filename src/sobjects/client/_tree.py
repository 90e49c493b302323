"""sObject Tree: create records with their children in one all-or-nothing call.

``await sf.composite.tree("Account", records)`` posts to ``composite/tree/Account``. Each
record carries ``attributes`` with a ``referenceId`` (unique in the call, letters, digits and
underscores, starting with a letter or digit) and, except for a root whose type defaults to
the sObject named, a ``type``; children go under a child relationship name as
``{"records": [...]}`` and are linked to their parent by Salesforce. At most 200 records,
5 levels and 5 sObject types per call (checked before sending: ``CompositeLimitError``).

On success the result maps each referenceId to the new record's id. If a record cannot be
created nothing is (the call is one transaction) and the matching ``sobjects.errors``
exception is raised with every per-record error in ``exc.errors``, each naming its record in
``error.extra["referenceId"]``. The call is one API call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sobjects.client._sobject import check_sobject_name
from sobjects.errors import CompositeLimitError, ConfigurationError, ErrorDetail, ResponseError

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce

__all__ = ["TREE_MAX_DEPTH", "TREE_MAX_RECORDS", "TREE_MAX_TYPES", "create_tree", "tree_records"]

TREE_MAX_RECORDS: Final = 200
TREE_MAX_DEPTH: Final = 5
TREE_MAX_TYPES: Final = 5
_REFERENCE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")


async def create_tree(
    client: Salesforce, sobject: str, records: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """Create the record trees; ``{referenceId: id}`` in the order Salesforce created them."""
    body = tree_records(sobject, records)
    path = f"composite/tree/{sobject}"
    result = await client.request_json(
        "POST", path, json={"records": body}, timeout=client.long_timeout
    )
    items = result.get("results") if isinstance(result, dict) else None
    if (
        not isinstance(result, dict)
        or result.get("hasErrors") is not False
        or not isinstance(items, list)
        or not all(isinstance(i, dict) and i.get("referenceId") and i.get("id") for i in items)
    ):
        raise ResponseError(
            200,
            [ErrorDetail("UNEXPECTED_RESPONSE", f"unexpected tree result: {result!r:.300}")],
            method="POST",
            url=path,
        )
    return {str(item["referenceId"]): str(item["id"]) for item in items}


def tree_records(sobject: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A checked copy of the records of a tree call (root types filled in)."""
    check_sobject_name(sobject)
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Sequence):
        raise ConfigurationError("records must be a list of records")
    if not records:
        raise ConfigurationError("an sObject Tree call needs at least one record")
    walk = _Walk()
    out = walk.records(records, sobject, level=1)
    return out


class _Walk:
    """Checks the trees depth first, counting records, types and reference ids."""

    def __init__(self) -> None:
        self.count = 0
        self.types: set[str] = set()
        self.reference_ids: set[str] = set()

    def records(
        self, items: Sequence[Any], root_type: str | None, *, level: int
    ) -> list[dict[str, Any]]:
        if level > TREE_MAX_DEPTH:
            raise CompositeLimitError(f"an sObject Tree is at most {TREE_MAX_DEPTH} levels deep")
        return [self.record(item, root_type, level=level) for item in items]

    def record(self, item: Any, root_type: str | None, *, level: int) -> dict[str, Any]:
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"a tree record must be a mapping, got {item!r:.100}")
        self.count += 1
        if self.count > TREE_MAX_RECORDS:
            raise CompositeLimitError(
                f"an sObject Tree call creates at most {TREE_MAX_RECORDS} records"
            )
        attributes = dict(item.get("attributes") or {})
        declared = attributes.get("type")
        if root_type is not None:
            if declared is not None and str(declared).lower() != root_type.lower():
                raise ConfigurationError(
                    f"a root record of a {root_type} tree cannot be a {declared}"
                )
            attributes["type"] = declared or root_type
        elif not isinstance(declared, str) or not declared:
            raise ConfigurationError(
                f"a child tree record needs attributes.type (its sObject), got {dict(item)!r:.100}"
            )
        self.types.add(str(attributes["type"]).lower())
        if len(self.types) > TREE_MAX_TYPES:
            raise CompositeLimitError(
                f"an sObject Tree call creates records of at most {TREE_MAX_TYPES} types"
            )
        reference_id = attributes.get("referenceId")
        if not isinstance(reference_id, str) or not _REFERENCE_ID_RE.fullmatch(reference_id):
            raise ConfigurationError(
                f"attributes.referenceId {reference_id!r} must start with a letter or digit and "
                "hold only letters, digits and underscores"
            )
        if reference_id in self.reference_ids:
            raise ConfigurationError(f"referenceId {reference_id!r} is used twice")
        self.reference_ids.add(reference_id)
        out: dict[str, Any] = {"attributes": attributes}
        for key, value in item.items():
            if key == "attributes":
                continue
            children = value.get("records") if isinstance(value, Mapping) else None
            if isinstance(children, Sequence) and not isinstance(children, (str, bytes)):
                # A child relationship: {"records": [...]}.
                out[key] = {"records": self.records(children, None, level=level + 1)}
            else:
                out[key] = value
        return out

"""Recently viewed items (``GET recent?limit=n``, and an sObject's ``recentItems``).

The local org does not track views; it takes "recently viewed" to mean recently created or
modified (latest SystemModstamp first), which is what a test that just wrote records expects
to see. Each item is as the REST API guide's "Recently Viewed Items" shows it: attributes,
Id and, when the sObject has one, Name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import SObjectDef

__all__ = ["MAX_RECENT", "recent_items", "recent_limit"]

MAX_RECENT = 200


def recent_limit(query: Mapping[str, str]) -> int:
    text = query.get("limit")
    if text is None or text == "":
        return MAX_RECENT
    if not text.isdigit() or int(text) < 1:
        raise ApiError(
            400, "INVALID_PARAMETER_VALUE", f"limit must be a positive integer, not {text!r}"
        )
    return min(int(text), MAX_RECENT)


def recent_items(
    store: Any, schema: Any, version: str, limit: int, sobject: SObjectDef | None = None
) -> list[dict[str, Any]]:
    chosen = [sobject] if sobject is not None else list(schema)
    rows: list[tuple[SObjectDef, dict[str, Any]]] = []
    for sd in chosen:
        rows.extend((sd, r) for r in store.records(sd.name))
    # SystemModstamp has whole seconds: within one, the later created comes first.
    rows.sort(
        key=lambda row: (
            str(row[1].get("SystemModstamp") or ""),
            store.creation_order(row[1]["Id"]),
        ),
        reverse=True,
    )
    items: list[dict[str, Any]] = []
    for sd, record in rows[:limit]:
        item: dict[str, Any] = {
            "attributes": {
                "type": sd.name,
                "url": f"/services/data/v{version}/sobjects/{sd.name}/{record['Id']}",
            },
            "Id": record["Id"],
        }
        if sd.field("Name") is not None:
            item["Name"] = record.get("Name")
        items.append(item)
    return items

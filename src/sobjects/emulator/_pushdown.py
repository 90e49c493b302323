"""What the SOQL engine asks the store to narrow before it evaluates a query itself.

A ``Pushdown`` names only constraints whose SQL meaning is a provable superset of SOQL's (the
engine still evaluates the whole ``WHERE`` on every row it gets back), and an order the store
may honour exactly or not at all. The store answers with the rows in creation order unless it
says it honoured the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # For annotations only: the SOQL package imports this module, and importing it back
    # at run time makes a cycle whenever the store is imported first.
    from sobjects.emulator.soql._like import LikePattern

__all__ = ["Equal", "LikeFilter", "OrderBy", "Pushdown"]


@dataclass(frozen=True)
class Equal:
    """``field`` is one of ``values``: exact ids (``folded=False``), or text compared
    case-insensitively, the values already ``str.casefold()``-ed (``folded=True``)."""

    field: str
    folded: bool
    values: frozenset[str]


@dataclass(frozen=True)
class LikeFilter:
    """``field LIKE pattern``, SOQL's case-insensitive ``LIKE``."""

    field: str
    pattern: LikePattern


@dataclass(frozen=True)
class OrderBy:
    """One key of ``ORDER BY`` on a field of the queried object itself. ``kind`` is the
    engine's value kind (``text``: by ``casefold()``; ``id`` and ``number``: as they are);
    ``nulls_first`` is already resolved from the direction when the query left it out."""

    field: str
    kind: str
    descending: bool
    nulls_first: bool


@dataclass
class Pushdown:
    equal: list[Equal] = field(default_factory=list)
    like: list[LikeFilter] = field(default_factory=list)
    order: list[OrderBy] = field(default_factory=list)

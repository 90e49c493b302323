"""What the SOQL engine asks the store to narrow before it evaluates a query itself.

A ``Pushdown`` names only constraints whose SQL meaning is a provable superset of SOQL's (the
engine still evaluates the whole ``WHERE`` on every row it gets back), and an order the store
may honour exactly or not at all. The store answers with the rows in creation order unless it
says it honoured the order. ``exact`` says the constraints are the whole ``WHERE``, each with
SOQL's own meaning: a store that applies every one of them exactly may count the rows itself
(``COUNT()``) instead of handing them over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # For annotations only: the SOQL package imports this module, and importing it back
    # at run time makes a cycle whenever the store is imported first.
    from sobjects.emulator.soql._like import LikePattern

__all__ = ["Equal", "LikeFilter", "OrderBy", "ParentFilter", "Pushdown", "Range"]


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
class Range:
    """``low <(=) key(field) <(=) high`` (a bound left ``None`` is open-ended; ``*_strict``
    makes it ``<``), on the engine's comparison key of ``kind``: ``number`` (the number
    itself), ``date`` (``_dates.date_key``) or ``datetime`` (``_dates.datetime_key``).
    Nulls, and values with no key, never match: SOQL's ``<``, ``=``... on those kinds."""

    field: str
    kind: str
    low: int | float | str | None = None
    low_strict: bool = False
    high: int | float | str | None = None
    high_strict: bool = False


@dataclass(frozen=True)
class ParentFilter:
    """A condition through a lookup (``Account.Name = 'Acme'`` on Contact): ``field`` (the
    lookup, ``AccountId``) points at a record of ``parent`` that ``pushdown`` (on the parent's
    own fields) may keep. Deleted parents count: SOQL follows a lookup to one too."""

    field: str
    parent: str
    pushdown: Pushdown


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
    range: list[Range] = field(default_factory=list)
    parent: list[ParentFilter] = field(default_factory=list)
    order: list[OrderBy] = field(default_factory=list)
    exact: bool = False

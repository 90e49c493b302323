"""The parsed form of a SOQL statement: immutable, so one parse can be cached and shared.

Names are kept exactly as written (with their positions, for error carets); the engine
resolves them against the schema. Literal strings keep their raw escaped text because their
meaning depends on the operator (``\\%`` and ``\\_`` are only valid inside ``LIKE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

__all__ = [
    "And",
    "Compare",
    "Condition",
    "Expr",
    "FieldPath",
    "FuncCall",
    "InList",
    "InQuery",
    "Includes",
    "Like",
    "Literal",
    "Not",
    "Or",
    "OrderItem",
    "Pos",
    "Query",
    "SelectExpr",
    "SelectItem",
    "SelectSubquery",
    "SelectTypeof",
    "TypeofWhen",
]


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based position in the SOQL text."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class FieldPath:
    """``Name``, ``Account.Owner.Name`` or ``c.LastName`` as written."""

    names: tuple[str, ...]
    pos: Pos

    @property
    def text(self) -> str:
        return ".".join(self.names)


@dataclass(frozen=True, slots=True)
class FuncCall:
    """``COUNT()``, ``SUM(Amount)``, ``CALENDAR_YEAR(CreatedDate)``, ``FIELDS(ALL)``..."""

    name: str  # upper-cased
    arg: Expr | None
    pos: Pos


Expr = FieldPath | FuncCall

LiteralKind = TypingLiteral[
    "string", "number", "date", "datetime", "time", "null", "true", "false", "constant"
]


@dataclass(frozen=True, slots=True)
class Literal:
    """A value in a condition.

    ``raw`` is the token text (for strings: between the quotes, still escaped); ``number``
    holds the parsed number; ``n`` is the argument of ``LAST_N_DAYS:n``-style constants.
    """

    kind: LiteralKind
    raw: str
    pos: Pos
    number: int | float | None = None
    n: int | None = None


@dataclass(frozen=True, slots=True)
class Compare:
    lhs: Expr
    op: str  # = != < <= > >= (<> is normalised to !=)
    value: Literal
    pos: Pos


@dataclass(frozen=True, slots=True)
class Like:
    lhs: Expr
    value: Literal
    pos: Pos


@dataclass(frozen=True, slots=True)
class InList:
    lhs: Expr
    values: tuple[Literal, ...]
    negated: bool
    pos: Pos


@dataclass(frozen=True, slots=True)
class InQuery:
    """A semi-join (``IN (SELECT ...)``) or anti-join (``NOT IN (SELECT ...)``)."""

    lhs: Expr
    query: Query
    negated: bool
    pos: Pos


@dataclass(frozen=True, slots=True)
class Includes:
    lhs: Expr
    values: tuple[Literal, ...]
    excludes: bool
    pos: Pos


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition = Compare | Like | InList | InQuery | Includes | And | Or | Not


@dataclass(frozen=True, slots=True)
class SelectExpr:
    expr: Expr
    alias: str | None
    alias_pos: Pos | None


@dataclass(frozen=True, slots=True)
class SelectSubquery:
    query: Query


@dataclass(frozen=True, slots=True)
class TypeofWhen:
    sobject: str
    pos: Pos
    fields: tuple[FieldPath, ...]


@dataclass(frozen=True, slots=True)
class SelectTypeof:
    relationship: str
    pos: Pos
    whens: tuple[TypeofWhen, ...]
    else_fields: tuple[FieldPath, ...] | None


SelectItem = SelectExpr | SelectSubquery | SelectTypeof


@dataclass(frozen=True, slots=True)
class OrderItem:
    expr: Expr
    descending: bool
    nulls_first: bool | None  # None: the default for the direction


@dataclass(frozen=True, slots=True)
class Query:
    select: tuple[SelectItem, ...]
    sobject: str
    sobject_pos: Pos
    alias: str | None
    alias_pos: Pos | None
    where: Condition | None
    with_: str | None
    with_pos: Pos | None
    group_by: tuple[Expr, ...]
    having: Condition | None
    having_pos: Pos | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None
    offset_pos: Pos | None
    for_clause: str | None  # VIEW, REFERENCE or UPDATE
    for_pos: Pos | None
    pos: Pos
    # A child subquery may qualify its relationship by the parent: FROM Account.Contacts.
    qualifier: str | None = None
    qualifier_pos: Pos | None = None

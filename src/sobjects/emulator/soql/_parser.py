"""SOQL text -> :mod:`._ast` tree, with Salesforce-shaped ``MALFORMED_QUERY`` errors.

The grammar lives in ``grammar.lark`` next to this module (loaded with importlib.resources so
it ships in the wheel). Parsing uses lark's LALR parser with the transformer applied inline,
and parsed statements are cached by their text.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from sobjects.emulator._errors import ApiError
from sobjects.emulator.soql._ast import (
    And,
    Compare,
    Condition,
    Expr,
    FieldPath,
    FuncCall,
    Includes,
    InList,
    InQuery,
    Like,
    Literal,
    Not,
    Or,
    OrderItem,
    Pos,
    Query,
    SelectExpr,
    SelectItem,
    SelectSubquery,
    SelectTypeof,
    TypeofWhen,
)
from sobjects.emulator.soql._like import LikePattern

__all__ = ["decode_like", "decode_string", "parse", "query_error"]


def query_error(code: str, soql: str, pos: Pos, text: str, status: int = 400) -> ApiError:
    """An error whose message echoes the query line, a caret and ``ERROR at Row:r:Column:c``.

    >>> error = query_error("INVALID_FIELD", "SELECT Foo FROM Account", Pos(1, 8), "No such column")
    >>> print(error.errors[0]["message"])
    <BLANKLINE>
    SELECT Foo FROM Account
           ^
    ERROR at Row:1:Column:8
    No such column
    """
    lines = soql.split("\n")
    echoed = lines[pos.line - 1] if 0 < pos.line <= len(lines) else soql
    caret = " " * max(pos.column - 1, 0) + "^"
    message = f"\n{echoed}\n{caret}\nERROR at Row:{pos.line}:Column:{pos.column}\n{text}"
    return ApiError(status, code, message)


# --- string literals --------------------------------------------------------------------------

_ESCAPES = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")


class _BadEscape(ValueError):
    def __init__(self, sequence: str) -> None:
        super().__init__(sequence)
        self.sequence = sequence


def _decode(raw: str, like: bool) -> list[tuple[str, bool]]:
    """``raw`` (between the quotes) as (text, is_wildcard) pieces; raises ``_BadEscape``."""
    out: list[tuple[str, bool]] = []
    i = 0
    n = len(raw)
    while i < n:
        char = raw[i]
        if char != "\\":
            out.append((char, like and char in "%_"))
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < n else ""
        if nxt in _ESCAPES and nxt:
            out.append((_ESCAPES[nxt], False))
            i += 2
        elif nxt in ("u", "U") and _HEX4.fullmatch(raw, i + 2, i + 6):
            out.append((chr(int(raw[i + 2 : i + 6], 16)), False))
            i += 6
        elif like and nxt in ("%", "_"):
            out.append((nxt, False))
            i += 2
        else:
            raise _BadEscape("\\" + nxt)
    return out


def decode_string(raw: str) -> str:
    r"""The value of a string literal outside ``LIKE``.

    >>> decode_string(r"O\'Brien\n")
    "O'Brien\n"
    """
    return "".join(text for text, _ in _decode(raw, like=False))


def decode_like(raw: str) -> LikePattern:
    r"""A ``LIKE`` pattern (``%`` any run, ``_`` one character, ``\%`` / ``\_`` themselves),
    matched case-insensitively and without backtracking.

    >>> decode_like(r"50\%%").matches("50% off"), decode_like("a_c").matches("ABC")
    (True, True)
    """
    segments: list[list[str | None]] = [[]]
    for text, wildcard in _decode(raw, like=True):
        if not wildcard:
            segments[-1].extend(text)
        elif text == "%":
            segments.append([])
        else:
            segments[-1].append(None)
    return LikePattern(segments)


# --- tree building ----------------------------------------------------------------------------


class _LiteralError(Exception):
    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


def _pos(token: Token) -> Pos:
    return Pos(token.line or 1, token.column or 1)


def _check_string(literal: Literal, like: bool) -> None:
    if literal.kind != "string":
        return
    try:
        _decode(literal.raw, like)
    except _BadEscape as exc:
        raise _LiteralError(
            literal.pos,
            f"Invalid string literal '{literal.raw}'. Illegal character sequence "
            f"'{exc.sequence}' in string literal.",
        ) from None


def _expr_pos(expr: Expr) -> Pos:
    return expr.pos


_NUMBER_INT = re.compile(r"[+-]?\d+")


class _Builder(Transformer[Token, Any]):
    """Turns lark's parse tree into :mod:`._ast` nodes (applied inline by the LALR parser)."""

    def start(self, children: list[Any]) -> Query:
        return children[0]  # type: ignore[no-any-return]

    def query(self, c: list[Any]) -> Query:
        select, from_, _using, where, with_, group, having, order, limit, offset, for_, _upd = c
        sobject, alias, qualifier = from_
        return Query(
            qualifier=str(qualifier) if qualifier is not None else None,
            qualifier_pos=_pos(qualifier) if qualifier is not None else None,
            select=select[1],
            sobject=str(sobject),
            sobject_pos=_pos(sobject),
            alias=str(alias) if alias is not None else None,
            alias_pos=_pos(alias) if alias is not None else None,
            where=where,
            with_=str(with_).upper() if with_ is not None else None,
            with_pos=_pos(with_) if with_ is not None else None,
            group_by=group or (),
            having=having[1] if having else None,
            having_pos=having[0] if having else None,
            order_by=order or (),
            limit=limit,
            offset=offset[1] if offset else None,
            offset_pos=offset[0] if offset else None,
            for_clause=for_[1] if for_ else None,
            for_pos=for_[0] if for_ else None,
            pos=select[0],
        )

    def select_clause(self, c: list[Any]) -> tuple[Pos, tuple[SelectItem, ...]]:
        return _pos(c[0]), tuple(c[1:])

    def select_expr(self, c: list[Any]) -> SelectExpr:
        expr, alias = c
        if alias is None:
            return SelectExpr(expr, None, None)
        return SelectExpr(expr, str(alias), _pos(alias))

    def select_subquery(self, c: list[Any]) -> SelectSubquery:
        return SelectSubquery(c[0])

    def select_typeof(self, c: list[Any]) -> SelectTypeof:
        name = c[1]
        whens = tuple(x for x in c[2:] if isinstance(x, TypeofWhen))
        else_fields = c[-2]
        return SelectTypeof(str(name), _pos(name), whens, else_fields)

    def typeof_when(self, c: list[Any]) -> TypeofWhen:
        return TypeofWhen(str(c[1]), _pos(c[1]), c[3])

    def typeof_else(self, c: list[Any]) -> tuple[FieldPath, ...]:
        return c[1]  # type: ignore[no-any-return]

    def field_list(self, c: list[Any]) -> tuple[FieldPath, ...]:
        return tuple(c)

    def field_path(self, c: list[Token]) -> FieldPath:
        return FieldPath(tuple(str(t) for t in c), _pos(c[0]))

    def func_call(self, c: list[Any]) -> FuncCall:
        return FuncCall(str(c[0]).upper(), c[1], _pos(c[0]))

    def from_clause(self, c: list[Any]) -> tuple[Token, Token | None, Token | None]:
        """(object or relationship, alias, qualifier): ``FROM Account.Contacts`` names the
        relationship ``Contacts`` qualified by its parent ``Account``."""
        _, first, second, alias = c
        if second is not None:
            return second, alias, first
        return first, alias, None

    def with_clause(self, c: list[Any]) -> Token:
        return c[1]  # type: ignore[no-any-return]

    def where_clause(self, c: list[Any]) -> Condition:
        return c[1]  # type: ignore[no-any-return]

    def group_clause(self, c: list[Any]) -> tuple[Expr, ...]:
        return tuple(c[2:])

    def having_clause(self, c: list[Any]) -> tuple[Pos, Condition]:
        return _pos(c[0]), c[1]

    def order_clause(self, c: list[Any]) -> tuple[OrderItem, ...]:
        return tuple(c[2:])

    def order_item(self, c: list[Any]) -> OrderItem:
        expr, direction, nulls = c
        return OrderItem(expr, direction == "DESC", nulls)

    def direction(self, c: list[Token]) -> str:
        return c[0].type

    def nulls(self, c: list[Token]) -> bool:
        return c[1].type == "FIRST"

    def limit_clause(self, c: list[Token]) -> int:
        return int(c[1])

    def offset_clause(self, c: list[Token]) -> tuple[Pos, int]:
        return _pos(c[0]), int(c[1])

    def for_clause(self, c: list[Token]) -> tuple[Pos, str]:
        return _pos(c[0]), c[1].type

    def and_cond(self, c: list[Any]) -> And:
        return And(tuple(x for x in c if not isinstance(x, Token)))

    def or_cond(self, c: list[Any]) -> Or:
        return Or(tuple(x for x in c if not isinstance(x, Token)))

    def not_cond(self, c: list[Any]) -> Not:
        return Not(c[1])

    def compare(self, c: list[Any]) -> Compare:
        lhs, op, value = c
        _check_string(value, like=False)
        op = "!=" if op == "<>" else str(op)
        return Compare(lhs, op, value, _expr_pos(lhs))

    def like(self, c: list[Any]) -> Like:
        _check_string(c[2], like=True)
        return Like(c[0], c[2], _expr_pos(c[0]))

    def in_list(self, c: list[Any]) -> InList:
        for value in c[2]:
            _check_string(value, like=False)
        return InList(c[0], c[2], False, _expr_pos(c[0]))

    def not_in_list(self, c: list[Any]) -> InList:
        for value in c[3]:
            _check_string(value, like=False)
        return InList(c[0], c[3], True, _expr_pos(c[0]))

    def in_query(self, c: list[Any]) -> InQuery:
        return InQuery(c[0], c[2], False, _expr_pos(c[0]))

    def not_in_query(self, c: list[Any]) -> InQuery:
        return InQuery(c[0], c[3], True, _expr_pos(c[0]))

    def includes(self, c: list[Any]) -> Includes:
        for value in c[2]:
            _check_string(value, like=False)
        return Includes(c[0], c[2], False, _expr_pos(c[0]))

    def excludes(self, c: list[Any]) -> Includes:
        for value in c[2]:
            _check_string(value, like=False)
        return Includes(c[0], c[2], True, _expr_pos(c[0]))

    def value_list(self, c: list[Literal]) -> tuple[Literal, ...]:
        return tuple(c)

    def value(self, c: list[Token]) -> Literal:
        token = c[0]
        pos = _pos(token)
        kind = token.type
        text = str(token)
        if kind == "STRING":
            return Literal("string", text[1:-1], pos)
        if kind == "NUMBER":
            number: int | float = int(text) if _NUMBER_INT.fullmatch(text) else float(text)
            return Literal("number", text, pos, number=number)
        if kind == "DATETIME":
            return Literal("datetime", text, pos)
        if kind == "DATE":
            return Literal("date", text, pos)
        if kind == "TIME":
            return Literal("time", text, pos)
        if kind == "NULL":
            return Literal("null", text, pos)
        if kind == "TRUE":
            return Literal("true", text, pos)
        return Literal("false", text, pos)

    def constant(self, c: list[Token | None]) -> Literal:
        name, n = c
        assert name is not None
        count = None
        if n is not None:
            # Any n this long is out of range anyway (refused as such later on); int() of
            # thousands of digits would raise instead.
            count = int(n) if len(str(n)) <= 18 else 10**18
        return Literal("constant", str(name), _pos(name), n=count)


# Salesforce's reserved words: never identifiers, even where the grammar could not take the
# keyword (so `SELECT Id, FROM x` fails at FROM). GROUP is left out: `FROM Group` names an object.
RESERVED_WORDS = frozenset(
    [
        "AND",
        "ASC",
        "DESC",
        "EXCLUDES",
        "FIRST",
        "FROM",
        "HAVING",
        "IN",
        "INCLUDES",
        "LAST",
        "LIKE",
        "LIMIT",
        "NOT",
        "NULL",
        "NULLS",
        "OR",
        "SELECT",
        "USING",
        "WHERE",
        "WITH",
    ]
)


def _reserve(token: Token) -> Token:
    upper = token.upper()
    if upper in RESERVED_WORDS:
        return Token.new_borrow_pos(upper, str(token), token)
    return token


@functools.cache
def _parser() -> Lark:
    grammar = resources.files("sobjects.emulator.soql").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        transformer=_Builder(),
        maybe_placeholders=True,
        propagate_positions=False,
        lexer_callbacks={"NAME": _reserve},
        # The LALR tables take about a second to build; lark keeps them in a file in the
        # temp directory (keyed by grammar and options), so later processes start at once.
        cache=True,
    )


def _end_pos(soql: str) -> Pos:
    stripped = soql.rstrip()
    lines = stripped.split("\n")
    return Pos(len(lines), len(lines[-1]) + 1)


_CHUNK = re.compile(r"\"[^\"\n]*\"?|'[^'\n]*'?|\w+|\S")


def _syntax_error(soql: str, exc: UnexpectedInput) -> ApiError:
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        return query_error("MALFORMED_QUERY", soql, _end_pos(soql), "unexpected token: '<EOF>'")
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        return query_error("MALFORMED_QUERY", soql, _pos(token), f"unexpected token: '{token}'")
    if isinstance(exc, UnexpectedCharacters):
        start = exc.pos_in_stream or 0
        match = _CHUNK.match(soql, start)
        chunk = match.group() if match else soql[start : start + 1]
        return query_error(
            "MALFORMED_QUERY", soql, Pos(exc.line, exc.column), f"unexpected token: '{chunk}'"
        )
    line = getattr(exc, "line", None) or 1
    column = getattr(exc, "column", None) or 1
    return query_error("MALFORMED_QUERY", soql, Pos(line, column), "unexpected token")


@functools.lru_cache(maxsize=1024)
def _parse_cached(soql: str) -> Query | ApiError:
    try:
        result = _parser().parse(soql)
    except UnexpectedInput as exc:
        return _syntax_error(soql, exc)
    except _LiteralError as exc:
        return query_error("MALFORMED_QUERY", soql, exc.pos, exc.message)
    except VisitError as exc:  # pragma: no cover - lark wraps errors from some transformers
        orig = exc.orig_exc
        if isinstance(orig, _LiteralError):
            return query_error("MALFORMED_QUERY", soql, orig.pos, orig.message)
        raise
    assert isinstance(result, Query)
    return result


def parse(soql: str) -> Query:
    """Parse ``soql`` (cached by text); a syntax error raises ``ApiError`` 400
    ``MALFORMED_QUERY``.

    >>> parse("select Name from Account where Name like 'A%'").sobject
    'Account'
    """
    result = _parse_cached(soql)
    if isinstance(result, ApiError):
        # A fresh exception each time: raising the cached instance would chain tracebacks.
        raise ApiError(result.status, result.code, str(result.errors[0]["message"]))
    return result

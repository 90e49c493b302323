"""Typed query expressions: ``Contact.last_name == "Doe"`` builds a condition, not a bool.

A model field read on the *class* (``Contact.last_name``) is a :class:`FieldExpr`; its
operators build :class:`Condition` objects, which combine with ``&`` (AND), ``|`` (OR) and
``~`` (NOT) and render as SOQL. ``asc()`` / ``desc()`` build :class:`OrderBy` keys.

Every value is rendered by :func:`sobjects.client._soql.soql_literal` (or
:func:`~sobjects.client._soql.quote_soql_like` for the wildcard-escaping LIKE helpers) when the
condition is built, so a value with no SOQL spelling (a naive datetime, NaN, an empty IN list)
fails right there, and no value can change the structure of the statement.

Parent paths: a parent relationship (``Contact.account``) is a :class:`RelationExpr`, and
``Contact.account.name`` renders ``Account.Name``. Attribute access on it cannot be typed field
by field (Python has no mapped types), so it is typed ``RelationExpr[Any]``;
``Contact.account[Account.name]`` is the same path typed ``FieldExpr[str]``. Value fields have
no such attributes, so a typo like ``Contact.last_name.lenght`` is a type error.

>>> from sobjects.orm._fields import Field
>>> from sobjects.orm._model import SObject
>>> class Account(SObject):
...     name: Field[str]
>>> class Contact(SObject):
...     last_name: Field[str]
...     email: Field[str | None] = Field(None)
...     account: Field[Account | None] = Field(None)
>>> print((Contact.last_name == "O'Brien") & ~Contact.email.endswith("@acme.com"))
LastName = 'O\\'Brien' AND (NOT (Email LIKE '%@acme.com'))
>>> print(Contact.account.name.startswith("Acme") | (Contact.email == None))
Account.Name LIKE 'Acme%' OR Email = null
>>> print(Contact.account[Account.name].desc(nulls_last=True))
Account.Name DESC NULLS LAST
"""

import types
import typing
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, overload

from sobjects._ids import to_18
from sobjects.client._soql import quote_soql_like, quote_soql_string, soql_literal
from sobjects.errors import ConfigurationError
from sobjects.orm._fields import _check_id
from sobjects.orm._model import FieldMeta, SObject, sobject_meta

if TYPE_CHECKING:
    from sobjects.orm._query import Select

__all__ = ["Condition", "FieldExpr", "OrderBy", "RelationExpr", "and_", "not_", "or_"]

T = TypeVar("T")
U = TypeVar("U")

_COLLECTIONS: Final = (list, tuple, set, frozenset)


class FieldExpr(Generic[T]):
    """A field of a model, as used in queries: ``Contact.last_name``, ``Contact.account.name``.

    ``T`` is the field's Python type. Built by the ``Field`` descriptor when a field is read
    on the class; users never construct one directly.

    Its attributes are ``model``, ``metas``, ``meta``, ``api_name`` and ``soql_path``, plus
    the operator methods. A parent relationship is the subclass :class:`RelationExpr`.
    """

    __slots__ = ("_metas", "_model", "_names")

    def __init__(self, model: type[SObject], names: tuple[str, ...]) -> None:
        self._model = model
        self._names = names
        self._metas: tuple[FieldMeta, ...] | None = None

    @classmethod
    def for_field(cls, model: type[SObject], name: str) -> "FieldExpr[Any]":
        """The expression for ``model.<name>`` (what ``Model.field`` returns on the class):
        a :class:`RelationExpr` for a parent relationship, else a ``FieldExpr``.

        If the model's metadata cannot be worked out yet (a forward reference to a class not
        defined yet), a plain ``FieldExpr`` is returned; it resolves lazily when rendered.
        """
        try:
            return _expr_for(model, (name,))
        except ConfigurationError:
            return FieldExpr(model, (name,))

    # -- what the expression refers to ---------------------------------------------------------

    @property
    def model(self) -> type[SObject]:
        """The model the path starts from (``Contact`` for ``Contact.account.name``)."""
        return self._model

    @property
    def metas(self) -> tuple[FieldMeta, ...]:
        """The fields along the path, first to last (``(account, name)``)."""
        if self._metas is None:
            metas: list[FieldMeta] = []
            model: type[SObject] | None = self._model
            for i, name in enumerate(self._names):
                if model is None:  # pragma: no cover - __getattr__ only extends parent paths
                    raise ConfigurationError(f"{self._dotted(i - 1)} is not a relationship")
                metas.append(sobject_meta(model).field(name))
                model = metas[-1].target
            self._metas = tuple(metas)
        return self._metas

    @property
    def meta(self) -> FieldMeta:
        """The last field of the path (the one whose value is compared)."""
        return self.metas[-1]

    @property
    def api_name(self) -> str:
        """The API name of the last field (``Name`` for ``Contact.account.name``)."""
        return self.meta.api_name

    @property
    def soql_path(self) -> str:
        """The SOQL spelling: ``LastName``, ``Account.Name``, ``Account.Owner.Name``."""
        return ".".join(m.api_name for m in self.metas)

    def _dotted(self, upto: int | None = None) -> str:
        names = self._names if upto is None else self._names[: upto + 1]
        return ".".join((self._model.__name__, *names))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dotted()})"

    def __str__(self) -> str:
        return self.soql_path

    if not TYPE_CHECKING:  # at run time only: type checkers must keep flagging unknown names

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            raise AttributeError(
                f"{self._dotted()} is a query expression (a field read on the class), and "
                f"{self.meta.kind} fields have no attribute {name!r}: read values from an "
                "instance; only parent relationships lead on to fields (Contact.account.name)"
            )

    # -- comparisons -----------------------------------------------------------------------------

    def _value_meta(self, operator: str) -> FieldMeta:
        meta = self.meta
        if meta.kind != "value":
            hint = (
                f"compare its id field ({meta.lookup_api_name}) or one of its fields "
                f"({self._dotted()}.<field>)"
                if meta.kind == "parent"
                else "filter the child subquery instead (with_children)"
            )
            raise ConfigurationError(
                f"{self._dotted()} is a {meta.kind} relationship and cannot be used with "
                f"{operator}; {hint}"
            )
        return meta

    def _literal(self, value: object, operator: str) -> str:
        meta = self._value_meta(operator)
        kind = soql_kind(meta)
        if kind == "multipicklist" and operator not in ("=", "!="):
            raise ConfigurationError(
                f"{self._dotted()} is a multi-select picklist: compare it with =, !=, "
                "includes() or excludes(), not " + operator
            )
        if kind == "boolean" and operator not in ("=", "!="):
            raise ConfigurationError(f"{self._dotted()} is a boolean: {operator} has no meaning")
        if meta.multipicklist and isinstance(value, _COLLECTIONS):
            return _multipicklist_value(value, self)
        if isinstance(value, _COLLECTIONS):
            raise ConfigurationError(
                f"{self._dotted()} {operator} takes one value, got a {type(value).__name__}; "
                "use .in_(values) for a list"
            )
        return soql_literal(_checked_value(self, kind, value))

    def _compare(self, operator: str, value: object) -> "Condition":
        if value is None and operator not in ("=", "!="):
            raise ConfigurationError(
                f"{self._dotted()} {operator} None has no meaning in SOQL; only = and != "
                "compare with null"
            )
        if isinstance(value, datetime) and value.microsecond:
            # Salesforce keeps datetimes to the second: round the bound so that the filter
            # means what the fractional value means.
            rounded = _round_datetime(self, operator, value)
            if rounded is None:
                raise ConfigurationError(
                    f"{self._dotted()} {operator} {value.isoformat()}: Salesforce stores "
                    "datetimes to the second, so a value with a fraction of a second never "
                    "matches exactly; compare with a range or drop the microseconds"
                )
            operator, value = rounded
        return _Leaf(self, f"{self.soql_path} {operator} {self._literal(value, operator)}")

    # Returning Condition instead of bool is the point of the query builder; the override
    # of object.__eq__/__ne__ (object -> bool) is deliberate, hence the ignores.
    def __eq__(self, other: T | None) -> "Condition":  # type: ignore[override]
        return self._compare("=", other)

    def __ne__(self, other: T | None) -> "Condition":  # type: ignore[override]
        return self._compare("!=", other)

    # __eq__ without __hash__ makes instances unhashable, which is what we want: a set or
    # dict of expressions would compare keys with ==, which builds conditions.
    __hash__ = None  # type: ignore[assignment]  # object.__hash__ is a method, this is None

    def __lt__(self, other: T) -> "Condition":
        return self._compare("<", other)

    def __le__(self, other: T) -> "Condition":
        return self._compare("<=", other)

    def __gt__(self, other: T) -> "Condition":
        return self._compare(">", other)

    def __ge__(self, other: T) -> "Condition":
        return self._compare(">=", other)

    def is_(self, value: None) -> "Condition":
        """``field = null``; the same as ``field == None``."""
        if value is not None:
            raise ConfigurationError(f"{self._dotted()}.is_() only takes None; use == for values")
        return self._compare("=", None)

    def is_not(self, value: None) -> "Condition":
        """``field != null``; the same as ``field != None``."""
        if value is not None:
            raise ConfigurationError(
                f"{self._dotted()}.is_not() only takes None; use != for values"
            )
        return self._compare("!=", None)

    # -- LIKE ------------------------------------------------------------------------------------

    def _text_meta(self, method: str) -> None:
        meta = self._value_meta(method)
        if meta.multipicklist:
            raise ConfigurationError(
                f"{self._dotted()} is a multi-select picklist; use includes()/excludes()"
            )
        kind = soql_kind(meta)
        if kind not in ("text", "other"):
            raise ConfigurationError(
                f"{self._dotted()} is a {kind} field: Salesforce only allows LIKE on text fields"
            )

    def like(self, pattern: str) -> "Condition":
        """``field LIKE 'pattern'``: ``%`` and ``_`` in ``pattern`` are wildcards.

        The pattern is escaped as a string literal (quotes, backslashes, control characters),
        so it cannot break out of the literal. To match user input literally, use
        :meth:`startswith`, :meth:`endswith`, :meth:`contains` (or :meth:`equals_like`).
        """
        self._text_meta("LIKE")
        if not isinstance(pattern, str):
            raise ConfigurationError(
                f"{self._dotted()}.like() needs a str pattern, got {type(pattern).__name__}"
            )
        return _Leaf(self, f"{self.soql_path} LIKE {quote_soql_string(pattern)}")

    def _like_mode(self, value: str, mode: Any, method: str) -> "Condition":
        self._text_meta("LIKE")
        if not isinstance(value, str):
            raise ConfigurationError(
                f"{self._dotted()}.{method}() needs a str, got {type(value).__name__}"
            )
        return _Leaf(self, f"{self.soql_path} LIKE {quote_soql_like(value, mode)}")

    def startswith(self, prefix: str) -> "Condition":
        """``field LIKE 'prefix%'``; ``%`` and ``_`` in ``prefix`` match themselves."""
        return self._like_mode(prefix, "startswith", "startswith")

    def endswith(self, suffix: str) -> "Condition":
        """``field LIKE '%suffix'``; ``%`` and ``_`` in ``suffix`` match themselves."""
        return self._like_mode(suffix, "endswith", "endswith")

    def contains(self, text: str) -> "Condition":
        """``field LIKE '%text%'``; ``%`` and ``_`` in ``text`` match themselves."""
        return self._like_mode(text, "contains", "contains")

    def equals_like(self, text: str) -> "Condition":
        """``field LIKE 'text'`` with no wildcards: a case-insensitive equality for text."""
        return self._like_mode(text, "like", "equals_like")

    # -- IN --------------------------------------------------------------------------------------

    def _in(self, values: "Iterable[T] | Select[Any]", negated: bool) -> "Condition":
        from sobjects.orm._query import Select

        keyword = "NOT IN" if negated else "IN"
        meta = self._value_meta(keyword)
        kind = soql_kind(meta)
        if kind == "multipicklist":
            raise ConfigurationError(
                f"{self._dotted()} is a multi-select picklist: use includes()/excludes(), "
                f"not {keyword}"
            )
        if isinstance(values, Select):
            # Id fields, and lookups typed as plain str (the annotation cannot tell).
            if kind not in ("id", "text"):
                raise ConfigurationError(
                    f"a semi-join filters an Id or lookup field; {self._dotted()} is a {kind} field"
                )
            return _SemiJoin(self, keyword, values)
        if isinstance(values, str | bytes | bytearray | memoryview | Mapping) or not isinstance(
            values, Iterable
        ):
            raise ConfigurationError(
                f"{self._dotted()}.{'not_in' if negated else 'in_'}() takes a list of values "
                f"or a select(...) of one field, got {type(values).__name__}"
            )
        # sets stay sets: soql_literal sorts them, so the text does not depend on hash order
        checked = [None if v is None else _checked_value(self, kind, v) for v in values]
        items = set(checked) if isinstance(values, set | frozenset) else checked
        if not items:
            raise ConfigurationError(
                f"{self._dotted()} {keyword} () is not valid SOQL: the value list is empty; "
                "handle the no-values case before querying"
            )
        return _Leaf(self, f"{self.soql_path} {keyword} {soql_literal(items)}")

    def in_(self, values: "Iterable[T] | Select[Any]") -> "Condition":
        """``field IN ('a','b')``, or a semi-join: ``Account.id.in_(select(Contact.account_id))``.

        An empty list raises :class:`~sobjects.errors.ConfigurationError`.
        """
        return self._in(values, negated=False)

    def not_in(self, values: "Iterable[T] | Select[Any]") -> "Condition":
        """``field NOT IN (...)``: a list of values or an anti-join ``select(...)``."""
        return self._in(values, negated=True)

    # -- multi-select picklists --------------------------------------------------------------

    def _includes(self, keyword: str, values: tuple[str | Collection[str], ...]) -> "Condition":
        meta = self._value_meta(keyword)
        if not meta.multipicklist:
            raise ConfigurationError(
                f"{keyword} only applies to multi-select picklists; {self._dotted()} is not one"
            )
        if not values:
            raise ConfigurationError(f"{self._dotted()} {keyword} needs at least one value")
        rendered = ",".join(_multipicklist_value(v, self) for v in values)
        return _Leaf(self, f"{self.soql_path} {keyword} ({rendered})")

    def includes(self, *values: str | Collection[str]) -> "Condition":
        """``field INCLUDES (...)``: any of ``values`` is selected.

        Each value is one picklist value, or a set/tuple of values that must all be selected:
        ``includes("Music", {"Sports", "Travel"})`` is ``INCLUDES ('Music','Sports;Travel')``.
        """
        return self._includes("INCLUDES", values)

    def excludes(self, *values: str | Collection[str]) -> "Condition":
        """``field EXCLUDES (...)``: none of ``values`` (each a value or a set meaning all of
        them together) is selected."""
        return self._includes("EXCLUDES", values)

    # -- ORDER BY --------------------------------------------------------------------------------

    def asc(self, *, nulls_first: bool = False, nulls_last: bool = False) -> "OrderBy":
        """Ascending order key (Salesforce puts nulls first unless ``nulls_last=True``)."""
        return OrderBy(self, descending=False, nulls=_nulls(nulls_first, nulls_last))

    def desc(self, *, nulls_first: bool = False, nulls_last: bool = False) -> "OrderBy":
        """Descending order key (Salesforce puts nulls last unless ``nulls_first=True``)."""
        return OrderBy(self, descending=True, nulls=_nulls(nulls_first, nulls_last))


class RelationExpr(FieldExpr[T]):
    """A parent relationship used in queries: ``Contact.account``.

    Its attributes, other than those of :class:`FieldExpr`, are the parent model's fields:
    ``Contact.account.name`` is ``Account.Name`` (typed ``RelationExpr[Any]``, so that an
    untyped path can go on: ``Contact.account.owner.name``), and
    ``Contact.account[Account.name]`` is the same path typed ``FieldExpr[str]``. A parent
    field whose name collides with an attribute of ``FieldExpr`` (a field called ``like``,
    say) is only reachable with ``[...]``. Paths nest: ``Contact.account.owner.name``,
    ``Contact.account[Account.owner][User.name]``.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> "RelationExpr[Any]":
        # Only reached for names that are not attributes of FieldExpr. Dunder and private
        # names are never fields: answering them would confuse copy, pickle, inspect, ...
        if name.startswith("_"):
            raise AttributeError(name)
        target = self._target()
        if name not in target.__pydantic_fields__:
            raise AttributeError(
                f"{target.__name__} has no field {name!r} (in the path {self._dotted()}.{name})"
            )
        # Statically RelationExpr[Any], so that an untyped path can go on
        # (Contact.account.owner.name). At run time a value field is a plain FieldExpr: it
        # has every method of RelationExpr but the navigation it could not use anyway.
        return typing.cast("RelationExpr[Any]", _expr_for(self._model, (*self._names, name)))

    @overload
    def __getitem__(self, field: "RelationExpr[U]") -> "RelationExpr[U]": ...

    @overload
    def __getitem__(self, field: FieldExpr[U]) -> FieldExpr[U]: ...

    def __getitem__(self, field: FieldExpr[Any]) -> FieldExpr[Any]:
        """The typed parent path: ``Contact.account[Account.name]`` is ``FieldExpr[str]``."""
        if not isinstance(field, FieldExpr):
            raise ConfigurationError(
                f"{self._dotted()}[...] takes a field of the parent model, such as "
                f"Account.name; got {type(field).__name__}"
            )
        target = self._target()
        if not issubclass(target, field._model):
            raise ConfigurationError(
                f"{self._dotted()} leads to {target.__name__}, so {field!r} does not apply; "
                f"use a field of {target.__name__}"
            )
        return _expr_for(self._model, (*self._names, *field._names))

    def _target(self) -> type[SObject]:
        target = self.meta.target
        assert target is not None  # a RelationExpr is only made for parent fields
        return target


def _expr_for(model: type[SObject], names: tuple[str, ...]) -> FieldExpr[Any]:
    """The expression for a path, resolved now: a RelationExpr when it ends at a parent."""
    expr: FieldExpr[Any] = FieldExpr(model, names)
    if expr.meta.kind == "parent":
        relation: RelationExpr[Any] = RelationExpr(model, names)
        relation._metas = expr._metas
        return relation
    return expr


def _nulls(first: bool, last: bool) -> str | None:
    if first and last:
        raise ConfigurationError("give nulls_first=True or nulls_last=True, not both")
    return "FIRST" if first else "LAST" if last else None


def _multipicklist_value(value: object, field: FieldExpr[Any]) -> str:
    """One INCLUDES/EXCLUDES (or =) argument: a value, or a set of values meant together."""
    if isinstance(value, str):
        parts = [value]
    elif isinstance(value, _COLLECTIONS):
        parts = list(value)
        if not parts:
            raise ConfigurationError(f"{field!r}: an empty set of picklist values")
    else:
        raise ConfigurationError(
            f"{field!r}: picklist values are str (or a set of str), got {type(value).__name__}"
        )
    for part in parts:
        if not isinstance(part, str):
            raise ConfigurationError(
                f"{field!r}: picklist values are str, got {type(part).__name__}"
            )
        if ";" in part:
            raise ConfigurationError(
                f"{field!r}: {part!r} contains ';', which SOQL reads as 'and'; pass the values "
                f"as a set instead: {set(part.split(';'))!r}"
            )
    return quote_soql_string(";".join(sorted(parts) if not isinstance(value, str) else parts))


class OrderBy:
    """One ORDER BY key: ``Contact.created_date.desc(nulls_last=True)``."""

    __slots__ = ("_descending", "_field", "_nulls")

    def __init__(self, field: FieldExpr[Any], *, descending: bool, nulls: str | None) -> None:
        meta = field.meta
        if meta.kind != "value":
            raise ConfigurationError(f"cannot order by the relationship {field!r}")
        if meta.multipicklist:
            raise ConfigurationError(f"Salesforce cannot order by the multi-select {field!r}")
        if nulls not in (None, "FIRST", "LAST"):
            raise ConfigurationError(f"nulls must be FIRST or LAST, got {nulls!r}")
        self._field = field
        self._descending = descending
        self._nulls = nulls

    # Read-only: a key already used by a statement must not change under it.
    @property
    def field(self) -> FieldExpr[Any]:
        return self._field

    @property
    def descending(self) -> bool:
        return self._descending

    @property
    def nulls(self) -> str | None:
        return self._nulls

    def to_soql(self) -> str:
        text = self.field.soql_path + (" DESC" if self.descending else " ASC")
        return text + (f" NULLS {self.nulls}" if self.nulls else "")

    def __str__(self) -> str:
        return self.to_soql()

    def __repr__(self) -> str:
        return f"<OrderBy {self.to_soql()}>"


class Condition:
    """A WHERE condition. Combine with ``&`` (AND), ``|`` (OR) and ``~`` (NOT).

    Conditions are immutable and render with every parenthesis Salesforce needs: it rejects
    AND mixed with OR at one level and ``x AND NOT y``, so nested groups and NOT operands are
    always parenthesised. Using a condition as a bool (``and``, ``or``, ``not``, ``if``) is
    an error: Python would silently drop one side.
    """

    __slots__ = ()

    def to_soql(self) -> str:
        raise NotImplementedError

    def _operand(self) -> str:
        """The text as an operand of AND/OR/NOT."""
        return self.to_soql()

    def fields(self) -> Iterator[FieldExpr[Any]]:
        """The fields this condition filters on (not those inside a semi-join's query)."""
        raise NotImplementedError

    def __and__(self, other: "Condition") -> "Condition":
        return and_(self, other)

    def __or__(self, other: "Condition") -> "Condition":
        return or_(self, other)

    def __invert__(self) -> "Condition":
        return not_(self)

    def __bool__(self) -> bool:
        raise TypeError(
            "a query condition is not a bool: combine conditions with & (and), | (or) and "
            "~ (not), each side in parentheses, e.g. (A.x == 1) & (A.y == 2)"
        )

    def __str__(self) -> str:
        return self.to_soql()

    def __repr__(self) -> str:
        return f"<Condition {self.to_soql()}>"


class _Leaf(Condition):
    """One comparison, rendered when built (so bad values fail early)."""

    __slots__ = ("_field", "_text")

    def __init__(self, field: FieldExpr[Any], text: str) -> None:
        self._field = field
        self._text = text

    def to_soql(self) -> str:
        return self._text

    def fields(self) -> Iterator[FieldExpr[Any]]:
        yield self._field


class _SemiJoin(Condition):
    """``field IN (SELECT one_field FROM ...)`` (or ``NOT IN``)."""

    __slots__ = ("_field", "_inner", "_keyword", "_query")

    def __init__(self, field: FieldExpr[Any], keyword: str, query: "Select[Any]") -> None:
        self._field = field
        self._keyword = keyword
        self._query = query
        self._inner = query._semi_join_soql()  # validates the subquery now

    def to_soql(self) -> str:
        return f"{self._field.soql_path} {self._keyword} ({self._inner})"

    def fields(self) -> Iterator[FieldExpr[Any]]:
        yield self._field


class _Group(Condition):
    __slots__ = ("_items", "_keyword")

    def __init__(self, keyword: str, items: tuple[Condition, ...]) -> None:
        self._keyword = keyword
        self._items = items

    def to_soql(self) -> str:
        return f" {self._keyword} ".join(item._operand() for item in self._items)

    def _operand(self) -> str:
        return f"({self.to_soql()})"

    def fields(self) -> Iterator[FieldExpr[Any]]:
        for item in self._items:
            yield from item.fields()


class _Not(Condition):
    __slots__ = ("_item",)

    def __init__(self, item: Condition) -> None:
        self._item = item

    def to_soql(self) -> str:
        # NOT's operand is always parenthesised: "NOT (a AND b)", "NOT (LastName = 'x')".
        return f"NOT ({self._item.to_soql()})"

    def _operand(self) -> str:
        return f"({self.to_soql()})"

    def fields(self) -> Iterator[FieldExpr[Any]]:
        return self._item.fields()


def _check_conditions(where: str, items: tuple[object, ...]) -> tuple[Condition, ...]:
    for item in items:
        if not isinstance(item, Condition):
            hint = ""
            if isinstance(item, bool):
                hint = " (a comparison of plain values, or `and`/`or` instead of `&`/`|`?)"
            raise ConfigurationError(
                f"{where} takes conditions such as Contact.last_name == 'Doe', got "
                f"{type(item).__name__}{hint}"
            )
    return items  # type: ignore[return-value]  # every item was checked just above


def _combine(keyword: str, items: tuple[Condition, ...]) -> Condition:
    if not items:
        raise ConfigurationError(f"{keyword.lower()}_() needs at least one condition")
    flat: list[Condition] = []
    for item in _check_conditions(f"{keyword.lower()}_()", items):
        # (a AND b) AND c is a AND b AND c: flattening keeps the SOQL short and readable.
        if isinstance(item, _Group) and item._keyword == keyword:
            flat.extend(item._items)
        else:
            flat.append(item)
    return flat[0] if len(flat) == 1 else _Group(keyword, tuple(flat))


def and_(*conditions: Condition) -> Condition:
    """All of ``conditions`` (``a & b & c``); handy for a list built at run time."""
    return _combine("AND", conditions)


def or_(*conditions: Condition) -> Condition:
    """Any of ``conditions`` (``a | b | c``)."""
    return _combine("OR", conditions)


def not_(condition: Condition) -> Condition:
    """The negation of ``condition`` (``~condition``): ``NOT (...)``.

    A semi-join cannot stand under NOT in SOQL: ``~(x IN (SELECT ...))`` becomes
    ``x NOT IN (SELECT ...)``.
    """
    (checked,) = _check_conditions("not_()", (condition,))
    if isinstance(checked, _SemiJoin):
        keyword = "IN" if checked._keyword == "NOT IN" else "NOT IN"
        return _SemiJoin(checked._field, keyword, checked._query)
    return _Not(checked)


def check_semi_joins(condition: Condition) -> None:
    """Salesforce takes semi-joins only as top-level AND operands of WHERE, at most two."""
    top = (
        condition._items
        if isinstance(condition, _Group) and condition._keyword == "AND"
        else (condition,)
    )
    count = sum(1 for item in top if isinstance(item, _SemiJoin))
    nested = [
        item
        for item in top
        if not isinstance(item, _SemiJoin) and any(True for _ in _semi_joins_in(item))
    ]
    if nested:
        raise ConfigurationError(
            "a semi-join (IN/NOT IN a select) must be an operand of the top-level AND of "
            "WHERE, not inside OR or NOT"
        )
    if count > 2:
        raise ConfigurationError("Salesforce allows at most two semi-joins in one WHERE")


def _semi_joins_in(condition: Condition) -> Iterator[_SemiJoin]:
    if isinstance(condition, _SemiJoin):
        yield condition
    elif isinstance(condition, _Group):
        for item in condition._items:
            yield from _semi_joins_in(item)
    elif isinstance(condition, _Not):
        yield from _semi_joins_in(condition._item)


SoqlKind = str  # "text" | "number" | "boolean" | "date" | "datetime" | "time" | "id" | ...


def soql_kind(meta: FieldMeta) -> SoqlKind:
    """What SOQL sees a value field as, from its annotation."""
    if meta.multipicklist:
        return "multipicklist"
    annotation = meta.annotation
    is_id = meta.api_name == "Id"
    core = annotation
    for _ in range(5):  # unwrap Optional / Annotated layers
        origin = typing.get_origin(core)
        if origin is typing.Annotated:
            args = typing.get_args(core)
            if any(getattr(m, "func", None) is _check_id for m in args[1:]):
                is_id = True
            core = args[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(core) if a is not type(None)]
            if len(rest) != 1:
                break
            core = rest[0]
        else:
            break
    if is_id:
        return "id"
    if typing.get_origin(core) is typing.Literal:
        return "text"
    if not isinstance(core, type):
        return "other"
    if issubclass(core, bool):
        return "boolean"
    if issubclass(core, int | float | Decimal):
        return "number"
    if issubclass(core, datetime):
        return "datetime"
    if issubclass(core, date):
        return "date"
    if issubclass(core, time):
        return "time"
    if issubclass(core, str):
        return "text"
    return "other"


def _checked_value(field: FieldExpr[Any], kind: SoqlKind, value: object) -> object:
    """``value`` if SOQL can compare it with a ``kind`` field (ids normalised to 18 chars)."""
    if value is None:
        return value
    ok = {
        "text": isinstance(value, str),
        "number": isinstance(value, int | float | Decimal) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "date": isinstance(value, date) and not isinstance(value, datetime),
        "datetime": isinstance(value, datetime),
        "time": isinstance(value, time),
        "id": isinstance(value, str),
    }.get(kind, True)
    if not ok:
        raise ConfigurationError(
            f"{field._dotted()} is a {kind} field; {value!r} ({type(value).__name__}) cannot "
            "be compared with it"
        )
    if kind == "id":
        try:
            return to_18(str(value))
        except ValueError:
            raise ConfigurationError(
                f"{field._dotted()} takes Salesforce ids; {value!r} is not one"
            ) from None
    return value


def _round_datetime(
    field: FieldExpr[Any], operator: str, value: datetime
) -> tuple[str, datetime] | None:
    floor = value.replace(microsecond=0)
    ceiling = floor + timedelta(seconds=1)
    if operator == ">":
        return ">=", ceiling
    if operator == ">=":
        return ">=", ceiling
    if operator == "<":
        return "<", ceiling
    if operator == "<=":
        return "<=", floor
    return None

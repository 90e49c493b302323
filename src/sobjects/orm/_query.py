"""``select()``: typed SOQL statements built from model expressions.

``select(Contact)`` is a :class:`Select` ``[Contact]``: an immutable builder (every method
returns a new statement) that renders SOQL with :meth:`Select.to_soql` and turns the records
Salesforce returns into ``Contact`` objects with :meth:`Select.hydrate`.

What is selected:

- ``select(Contact)``: ``Id`` and every *value* field of the model, in declaration order.
  Parents and children are left out (no hidden joins); ask for them:
- ``.with_parent(Contact.account)``: also ``Account.Id`` and every value field of the parent;
  ``.with_parent(Contact.account.name)`` adds just that path (and ``Account.Id``).
- ``.with_children(Account.contacts, select(Contact).where(...))``: a child subquery
  ``(SELECT ... FROM Contacts WHERE ...)``, hydrated into ``account.contacts``.
- ``.only(Contact.last_name, Contact.account.name)``: a projection, exactly these fields plus
  ``Id`` (of the record and of every parent on a path), so that the objects it yields can be
  told apart, tracked and saved. Fields not selected keep their defaults; a required field
  not selected is simply absent (reading it raises ``AttributeError``).
- ``select(Contact.account_id)``: the same projection, started from a field. Type checkers
  cannot tell the model from a field, so this form is ``Select[Any]``: use it for semi-joins,
  ``Account.id.in_(select(Contact.account_id).where(...))``, where exactly the one field is
  selected, and prefer ``select(Contact).only(...)`` elsewhere.

>>> from sobjects.orm._fields import Field
>>> from sobjects.orm._model import SObject
>>> class Account(SObject):
...     name: Field[str]
>>> class Contact(SObject):
...     last_name: Field[str]
...     email: Field[str | None] = Field(None)
...     account_id: Field[str | None] = Field(None)
...     account: Field[Account | None] = Field(None)
>>> print(select(Contact).where(Contact.last_name == "Doe").order_by(Contact.email).limit(5))
SELECT Id, LastName, Email, AccountId FROM Contact WHERE LastName = 'Doe' ORDER BY Email ASC LIMIT 5
>>> print(select(Contact).only(Contact.account.name).where(Contact.email.endswith("@x.org")))
SELECT Id, Account.Id, Account.Name FROM Contact WHERE Email LIKE '%@x.org'
>>> print(select(Account).where(Account.id.in_(select(Contact.account_id))).count())
SELECT COUNT() FROM Account WHERE Id IN (SELECT AccountId FROM Contact)
"""

import copy
import typing
from collections.abc import Callable, Iterable
from typing import Any, Final, Generic, Self, TypeVar, overload

from sobjects.errors import ConfigurationError
from sobjects.orm._expr import Condition, FieldExpr, OrderBy, and_, check_semi_joins, soql_kind
from sobjects.orm._hydrate import Adopter, shape_of, validate_records
from sobjects.orm._model import SObject, sobject_meta

__all__ = ["MAX_OFFSET", "CountSelect", "Select", "select"]

M = TypeVar("M", bound=SObject)
C = TypeVar("C", bound=SObject)

MAX_OFFSET: Final = 2000
"""Salesforce rejects ``OFFSET`` above 2,000 (``NUMBER_OUTSIDE_VALID_RANGE``)."""


def _check_model(model: object) -> type[SObject]:
    if not (isinstance(model, type) and issubclass(model, SObject)) or model is SObject:
        raise ConfigurationError(
            f"select() takes a model class (a subclass of SObject) or model fields, got {model!r}"
        )
    return model


def _check_count(what: str, value: object, maximum: int | None = None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigurationError(f"{what} must be an integer >= 0 (or None), got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(
            f"{what} must be at most {maximum} (a Salesforce limit), got {value}; "
            "page with a WHERE on an ordered field (e.g. Id > last_id) instead"
        )
    return value


class _Statement(Generic[M]):
    """What ``Select`` and ``CountSelect`` share: a model and a WHERE clause."""

    __slots__ = ("_model", "_where")

    def __init__(self, model: type[M]) -> None:
        self._model = model
        self._where: Condition | None = None

    @property
    def model(self) -> type[M]:
        """The model the statement reads (``FROM`` its sObject)."""
        return self._model

    def _replace(self, **changes: Any) -> Self:
        new = copy.copy(self)
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    def _check_root(self, field: FieldExpr[Any], where: str) -> FieldExpr[Any]:
        if not isinstance(field, FieldExpr):
            raise ConfigurationError(
                f"{where} takes fields such as {self._model.__name__}.id, got "
                f"{type(field).__name__}"
            )
        if not issubclass(self._model, field.model):
            raise ConfigurationError(
                f"{field!r} is not a field of {self._model.__name__} (the model this query "
                f"reads); use a path such as {self._model.__name__}.<parent>.<field>"
            )
        return field

    def where(self, *conditions: Condition) -> Self:
        """Add conditions, all of which must hold (AND); calls accumulate."""
        if not conditions:
            return self
        combined = and_(*conditions)  # checks that each one is a Condition
        for field in combined.fields():
            self._check_root(field, "where()")
        where = combined if self._where is None else and_(self._where, combined)
        check_semi_joins(where)
        return self._replace(_where=where)

    def _where_soql(self) -> str:
        return "" if self._where is None else f" WHERE {self._where.to_soql()}"

    def __str__(self) -> str:
        return self.to_soql()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}[{self._model.__name__}] {self.to_soql()}>"

    def to_soql(self) -> str:
        raise NotImplementedError


class Select(_Statement[M]):
    """A typed SOQL ``SELECT`` of model ``M``; build it with :func:`select`.

    Immutable: ``where``, ``order_by``, ``limit``, ``offset``, ``only``, ``with_parent`` and
    ``with_children`` each return a new ``Select``. ``where`` and ``order_by`` accumulate
    across calls; ``only``, ``limit`` and ``offset`` replace.
    """

    __slots__ = ("_children", "_fields", "_limit", "_offset", "_order", "_parents")

    def __init__(self, model: type[M], fields: tuple[FieldExpr[Any], ...] | None = None) -> None:
        super().__init__(model)
        sobject_meta(model)  # fail now if the model cannot be resolved
        self._fields = fields
        self._parents: tuple[FieldExpr[Any], ...] = ()
        self._children: tuple[tuple[FieldExpr[Any], Select[Any]], ...] = ()
        self._order: tuple[OrderBy, ...] = ()
        self._limit: int | None = None
        self._offset: int | None = None
        if fields is not None:
            self._check_selectable(fields, "only()")

    # -- building ------------------------------------------------------------------------------

    def _check_selectable(self, fields: Iterable[FieldExpr[Any]], where: str) -> None:
        for field in fields:
            self._check_root(field, where)
            if field.meta.kind == "children":
                raise ConfigurationError(
                    f"{field!r} is a child relationship: select it with "
                    f"with_children({field._dotted()}, select(...))"
                )

    def only(self, *fields: FieldExpr[Any]) -> Self:
        """Select exactly these fields (plus the ``Id``s), instead of every value field.

        Fields may be parent paths (``Contact.account.name``) or a parent relationship
        (``Contact.account``: all its value fields).
        """
        if not fields:
            raise ConfigurationError("only() needs at least one field")
        self._check_selectable(fields, "only()")
        return self._replace(_fields=tuple(fields))

    def with_parent(self, *relations: FieldExpr[Any]) -> Self:
        """Also select parents: ``Contact.account`` (the parent's ``Id`` and value fields)
        or a path through one, ``Contact.account.owner.name`` (that field and the ``Id``s)."""
        for relation in relations:
            self._check_root(relation, "with_parent()")
            if relation.meta.kind != "parent" and len(relation.metas) < 2:
                raise ConfigurationError(
                    f"with_parent() takes a parent relationship such as Contact.account, or a "
                    f"path through one; {relation!r} is a {relation.meta.kind} field"
                )
        self._check_selectable(relations, "with_parent()")
        return self._replace(_parents=(*self._parents, *relations))

    def with_children(self, relation: FieldExpr[list[C]], query: "Select[C] | None" = None) -> Self:
        """Add a child subquery: ``with_children(Account.contacts, select(Contact).where(...))``.

        ``query`` (default: ``select(<child model>)``) supplies the fields, WHERE, ORDER BY and
        LIMIT of the subquery; its ``FROM`` is the child relationship (``Contacts``).
        """
        self._check_root(relation, "with_children()")
        meta = relation.meta
        if meta.kind != "children" or len(relation.metas) != 1 or meta.target is None:
            raise ConfigurationError(
                f"with_children() takes a child relationship of {self._model.__name__} "
                f"(a field typed list[Model]), got {relation!r}"
            )
        if query is None:
            query = Select(typing.cast(type[C], meta.target))
        if not isinstance(query, Select):
            raise ConfigurationError(
                f"with_children() takes select({meta.target.__name__})... as its query, "
                f"got {type(query).__name__}"
            )
        if query.model is not meta.target:
            raise ConfigurationError(
                f"{relation!r} holds {meta.target.__name__} records, but the subquery reads "
                f"{query.model.__name__}: the records would be loaded as "
                f"{meta.target.__name__} and its other fields lost"
            )
        if query._offset is not None:
            raise ConfigurationError(
                "a child subquery takes no OFFSET here (Salesforce allows one only when the "
                "outer query has LIMIT 1)"
            )
        if any(r.meta.name == meta.name for r, _ in self._children):
            raise ConfigurationError(f"{relation!r} already has a subquery in this select")
        return self._replace(_children=(*self._children, (relation, query)))

    def order_by(self, *keys: OrderBy | FieldExpr[Any]) -> Self:
        """Add ORDER BY keys: ``Contact.created_date.desc()``; a bare field sorts ascending."""
        checked: list[OrderBy] = []
        for key in keys:
            order = key.asc() if isinstance(key, FieldExpr) else key
            if not isinstance(order, OrderBy):
                raise ConfigurationError(
                    f"order_by() takes fields or field.asc()/.desc(), got {type(key).__name__}"
                )
            self._check_root(order.field, "order_by()")
            checked.append(order)
        return self._replace(_order=(*self._order, *checked))

    def limit(self, n: int | None) -> Self:
        """``LIMIT n`` (``None`` removes it)."""
        return self._replace(_limit=_check_count("limit", n))

    def offset(self, n: int | None) -> Self:
        """``OFFSET n``, at most 2,000 (``None`` removes it)."""
        return self._replace(_offset=_check_count("offset", n, MAX_OFFSET))

    def count(self) -> "CountSelect[M]":
        """``SELECT COUNT() FROM ... WHERE ...``: the number of matching rows.

        Keeps WHERE and LIMIT; the field list and ORDER BY do not change a count.
        """
        if self._offset is not None:
            raise ConfigurationError("count() cannot keep an OFFSET; remove it with offset(None)")
        counted = CountSelect(self._model)
        counted._where = self._where
        counted._limit = self._limit
        return counted

    # -- rendering -------------------------------------------------------------------------------

    def _items(self) -> list[str]:
        """The SELECT list: Id, fields, parent fields, then child subqueries."""
        items: list[str] = []
        seen: set[str] = set()

        def add(path: str) -> None:
            if path.lower() not in seen:  # SOQL names are case-insensitive
                seen.add(path.lower())
                items.append(path)

        meta = sobject_meta(self._model)
        add(meta.field("id").api_name)
        if self._fields is None:
            for fm in meta.fields.values():
                if fm.kind == "value":
                    add(fm.api_name)
        else:
            for field in self._fields:
                _add_path(field, add)
        for relation in self._parents:
            _add_path(relation, add)
        items.extend(
            f"({query._render(relation.meta.api_name)})" for relation, query in self._children
        )
        return items

    def _tail(self) -> str:
        text = self._where_soql()
        if self._order:
            text += " ORDER BY " + ", ".join(o.to_soql() for o in self._order)
        if self._limit is not None:
            text += f" LIMIT {self._limit}"
        if self._offset is not None:
            text += f" OFFSET {self._offset}"
        return text

    def _render(self, from_: str) -> str:
        return f"SELECT {', '.join(self._items())} FROM {from_}{self._tail()}"

    def to_soql(self) -> str:
        """The SOQL statement."""
        return self._render(sobject_meta(self._model).api_name)

    def _semi_join_soql(self) -> str:
        """This select as the subquery of ``IN (...)``: exactly one field, nothing else."""
        fields = self._fields or ()
        if (
            len(fields) != 1
            or fields[0].meta.kind != "value"
            or len(fields[0].metas) != 1
            or soql_kind(fields[0].meta) not in ("id", "text")
            or self._parents
            or self._children
        ):
            raise ConfigurationError(
                "a semi-join subquery selects exactly one Id or lookup field of its own "
                "object, e.g. Account.id.in_(select(Contact.account_id).where(...)); got "
                f"{self.to_soql()}"
            )
        if self._order or self._limit is not None or self._offset is not None:
            raise ConfigurationError(
                "a semi-join subquery takes no ORDER BY, LIMIT or OFFSET (Salesforce refuses "
                "them there)"
            )
        api_name = sobject_meta(self._model).api_name
        return f"SELECT {fields[0].soql_path} FROM {api_name}{self._tail()}"

    # -- results ---------------------------------------------------------------------------------

    def hydrate(self, records: Iterable[dict[str, Any]]) -> list[M]:
        """Model objects for the records Salesforce returned for this query (in no session:
        see ``session.all`` for identity-mapped objects)."""
        shape = shape_of(self)
        loaded = validate_records(self._model, list(records), shape)
        return Adopter(None, None, None).adopt(loaded, shape)


def _add_path(field: FieldExpr[Any], add: Callable[[str], None]) -> None:
    """Add a field path, the Id of every parent it goes through, and for a parent
    relationship all of that parent's value fields."""
    metas = field.metas
    prefix = ""
    for fm in metas[:-1]:
        assert fm.target is not None  # only parent fields lead on
        prefix += fm.api_name + "."
        add(prefix + sobject_meta(fm.target).field("id").api_name)
    last = metas[-1]
    if last.kind == "parent":
        assert last.target is not None
        prefix += last.api_name + "."
        target = sobject_meta(last.target)
        add(prefix + target.field("id").api_name)
        for fm in target.fields.values():
            if fm.kind == "value":
                add(prefix + fm.api_name)
    else:
        add(prefix + last.api_name)


class CountSelect(_Statement[M]):
    """``SELECT COUNT() FROM ...``: made by :meth:`Select.count`; Salesforce reports the
    count as the query's ``totalSize``."""

    __slots__ = ("_limit",)

    def __init__(self, model: type[M]) -> None:
        super().__init__(model)
        self._limit: int | None = None

    def to_soql(self) -> str:
        api_name = sobject_meta(self._model).api_name
        limit = "" if self._limit is None else f" LIMIT {self._limit}"
        return f"SELECT COUNT() FROM {api_name}{self._where_soql()}{limit}"


@overload
def select(model: type[M], /) -> Select[M]: ...


@overload
def select(field: FieldExpr[Any], /, *fields: FieldExpr[Any]) -> Select[Any]: ...


def select(target: type[M] | FieldExpr[Any], /, *fields: FieldExpr[Any]) -> Select[Any]:
    """Start a query: ``select(Contact)``, or ``select(Contact.account_id)`` for a projection
    (see the module docs for what each form selects)."""
    if isinstance(target, FieldExpr):
        return Select(_check_model(target.model), (target, *fields))
    if fields:
        raise ConfigurationError(
            "select(Model) takes no fields; write select(Model).only(Model.a, Model.b)"
        )
    return Select(_check_model(target))

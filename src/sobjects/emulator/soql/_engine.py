"""Evaluate a parsed SOQL statement against the org's records.

Each run compiles the cached :class:`~._ast.Query` against the schema into plain Python
closures (field getters, predicates, sort keys, a projection tree), then scans the records
once. Names are resolved case-insensitively and answered in canonical casing; every name or
type problem becomes a Salesforce-shaped :class:`~sobjects.emulator._errors.ApiError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sobjects._ids import is_salesforce_id, to_18
from sobjects.emulator._errors import ApiError
from sobjects.emulator._pushdown import Equal, LikeFilter, OrderBy, ParentFilter, Pushdown, Range
from sobjects.emulator._schema import FieldDef, Schema, SObjectDef
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
    Pos,
    Query,
    SelectExpr,
    SelectSubquery,
    SelectTypeof,
)
from sobjects.emulator.soql._dates import (
    DATE_LITERALS,
    N_DATE_LITERALS,
    date_key,
    date_range,
    datetime_key,
    midnight_key,
    time_key,
)
from sobjects.emulator.soql._parser import (
    RESERVED_WORDS,
    decode_like,
    decode_string,
    parse,
    query_error,
)

__all__ = ["QueryOutput", "RecordSource", "run_query"]

Record = dict[str, Any]
Getter = Callable[[Any], Any]
Pred = Callable[[Any], bool]


class RecordSource(Protocol):
    """What the engine reads: the schema and the records of the org.

    ``records`` yields the rows of one sObject (canonical name), each mapping canonical field
    names to wire values (missing keys are null); ``get`` finds any record by its 18-character
    id (deleted ones too); ``sobject_of`` names the sObject an id belongs to.
    """

    @property
    def schema(self) -> Schema: ...

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[dict[str, Any]]: ...

    def get(self, record_id: str) -> dict[str, Any] | None: ...

    def sobject_of(self, record_id: str) -> str | None: ...


class _Select(Protocol):
    """What a source that can narrow its reads offers besides ``RecordSource`` (the org's
    store does): the rows of ``sobject`` that may match ``pushdown`` (a superset), and
    whether they come in ``pushdown.order`` (else in ``records`` order)."""

    def __call__(
        self, sobject: str, *, include_deleted: bool, pushdown: Pushdown, limit: int | None
    ) -> tuple[bool, Iterable[dict[str, Any]]]: ...


class _Count(Protocol):
    """What a source that can count offers: how many rows of ``sobject`` satisfy
    ``pushdown`` when it is the whole condition (``exact``), or ``None`` if it cannot say
    exactly."""

    def __call__(
        self, sobject: str, *, include_deleted: bool, pushdown: Pushdown
    ) -> int | None: ...


# Ids per pushed-down child lookup (one statement each).
_CHILD_CHUNK = 500


@dataclass
class QueryOutput:
    """All the rows a query returns (after OFFSET/LIMIT), response-shaped; paging is the
    caller's job. For ``COUNT()`` the count is ``total_size`` and ``records`` is empty."""

    total_size: int
    records: list[dict[str, Any]]


def run_query(
    soql: str,
    source: RecordSource,
    *,
    api_version: str,
    include_deleted: bool = False,
    now: datetime | None = None,
) -> QueryOutput:
    """Run ``soql`` against ``source``.

    ``include_deleted`` is ``queryAll``; ``now`` fixes the clock for date literals
    (``TODAY``, ``LAST_N_DAYS:n``...), evaluated in UTC. Raises ``ApiError`` (400) with
    Salesforce's error codes for malformed queries and unknown objects or fields.
    """
    query = parse(soql)
    return _Engine(soql, source, api_version, include_deleted, now).execute(query)


# --- value kinds ------------------------------------------------------------------------------

TEXT = "text"
ID = "id"
NUMBER = "number"
BOOL = "bool"
DATE = "date"
DATETIME = "datetime"
TIME = "time"
MULTI = "multi"
OTHER = "other"

_KINDS = {
    "string": TEXT,
    "textarea": TEXT,
    "email": TEXT,
    "phone": TEXT,
    "url": TEXT,
    "picklist": TEXT,
    "combobox": TEXT,
    "encryptedstring": TEXT,
    "id": ID,
    "reference": ID,
    "int": NUMBER,
    "long": NUMBER,
    "double": NUMBER,
    "currency": NUMBER,
    "percent": NUMBER,
    "boolean": BOOL,
    "date": DATE,
    "datetime": DATETIME,
    "time": TIME,
    "multipicklist": MULTI,
}
_TYPE_WORDS = {
    "int": "integer",
    "long": "long",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "boolean": "boolean",
    "date": "date",
    "datetime": "dateTime",
    "time": "time",
    "id": "id",
    "reference": "id",
}
_INTEGER_TYPES = frozenset({"int", "long"})

# Fields of the ``Name`` pseudo-object a polymorphic lookup (What, Who, Owner) can reach even
# when the record's actual type lacks them (they are then null).
_NAME_FIELDS: dict[str, tuple[str, str, str]] = {
    name.lower(): (name, kind, type_name)
    for name, kind, type_name in [
        ("Id", ID, "id"),
        ("Name", TEXT, "string"),
        ("Alias", TEXT, "string"),
        ("FirstName", TEXT, "string"),
        ("LastName", TEXT, "string"),
        ("Email", TEXT, "email"),
        ("Phone", TEXT, "phone"),
        ("Title", TEXT, "string"),
        ("Username", TEXT, "string"),
        ("IsActive", BOOL, "boolean"),
        ("UserRoleId", ID, "reference"),
        ("ProfileId", ID, "reference"),
        ("RecordTypeId", ID, "reference"),
        ("LastReferencedDate", DATETIME, "datetime"),
        ("LastViewedDate", DATETIME, "datetime"),
        ("NameOrAlias", TEXT, "string"),
        ("CommunityNickname", TEXT, "string"),
        ("SmallPhotoUrl", TEXT, "url"),
        ("MediumPhotoUrl", TEXT, "url"),
        ("FullPhotoUrl", TEXT, "url"),
    ]
}

# Words that are never aliases: the parser's reserved words, plus GROUP (an object name in
# FROM, so the parser must accept it there).
_RESERVED = RESERVED_WORDS | {"GROUP"}
_WITH_MODES = frozenset({"SECURITY_ENFORCED", "USER_MODE", "SYSTEM_MODE"})
_AGGREGATES = frozenset({"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"})
_WRAPPERS = frozenset({"TOLABEL", "FORMAT", "CONVERTCURRENCY", "CONVERTTIMEZONE"})
_MAX_OFFSET = 2000
_FIELDS_LIMIT = 200


def _kind(fd: FieldDef) -> str:
    return _KINDS.get(fd.type, OTHER)


def _identity(value: Any) -> Any:
    return value


def _text_norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _multi_norm(value: Any) -> frozenset[str]:
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part.strip().casefold() for part in value.split(";") if part.strip())


def _date_norm(value: Any) -> Any:
    return date_key(value)


def _datetime_norm(value: Any) -> Any:
    return datetime_key(value)


def _date_as_instant(value: Any) -> Any:
    key = date_key(value)
    return None if key is None else midnight_key(key)


def _time_norm(value: Any) -> Any:
    return time_key(value)


def _sort_key(kind: str) -> Callable[[Any], Any]:
    if kind in (TEXT, MULTI, OTHER):
        return _text_norm
    if kind == DATE:
        return lambda v: date_key(v) or ""
    if kind == DATETIME:
        return lambda v: datetime_key(v) or ""
    if kind == TIME:
        return lambda v: time_key(v) or ""
    return _identity


def _group_norm(kind: str) -> Callable[[Any], Any]:
    if kind == TEXT:
        return _text_norm
    if kind == MULTI:
        return _multi_norm
    if kind in (DATE, DATETIME, TIME, ID, NUMBER, BOOL):
        return _identity
    return lambda v: v.casefold() if isinstance(v, str) else repr(v)


def _fallback_key(value: Any) -> tuple[str, str]:
    return type(value).__name__, str(value).casefold()


# --- date functions ---------------------------------------------------------------------------


def _day(key: str) -> date:
    return date(int(key[0:4]), int(key[5:7]), int(key[8:10]))


_DATE_FUNCS: dict[str, Callable[[str], Any]] = {
    "CALENDAR_YEAR": lambda k: int(k[0:4]),
    "CALENDAR_MONTH": lambda k: int(k[5:7]),
    "CALENDAR_QUARTER": lambda k: (int(k[5:7]) - 1) // 3 + 1,
    "DAY_IN_MONTH": lambda k: int(k[8:10]),
    "DAY_IN_WEEK": lambda k: (_day(k).weekday() + 1) % 7 + 1,
    "DAY_IN_YEAR": lambda k: _day(k).timetuple().tm_yday,
    "DAY_ONLY": lambda k: k[:10],
    "HOUR_IN_DAY": lambda k: int(k[11:13]) if len(k) > 10 else 0,
    "WEEK_IN_MONTH": lambda k: (int(k[8:10]) - 1) // 7 + 1,
    "WEEK_IN_YEAR": lambda k: (_day(k).timetuple().tm_yday - 1) // 7 + 1,
}
# The fiscal year is the calendar year (Salesforce's default fiscal settings).
_DATE_FUNCS["FISCAL_YEAR"] = _DATE_FUNCS["CALENDAR_YEAR"]
_DATE_FUNCS["FISCAL_MONTH"] = _DATE_FUNCS["CALENDAR_MONTH"]
_DATE_FUNCS["FISCAL_QUARTER"] = _DATE_FUNCS["CALENDAR_QUARTER"]


# --- compiled pieces --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    sobject: SObjectDef
    alias: str | None


@dataclass(frozen=True)
class _Hop:
    field: str  # the reference field (AccountId)
    relationship: str  # its relationship name (Account)
    target: SObjectDef | None  # None when polymorphic: the type is read per record


@dataclass(frozen=True)
class _Resolved:
    hops: tuple[_Hop, ...]
    rest: tuple[str, ...]  # names after a polymorphic hop, resolved per record
    name: str  # canonical name of the last segment
    kind: str
    type_name: str


@dataclass
class _Term:
    """Something a condition, sort or group can read: a field path, a date function, an
    aggregate (read on a group) or a grouped value (read on a group)."""

    get: Getter
    kind: str
    type_name: str
    name: str  # canonical last segment, the key a grouped field is answered under
    label: str  # for messages
    ident: tuple[str, ...]
    pos: Pos


class _Group:
    __slots__ = ("cache", "rows", "values")

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values
        self.rows: list[Record] = []
        self.cache: dict[tuple[str, ...], Any] = {}

    def aggregate(self, ident: tuple[str, ...], fn: Callable[[list[Record]], Any]) -> Any:
        if ident not in self.cache:
            self.cache[ident] = fn(self.rows)
        return self.cache[ident]


@dataclass
class _Node:
    """The selected fields of one record level, in output order (lower-case key -> item)."""

    items: dict[str, _Item] = field(default_factory=dict)


@dataclass
class _FieldItem:
    key: str
    transform: Callable[[Any], Any] | None = None

    def render(self, engine: _Engine, rec: Record, type_name: str) -> Any:
        value = rec.get(self.key)
        if self.transform is not None and value is not None:
            return self.transform(value)
        return value


@dataclass
class _ConstItem:
    key: str
    value: Any = None

    def render(self, engine: _Engine, rec: Record, type_name: str) -> Any:
        return self.value


@dataclass
class _TypeItem:
    """``What.Type``: the referenced record's sObject name (a field of ``Name``)."""

    key: str

    def render(self, engine: _Engine, rec: Record, type_name: str) -> Any:
        return type_name


@dataclass
class _RelItem:
    key: str
    ref_field: str
    target: str | None
    polymorphic: bool
    node: _Node = field(default_factory=_Node)
    # polymorphic: the paths below the lookup, laid out per actual type when first met
    rest_paths: list[tuple[tuple[str, ...], str, Callable[[Any], Any] | None]] = field(
        default_factory=list
    )
    per_type: dict[str, _Node] = field(default_factory=dict)

    def render(self, engine: _Engine, rec: Record, type_name: str) -> Any:
        ref = rec.get(self.ref_field)
        if ref is None:
            return None
        parent = engine.source.get(ref)
        if parent is None:
            return None
        if not self.polymorphic:
            assert self.target is not None
            return engine.render(self.node, parent, self.target)
        actual = engine.source.sobject_of(ref)
        if actual is None:
            return None
        node = self.per_type.get(actual)
        if node is None:
            node = self.per_type[actual] = engine.lenient_node(actual, self.rest_paths)
        return engine.render(node, parent, actual, attr_type="Name")


@dataclass
class _TypeofItem:
    key: str
    ref_field: str
    whens: dict[str, _Node]  # lower-case type name -> fields
    else_paths: list[tuple[tuple[str, ...], str, Callable[[Any], Any] | None]] | None
    per_type: dict[str, _Node] = field(default_factory=dict)

    def render(self, engine: _Engine, rec: Record, type_name: str) -> Any:
        ref = rec.get(self.ref_field)
        if ref is None:
            return None
        parent = engine.source.get(ref)
        actual = engine.source.sobject_of(ref)
        if parent is None or actual is None:
            return None
        node = self.whens.get(actual.lower())
        if node is None:
            if self.else_paths is None:
                node = _Node()
            else:
                node = self.per_type.get(actual)
                if node is None:
                    node = self.per_type[actual] = engine.lenient_node(actual, self.else_paths)
        return engine.render(node, parent, actual)


@dataclass
class _ChildItem:
    key: str
    lookup: str  # the child's reference field to the parent
    plan: _Plan
    results: dict[str, Any] = field(default_factory=dict)

    def render(self, engine: _Engine, rec: Record, type_name: str) -> Any:
        record_id = rec.get("Id")
        return self.results.get(record_id) if isinstance(record_id, str) else None


_Item = _FieldItem | _ConstItem | _TypeItem | _RelItem | _TypeofItem | _ChildItem


@dataclass
class _OrderKey:
    get: Getter
    key: Callable[[Any], Any]
    descending: bool
    nulls_first: bool | None


@dataclass
class _Aggregation:
    group_terms: list[_Term]
    outputs: list[tuple[str, Getter]]
    having: Pred | None


@dataclass
class _Plan:
    sobject: SObjectDef
    mode: str  # "rows", "count" or "aggregate"
    where: Pred | None = None
    order: list[_OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    node: _Node = field(default_factory=_Node)
    children: list[_ChildItem] = field(default_factory=list)
    aggregation: _Aggregation | None = None
    pushdown: Pushdown = field(default_factory=Pushdown)


def _sort(rows: list[Any], keys: Sequence[_OrderKey]) -> None:
    """Stable multi-key sort; nulls first for ASC and last for DESC unless told otherwise."""
    for order in reversed(keys):
        nulls_first = (not order.descending) if order.nulls_first is None else order.nulls_first
        # reverse=True flips the ranks too: a null rank above 1 sorts first when descending.
        null_rank = (2 if nulls_first else 0) if order.descending else (0 if nulls_first else 2)
        get, keyfn = order.get, order.key

        def key(
            row: Any, get: Getter = get, keyfn: Callable[[Any], Any] = keyfn, rank: int = null_rank
        ) -> Any:
            value = get(row)
            return (rank, 0) if value is None else (1, keyfn(value))

        def fallback(row: Any, get: Getter = get, rank: int = null_rank) -> Any:
            value = get(row)
            return (rank, ("", "")) if value is None else (1, _fallback_key(value))

        try:
            rows.sort(key=key, reverse=order.descending)
        except TypeError:
            rows.sort(key=fallback, reverse=order.descending)


def _slice(rows: list[Any], offset: int, limit: int | None) -> list[Any]:
    if offset:
        rows = rows[offset:]
    if limit is not None:
        rows = rows[:limit]
    return rows


class _Engine:
    def __init__(
        self,
        soql: str,
        source: RecordSource,
        api_version: str,
        include_deleted: bool,
        now: datetime | None,
    ) -> None:
        self.soql = soql
        self.source = source
        self.schema = source.schema
        self.include_deleted = include_deleted
        self.url_base = f"/services/data/v{api_version}/sobjects/"
        moment = now or datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        self.today = moment.astimezone(UTC).date()

    # --- errors ---------------------------------------------------------------------------

    def error(self, code: str, pos: Pos, text: str) -> ApiError:
        return query_error(code, self.soql, pos, text)

    def malformed(self, pos: Pos, text: str) -> ApiError:
        return self.error("MALFORMED_QUERY", pos, text)

    def no_column(self, name: str, entity: str, pos: Pos) -> ApiError:
        return self.error(
            "INVALID_FIELD",
            pos,
            f"No such column '{name}' on entity '{entity}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        )

    def bad_relationship(self, name: str, pos: Pos) -> ApiError:
        return self.error(
            "INVALID_FIELD",
            pos,
            f"Didn't understand relationship '{name}' in field path. If you are attempting to "
            "use a custom relationship, be sure to append the '__r' after the custom "
            "relationship name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        )

    def bad_operator(self, term: _Term, what: str) -> ApiError:
        return self.error(
            "INVALID_QUERY_FILTER_OPERATOR",
            term.pos,
            f"invalid operator on field '{term.label}': {what} cannot be used with a field "
            f"of type {term.type_name}",
        )

    def type_error(self, term: _Term, lit: Literal) -> ApiError:
        quoted = term.kind in (TEXT, ID, MULTI)
        word = _TYPE_WORDS.get(term.type_name, "string")
        should = "should" if quoted else "should not"
        return self.error(
            "INVALID_FIELD",
            lit.pos,
            f"value of filter criterion for field '{term.label}' must be of type {word} and "
            f"{should} be enclosed in quotes",
        )

    # --- entry ----------------------------------------------------------------------------

    def execute(self, query: Query) -> QueryOutput:
        plan = self.compile(query, self.sobject(query), role="top")
        if plan.mode == "count":
            count = max(self.count(plan) - plan.offset, 0)
            if plan.limit is not None:
                count = min(count, plan.limit)
            return QueryOutput(count, [])
        rows = self.scan(plan)
        if plan.mode == "aggregate":
            records = self.aggregate(plan, rows)
            return QueryOutput(len(records), records)
        _sort(rows, plan.order)
        rows = _slice(rows, plan.offset, plan.limit)
        self.prepare_children(plan, rows)
        name = plan.sobject.name
        return QueryOutput(len(rows), [self.render(plan.node, row, name) for row in rows])

    def sobject(self, query: Query) -> SObjectDef:
        # Parent.Relationship names a child relationship: only a subquery may use it.
        found = self.schema.get(query.sobject) if query.qualifier is None else None
        if found is None:
            if query.qualifier is not None:
                assert query.qualifier_pos is not None
                raise self.error(
                    "INVALID_TYPE",
                    query.qualifier_pos,
                    f"sObject type '{query.qualifier}.{query.sobject}' is not supported. If "
                    "you are attempting to use a custom object, be sure to append the '__c' "
                    "after the entity name. Please reference your WSDL or the describe call for "
                    "the appropriate names.",
                )
            raise self.error(
                "INVALID_TYPE",
                query.sobject_pos,
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        return found

    # --- running ---------------------------------------------------------------------------

    def scan(self, plan: _Plan) -> list[Record]:
        """The rows the plan's ``WHERE`` keeps; with a ``LIMIT`` and rows coming in their
        final order, only as many as the page needs."""
        where = plan.where
        select: _Select | None = getattr(self.source, "select", None)
        if select is None:
            records = self.source.records(plan.sobject.name, include_deleted=self.include_deleted)
            if where is None:
                return list(records)
            return [rec for rec in records if where(rec)]
        want = None
        if (
            plan.mode == "rows"
            and plan.limit is not None
            and (plan.pushdown.order or not plan.order)
        ):
            want = plan.offset + plan.limit
        ordered, records = select(
            plan.sobject.name,
            include_deleted=self.include_deleted,
            pushdown=plan.pushdown,
            limit=want,
        )
        if want is None or (plan.order and not ordered):
            return [rec for rec in records if where is None or where(rec)]
        rows: list[Record] = []
        if want == 0:
            return rows
        for rec in records:
            if where is None or where(rec):
                rows.append(rec)
                if len(rows) >= want:
                    break
        return rows

    def count(self, plan: _Plan) -> int:
        """How many rows the plan's ``WHERE`` keeps: counted by the source when it can
        count its pushdown exactly, else by reading them."""
        counter: _Count | None = getattr(self.source, "count_selected", None)
        if counter is not None and plan.pushdown.exact:
            counted = counter(
                plan.sobject.name, include_deleted=self.include_deleted, pushdown=plan.pushdown
            )
            if counted is not None:
                return counted
        return len(self.scan(plan))

    def aggregate(self, plan: _Plan, rows: list[Record]) -> list[dict[str, Any]]:
        agg = plan.aggregation
        assert agg is not None
        getters = [term.get for term in agg.group_terms]
        norms = [_group_norm(term.kind) for term in agg.group_terms]
        groups: dict[tuple[Any, ...], _Group] = {}
        for row in rows:
            values = tuple(get(row) for get in getters)
            key = tuple(norm(v) for norm, v in zip(norms, values, strict=True))
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(values)
            group.rows.append(row)
        if not getters and not groups:
            groups[()] = _Group(())
        selected = list(groups.values())
        if agg.having is not None:
            selected = [g for g in selected if agg.having(g)]
        _sort(selected, plan.order)
        selected = _slice(selected, plan.offset, plan.limit)
        out = []
        for group in selected:
            record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
            for key_name, get in agg.outputs:
                record[key_name] = get(group)
            out.append(record)
        return out

    def prepare_children(self, plan: _Plan, rows: list[Record]) -> None:
        for item in plan.children:
            item.results = self.fetch_children(item, rows)

    def fetch_children(self, item: _ChildItem, parents: list[Record]) -> dict[str, Any]:
        ids: set[str] = {p["Id"] for p in parents if isinstance(p.get("Id"), str)}
        if not ids:
            return {}
        plan = item.plan
        where = plan.where
        lookup = item.lookup
        buckets: dict[str, list[Record]] = {}
        for rec in self.children_of(plan, lookup, ids):
            parent_id = rec.get(lookup)
            if parent_id in ids and (where is None or where(rec)):
                buckets.setdefault(str(parent_id), []).append(rec)
        chosen: dict[str, list[Record]] = {}
        for parent_id, rows in buckets.items():
            _sort(rows, plan.order)
            rows = _slice(rows, plan.offset, plan.limit)
            if rows:
                chosen[parent_id] = rows
        self.prepare_children(plan, [row for rows in chosen.values() for row in rows])
        name = plan.sobject.name
        return {
            parent_id: {
                "totalSize": len(rows),
                "done": True,
                "records": [self.render(plan.node, row, name) for row in rows],
            }
            for parent_id, rows in chosen.items()
        }

    def children_of(self, plan: _Plan, lookup: str, ids: set[str]) -> Iterable[Record]:
        """Candidate child rows: by the lookup's index where the source has one."""
        select: _Select | None = getattr(self.source, "select", None)
        if select is None:
            yield from self.source.records(plan.sobject.name, include_deleted=self.include_deleted)
            return
        wanted = sorted(ids)
        for start in range(0, len(wanted), _CHILD_CHUNK):
            chunk = frozenset(wanted[start : start + _CHILD_CHUNK])
            pushdown = Pushdown(
                equal=[Equal(lookup, False, chunk), *plan.pushdown.equal],
                like=plan.pushdown.like,
                range=plan.pushdown.range,
            )
            _, rows = select(
                plan.sobject.name,
                include_deleted=self.include_deleted,
                pushdown=pushdown,
                limit=None,
            )
            yield from rows

    def render(
        self, node: _Node, rec: Record, type_name: str, attr_type: str | None = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": attr_type or type_name,
                "url": f"{self.url_base}{type_name}/{rec.get('Id')}",
            }
        }
        for item in node.items.values():
            out[item.key] = item.render(self, rec, type_name)
        return out

    def lenient_node(
        self,
        type_name: str,
        paths: Iterable[tuple[tuple[str, ...], str, Callable[[Any], Any] | None]],
    ) -> _Node:
        """The fields below a polymorphic lookup for one actual type: what that type lacks
        is null (``What.Type`` is the type's name)."""
        node = _Node()
        sobject = self.schema.get(type_name)
        for rest, canonical, transform in paths:
            if len(rest) == 1 and rest[0].lower() == "type":
                node.items.setdefault("type", _TypeItem("Type"))
                continue
            try:
                if sobject is None:
                    raise LookupError(type_name)
                resolved = self.resolve(_Scope(sobject, None), FieldPath(rest, Pos(1, 1)))
            except (ApiError, LookupError):
                key = canonical if len(rest) == 1 else rest[0]
                node.items.setdefault(key.lower(), _ConstItem(key))
                continue
            self.add_resolved(node, resolved, transform)
        return node

    # --- compiling a statement ---------------------------------------------------------------

    def check_clauses(self, query: Query) -> None:
        if query.alias is not None and query.alias.upper() in _RESERVED:
            assert query.alias_pos is not None
            raise self.malformed(query.alias_pos, f"unexpected token: '{query.alias}'")
        for item in query.select:
            if isinstance(item, SelectExpr) and item.alias and item.alias.upper() in _RESERVED:
                assert item.alias_pos is not None
                raise self.malformed(item.alias_pos, f"unexpected token: '{item.alias}'")
        if query.with_ is not None and query.with_ not in _WITH_MODES:
            assert query.with_pos is not None
            raise self.malformed(query.with_pos, f"unexpected token: '{query.with_}'")
        if query.for_clause == "UPDATE":
            assert query.for_pos is not None
            raise self.malformed(
                query.for_pos,
                "FOR UPDATE locks records for an Apex transaction; it is not supported by the API",
            )
        if query.offset is not None and query.offset > _MAX_OFFSET:
            assert query.offset_pos is not None
            raise self.error(
                "NUMBER_OUTSIDE_VALID_RANGE",
                query.offset_pos,
                f"Maximum SOQL offset allowed is {_MAX_OFFSET}",
            )

    def compile(self, query: Query, sobject: SObjectDef, *, role: str) -> _Plan:
        self.check_clauses(query)
        scope = _Scope(sobject, query.alias)
        items = query.select
        count_only = any(
            isinstance(item, SelectExpr)
            and isinstance(item.expr, FuncCall)
            and item.expr.name == "COUNT"
            and item.expr.arg is None
            for item in items
        )
        is_aggregate = bool(query.group_by) or any(
            isinstance(item, SelectExpr)
            and isinstance(item.expr, FuncCall)
            and item.expr.name in _AGGREGATES
            for item in items
        )
        if (count_only or is_aggregate) and role == "child":
            raise self.malformed(query.pos, "Aggregate functions are not allowed in a subquery")
        if count_only:
            if len(items) != 1 or query.group_by:
                raise self.malformed(
                    query.pos,
                    "COUNT() must be the only element in the SELECT list and cannot be used "
                    "with GROUP BY",
                )
            plan = _Plan(sobject, "count")
        elif is_aggregate:
            plan = _Plan(sobject, "aggregate")
        else:
            plan = _Plan(sobject, "rows")
            self.compile_select(plan, query, scope)
        if plan.mode == "aggregate":
            self.compile_aggregation(plan, query, scope)
        row_terms = functools.partial(self.row_term, scope)
        if query.where is not None:
            plan.where = self.condition(query.where, row_terms)
        if plan.mode != "aggregate":
            if query.having is not None:
                assert query.having_pos is not None
                raise self.malformed(query.having_pos, "HAVING needs an aggregate query")
            if plan.mode == "rows":
                plan.order = [
                    _OrderKey(term.get, _sort_key(term.kind), o.descending, o.nulls_first)
                    for o in query.order_by
                    for term in [self.row_term(scope, o.expr)]
                ]
        plan.limit = query.limit
        plan.offset = query.offset or 0
        plan.pushdown = self.pushdown(scope, query, plan)
        return plan

    def pushdown(self, scope: _Scope, query: Query, plan: _Plan) -> Pushdown:
        """What the source may narrow before the plan's own ``WHERE`` runs, from the
        conditions every row must meet (the top-level ``AND``): equality (and ``IN``) on ids
        and text, ``LIKE`` on text, ranges (``<``, ``=``, date literals...) on numbers, dates
        and datetimes, on the object's own fields or on its parent's (one lookup away); and
        the ``ORDER BY`` when each key is such a field of a kind the source can order
        exactly. ``exact`` when each condition became an equality or a range with its SOQL
        meaning. The conditions were compiled already: nothing here raises."""
        push = Pushdown()
        where = query.where
        conditions = where.items if isinstance(where, And) else [] if where is None else [where]
        exact = True
        for cond in conditions:
            if not isinstance(cond, Compare | InList | Like) or not isinstance(cond.lhs, FieldPath):
                exact = False
                continue
            term = self.row_term(scope, cond.lhs)
            if len(term.ident) == 2:
                exact = self.push_condition(push, term, cond) and exact
                continue
            exact = False
            resolved = self.resolve(scope, cond.lhs)
            if len(resolved.hops) != 1 or resolved.rest or resolved.hops[0].target is None:
                continue
            hop = resolved.hops[0]
            assert hop.target is not None
            # The same condition on the parent's own field, for the parents it may keep.
            parent_scope = _Scope(hop.target, None)
            path = FieldPath((resolved.name,), cond.lhs.pos)
            on_parent = Pushdown()
            self.push_condition(on_parent, self.row_term(parent_scope, path), cond)
            if on_parent.equal or on_parent.like or on_parent.range:
                push.parent.append(ParentFilter(hop.field, hop.target.name, on_parent))
        push.exact = exact
        if plan.mode == "rows":
            for order in query.order_by:
                term = self.row_term(scope, order.expr)
                if (
                    not isinstance(order.expr, FieldPath)
                    or len(term.ident) != 2
                    or term.kind not in (TEXT, ID, NUMBER)
                ):
                    push.order = []  # all keys or none: SQL cannot sort by a part alone
                    return push
                nulls_first = (
                    (not order.descending) if order.nulls_first is None else order.nulls_first
                )
                push.order.append(OrderBy(term.name, term.kind, order.descending, nulls_first))
        return push

    def push_condition(self, push: Pushdown, term: _Term, cond: Compare | InList | Like) -> bool:
        """Add what ``cond`` on ``term`` (a field of the object itself) lets the source
        narrow to ``push``; whether that is exactly ``cond``."""
        if isinstance(cond, Like):
            if term.kind == TEXT and cond.value.kind == "string":
                push.like.append(LikeFilter(term.name, decode_like(cond.value.raw)))
            return False
        if isinstance(cond, Compare) and term.kind in (NUMBER, DATE, DATETIME):
            found = self.range_of(term, cond.op, cond.value)
            if found is not None:
                push.range.append(found)
            return found is not None
        if isinstance(cond, Compare):
            if cond.op != "=":
                return False
            values: Sequence[Literal] = [cond.value]
        elif cond.negated:
            return False
        else:
            values = cond.values
        if term.kind not in (ID, TEXT) or not all(v.kind == "string" for v in values):
            return False
        targets = frozenset(self.literal_key(term, v)[1] for v in values)
        push.equal.append(Equal(term.name, term.kind == TEXT, targets))
        return True

    def range_of(self, term: _Term, op: str, lit: Literal) -> Range | None:
        """``term op lit`` as a range of the engine's own comparison keys (the ones
        ``compare`` and ``date_constant`` test), or ``None`` where it is not one."""
        if op == "!=" or lit.kind == "null":
            return None
        if lit.kind == "constant":
            return self.constant_range(term, op, lit)[0]
        norm, target = self.literal_key(term, lit)
        if term.kind == NUMBER and norm is _identity and type(target) in (int, float):
            kind = NUMBER
        elif (term.kind, norm) in ((DATE, _date_norm), (DATETIME, _datetime_norm)):
            kind = term.kind  # a date field against a datetime compares midnights: left out
        else:
            return None
        if op == "=":
            return Range(term.name, kind, target, False, target, False)
        if op in ("<", "<="):
            return Range(term.name, kind, high=target, high_strict=op == "<")
        return Range(term.name, kind, low=target, low_strict=op == ">")

    def compile_select(self, plan: _Plan, query: Query, scope: _Scope) -> None:
        node = plan.node
        for item in query.select:
            if isinstance(item, SelectSubquery):
                child = self.compile_child(item.query, scope.sobject, scope.alias)
                node.items[child.key.lower()] = child
                plan.children.append(child)
            elif isinstance(item, SelectTypeof):
                typeof = self.compile_typeof(item, scope)
                node.items[typeof.key.lower()] = typeof
            else:
                if item.alias is not None:
                    assert item.alias_pos is not None
                    raise self.malformed(item.alias_pos, f"unexpected token: '{item.alias}'")
                self.select_expr(node, item.expr, scope, query)

    def select_expr(self, node: _Node, expr: Expr, scope: _Scope, query: Query) -> None:
        if isinstance(expr, FieldPath):
            self.add_resolved(node, self.resolve(scope, expr), None)
            return
        name = expr.name
        if name == "FIELDS":
            self.expand_fields(node, expr, scope, query)
            return
        if name in _WRAPPERS:
            arg = expr.arg
            if not isinstance(arg, FieldPath):
                raise self.malformed(expr.pos, f"{name} needs a field")
            resolved = self.resolve(scope, arg)
            transform = self.label_transform(scope, resolved) if name == "TOLABEL" else None
            self.add_resolved(node, resolved, transform)
            return
        if name in _DATE_FUNCS:
            raise self.malformed(
                expr.pos, f"{name} can only be selected in an aggregate query (with GROUP BY)"
            )
        raise self.malformed(expr.pos, f"unknown function: '{name}'")

    def expand_fields(self, node: _Node, expr: FuncCall, scope: _Scope, query: Query) -> None:
        arg = expr.arg
        which = arg.names[0].upper() if isinstance(arg, FieldPath) and len(arg.names) == 1 else ""
        if which not in ("ALL", "STANDARD", "CUSTOM"):
            raise self.malformed(expr.pos, "FIELDS() takes ALL, STANDARD or CUSTOM")
        if which != "STANDARD" and (query.limit is None or query.limit > _FIELDS_LIMIT):
            raise self.malformed(
                expr.pos,
                f"The SOQL FIELDS function must have a LIMIT of at most {_FIELDS_LIMIT}",
            )
        for fd in scope.sobject.fields.values():
            custom = bool(fd.describe.get("custom"))
            if which == "ALL" or (which == "CUSTOM") == custom:
                node.items.setdefault(fd.name.lower(), _FieldItem(fd.name))

    def label_transform(self, scope: _Scope, resolved: _Resolved) -> Callable[[Any], Any] | None:
        if resolved.rest:
            return None
        sobject = scope.sobject
        for hop in resolved.hops:
            assert hop.target is not None
            sobject = hop.target
        fd = sobject.field(resolved.name)
        if fd is None:
            return None
        labels = {
            str(v["value"]): v.get("label") or v["value"]
            for v in fd.describe.get("picklistValues") or []
        }
        if not labels:
            return None
        if fd.type == "multipicklist":
            return lambda v: ";".join(labels.get(p, p) for p in str(v).split(";"))
        return lambda v: labels.get(v, v)

    def compile_child(
        self, query: Query, parent: SObjectDef, parent_alias: str | None = None
    ) -> _ChildItem:
        if query.qualifier is not None:
            names = {parent.name.lower(), (parent_alias or "").lower()}
            if query.qualifier.lower() not in names:
                assert query.qualifier_pos is not None
                raise self.error(
                    "INVALID_TYPE",
                    query.qualifier_pos,
                    f"Didn't understand relationship '{query.qualifier}.{query.sobject}' in FROM "
                    f"part of query call: a subquery of {parent.name} names its relationships "
                    f"as {parent.name}.<relationship> or <relationship>",
                )
        rel = parent.child_relationship(query.sobject)
        child = self.schema.get(rel.child_sobject) if rel is not None else None
        if rel is None or child is None:
            raise self.error(
                "INVALID_TYPE",
                query.sobject_pos,
                f"Didn't understand relationship '{query.sobject}' in FROM part of query call. "
                "If you are attempting to use a custom relationship, be sure to append the "
                "'__r' after the custom relationship name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
            )
        plan = self.compile(query, child, role="child")
        return _ChildItem(rel.relationship_name, rel.field, plan)

    def compile_typeof(self, item: SelectTypeof, scope: _Scope) -> _TypeofItem:
        rel = scope.sobject.relationship(item.relationship)
        if rel is None:
            raise self.bad_relationship(item.relationship, item.pos)
        targets = [t for t in (self.schema.get(n) for n in rel.reference_to) if t is not None]
        allowed = {t.name.lower(): t for t in targets}
        whens: dict[str, _Node] = {}
        for when in item.whens:
            target = allowed.get(when.sobject.lower())
            if target is None:
                raise self.malformed(
                    when.pos,
                    f"TYPEOF: '{when.sobject}' is not a type {rel.relationship_name} can reference",
                )
            node = _Node()
            for fp in when.fields:
                self.add_resolved(node, self.resolve(_Scope(target, None), fp), None)
            whens[target.name.lower()] = node
        else_paths: list[tuple[tuple[str, ...], str, Callable[[Any], Any] | None]] | None = None
        if item.else_fields is not None:
            else_paths = []
            for fp in item.else_fields:
                _, _, canonical = self.validate_dynamic(targets, fp.names, fp.pos)
                else_paths.append((fp.names, canonical, None))
        key = rel.relationship_name or item.relationship
        return _TypeofItem(key, rel.name, whens, else_paths)

    def compile_aggregation(self, plan: _Plan, query: Query, scope: _Scope) -> None:
        group_terms = []
        for expr in query.group_by:
            if isinstance(expr, FuncCall) and expr.name in _AGGREGATES:
                raise self.malformed(expr.pos, "Cannot group by an aggregate function")
            group_terms.append(self.row_term(scope, expr))
        outputs: list[tuple[str, Getter]] = []
        expr_index = 0
        for item in query.select:
            if not isinstance(item, SelectExpr):
                pos = item.pos if isinstance(item, SelectTypeof) else item.query.pos
                raise self.malformed(pos, "Subqueries cannot be used in an aggregate query")
            expr = item.expr
            unnamed = item.alias is None
            if isinstance(expr, FuncCall) and expr.name in _AGGREGATES:
                term = self.aggregate_term(scope, expr)
            else:
                if isinstance(expr, FuncCall) and expr.name == "FIELDS":
                    raise self.malformed(expr.pos, "FIELDS() cannot be used in an aggregate query")
                term = self.grouped_term(scope, expr, group_terms, "Field")
                unnamed = unnamed and isinstance(expr, FuncCall) and expr.name not in _WRAPPERS
            if item.alias is not None:
                key = item.alias
            elif unnamed:
                key = f"expr{expr_index}"
                expr_index += 1
            else:
                key = term.name
            outputs.append((key, term.get))
        having = None
        if query.having is not None:
            having = self.condition(
                query.having, lambda e: self.group_term(scope, e, group_terms, "Field")
            )
        plan.order = [
            _OrderKey(term.get, _sort_key(term.kind), o.descending, o.nulls_first)
            for o in query.order_by
            for term in [self.group_term(scope, o.expr, group_terms, "Ordered field")]
        ]
        plan.aggregation = _Aggregation(group_terms, outputs, having)

    def group_term(self, scope: _Scope, expr: Expr, groups: list[_Term], what: str) -> _Term:
        if isinstance(expr, FuncCall) and expr.name in _AGGREGATES:
            return self.aggregate_term(scope, expr)
        return self.grouped_term(scope, expr, groups, what)

    def grouped_term(self, scope: _Scope, expr: Expr, groups: list[_Term], what: str) -> _Term:
        term = self.row_term(scope, expr)
        for index, group in enumerate(groups):
            if group.ident == term.ident:
                return _Term(
                    functools.partial(_group_value, index),
                    term.kind,
                    term.type_name,
                    term.name,
                    term.label,
                    term.ident,
                    term.pos,
                )
        text = expr.text if isinstance(expr, FieldPath) else f"{expr.name}(...)"
        raise self.malformed(term.pos, f"{what} must be grouped or aggregated: {text}")

    def aggregate_term(self, scope: _Scope, call: FuncCall) -> _Term:
        name = call.name
        arg = call.arg
        if arg is None:
            raise self.malformed(
                call.pos,
                "COUNT() must be the only element in the SELECT list; use COUNT(Id) with other "
                "fields or GROUP BY",
            )
        if not isinstance(arg, FieldPath):
            raise self.malformed(arg.pos, f"{name} takes a field")
        inner = self.row_term(scope, arg)
        get = inner.get
        kind, type_name = NUMBER, "int"
        fn: Callable[[list[Record]], Any]
        if name == "COUNT":
            fn = functools.partial(_count, get)
        elif name == "COUNT_DISTINCT":
            fn = functools.partial(_count_distinct, get, _group_norm(inner.kind))
        elif name in ("SUM", "AVG"):
            if inner.kind != NUMBER:
                raise self.malformed(
                    call.pos, f"field {inner.label} does not support aggregate operator {name}"
                )
            integral = name == "SUM" and inner.type_name in _INTEGER_TYPES
            type_name = "int" if integral else "double"
            fn = functools.partial(_sum, get, name == "AVG", integral)
        else:  # MIN / MAX
            if inner.kind in (BOOL, MULTI):
                raise self.malformed(
                    call.pos, f"field {inner.label} does not support aggregate operator {name}"
                )
            kind, type_name = inner.kind, inner.type_name
            fn = functools.partial(_extreme, get, _sort_key(inner.kind), name == "MIN")
        ident = ("agg", name, *inner.ident)
        return _Term(
            lambda g: g.aggregate(ident, fn),
            kind,
            type_name,
            name,
            f"{name}({inner.label})",
            ident,
            call.pos,
        )

    # --- names ----------------------------------------------------------------------------

    def strip_alias(self, scope: _Scope, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(names) > 1:
            first = names[0].lower()
            if scope.alias is not None and first == scope.alias.lower():
                return names[1:]
            if first == scope.sobject.name.lower() and scope.sobject.relationship(first) is None:
                return names[1:]
        return names

    def resolve(self, scope: _Scope, path: FieldPath) -> _Resolved:
        names = self.strip_alias(scope, path.names)
        sobject = scope.sobject
        hops: list[_Hop] = []
        for index, name in enumerate(names[:-1]):
            rel = sobject.relationship(name)
            if rel is None:
                raise self.bad_relationship(name, path.pos)
            rel_name = rel.relationship_name or name
            refs = rel.reference_to
            targets = [t for t in (self.schema.get(n) for n in refs) if t is not None]
            if len(refs) > 1:
                rest = names[index + 1 :]
                kind, type_name, canonical = self.validate_dynamic(targets, rest, path.pos)
                hops.append(_Hop(rel.name, rel_name, None))
                return _Resolved(tuple(hops), rest, canonical, kind, type_name)
            if not targets:
                raise self.bad_relationship(name, path.pos)
            hops.append(_Hop(rel.name, rel_name, targets[0]))
            sobject = targets[0]
        fd = sobject.field(names[-1])
        if fd is None:
            raise self.no_column(names[-1], sobject.name, path.pos)
        return _Resolved(tuple(hops), (), fd.name, _kind(fd), fd.type)

    def validate_dynamic(
        self, targets: list[SObjectDef], rest: tuple[str, ...], pos: Pos
    ) -> tuple[str, str, str]:
        """Check a path below a polymorphic lookup: each step must exist on some type it can
        reach (or be a field of ``Name``). Returns the kind, type and canonical name."""
        head = rest[0]
        if len(rest) == 1:
            if head.lower() == "type":
                return TEXT, "string", "Type"
            for target in targets:
                fd = target.field(head)
                if fd is not None:
                    return _kind(fd), fd.type, fd.name
            known = _NAME_FIELDS.get(head.lower())
            if known is not None:
                canonical, kind, type_name = known
                return kind, type_name, canonical
            raise self.no_column(head, "Name", pos)
        following: list[SObjectDef] = []
        for target in targets:
            rel = target.relationship(head)
            if rel is None:
                continue
            for name in rel.reference_to:
                found = self.schema.get(name)
                if found is not None and found not in following:
                    following.append(found)
        if not following:
            raise self.bad_relationship(head, pos)
        return self.validate_dynamic(following, rest[1:], pos)

    def add_resolved(
        self, node: _Node, resolved: _Resolved, transform: Callable[[Any], Any] | None
    ) -> None:
        current = node
        for hop in resolved.hops:
            item = current.items.get(hop.relationship.lower())
            if not isinstance(item, _RelItem):
                target = hop.target.name if hop.target is not None else None
                item = _RelItem(hop.relationship, hop.field, target, hop.target is None)
                current.items[hop.relationship.lower()] = item
            if item.polymorphic:
                item.rest_paths.append((resolved.rest, resolved.name, transform))
                return
            current = item.node
        current.items.setdefault(resolved.name.lower(), _FieldItem(resolved.name, transform))

    def getter(self, resolved: _Resolved) -> Getter:
        name = resolved.name
        if not resolved.hops:
            return lambda rec: rec.get(name)
        fields = tuple(hop.field for hop in resolved.hops)
        fetch = self.source.get
        if resolved.rest:
            rest = resolved.rest
            walk = self.walk
            sobject_of = self.source.sobject_of

            def get_dynamic(rec: Record) -> Any:
                ref = None
                current: Record | None = rec
                for f in fields:
                    assert current is not None
                    ref = current.get(f)
                    if ref is None:
                        return None
                    current = fetch(ref)
                    if current is None:
                        return None
                actual = sobject_of(ref) if ref is not None else None
                if actual is None or current is None:
                    return None
                return walk(current, actual, rest)

            return get_dynamic
        if len(fields) == 1:
            first = fields[0]

            def get_parent(rec: Record) -> Any:
                ref = rec.get(first)
                if ref is None:
                    return None
                parent = fetch(ref)
                return None if parent is None else parent.get(name)

            return get_parent

        def get_path(rec: Record) -> Any:
            current: Record | None = rec
            for f in fields:
                assert current is not None
                ref = current.get(f)
                if ref is None:
                    return None
                current = fetch(ref)
                if current is None:
                    return None
            assert current is not None
            return current.get(name)

        return get_path

    def walk(self, rec: Record, type_name: str, rest: tuple[str, ...]) -> Any:
        """Read ``rest`` from ``rec`` (of type ``type_name``) resolving names as it goes."""
        if len(rest) == 1 and rest[0].lower() == "type":
            return type_name
        current = rec
        for index, name in enumerate(rest):
            sobject = self.schema.get(type_name)
            if sobject is None:
                return None
            if index == len(rest) - 1:
                fd = sobject.field(name)
                return None if fd is None else current.get(fd.name)
            rel = sobject.relationship(name)
            if rel is None:
                return None
            ref = current.get(rel.name)
            if ref is None:
                return None
            parent = self.source.get(ref)
            if parent is None:
                return None
            if len(rel.reference_to) == 1:
                type_name = rel.reference_to[0]
            else:
                actual = self.source.sobject_of(ref)
                if actual is None:
                    return None
                type_name = actual
            current = parent
        return None  # pragma: no cover - the loop always returns

    def row_term(self, scope: _Scope, expr: Expr) -> _Term:
        """A field path or date function read on a record."""
        if isinstance(expr, FieldPath):
            resolved = self.resolve(scope, expr)
            ident = (
                "path",
                *(hop.relationship.lower() for hop in resolved.hops),
                *(name.lower() for name in resolved.rest),
            )
            if not resolved.rest:
                ident = (*ident, resolved.name.lower())
            return _Term(
                self.getter(resolved),
                resolved.kind,
                resolved.type_name,
                resolved.name,
                resolved.name,
                ident,
                expr.pos,
            )
        name = expr.name
        if name in _WRAPPERS:
            if expr.arg is None:
                raise self.malformed(expr.pos, f"{name} needs a field")
            return self.row_term(scope, expr.arg)
        if name in _DATE_FUNCS:
            return self.date_function(scope, expr)
        if name in _AGGREGATES or name == "FIELDS":
            raise self.malformed(expr.pos, f"{name} cannot be used here")
        raise self.malformed(expr.pos, f"unknown function: '{name}'")

    def date_function(self, scope: _Scope, call: FuncCall) -> _Term:
        arg = call.arg
        if isinstance(arg, FuncCall) and arg.name == "CONVERTTIMEZONE":
            arg = arg.arg
        if not isinstance(arg, FieldPath):
            raise self.malformed(call.pos, f"{call.name} takes a date or dateTime field")
        inner = self.row_term(scope, arg)
        if inner.kind not in (DATE, DATETIME):
            raise self.malformed(
                call.pos, f"{call.name} takes a date or dateTime field, not {inner.label}"
            )
        to_key = _datetime_norm if inner.kind == DATETIME else _date_norm
        fn = _DATE_FUNCS[call.name]
        inner_get = inner.get

        def get(rec: Record) -> Any:
            value = inner_get(rec)
            if value is None:
                return None
            key = to_key(value)
            return None if key is None else fn(key)

        day_only = call.name == "DAY_ONLY"
        return _Term(
            get,
            DATE if day_only else NUMBER,
            "date" if day_only else "int",
            call.name,
            f"{call.name}({inner.label})",
            ("fn", call.name, *inner.ident),
            call.pos,
        )

    # --- conditions -------------------------------------------------------------------------

    def condition(self, cond: Condition, term_of: Callable[[Expr], _Term]) -> Pred:
        if isinstance(cond, And):
            preds = [self.condition(c, term_of) for c in cond.items]
            if len(preds) == 2:
                a, b = preds
                return lambda r: a(r) and b(r)
            return lambda r: all(p(r) for p in preds)
        if isinstance(cond, Or):
            preds = [self.condition(c, term_of) for c in cond.items]
            if len(preds) == 2:
                a, b = preds
                return lambda r: a(r) or b(r)
            return lambda r: any(p(r) for p in preds)
        if isinstance(cond, Not):
            inner = self.condition(cond.item, term_of)
            return lambda r: not inner(r)
        if isinstance(cond, InQuery):
            return self.semi_join(term_of(cond.lhs), cond)
        term = term_of(cond.lhs)
        if isinstance(cond, Compare):
            return self.compare(term, cond.op, cond.value)
        if isinstance(cond, Like):
            return self.like(term, cond.value)
        if isinstance(cond, InList):
            return self.in_list(term, cond.values, cond.negated)
        return self.includes(term, cond)

    def literal_key(self, term: _Term, lit: Literal) -> tuple[Callable[[Any], Any], Any]:
        """How to compare ``term`` with a (non-null, non-constant) literal: a normaliser for
        record values and the literal's normalised value."""
        kind, lk = term.kind, lit.kind
        if kind == TEXT:
            if lk != "string":
                raise self.type_error(term, lit)
            return _text_norm, decode_string(lit.raw).casefold()
        if kind == ID:
            if lk != "string":
                raise self.type_error(term, lit)
            text = decode_string(lit.raw)
            if text == "":
                return _identity, ""
            if not is_salesforce_id(text):
                raise self.error(
                    "INVALID_QUERY_FILTER_OPERATOR", lit.pos, f"invalid ID field: {text}"
                )
            return _identity, to_18(text)
        if kind == NUMBER:
            if lk != "number":
                raise self.type_error(term, lit)
            return _identity, lit.number
        if kind == BOOL:
            if lk not in ("true", "false"):
                raise self.type_error(term, lit)
            return _identity, lk == "true"
        if kind in (DATE, DATETIME):
            if lk == "date" and _valid_date(lit.raw):
                if kind == DATE:
                    return _date_norm, lit.raw
                return _datetime_norm, midnight_key(lit.raw)
            if lk == "datetime":
                key = datetime_key(lit.raw)
                if key is None:
                    raise self.malformed(lit.pos, f"invalid dateTime: {lit.raw}")
                # A date field against a datetime: the date is midnight UTC (documented).
                return (_datetime_norm if kind == DATETIME else _date_as_instant), key
            if lk == "date":
                raise self.malformed(lit.pos, f"invalid date: {lit.raw}")
            raise self.type_error(term, lit)
        if kind == TIME:
            key = time_key(lit.raw) if lk == "time" else None
            if key is None:
                raise self.type_error(term, lit)
            return _time_norm, key
        if kind == MULTI:
            if lk != "string":
                raise self.type_error(term, lit)
            return _multi_norm, _multi_norm(decode_string(lit.raw))
        # OTHER (anyType, base64, compound...): compare what is there.
        if lk == "string":
            return _text_norm, decode_string(lit.raw).casefold()
        if lk == "number":
            return _identity, lit.number
        if lk in ("true", "false"):
            return _identity, lk == "true"
        return _identity, lit.raw

    def compare(self, term: _Term, op: str, lit: Literal) -> Pred:
        get = term.get
        if lit.kind == "null":
            if op == "=":
                return lambda r: get(r) is None
            if op == "!=":
                return lambda r: get(r) is not None
            raise self.bad_operator(term, f"'{op} null'")
        if op not in ("=", "!=") and term.kind in (BOOL, MULTI):
            raise self.bad_operator(term, f"'{op}'")
        if lit.kind == "constant":
            return self.date_constant(term, op, lit)
        norm, target = self.literal_key(term, lit)
        if op == "=":
            if norm is _identity:
                return lambda r: get(r) == target
            return lambda r: (v := get(r)) is not None and norm(v) == target
        if op == "!=":
            return lambda r: (v := get(r)) is None or norm(v) != target
        if op == "<":
            return lambda r: (v := get(r)) is not None and _lt(norm(v), target)
        if op == "<=":
            return lambda r: (v := get(r)) is not None and _le(norm(v), target)
        if op == ">":
            return lambda r: (v := get(r)) is not None and _lt(target, norm(v))
        return lambda r: (v := get(r)) is not None and _le(target, norm(v))

    def constant_range(
        self, term: _Term, op: str, lit: Literal
    ) -> tuple[Range, Callable[[Any], Any]]:
        """``term op lit`` for a date literal (``TODAY``, ``LAST_N_DAYS:n``...): the range
        of keys it keeps (for ``!=``, the range ``=`` keeps), and the normaliser that gives
        a record value's key. The one place a literal and an operator become keys: the
        predicate (``date_constant``) and the pushdown (``range_of``) both read it."""
        name = lit.raw.upper()
        if name in DATE_LITERALS:
            if lit.n is not None:
                raise self.malformed(lit.pos, f"{name} does not take a number")
        elif name in N_DATE_LITERALS:
            if lit.n is None:
                raise self.malformed(lit.pos, f"{name} needs a number: {name}:n")
        else:
            raise self.malformed(lit.pos, f"unexpected token: '{lit.raw}'")
        if term.kind not in (DATE, DATETIME):
            raise self.type_error(term, lit)
        try:
            first, last = date_range(name, lit.n, self.today)
        except (OverflowError, ValueError):  # beyond year 1..9999: no such dates
            raise self.malformed(
                lit.pos, f"invalid date literal: {name}:{lit.n} is out of the range of dates"
            ) from None
        start, end = first.isoformat(), last.isoformat()
        norm: Callable[[Any], Any] = _date_norm
        if term.kind == DATETIME:
            start, end, norm = midnight_key(start), midnight_key(end), _datetime_norm
        field, kind = term.name, term.kind
        if op in ("=", "!="):  # [start, end)
            return Range(field, kind, start, False, end, True), norm
        if op == "<":  # before the first day
            return Range(field, kind, high=start, high_strict=True), norm
        if op == "<=":  # up to the last day
            return Range(field, kind, high=end, high_strict=True), norm
        if op == ">":  # after the last day
            return Range(field, kind, low=end), norm
        return Range(field, kind, low=start), norm  # from the first day

    def date_constant(self, term: _Term, op: str, lit: Literal) -> Pred:
        bounds, norm = self.constant_range(term, op, lit)
        get = term.get

        def inside(rec: Any) -> bool:
            value = get(rec)
            return value is not None and _within(bounds, norm(value))

        if op == "!=":
            return lambda r: not inside(r)
        return inside

    def like(self, term: _Term, lit: Literal) -> Pred:
        if term.kind not in (TEXT, OTHER):
            raise self.bad_operator(term, "LIKE")
        if lit.kind == "null":
            return lambda r: False
        if lit.kind != "string":
            raise self.type_error(term, lit)
        matches = decode_like(lit.raw).matches
        get = term.get
        return lambda r: isinstance(v := get(r), str) and matches(v)

    def in_list(self, term: _Term, values: Sequence[Literal], negated: bool) -> Pred:
        if term.kind == MULTI:
            raise self.bad_operator(term, "IN")
        has_null = any(v.kind == "null" for v in values)
        constants = [v for v in values if v.kind == "constant"]
        parts = [self.literal_key(term, v) for v in values if v.kind not in ("null", "constant")]
        get = term.get
        pred: Pred
        if not constants and len({id(norm) for norm, _ in parts}) <= 1:
            norm = parts[0][0] if parts else _identity
            targets = frozenset(target for _, target in parts)

            def pred(r: Any) -> bool:
                value = get(r)
                if value is None:
                    return has_null
                return norm(value) in targets

        else:
            preds = [self.compare(term, "=", v) for v in values if v.kind != "null"]

            def pred(r: Any) -> bool:
                if has_null and get(r) is None:
                    return True
                return any(p(r) for p in preds)

        if negated:
            return lambda r: not pred(r)
        return pred

    def includes(self, term: _Term, cond: Includes) -> Pred:
        word = "EXCLUDES" if cond.excludes else "INCLUDES"
        if term.kind != MULTI:
            raise self.error(
                "INVALID_QUERY_FILTER_OPERATOR",
                term.pos,
                f"{word} can only be used with a multi-select picklist field, and "
                f"'{term.label}' is of type {term.type_name}",
            )
        wanted = []
        for lit in cond.values:
            if lit.kind == "null":
                continue
            if lit.kind != "string":
                raise self.type_error(term, lit)
            wanted.append(_multi_norm(decode_string(lit.raw)))
        get = term.get

        def included(r: Any) -> bool:
            value = get(r)
            if value is None:
                return False
            have = _multi_norm(value)
            return any(want <= have for want in wanted if want)

        if cond.excludes:
            return lambda r: not included(r)
        return included

    def semi_join(self, term: _Term, cond: InQuery) -> Pred:
        query = cond.query
        sobject = self.sobject(query)
        select = query.select
        if (
            len(select) != 1
            or not isinstance(select[0], SelectExpr)
            or not isinstance(select[0].expr, FieldPath)
        ):
            raise self.malformed(
                query.pos, "A semi-join or anti-join subquery must select exactly one id field"
            )
        plan = self.compile(query, sobject, role="semi")
        if plan.mode != "rows" or plan.children:
            raise self.malformed(query.pos, "A semi-join subquery cannot aggregate or nest")
        inner = self.row_term(_Scope(sobject, query.alias), select[0].expr)
        if term.kind not in (ID, TEXT) or inner.kind not in (ID, TEXT):
            raise self.error(
                "INVALID_FIELD",
                term.pos,
                "Semi-join and anti-join subqueries compare id fields: "
                f"'{term.label}' and '{inner.label}'",
            )
        norm = _text_norm if term.kind == TEXT or inner.kind == TEXT else _identity
        cache: list[frozenset[Any]] = []

        def selected() -> frozenset[Any]:
            if not cache:
                rows = self.scan(plan)
                _sort(rows, plan.order)
                rows = _slice(rows, plan.offset, plan.limit)
                get_inner = inner.get
                cache.append(
                    frozenset(norm(v) for row in rows if (v := get_inner(row)) is not None)
                )
            return cache[0]

        get = term.get

        def member(r: Any) -> bool:
            value = get(r)
            return value is not None and norm(value) in selected()

        if cond.negated:
            return lambda r: not member(r)
        return member


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _within(bounds: Range, key: str | None) -> bool:
    """Whether a date or datetime key (``None``: no key) is in ``bounds`` (text keys)."""
    if key is None:
        return False
    low, high = bounds.low, bounds.high
    if isinstance(low, str) and (key < low or (bounds.low_strict and key == low)):
        return False
    return not (isinstance(high, str) and (key > high or (bounds.high_strict and key == high)))


def _lt(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return False


def _le(a: Any, b: Any) -> bool:
    try:
        return bool(a <= b)
    except TypeError:
        return False


def _group_value(index: int, group: _Group) -> Any:
    return group.values[index]


def _count(get: Getter, rows: list[Record]) -> int:
    return sum(1 for row in rows if get(row) is not None)


def _count_distinct(get: Getter, norm: Callable[[Any], Any], rows: list[Record]) -> int:
    return len({norm(v) for row in rows if (v := get(row)) is not None})


def _sum(get: Getter, average: bool, integral: bool, rows: list[Record]) -> Any:
    values = [v for row in rows if (v := get(row)) is not None]
    if not values:
        return None
    total = sum(values)
    if average:
        return float(total) / len(values)
    return int(total) if integral else float(total)


def _extreme(get: Getter, key: Callable[[Any], Any], smallest: bool, rows: list[Record]) -> Any:
    values = [v for row in rows if (v := get(row)) is not None]
    if not values:
        return None
    return min(values, key=key) if smallest else max(values, key=key)

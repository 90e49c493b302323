"""``SObject``: Pydantic models of Salesforce records, and their per-class metadata.

The metaclass turns ``Field(...)`` defaults into Pydantic fields, lets Pydantic build the
class, then installs one descriptor per field so that ``Contact.last_name`` is an expression
and ``contact.last_name`` a value. API names, types, relationships and external ids are worked
out once per class, on first use (after forward references resolve).
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import inflection
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator
from pydantic import Field as PydanticField
from pydantic._internal._model_construction import ModelMetaclass, build_lenient_weakvaluedict
from pydantic._internal._typing_extra import parent_frame_namespace
from pydantic_core import PydanticCustomError, PydanticUndefined

from sobjects.errors import ConfigurationError, SalesforceError
from sobjects.orm._construct import (
    accepted_names,
    constructor_for,
    unknown_fields,
    unknown_fields_error,
)
from sobjects.orm._context import resolve_session
from sobjects.orm._fields import (
    READ_ONLY_TYPES,
    Field,
    Id,
    building_models,
    unwrap_field_annotation,
)

if TYPE_CHECKING:
    from sobjects.errors import ErrorDetail
    from sobjects.orm._operation import Operation
    from sobjects.orm._session import Session  # for annotations only: no import at run time
    from sobjects.sync import Session as SyncSession

__all__ = [
    "FieldMeta",
    "Loaded",
    "ObjectState",
    "RelationshipNotLoadedError",
    "SObject",
    "SObjectMeta",
    "changed_fields",
    "changed_values",
    "copied_values",
    "frozen_value",
    "own_snapshot",
    "set_state_slot",
    "sobject_meta",
    "write_field",
]

# Fields Salesforce fills in and never accepts on write.
SYSTEM_FIELDS = frozenset(
    {
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "LastActivityDate",
        "LastViewedDate",
        "LastReferencedDate",
    }
)


class RelationshipNotLoadedError(SalesforceError, AttributeError):
    """A relationship of a record read from Salesforce was not part of its query.

    sobjects never loads anything behind your back: select the relationship instead.
    """


@dataclass
class FieldMeta:
    """What sobjects knows about one model field."""

    name: str
    api_name: str
    kind: Literal["value", "parent", "children"]
    annotation: Any
    target: type[SObject] | None = None
    read_only: bool = False
    external_id: bool = False
    multipicklist: bool = False
    # Values: a mutable type (a multipicklist set, a list, a dict), whose in-place changes
    # only a copy taken at load can reveal.
    needs_copy: bool = False
    lookup_api_name: str | None = None  # parents: the id field behind the relationship
    # Parents: whether the lookup can be written (CreatedBy, say, cannot).
    writable_lookup: bool = True
    lookup_name: str | None = None  # parents: the model's field for that id, if declared
    may_hold_datetime: bool = False  # values: naive datetimes are refused on save
    # A multipicklist typed without None: Salesforce's null (nothing selected) loads as set().
    null_is_empty: bool = False

    @property
    def writable(self) -> bool:
        return self.kind == "value" and not self.read_only


@dataclass
class SObjectMeta:
    """Per-class metadata: the sObject's API name and its fields by Python and API name."""

    api_name: str
    fields: dict[str, FieldMeta]
    by_api: dict[str, FieldMeta] = field(default_factory=dict)  # lower-case API name
    # Worked out once, so that per-record paths look things up instead of scanning fields.
    relations: tuple[FieldMeta, ...] = ()  # parents and children
    assignable_parents: frozenset[str] = frozenset()  # parents whose lookup can be written
    copied_at_load: frozenset[str] = frozenset()  # see FieldMeta.needs_copy
    writable: frozenset[str] = frozenset()  # value fields that are sent
    # Writable fields sent as they are held (all but multipicklists): Python -> API name.
    wire_names: dict[str, str] = field(default_factory=dict)
    datetimes: frozenset[str] = frozenset()  # value fields that may hold a datetime
    parent_by_lookup: dict[str, FieldMeta] = field(default_factory=dict)  # lookup field name
    external_id_fields: tuple[FieldMeta, ...] = ()

    def __post_init__(self) -> None:
        fields = self.fields.values()
        self.by_api = {f.api_name.lower(): f for f in fields}
        self.relations = tuple(f for f in fields if f.kind != "value")
        self.assignable_parents = frozenset(
            f.name for f in fields if f.kind == "parent" and f.writable_lookup
        )
        self.copied_at_load = frozenset(f.name for f in fields if f.needs_copy)
        self.writable = frozenset(f.name for f in fields if f.writable)
        self.wire_names = {f.name: f.api_name for f in fields if f.writable and not f.multipicklist}
        self.datetimes = frozenset(f.name for f in fields if f.may_hold_datetime)
        self.external_id_fields = tuple(f for f in fields if f.external_id)
        for parent in fields:
            if parent.kind != "parent" or parent.lookup_api_name is None:
                continue
            lookup = self.by_api.get(parent.lookup_api_name.lower())
            if lookup is not None and lookup.kind == "value":
                parent.lookup_name = lookup.name
                self.parent_by_lookup.setdefault(lookup.name, parent)

    @property
    def external_ids(self) -> list[FieldMeta]:
        return list(self.external_id_fields)

    def field(self, name: str) -> FieldMeta:
        try:
            return self.fields[name]
        except KeyError:
            raise ConfigurationError(f"{self.api_name} has no field {name!r}") from None


class ObjectState:
    """Where a record stands in its session (see ``sobjects.inspect``).

    Plain slots, created once per object: a page of records read from Salesforce makes one
    of these per record and nothing else besides the model itself.
    """

    __slots__ = (
        "assigned",
        "created",
        "deleted",
        "dirty",
        "errors",
        "failed",
        "last_result",
        "lookups",
        "pending",
        "persistent",
        "session",
        "snapshot",
    )

    def __init__(
        self,
        session: Session | None = None,
        *,
        persistent: bool = False,
        snapshot: dict[str, Any] | None = None,
    ) -> None:
        self.session = session
        self.persistent = persistent  # exists in Salesforce as far as we know
        self.deleted = False
        # Python name -> value (sets frozen) as Salesforce holds it: loaded or last sent. For a
        # record read from Salesforce it starts as the very dict the record was loaded into
        # (pydantic gives the object a new ``__dict__`` on every assignment, so that dict
        # keeps the loaded values); ``own_snapshot`` copies it before anything writes to it.
        self.snapshot: dict[str, Any] = {} if snapshot is None else snapshot
        # Lookup ids sent for assigned parents whose lookup field the model does not declare.
        self.lookups: dict[str, str | None] | None = None
        # Parent relationships assigned since the record was built or loaded: their lookup id
        # is part of the next write (``contact.account = acme``).
        self.assigned: AbstractSet[str] = _NO_NAMES
        self.pending: Operation | None = None
        self.created: bool | None = None
        self.last_result: Any = None
        self.errors: Sequence[ErrorDetail] = ()
        self.failed = False
        # Assigned to (or deleted from) since it was built or loaded: only such objects, and
        # those with mutable values, can hold changes nobody saved (see Session.unsaved).
        self.dirty = False

    def assign(self, name: str) -> None:
        if name not in self.assigned:
            self.assigned = {*self.assigned, name}

    def unassign(self, name: str) -> None:
        if name in self.assigned:
            self.assigned = set(self.assigned) - {name}

    def __repr__(self) -> str:
        return (
            f"ObjectState(persistent={self.persistent}, deleted={self.deleted}, "
            f"pending={self.pending!r}, failed={self.failed})"
        )


_NO_NAMES: frozenset[str] = frozenset()


class Loaded:
    """What the state slot of a record read from Salesforce holds until its state is first
    needed: the session that loaded it. Most loaded records are only read, so the state
    (with the loaded ``__dict__`` as snapshot) is made on first use, not per record."""

    __slots__ = ("copies", "session")

    def __init__(self, session: Session | None, copies: dict[str, Any] | None = None) -> None:
        self.session = session
        # Frozen copies of mutable values (a multipicklist set) taken at load: they may be
        # changed in place before the state is made.
        self.copies = copies


# -- descriptors for instances -------------------------------------------------------------------

_ABSENT: Any = object()


class _ValueField(Field[Any]):
    """A value field on a model class. It is a *non-data* descriptor, so reading
    ``obj.field`` is a plain ``__dict__`` lookup; ``__get__`` only runs for a field the
    object does not hold (not selected by its query): its default, or ``AttributeError``."""

    def __get__(self, obj: object, owner: Any) -> Any:
        if obj is None:
            return Field.__get__(self, obj, owner)
        return _absent_value(typing.cast(SObject, obj), self)


class _RelationField(Field[Any]):
    """A parent or child relationship: a data descriptor, because an empty value of a record
    read from Salesforce may mean "not selected" rather than "no parent/children"."""

    def __get__(self, obj: object, owner: Any) -> Any:
        if obj is None:
            return Field.__get__(self, obj, owner)
        model = typing.cast(SObject, obj)
        value = model.__dict__.get(self.name, _ABSENT)
        if value is _ABSENT or not value:
            if model._sobject_state.persistent and self.name not in model.__pydantic_fields_set__:
                raise _not_loaded(model, self.name)
            if value is _ABSENT:
                return _absent_value(model, self)
        return value

    # Present to make this a data descriptor; pydantic's __setattr__ stores assignments.
    def __set__(self, obj: object, value: Any) -> None:  # pragma: no cover
        obj.__dict__[self.name] = value


def _absent_value(obj: SObject, descriptor: Field[Any]) -> Any:
    info = type(obj).__pydantic_fields__.get(descriptor.name)
    if info is not None and info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info is not None and info.default is not PydanticUndefined:
        value = info.default
        try:
            hash(value)
            return value  # immutable: nothing to keep
        except TypeError:
            value = copy.deepcopy(value)
    else:
        model = type(obj).__name__
        raise AttributeError(
            f"{model}.{descriptor.name} has no value: the query that loaded this {model} did "
            "not select it"
        )
    # A mutable default is kept, so that changing it in place sticks (``obj.tags.add(x)``).
    write_field(obj, descriptor.name, value)
    return value


def _not_loaded(obj: SObject, name: str) -> RelationshipNotLoadedError:
    model = type(obj).__name__
    return RelationshipNotLoadedError(
        f"{model}.{name} was not loaded: the query that read this {model} did not select it, "
        "and sobjects never queries behind your back. Select it in the query (a parent path "
        f"such as {model}.{name}.<field>, or a child subquery)."
    )


def _api_name_for(name: str, spec: Field[Any] | None, model: str = "") -> str:
    """``Field(api_name=)``, else ``first_name`` -> ``FirstName``; a custom field or
    relationship keeps its underscores: ``color_code__c`` -> ``Color_Code__c``."""
    if spec is not None and spec.api_name:
        return spec.api_name
    stem, custom, suffix = name.rpartition("__")
    if not custom:
        return str(inflection.camelize(name))
    parts = stem.split("_")
    if suffix not in ("c", "r") or not all(parts):
        # camelize would quietly turn these into some other field's name (ColorCode_c).
        raise ConfigurationError(
            f"{model or 'the model'}.{name}: a Python name ending in __c (a custom field) or "
            "__r (a custom relationship) maps to its API name with each word capitalised "
            "(color_code__c -> Color_Code__c); any other double underscore (a namespace, "
            "another suffix) needs the API name spelt out: Field(api_name=...)"
        )
    return "_".join(part[:1].upper() + part[1:] for part in parts) + "__" + suffix


# Type checkers do not carry pydantic's dataclass_transform over to a metaclass subclass:
# restate it so model constructors are typed. Our Field is deliberately not a field
# specifier: checkers only read keyword defaults from specifiers, so `= Field(None)` would
# look required; as a plain default of type Field[T] it reads as "has a default".
@typing.dataclass_transform(kw_only_default=True, field_specifiers=(PydanticField, PrivateAttr))
class _SObjectMetaclass(ModelMetaclass):
    def __new__(
        mcs,
        name: str,
        bases: tuple[type[Any], ...],
        namespace: dict[str, Any],
        api_name: str | None = None,
        **kwargs: Any,
    ) -> type:
        declared: dict[str, Field[Any]] = {}
        for key, value in list(namespace.items()):
            if isinstance(value, Field):
                declared[key] = value
                namespace[key] = value.to_pydantic()
        # Pydantic reads the namespace of the frame that defines the class (to resolve
        # annotations naming local classes); from here that frame is one further up.
        namespace.setdefault(
            "__pydantic_parent_namespace__",
            build_lenient_weakvaluedict(parent_frame_namespace()),
        )
        with building_models():
            cls = super().__new__(
                mcs,
                name,
                bases,
                namespace,
                __pydantic_reset_parent_namespace__=False,
                **kwargs,
            )
        inherited: dict[str, Field[Any]] = {}
        for base in reversed(cls.__mro__[1:]):
            inherited.update(getattr(base, "__sobject_fields__", {}))
        specs = {**inherited, **declared}
        fields = typing.cast(dict[str, Any], cls.__pydantic_fields__)  # type: ignore[attr-defined]
        for field_name in fields:
            spec = specs.get(field_name)
            if spec is None:
                spec = Field()
            # A value field until the metadata knows better (see sobject_meta).
            descriptor = _ValueField(
                api_name=spec.api_name,
                external_id=spec.external_id,
                read_only=spec.read_only,
            )
            descriptor.name = field_name
            descriptor.owner = cls
            _api_name_for(field_name, spec, name)  # a name that maps to nothing fails here
            specs[field_name] = descriptor
            type.__setattr__(cls, field_name, descriptor)
        type.__setattr__(cls, "__sobject_fields__", specs)
        explicit = api_name or namespace.get("__sobject_name__")
        type.__setattr__(cls, "__sobject_name__", explicit or name)
        type.__setattr__(cls, "__sobject_meta__", None)
        return cls


class SObject(BaseModel, metaclass=_SObjectMetaclass):
    """Base class of sObject models.

    The sObject name is the class name unless given: ``class Invoice(SObject,
    api_name="Invoice__c")``. Field API names come from ``inflection.camelize``
    (``first_name`` -> ``FirstName``) unless ``Field(api_name=...)`` says otherwise.

    >>> from sobjects.fields import Field
    >>> class Contact(SObject):
    ...     last_name: Field[str]
    ...     email: Field[str | None] = Field(None)
    >>> Contact(last_name="Doe").last_name
    'Doe'
    >>> str(Contact.last_name == "O'Brien")
    "LastName = 'O\\\\'Brien'"
    """

    # Unknown keywords are refused (with a suggestion); records from Salesforce are not
    # affected: their fields the model does not declare are ignored (see ``_from_wire``).
    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    # The unit-of-work state lives in a slot of its own, not in pydantic's private
    # attributes: reading it is then a plain slot read (see ``_sobject_state``).
    __slots__ = ("_sobject_slot",)

    __sobject_name__: ClassVar[str]
    __sobject_fields__: ClassVar[dict[str, Field[Any]]]
    __sobject_meta__: ClassVar[SObjectMeta | None]

    id: Field[Id | None] = Field(None, read_only=True)

    if not TYPE_CHECKING:
        # Hidden from type checkers, which then keep synthesising each model's typed
        # constructor. Marked as pydantic's own, so that pydantic-core never calls it
        # during validation (see sobjects.orm._construct).
        def __init__(self, /, **data: Any) -> None:
            cls = type(self)
            accepted = accepted_names(cls)
            if accepted is not None and not accepted.issuperset(data) and "attributes" not in data:
                raise unknown_fields_error(cls, data, accepted)
            constructor = constructor_for(cls)
            made = None if constructor is None else constructor.values(data)
            if made is None:
                super().__init__(**data)
                return
            values, fields_set = made
            # pydantic's own slots, set through their descriptors (cheaper than setattr).
            _set_dict(self, values)
            _set_fields_set(self, fields_set)
            _set_extra(self, None)
            _set_private(self, None)
            if cls.model_post_init is not _sobject_post_init:
                self.model_post_init(None)  # a model's own (or pydantic's, for PrivateAttr)
            else:
                _new_state(self, cls, fields_set)

        __init__.__pydantic_base_init__ = True

    @property
    def _sobject_state(self) -> ObjectState:
        try:
            slot = self._sobject_slot  # type: ignore[attr-defined]
        except AttributeError:
            slot = None  # a copy (model_copy, pickle): a record as it was read
        if slot.__class__ is ObjectState:
            return slot
        # Loaded from Salesforce and untouched since: the current values are the loaded ones
        # (but for mutable ones, copied at load).
        values = self.__dict__
        loaded = slot if isinstance(slot, Loaded) else None
        snapshot = values
        if loaded is not None and loaded.copies:
            snapshot = {**values, **loaded.copies}
        elif loaded is None:
            meta = sobject_meta(type(self))
            if not meta.copied_at_load.isdisjoint(values):
                snapshot = {**values, **copied_values(values, meta.copied_at_load)}
        state = ObjectState(
            loaded.session if loaded is not None else None,
            persistent=values.get("id") is not None,
            snapshot=snapshot,
        )
        object.__setattr__(self, "_sobject_slot", state)
        return state

    def model_post_init(self, context: Any, /) -> None:
        _new_state(self, type(self), self.__pydantic_fields_set__)

    @classmethod
    def model_rebuild(cls, **kwargs: Any) -> bool | None:
        """Resolve forward references (see pydantic); also resets sobjects' metadata."""
        # One frame deeper than pydantic expects: the caller's namespace is one further up.
        kwargs.setdefault("_parent_namespace_depth", 3)
        with building_models():
            result = super().model_rebuild(**kwargs)
        type.__setattr__(cls, "__sobject_meta__", None)
        type.__setattr__(cls, "__sobject_validators__", {})
        if "__sobject_constructor__" in cls.__dict__:
            type.__delattr__(cls, "__sobject_constructor__")
        return result

    # -- wire in ---------------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, data: Any) -> Any:
        """Accept Salesforce records (API names, ``attributes``, child query results)."""
        if not isinstance(data, dict):
            return data
        if "attributes" not in data:
            accepted = accepted_names(cls)
            if accepted is not None and not accepted.issuperset(data):
                # model_validate() of the user's data: the same refusal as the constructor.
                messages = [text for _, text in unknown_fields(cls, data, accepted)]
                raise PydanticCustomError(
                    "unknown_field", "{message}", {"message": "; ".join(messages)}
                )
            return data
        meta = sobject_meta(cls)
        out: dict[str, Any] = {}
        for key, value in data.items():
            fm = meta.by_api.get(key.lower())
            if fm is None:
                continue
            if fm.kind == "children":
                value = (
                    (value or {}).get("records") or []
                    if isinstance(value, dict) or (value is None)
                    else value
                )
            elif value is None and fm.null_is_empty:
                value = set()
            out[fm.name] = value
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Self:
        """A persistent instance from a Salesforce record (API names, as a query returns).

        The record may hold any subset of the fields (a projection, a parent path with only
        ``Name``): the fields present are validated and loaded; the others are not loaded
        (reading one gives its default, or raises if it has none).
        """
        from sobjects.orm._hydrate import load_records

        return load_records(cls, [record])[0]

    # -- wire out --------------------------------------------------------------------------

    def _wire_value(self, fm: FieldMeta) -> Any:
        value = self.__dict__.get(fm.name)
        if fm.multipicklist and isinstance(value, (set, frozenset)):
            return ";".join(sorted(value)) if value else None
        return value

    # -- tracking ----------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        cls = type(self)
        meta = cls.__dict__.get("__sobject_meta__") or sobject_meta(cls)
        fm = meta.fields.get(name)
        if fm is None:
            super().__setattr__(name, value)
            return
        if fm.kind == "parent" and not fm.writable_lookup:
            raise ConfigurationError(
                f"{cls.__name__}.{name} is read-only: Salesforce sets {fm.lookup_api_name} itself"
            )
        if fm.kind == "value" and fm.read_only:
            # Never sent: accepting the assignment would drop the value without a word.
            hint = (
                f"; for a record whose id you know, build it: {cls.__name__}(id=..., ...)"
                if name == "id"
                else ""
            )
            raise ConfigurationError(
                f"{cls.__name__}.{name} is read-only: Salesforce sets {fm.api_name}{hint}"
            )
        if fm.kind == "parent" and value is self:
            raise ConfigurationError(
                f"{cls.__name__}.{name}: a record cannot be its own parent (Salesforce refuses "
                "a circular hierarchy)"
            )
        state = self._sobject_state  # made before pydantic replaces the loaded __dict__
        state.dirty = True
        if state.snapshot is self.__dict__:
            # Pydantic gives the object a new __dict__ when it validates an assignment, but
            # writes in place when validate_assignment is off: keep the loaded values apart.
            own_snapshot(self)
        super().__setattr__(name, value)
        if fm.kind == "parent":
            state.assign(name)
            return
        parent = meta.parent_by_lookup.get(name)
        if parent is not None and parent.name not in state.assigned:
            # Setting a lookup id by hand makes a loaded parent object stale: forget it
            # rather than let it disagree with the id that will be sent.
            write_field(self, parent.name, None)
            self.__pydantic_fields_set__.discard(parent.name)

    def __copy__(self) -> Self:
        copied = super().__copy__()
        _copy_state(self, copied)
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        copied = super().__deepcopy__(memo)
        _copy_state(self, copied)
        return copied

    def __delattr__(self, name: str) -> None:
        if name in type(self).__sobject_fields__:
            own_snapshot(self)  # pydantic deletes from __dict__ in place
            self._sobject_state.dirty = True
        super().__delattr__(name)

    # -- unit of work --------------------------------------------------------------------------

    def save(self, *, session: Session | SyncSession | None = None) -> Operation:
        """Record a create (no id yet) or an update of the changed fields; no I/O.

        Runs in the current ``Session`` (or ``session=``); the flush sends it.
        """
        return resolve_session(session, self).register_save(self)

    def upsert(
        self, *, external_id: str | None = None, session: Session | SyncSession | None = None
    ) -> Operation:
        """Record an upsert matched by the model's external id field (or ``external_id``)."""
        return resolve_session(session, self).register_upsert(self, external_id)

    def delete(self, *, session: Session | SyncSession | None = None) -> Operation:
        """Record a delete of this record; no I/O."""
        return resolve_session(session, self).register_delete(self)


# The state slot's own setter: cheaper than object.__setattr__, once per object.
set_state_slot: Callable[[Any, Any], None] = SObject._sobject_slot.__set__  # type: ignore[attr-defined]
_sobject_post_init = SObject.model_post_init
# Likewise pydantic's instance slots, which SObject.__init__ fills for a model it builds.
_set_dict: Callable[[Any, Any], None] = BaseModel.__dict__["__dict__"].__set__
_set_fields_set: Callable[[Any, Any], None] = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra: Callable[[Any, Any], None] = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private: Callable[[Any, Any], None] = BaseModel.__dict__["__pydantic_private__"].__set__


def _new_state(obj: SObject, cls: type[SObject], fields_set: AbstractSet[str]) -> None:
    """The state of a model built in code: new, in no session yet."""
    state = ObjectState()
    set_state_slot(obj, state)
    # Relationships passed to the constructor are assignments too (Contact(account=a)).
    meta = cls.__dict__.get("__sobject_meta__") or sobject_meta(cls)
    if meta.assignable_parents:
        given = meta.assignable_parents.intersection(fields_set)
        if given:
            state.assigned = set(given)


def _copy_state(original: SObject, copied: SObject) -> None:
    """A copy (``model_copy``) is the same record with its own state: its changes are still
    measured against what Salesforce holds, and it is in no session and has nothing pending."""
    state = original._sobject_state
    snapshot = {name: frozen_value(value) for name, value in state.snapshot.items()}
    twin = ObjectState(None, persistent=state.persistent, snapshot=snapshot)
    twin.assigned = set(state.assigned)
    twin.lookups = dict(state.lookups) if state.lookups else None
    twin.created = state.created
    twin.dirty = True  # model_copy(update=...) changes values without assigning them
    set_state_slot(copied, twin)


# -- snapshots and changes -------------------------------------------------------------------------


def own_snapshot(obj: SObject) -> dict[str, Any]:
    """The object's snapshot, copied first if it is still the object's own ``__dict__``."""
    state = obj._sobject_state
    if state.snapshot is obj.__dict__:
        state.snapshot = dict(state.snapshot)
    return state.snapshot


def write_field(obj: SObject, name: str, value: Any) -> None:
    """Store a value without validation or tracking (results from Salesforce, defaults);
    the snapshot keeps what it held."""
    own_snapshot(obj)
    obj.__dict__[name] = value


def copied_values(values: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """Snapshot copies of the mutable values among ``names``."""
    return {
        name: frozenset(value) if isinstance(value, set) else frozen_value(copy.deepcopy(value))
        for name in names.intersection(values)
        if (value := values[name]) is not None
    }


def frozen_value(value: Any) -> Any:
    """A value as kept in a snapshot: in-place changes to the live one must not reach it."""
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def changed_fields(obj: SObject) -> list[FieldMeta]:
    """Writable fields whose value differs from the snapshot taken at load or last flush
    (in-place changes and explicit ``None`` included). Fields never loaded count when the
    user set them."""
    snapshot = obj._sobject_state.snapshot
    meta = sobject_meta(type(obj))
    current = obj.__dict__
    out: list[FieldMeta] = []
    # Every field a value was given to or loaded into is in the fields set; the others hold
    # defaults that nobody set and Salesforce did not send.
    for name in meta.writable.intersection(obj.__pydantic_fields_set__):
        if name not in current:
            continue
        if name in snapshot:
            before = snapshot[name]
            value = current[name]
            if value is before or frozen_value(value) == before:
                continue
        out.append(meta.fields[name])
    return out


def changed_values(obj: SObject) -> dict[str, Any]:
    """The changed fields (see ``changed_fields``) as API name -> wire value."""
    return {fm.api_name: obj._wire_value(fm) for fm in changed_fields(obj)}


def sobject_meta(cls: type[SObject]) -> SObjectMeta:
    """The class's metadata, computed on first use and cached."""
    cached = cls.__dict__.get("__sobject_meta__")
    if cached is not None:
        return typing.cast(SObjectMeta, cached)
    if cls is SObject:
        raise ConfigurationError("SObject itself is not an sObject; subclass it")
    if not cls.__pydantic_complete__ and not cls.model_rebuild(raise_errors=False):
        raise ConfigurationError(
            f"{cls.__name__} refers to a class that is not defined yet; define it, then call "
            f"{cls.__name__}.model_rebuild()"
        )
    # Pydantic has resolved every annotation (forward references included) by now.
    hints = {name: info.annotation for name, info in cls.__pydantic_fields__.items()}
    fields: dict[str, FieldMeta] = {}
    for name in cls.__pydantic_fields__:
        spec = cls.__sobject_fields__.get(name)
        annotation = unwrap_field_annotation(hints.get(name, Any))
        core = _strip_optional(_strip_annotated(annotation))
        api = _api_name_for(name, spec, cls.__name__)
        target = _sobject_target(core)
        if target is not None:
            lookup = api[:-3] + "__c" if api.endswith("__r") else api + "Id"
            fields[name] = FieldMeta(
                name, api, "parent", annotation, target=target, read_only=True,
                lookup_api_name=lookup, writable_lookup=not (spec and spec.read_only),
            )  # fmt: skip
            continue
        if typing.get_origin(core) is list:
            (item,) = typing.get_args(core) or (Any,)
            child = _sobject_target(_strip_annotated(item))
            if child is not None:
                fields[name] = FieldMeta(name, api, "children", annotation, target=child,
                                         read_only=True)  # fmt: skip
                continue
        read_only = (
            (spec.read_only if spec else False)
            or api in SYSTEM_FIELDS
            or (isinstance(core, type) and issubclass(core, READ_ONLY_TYPES))
        )
        fields[name] = FieldMeta(
            name,
            api,
            "value",
            annotation,
            read_only=read_only,
            external_id=bool(spec and spec.external_id),
            multipicklist=_is_multipicklist(annotation),
            null_is_empty=_is_multipicklist(annotation) and not _allows_none(annotation),
            needs_copy=_is_mutable(annotation),
            may_hold_datetime=_may_hold_datetime(annotation),
        )
    meta = SObjectMeta(api_name=cls.__sobject_name__, fields=fields)
    # Now that kinds are known: relationships answer through a data descriptor, value
    # fields through a non-data one (see _ValueField).
    for fm in fields.values():
        installed = cls.__dict__.get(fm.name)
        if not isinstance(installed, Field):
            continue
        kind = _RelationField if fm.kind != "value" else _ValueField
        if type(installed) is not kind:
            descriptor = kind(
                api_name=installed.api_name,
                external_id=installed.external_id,
                read_only=installed.read_only,
            )
            descriptor.name = installed.name
            descriptor.owner = cls
            type.__setattr__(cls, fm.name, descriptor)
    type.__setattr__(cls, "__sobject_meta__", meta)
    return meta


def _may_hold_datetime(annotation: Any) -> bool:
    if annotation is Any or annotation is datetime:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, datetime)
    return any(_may_hold_datetime(arg) for arg in typing.get_args(annotation))


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip_annotated(args[0])
    return annotation


def _sobject_target(annotation: Any) -> type[SObject] | None:
    if isinstance(annotation, type) and issubclass(annotation, SObject):
        return annotation
    return None


def _is_mutable(annotation: Any) -> bool:
    core = _strip_annotated(_strip_optional(annotation))
    return typing.get_origin(core) in (set, list, dict) or core in (set, list, dict)


def _allows_none(annotation: Any) -> bool:
    annotation = _strip_annotated(annotation)
    if annotation is None or annotation is type(None) or annotation is Any:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_allows_none(arg) for arg in typing.get_args(annotation))
    return False


def _is_multipicklist(annotation: Any) -> bool:
    core = _strip_optional(annotation)
    if typing.get_origin(core) is typing.Annotated:
        base = typing.get_args(core)[0]
        return typing.get_origin(base) in (set, frozenset) or base in (set, frozenset)
    return typing.get_origin(core) in (set, frozenset)

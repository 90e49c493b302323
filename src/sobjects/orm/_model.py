"""``SObject``: Pydantic models of Salesforce records, and their per-class metadata.

The metaclass turns ``Field(...)`` defaults into Pydantic fields, lets Pydantic build the
class, then installs one descriptor per field so that ``Contact.last_name`` is an expression
and ``contact.last_name`` a value. API names, types, relationships and external ids are worked
out once per class, on first use (after forward references resolve).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import inflection
from pydantic import BaseModel, ConfigDict, PrivateAttr, create_model, model_validator
from pydantic import Field as PydanticField
from pydantic._internal._model_construction import ModelMetaclass, build_lenient_weakvaluedict
from pydantic._internal._typing_extra import parent_frame_namespace

from sobjects.errors import ConfigurationError, SalesforceError
from sobjects.orm._fields import (
    READ_ONLY_TYPES,
    Field,
    Id,
    building_models,
    unwrap_field_annotation,
)

if TYPE_CHECKING:
    from sobjects.errors import ErrorDetail
    from sobjects.orm._session import Operation, Session

__all__ = [
    "FieldMeta",
    "ObjectState",
    "RelationshipNotLoadedError",
    "SObject",
    "SObjectMeta",
    "changed_values",
    "check_relationship_loaded",
    "sobject_meta",
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
    lookup_api_name: str | None = None  # parents: the id field behind the relationship
    # Parents: whether the lookup can be written (CreatedBy, say, cannot).
    writable_lookup: bool = True

    @property
    def writable(self) -> bool:
        return self.kind == "value" and not self.read_only


@dataclass
class SObjectMeta:
    """Per-class metadata: the sObject's API name and its fields by Python and API name."""

    api_name: str
    fields: dict[str, FieldMeta]
    by_api: dict[str, FieldMeta] = field(default_factory=dict)  # lower-case API name

    def __post_init__(self) -> None:
        self.by_api = {f.api_name.lower(): f for f in self.fields.values()}

    @property
    def external_ids(self) -> list[FieldMeta]:
        return [f for f in self.fields.values() if f.external_id]

    def field(self, name: str) -> FieldMeta:
        try:
            return self.fields[name]
        except KeyError:
            raise ConfigurationError(f"{self.api_name} has no field {name!r}") from None

    def parent_for_lookup(self, api_name: str) -> FieldMeta | None:
        for fm in self.fields.values():
            if fm.kind == "parent" and (fm.lookup_api_name or "").lower() == api_name.lower():
                return fm
        return None


@dataclass
class ObjectState:
    """Where a record stands in its session (see ``sobjects.inspect``)."""

    session: Session | None = None
    persistent: bool = False  # exists in Salesforce as far as we know
    deleted: bool = False
    snapshot: dict[str, Any] = field(default_factory=dict)  # wire values at load / last flush
    loaded: set[str] = field(default_factory=set)  # relationships that were queried
    # Parent relationships assigned since the record was built or loaded: their lookup id
    # is part of the next write (``contact.account = acme``).
    assigned: set[str] = field(default_factory=set)
    pending: Operation | None = None
    created: bool | None = None
    last_result: Any = None
    errors: list[ErrorDetail] = field(default_factory=list)
    failed: bool = False


def _api_name_for(name: str, spec: Field[Any] | None) -> str:
    if spec is not None and spec.api_name:
        return spec.api_name
    return str(inflection.camelize(name))


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
            descriptor = Field[Any](
                api_name=spec.api_name,
                external_id=spec.external_id,
                read_only=spec.read_only,
            )
            descriptor.name = field_name
            descriptor.owner = cls
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

    model_config = ConfigDict(validate_assignment=True, extra="ignore")

    __sobject_name__: ClassVar[str]
    __sobject_fields__: ClassVar[dict[str, Field[Any]]]
    __sobject_meta__: ClassVar[SObjectMeta | None]

    id: Field[Id | None] = Field(None, read_only=True)

    _sobject_state: ObjectState = PrivateAttr(default_factory=ObjectState)

    def model_post_init(self, context: Any, /) -> None:
        # Relationships passed to the constructor are assignments too (Contact(account=a)).
        state = self._sobject_state
        for fm in sobject_meta(type(self)).fields.values():
            if fm.kind == "parent" and fm.name in self.model_fields_set:
                state.loaded.add(fm.name)
                if fm.writable_lookup:
                    state.assigned.add(fm.name)

    @classmethod
    def model_rebuild(cls, **kwargs: Any) -> bool | None:
        """Resolve forward references (see pydantic); also resets sobjects' metadata."""
        # One frame deeper than pydantic expects: the caller's namespace is one further up.
        kwargs.setdefault("_parent_namespace_depth", 3)
        with building_models():
            result = super().model_rebuild(**kwargs)
        type.__setattr__(cls, "__sobject_meta__", None)
        return result

    # -- wire in ---------------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, data: Any) -> Any:
        """Accept Salesforce records (API names, ``attributes``, child query results)."""
        if not isinstance(data, dict) or "attributes" not in data:
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
            out[fm.name] = value
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Self:
        """A persistent instance from a Salesforce record (API names, as a query returns).

        The record may hold any subset of the fields (a projection, a parent path with only
        ``Name``): the fields present are validated, the others keep their defaults.
        """
        instance: Self = _hydrate(cls, record)
        instance._mark_loaded(record)
        return instance

    def _mark_loaded(self, record: dict[str, Any]) -> None:
        meta = sobject_meta(type(self))
        state = self._sobject_state
        state.persistent = self.id is not None
        state.assigned.clear()  # read from Salesforce, not set by the user
        for key in record:
            fm = meta.by_api.get(key.lower())
            if fm is None:
                continue
            if fm.kind != "value":
                state.loaded.add(fm.name)
                related = self.__dict__.get(fm.name)
                raw = record[key]
                if fm.kind == "parent" and isinstance(related, SObject) and isinstance(raw, dict):
                    related._mark_loaded(raw)
                elif fm.kind == "children" and isinstance(related, list):
                    rows = (raw or {}).get("records") or [] if isinstance(raw, dict) else []
                    for child, child_raw in zip(related, rows, strict=False):
                        if isinstance(child, SObject):
                            child._mark_loaded(child_raw)
        state.snapshot.update(self._wire_values(only_loaded=record))

    # -- wire out --------------------------------------------------------------------------

    def _wire_value(self, fm: FieldMeta) -> Any:
        value = self.__dict__.get(fm.name)
        if fm.multipicklist and isinstance(value, (set, frozenset)):
            return ";".join(sorted(value)) if value else None
        return value

    def _wire_values(self, *, only_loaded: dict[str, Any] | None = None) -> dict[str, Any]:
        """Writable fields as API name -> wire value (all, or those present in a record)."""
        meta = sobject_meta(type(self))
        out: dict[str, Any] = {}
        if only_loaded is not None:
            # The record's keys, resolved once: this runs for every record a query returns.
            chosen = [meta.by_api.get(key.lower()) for key in only_loaded]
            fields = [fm for fm in chosen if fm is not None]
        else:
            fields = list(meta.fields.values())
        for fm in fields:
            if fm.kind != "value" or fm.name == "id":
                continue
            out[fm.api_name] = freeze_wire(self._wire_value(fm))
        return out

    # -- tracking ----------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self).__sobject_fields__:
            fm = sobject_meta(type(self)).fields[name]
            if fm.kind == "parent" and not fm.writable_lookup:
                raise ConfigurationError(
                    f"{type(self).__name__}.{name} is read-only: Salesforce sets "
                    f"{fm.lookup_api_name} itself"
                )
        super().__setattr__(name, value)
        if name not in type(self).__sobject_fields__:
            return
        meta = sobject_meta(type(self))
        fm = meta.fields[name]
        state = self._sobject_state
        if fm.kind == "parent":
            state.loaded.add(name)
            state.assigned.add(name)
        elif fm.kind == "children":
            state.loaded.add(name)
        else:
            # Setting a lookup id by hand makes a loaded parent object stale: forget it
            # rather than let it disagree with the id that will be sent.
            parent = meta.parent_for_lookup(fm.api_name)
            if parent is not None and parent.name not in state.assigned:
                self.__dict__[parent.name] = None
                state.loaded.discard(parent.name)

    # -- unit of work --------------------------------------------------------------------------

    def save(self, *, session: Session | None = None) -> Operation:
        """Record a create (no id yet) or an update of the changed fields; no I/O.

        Runs in the current ``Session`` (or ``session=``); the flush sends it.
        """
        from sobjects.orm._session import resolve_session

        return resolve_session(session, self).register_save(self)

    def upsert(
        self, *, external_id: str | None = None, session: Session | None = None
    ) -> Operation:
        """Record an upsert matched by the model's external id field (or ``external_id``)."""
        from sobjects.orm._session import resolve_session

        return resolve_session(session, self).register_upsert(self, external_id)

    def delete(self, *, session: Session | None = None) -> Operation:
        """Record a delete of this record; no I/O."""
        from sobjects.orm._session import resolve_session

        return resolve_session(session, self).register_delete(self)


def _wire_to_python(cls: type[SObject], record: dict[str, Any]) -> dict[str, Any]:
    meta = sobject_meta(cls)
    out: dict[str, Any] = {}
    for key, value in record.items():
        fm = meta.by_api.get(key.lower())
        if fm is None:
            continue
        if fm.kind == "children":
            rows = (value or {}).get("records") or [] if isinstance(value, dict) else []
            assert fm.target is not None
            value = [_wire_to_python(fm.target, r) for r in rows]
        elif fm.kind == "parent" and isinstance(value, dict):
            assert fm.target is not None
            value = _wire_to_python(fm.target, value)
        out[fm.name] = value
    return out


def _loose_model(cls: type[SObject]) -> type[BaseModel]:
    """A twin of ``cls`` whose fields are all optional, to validate partial records in one
    pass of pydantic-core."""
    cached = cls.__dict__.get("__sobject_loose__")
    if cached is not None:
        return typing.cast(type[BaseModel], cached)
    # Models refer to each other (Account.contacts <-> Contact.account): make the twins of every
    # model reachable from cls, referring to each other by name, then resolve the names.
    namespace: dict[str, Any] = {}
    todo: list[type[SObject]] = [cls]
    built: list[type[BaseModel]] = []
    while todo:
        model = todo.pop()
        if _loose_name(model) in namespace:
            continue
        existing = model.__dict__.get("__sobject_loose__")
        if existing is not None:
            namespace[_loose_name(model)] = existing
            continue
        definitions: dict[str, Any] = {}
        for fm in sobject_meta(model).fields.values():
            if fm.kind == "value":
                # Picklist Literals hold the values known when the model was written; a
                # value added in the org since must still load (it is checked on assignment).
                definitions[fm.name] = (_relax_literals(fm.annotation) | None, None)
                continue
            assert fm.target is not None
            todo.append(fm.target)
            ref = _loose_name(fm.target)
            definitions[fm.name] = (
                f"{ref} | None" if fm.kind == "parent" else f"list[{ref}] | None",
                None,
            )
        loose = create_model(
            _loose_name(model), __config__=ConfigDict(extra="ignore"), **definitions
        )
        namespace[_loose_name(model)] = loose
        built.append(loose)
        type.__setattr__(model, "__sobject_loose__", loose)
    for loose in built:
        loose.model_rebuild(_types_namespace=namespace)
    return typing.cast(type[BaseModel], namespace[_loose_name(cls)])


def _loose_name(cls: type[SObject]) -> str:
    return f"{cls.__name__}Record_{id(cls):x}"


def _construct(cls: type[SObject], loose: BaseModel, present: dict[str, Any]) -> Any:
    meta = sobject_meta(cls)
    values: dict[str, Any] = {}
    for name in present:
        fm = meta.fields[name]
        value = getattr(loose, name)
        if fm.kind == "parent" and isinstance(value, BaseModel):
            assert fm.target is not None
            value = _construct(fm.target, value, present[name])
        elif fm.kind == "children" and isinstance(value, list):
            assert fm.target is not None
            value = [
                _construct(fm.target, item, raw)
                for item, raw in zip(value, present[name], strict=True)
            ]
        values[name] = value
    loaded = set(values)
    # Fill default factories here: model_construct inspects each factory's signature on
    # every call, which dominated the hydration of large query results.
    for name, factory in _default_factories(cls):
        if name not in values:
            values[name] = factory()
    return cls.model_construct(_fields_set=loaded, **values)


def _default_factories(cls: type[SObject]) -> list[tuple[str, Callable[[], Any]]]:
    cached = cls.__dict__.get("__sobject_factories__")
    if cached is None:
        cached = [
            (name, typing.cast(Callable[[], Any], info.default_factory))
            for name, info in cls.__pydantic_fields__.items()
            if info.default_factory is not None
        ]
        type.__setattr__(cls, "__sobject_factories__", cached)
    return typing.cast(list[tuple[str, Callable[[], Any]]], cached)


def _hydrate(cls: type[SObject], record: dict[str, Any]) -> Any:
    present = _wire_to_python(cls, record)
    loose = _loose_model(cls).model_validate(present)
    return _construct(cls, loose, present)


def check_relationship_loaded(obj: Any, name: str) -> None:
    """Raise if ``name`` is a relationship of a record read from Salesforce that its query
    did not select (an empty value would otherwise be mistaken for "no parent/children")."""
    if not isinstance(obj, SObject):
        return
    fm = sobject_meta(type(obj)).fields.get(name)
    state = obj._sobject_state
    if fm is None or fm.kind == "value" or not state.persistent or name in state.loaded:
        return
    model = type(obj).__name__
    raise RelationshipNotLoadedError(
        f"{model}.{name} was not loaded: the query that read this {model} did not select it, "
        "and sobjects never queries behind your back. Select it in the query (a parent path "
        f"such as {model}.{name}.<field>, or a child subquery)."
    )


def changed_values(obj: SObject) -> dict[str, Any]:
    """Writable fields whose value differs from the snapshot taken at load or last flush
    (in-place changes and explicit ``None`` included), as API name -> wire value. Fields never
    loaded count when the user set them."""
    snapshot = obj._sobject_state.snapshot
    out: dict[str, Any] = {}
    for fm in sobject_meta(type(obj)).fields.values():
        if not fm.writable:
            continue
        current = obj._wire_value(fm)
        if fm.api_name in snapshot:
            if freeze_wire(current) != snapshot[fm.api_name]:
                out[fm.api_name] = current
        elif fm.name in obj.model_fields_set:
            out[fm.api_name] = current
    return out


def freeze_wire(value: Any) -> Any:
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, list):
        return tuple(value)
    return value


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
        api = _api_name_for(name, spec)
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
        )
    meta = SObjectMeta(api_name=cls.__sobject_name__, fields=fields)
    type.__setattr__(cls, "__sobject_meta__", meta)
    return meta


def _relax_literals(annotation: Any) -> Any:
    """``annotation`` with every ``Literal[...]`` of strings widened to ``str``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return str if all(isinstance(v, str) for v in typing.get_args(annotation)) else annotation
    if origin in (typing.Union, types.UnionType):
        args = tuple(_relax_literals(a) for a in typing.get_args(annotation))
        return typing.Union[args]  # noqa: UP007 (built from a tuple of types)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        return typing.Annotated[(_relax_literals(base), *metadata)]
    return annotation


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


def _is_multipicklist(annotation: Any) -> bool:
    core = _strip_optional(annotation)
    if typing.get_origin(core) is typing.Annotated:
        base = typing.get_args(core)[0]
        return typing.get_origin(base) in (set, frozenset) or base in (set, frozenset)
    return typing.get_origin(core) in (set, frozenset)

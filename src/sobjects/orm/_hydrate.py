"""Records from Salesforce -> model objects, one pydantic-core call per page.

Two kinds of validators, compiled once per model (or per query shape) and cached:

- **exact**, for a known :class:`Shape` (what a ``select()`` asks for: which fields, which
  parents with which of their fields, which child subqueries). Only those fields are in it,
  keyed by their API names, so pydantic-core turns a page's JSON bytes (or its parsed
  records) into model objects, parents and children included, with no Python per field.
  Salesforce sends every selected field of every record, so a record that does not fit
  means the shape was wrong: the page is then loaded the loose way.
- **loose**, for records of any shape (raw SOQL, a record fetched by id, a fallback): field
  names are matched case-insensitively in Python, then one pydantic-core call validates them.

Either way, an object holds exactly the fields its record had (a field that was not selected
is not in its ``__dict__``; reading it gives its default, see ``_ValueField``), and
:func:`adopt` gives each object its unit-of-work state with the loaded values as snapshot:
one small step per record, none per field.
"""

from __future__ import annotations

import functools
import threading
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from sobjects.client._query import DecodedPage, decode_json_page
from sobjects.orm._construct import own_schema
from sobjects.orm._fields import _check_id
from sobjects.orm._identity import IdentityMap
from sobjects.orm._model import (
    FieldMeta,
    Loaded,
    SObject,
    SObjectMeta,
    copied_values,
    set_state_slot,
    sobject_meta,
)

if TYPE_CHECKING:
    from sobjects.orm._query import Select
    from sobjects.orm._session import Session

__all__ = [
    "Adopter",
    "Shape",
    "decode_page",
    "load_records",
    "shape_of",
    "validate_records",
]

M = TypeVar("M", bound=SObject)


# pydantic-core reuses a complete model class's own validator for any schema naming that
# class (it looks at the class's own __pydantic_complete__). Ours must be built while that
# flag is down: a lock keeps our compiles apart, and the window is one compile per query
# shape. (A twin subclass instead would leave the flag alone, but giving each loaded object
# back its class costs about 1 µs per object: more than the rest of the loading.)
_COMPILING = threading.Lock()


@dataclass(frozen=True)
class Shape:
    """Which fields of a model a query returns: value fields, parents and child subqueries
    (by Python name), each parent and child with its own shape."""

    model: type[SObject]
    fields: tuple[str, ...]
    parents: tuple[tuple[str, Shape], ...] = ()
    children: tuple[tuple[str, Shape], ...] = ()

    @property
    def has_children(self) -> bool:
        return bool(self.children) or any(p.has_children for _, p in self.parents)

    @functools.cached_property
    def copied_at_load(self) -> frozenset[str]:
        """Fields of this shape whose in-place changes only a copy taken at load reveals
        (mutable values: multipicklist sets, lists, dicts)."""
        return sobject_meta(self.model).copied_at_load.intersection(self.fields)


def shape_of(query: Select[Any]) -> Shape:
    """The shape of the records a ``select()`` returns."""
    paths = [item.split(".") for item in query._items() if not item.startswith("(")]
    children = tuple(
        (relation.meta.name, shape_of(subquery)) for relation, subquery in query._children
    )
    return _shape(query.model, paths, children)


def _shape(
    model: type[SObject], paths: list[list[str]], children: tuple[tuple[str, Shape], ...] = ()
) -> Shape:
    meta = sobject_meta(model)
    fields: dict[str, None] = {}
    nested: dict[str, list[list[str]]] = {}
    for first, *rest in paths:
        fm = meta.by_api[first.lower()]
        if rest:
            nested.setdefault(fm.name, []).append(rest)
        else:
            fields[fm.name] = None
    parents = []
    for name, sub in nested.items():
        target = meta.fields[name].target
        assert target is not None
        parents.append((name, _shape(target, sub)))
    return Shape(model, tuple(fields), tuple(parents), children)


# -- validators ----------------------------------------------------------------------------------


def _validators(model: type[SObject]) -> dict[Any, SchemaValidator]:
    cached = model.__dict__.get("__sobject_validators__")
    if cached is None:
        cached = {}
        type.__setattr__(model, "__sobject_validators__", cached)
    return typing.cast(dict[Any, SchemaValidator], cached)


def exact_validator(shape: Shape, *, page: bool) -> SchemaValidator:
    """Validates a list of records of ``shape`` (or, with ``page``, a query result's JSON)."""
    key = ("page" if page else "records", shape)
    validators = _validators(shape.model)
    found = validators.get(key)
    if found is None:
        builder = _Builder()
        records = cs.list_schema(builder.exact(shape))
        found = builder.compile(_page_schema(records) if page else records)
        _remember(validators, key, found)
    return found


def loose_validator(model: type[SObject]) -> SchemaValidator:
    """Validates a list of records already keyed by Python name (see ``_by_name``)."""
    validators = _validators(model)
    found = validators.get("loose")
    if found is None:
        builder = _Builder()
        found = builder.compile(cs.list_schema(builder.loose(model)))
        _remember(validators, "loose", found)
    return found


_MAX_VALIDATORS = 256  # per model


def _remember(validators: dict[Any, SchemaValidator], key: Any, found: SchemaValidator) -> None:
    while validators and len(validators) >= _MAX_VALIDATORS:
        # Shapes come from code, but a program can build them from input: stay bounded.
        validators.pop(next(iter(validators)))
    validators[key] = found


def _page_schema(records: cs.CoreSchema) -> cs.CoreSchema:
    return cs.typed_dict_schema(
        {
            "records": cs.typed_dict_field(records),
            "totalSize": cs.typed_dict_field(cs.int_schema(), required=False),
            "done": cs.typed_dict_field(cs.bool_schema(), required=False),
            "nextRecordsUrl": cs.typed_dict_field(
                cs.nullable_schema(cs.str_schema()), required=False
            ),
        },
        extra_behavior="ignore",
    )


class _Builder:
    """Assembles one core schema from the models' own field schemas."""

    def __init__(self) -> None:
        self.definitions: dict[str, cs.CoreSchema] = {}  # shared types (Address, ...)
        self.models: set[type[SObject]] = set()
        self.loose_refs: dict[type[SObject], str] = {}

    def compile(self, schema: cs.CoreSchema) -> SchemaValidator:
        schema = cs.definitions_schema(schema, list(self.definitions.values()))
        with _COMPILING:
            flags = {model: model.__dict__.get("__pydantic_complete__") for model in self.models}
            try:
                for model in flags:
                    type.__setattr__(model, "__pydantic_complete__", False)
                return SchemaValidator(schema)
            finally:
                for model, flag in flags.items():
                    type.__setattr__(model, "__pydantic_complete__", flag)

    def _fields_of(self, model: type[SObject]) -> dict[str, Any]:
        """The model's own validated field schemas, by Python name."""
        _, fields, definitions = own_schema(model)
        for definition in definitions:
            self._keep_definition(definition)
        return fields

    def _keep_definition(self, definition: Any) -> None:
        cls = definition.get("cls")
        if definition.get("type") == "model" and isinstance(cls, type) and issubclass(cls, SObject):
            return  # models are rebuilt by us
        self.definitions.setdefault(definition["ref"], definition)

    def _value(self, model: type[SObject], fm: FieldMeta) -> cs.CoreSchema:
        schema = self._fields_of(model)[fm.name]["schema"]
        while schema["type"] == "default":
            schema = schema["schema"]
        # Salesforce may send null for any field, and picklist values added in the org since
        # the model was written must still load (a Literal is checked on assignment only).
        loading = _for_loading(schema, _user_validators(model))
        if fm.null_is_empty:
            # A multipicklist typed `set[str]`: null means nothing selected, not None.
            return cs.no_info_before_validator_function(_null_as_empty_set, loading)
        return cs.nullable_schema(loading)

    def _model(self, model: type[SObject], fields: dict[str, Any]) -> cs.CoreSchema:
        self.models.add(model)
        return cs.model_schema(
            model,
            cs.model_fields_schema(fields, extra_behavior="ignore"),
            custom_init=False,
            root_model=False,
            post_init=_post_init(model),
        )

    def exact(self, shape: Shape) -> cs.CoreSchema:
        meta = sobject_meta(shape.model)
        fields: dict[str, Any] = {}
        for name in shape.fields:
            fm = meta.fields[name]
            fields[name] = cs.model_field(
                self._value(shape.model, fm), validation_alias=fm.api_name
            )
        for name, sub in shape.parents:
            fields[name] = cs.model_field(
                cs.nullable_schema(self.exact(sub)), validation_alias=meta.fields[name].api_name
            )
        for name, sub in shape.children:
            fields[name] = cs.model_field(
                cs.no_info_before_validator_function(
                    _child_records, cs.list_schema(self.exact(sub))
                ),
                validation_alias=meta.fields[name].api_name,
            )
        return self._model(shape.model, fields)

    def loose(self, model: type[SObject]) -> cs.CoreSchema:
        ref = self.loose_refs.get(model)
        if ref is None:
            ref = f"sobjects-loose:{model.__module__}.{model.__qualname__}:{id(model)}"
            self.loose_refs[model] = ref
            fields: dict[str, Any] = {}
            for fm in sobject_meta(model).fields.values():
                if fm.kind == "value":
                    schema = self._value(model, fm)
                else:
                    assert fm.target is not None
                    target = self.loose(fm.target)
                    schema = cs.nullable_schema(
                        target if fm.kind == "parent" else cs.list_schema(target)
                    )
                fields[fm.name] = cs.typed_dict_field(schema, required=False)
            self.models.add(model)
            self.definitions[ref] = cs.model_schema(
                model,
                # Only the fields present: an object holds what its record held.
                cs.no_info_after_validator_function(
                    _model_parts, cs.typed_dict_schema(fields, extra_behavior="ignore")
                ),
                custom_init=False,
                root_model=False,
                ref=ref,
                post_init=_post_init(model),
            )
        return cs.definition_reference_schema(ref)


def _post_init(model: type[SObject]) -> str | None:
    """``model_post_init`` when the model needs it run for loaded records too: private
    attributes to set up, or a ``model_post_init`` of the user's. (The state it makes is
    replaced by the loader's marker.)"""
    if model.__private_attributes__ or model.model_post_init is not SObject.model_post_init:
        return "model_post_init"
    return None


def _user_validators(model: type[SObject]) -> frozenset[Any]:
    """The functions of the model's ``@field_validator``s: they check what users give, and
    are not run on what Salesforce sends (as before this loader existed)."""
    validators = model.__pydantic_decorators__.field_validators.values()
    return frozenset(getattr(v.func, "__func__", v.func) for v in validators)


def _null_as_empty_set(value: Any) -> Any:
    return set() if value is None else value


def _model_parts(values: dict[str, Any]) -> tuple[dict[str, Any], None, set[str]]:
    return values, None, set(values)


def _child_records(value: Any) -> Any:
    """A child subquery's result (``{"records": [...]}`` or null) -> its list of records."""
    if value is None:
        return []
    if isinstance(value, dict):
        return value.get("records") or []
    return value


# An id as Salesforce sends it: 18 characters, checksum letters upper case. Matched in Rust;
# anything else (a 15-character id) goes through the Python check of the ``Id`` type.
_CANONICAL_ID = cs.str_schema(pattern=r"^[0-9A-Za-z]{15}[0-9A-Z]{3}$")


def _for_loading(schema: Any, skipped: frozenset[Any] = frozenset()) -> Any:
    """A copy of a field's core schema for values read from Salesforce: every Literal of
    strings widened to ``str``, ids Salesforce formatted not checked again in Python, and the
    validators in ``skipped`` (the user's) left out."""
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "literal" and all(isinstance(v, str) for v in schema["expected"]):
            return cs.str_schema()
        function = schema.get("function")
        function = function.get("function") if isinstance(function, dict) else None
        if kind == "function-after" and function is _check_id:
            return cs.union_schema([_CANONICAL_ID, schema], mode="left_to_right")
        if function is not None and getattr(function, "__func__", function) in skipped:
            if kind == "function-plain":
                return cs.any_schema()
            return _for_loading(schema["schema"], skipped)
        return {key: _for_loading(value, skipped) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_for_loading(value, skipped) for value in schema]
    return schema


# -- loading -------------------------------------------------------------------------------------


def decode_page(shape: Shape) -> Callable[[bytes], DecodedPage[Any]]:
    """A decoder for ``QueryResult.decoded_pages``: a page's bytes -> objects of ``shape``
    (loaded the loose way if the page does not fit the shape). The objects are not adopted."""
    validator = exact_validator(shape, page=True)

    def decode(body: bytes) -> DecodedPage[Any]:
        try:
            page = validator.validate_json(body)
        except ValidationError:
            raw = decode_json_page(body)
            records = validate_records(shape.model, raw.records, None)
            return DecodedPage(records, raw.total_size, raw.next_records_url, raw.done)
        return DecodedPage(
            page["records"],
            int(page.get("totalSize", 0)),
            page.get("nextRecordsUrl") or None,
            bool(page.get("done", True)),
        )

    return decode


def validate_records(
    model: type[M], records: Sequence[dict[str, Any]], shape: Shape | None
) -> list[M]:
    """Objects for parsed records (not adopted yet), by ``shape`` when it fits them."""
    if shape is not None:
        try:
            return typing.cast(list[M], exact_validator(shape, page=False).validate_python(records))
        except ValidationError:
            pass  # not the shape we expected: load them field by field below
    by_name = [_by_name(sobject_meta(model), record) for record in records]
    return typing.cast(list[M], loose_validator(model).validate_python(by_name))


def _by_name(meta: SObjectMeta, record: dict[str, Any]) -> dict[str, Any]:
    """A record keyed by Python name (API names are case-insensitive), children as lists."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        fm = meta.by_api.get(key.lower())
        if fm is None:
            continue
        if fm.kind == "children":
            assert fm.target is not None
            target = sobject_meta(fm.target)
            value = [_by_name(target, row) for row in _child_records(value)]
        elif fm.kind == "parent" and isinstance(value, dict):
            assert fm.target is not None
            value = _by_name(sobject_meta(fm.target), value)
        out[fm.name] = value
    return out


def load_records(model: type[M], records: Sequence[dict[str, Any]]) -> list[M]:
    """Persistent objects for records, in no session (``Model.from_record``)."""
    return Adopter(None, None, None).adopt(validate_records(model, records, None), None)


Merge = Callable[[SObject, SObject], None]


class Adopter:
    """Takes freshly validated objects into a session: each gets a ``Loaded`` marker for its
    state (made on first use), and the identity map gives back the object the session
    already holds for the same id, with the fresh values merged into it.

    Per record this is a few dict operations and no loop over fields.
    """

    def __init__(self, session: Session | None, identity: IdentityMap | None, merge: Merge | None):
        self.marker = Loaded(session)
        self.identity = identity
        self.merge = merge

    def adopt(self, objs: list[M], shape: Shape | None) -> list[M]:
        if shape is None:
            return [self._any(obj) for obj in objs]
        if shape.children or self.identity is None:
            return [self._shaped(obj, shape) for obj in objs]
        # The common page (fields and parents): one loop, the identity map read inline.
        marker = self.marker
        copied = shape.copied_at_load
        parents = shape.parents
        identity = self.identity
        refs = identity.refs
        out: list[M] = []
        for obj in objs:
            values: dict[str, Any] = obj.__dict__
            for name, parent_shape in parents:
                parent = values.get(name)  # absent when the record was loaded the loose way
                if parent is not None:
                    values[name] = self._shaped(parent, parent_shape)
            set_state_slot(obj, self._copied(values, copied) if copied else marker)
            record_id = values.get("id")
            if record_id:
                ref = refs.get(record_id)
                existing = None if ref is None else ref()
                if existing is None:
                    identity[record_id] = obj
                else:
                    obj = self._held(existing, obj, record_id)
            out.append(obj)
        return out

    def _shaped(self, obj: Any, shape: Shape) -> Any:
        values: dict[str, Any] = obj.__dict__
        # Parents and children first: the object may end up holding the session's copies.
        for name, parent_shape in shape.parents:
            parent = values.get(name)  # absent when the record was loaded the loose way
            if parent is not None:
                values[name] = self._shaped(parent, parent_shape)
        for name, child_shape in shape.children:
            rows = values.get(name)
            if rows:
                values[name] = [self._shaped(row, child_shape) for row in rows]
        copied = shape.copied_at_load
        set_state_slot(obj, self._copied(values, copied) if copied else self.marker)
        return self._identify(obj, values)

    def _any(self, obj: Any) -> Any:
        values: dict[str, Any] = obj.__dict__
        meta = sobject_meta(type(obj))
        for fm in meta.relations:
            related = values.get(fm.name)
            if isinstance(related, SObject):
                values[fm.name] = self._any(related)
            elif related and fm.kind == "children":
                values[fm.name] = [self._any(row) for row in related]
        copied = meta.copied_at_load
        if copied and not copied.isdisjoint(values):
            set_state_slot(obj, self._copied(values, copied))
        else:
            set_state_slot(obj, self.marker)
        return self._identify(obj, values)

    def _copied(self, values: dict[str, Any], names: frozenset[str]) -> Loaded:
        return Loaded(self.marker.session, copied_values(values, names))

    def _identify(self, obj: Any, values: dict[str, Any]) -> Any:
        record_id = values.get("id")
        identity = self.identity
        if not record_id or identity is None:
            return obj
        existing = identity.get(record_id)
        if existing is None:
            identity[record_id] = obj
            return obj
        return self._held(existing, obj, record_id)

    def _held(self, existing: SObject, obj: Any, record_id: str) -> Any:
        """The session already holds an object for this id: merge the fresh values in."""
        assert self.identity is not None
        if not isinstance(existing, type(obj)):
            self.identity[record_id] = obj
            return obj
        if existing is not obj and self.merge is not None:
            self.merge(existing, obj)
        return existing

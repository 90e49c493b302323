"""``Contact(last_name="Doe")`` without validating every default.

Pydantic's ``__init__`` runs the whole model through pydantic-core, filling each of the
dozens of fields a Salesforce object has (65 on Contact) one by one: about 5 µs for a record
that sets three fields. Here one pydantic-core call validates the fields given (with the
model's own field schemas), and the defaults come from a per-class template dict, copied in
C. Anything this cannot do exactly as pydantic would (a missing required field, a value that
fails validation, a model validator of the user's, aliases, a default factory that reads
the other fields, ``extra`` other than ``ignore``) goes to pydantic's own ``__init__``, so
errors and results are pydantic's.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic_core import PydanticUndefined, SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

if TYPE_CHECKING:
    from sobjects.orm._model import SObject

__all__ = ["Constructor", "constructor_for", "own_schema"]

_UNSET: Any = object()
_REQUIRED: Any = object()  # template placeholder, always overwritten (required fields are given)
_OUR_VALIDATORS = frozenset({"_from_wire"})


class Constructor:
    """What ``SObject.__init__`` needs for one model class."""

    __slots__ = ("copied", "factories", "required", "template", "validator")

    def __init__(
        self,
        validator: SchemaValidator,
        template: dict[str, Any],
        copied: tuple[str, ...],
        factories: tuple[tuple[str, Callable[[], Any]], ...],
        required: frozenset[str],
    ) -> None:
        self.validator = validator
        self.template = template  # every field in declaration order, defaults filled in
        self.copied = copied  # fields whose default is mutable: copied per instance
        self.factories = factories
        self.required = required

    def values(self, data: dict[str, Any]) -> tuple[dict[str, Any], set[str]] | None:
        """(``__dict__``, fields set) for constructor keywords, or ``None`` to let pydantic
        do it (and raise its own error)."""
        if not self.required.issubset(data) or "attributes" in data:
            return None
        try:
            given: dict[str, Any] = self.validator.validate_python(data)
        except ValidationError:
            return None
        values = self.template.copy()  # one block copy: cheaper than building a dict
        values.update(given)
        for name in self.copied:
            if name not in given:
                values[name] = copy.deepcopy(values[name])
        for name, factory in self.factories:
            if name not in given:
                values[name] = factory()
        return values, set(given)


def own_schema(cls: type[SObject]) -> tuple[Any, dict[str, Any], list[Any]]:
    """The model's own core schema, taken apart: (its ``model`` schema, its field schemas by
    Python name, the definitions they may refer to)."""
    schema: Any = cls.__pydantic_core_schema__
    definitions = list(schema["definitions"]) if schema["type"] == "definitions" else []
    model = schema["schema"] if schema["type"] == "definitions" else schema
    if model["type"] == "definition-ref":
        model = next(d for d in definitions if d.get("ref") == model["schema_ref"])
    inner = model["schema"]
    while inner["type"] != "model-fields":
        inner = inner["schema"]
    return model, inner["fields"], definitions


def constructor_for(cls: type[SObject]) -> Constructor | None:
    """The class's constructor, built on first use; ``None`` where pydantic's must run."""
    found = cls.__dict__.get("__sobject_constructor__", _UNSET)
    if found is _UNSET:
        if not cls.__pydantic_complete__:
            return None  # forward references not resolved yet: ask again next time
        found = _build(cls)
        type.__setattr__(cls, "__sobject_constructor__", found)
    return typing.cast(Constructor | None, found)


def _build(cls: type[SObject]) -> Constructor | None:
    config = cls.model_config
    if config.get("extra", "ignore") != "ignore" or config.get("validate_default"):
        return None
    decorators = cls.__pydantic_decorators__
    if set(decorators.model_validators) - _OUR_VALIDATORS or decorators.root_validators:
        return None
    if decorators.field_validators or decorators.validators:
        return None  # they may read the other fields, defaults included (info.data)
    model, field_schemas, definitions = own_schema(cls)
    fields: dict[str, Any] = {}
    template: dict[str, Any] = {}
    copied: list[str] = []
    factories: list[tuple[str, Callable[[], Any]]] = []
    required: set[str] = set()
    for name, info in cls.__pydantic_fields__.items():
        if info.alias is not None or info.validation_alias is not None or info.validate_default:
            return None
        if info.default_factory is not None:
            if info.default_factory_takes_validated_data:
                return None
            factories.append((name, typing.cast(Callable[[], Any], info.default_factory)))
            template[name] = None
        elif info.default is PydanticUndefined:
            required.add(name)
            template[name] = _REQUIRED
        else:
            template[name] = info.default
            try:
                hash(info.default)
            except TypeError:
                copied.append(name)
        field_schema = field_schemas[name]["schema"]
        while field_schema["type"] == "default":
            field_schema = field_schema["schema"]
        fields[name] = cs.typed_dict_field(field_schema, required=False)
    given = cs.typed_dict_schema(fields, extra_behavior="ignore", config=model.get("config"))
    validator = SchemaValidator(cs.definitions_schema(given, definitions))
    return Constructor(validator, template, tuple(copied), tuple(factories), frozenset(required))

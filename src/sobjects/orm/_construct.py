"""``Contact(last_name="Doe")`` without validating every default.

Pydantic's ``__init__`` runs the whole model through pydantic-core, filling each of the
dozens of fields a Salesforce object has (65 on Contact) one by one: about 5 µs for a record
that sets three fields. Here one pydantic-core call validates the fields given (with the
model's own field schemas), and the defaults come from a per-class template dict, copied in
C. Anything this cannot do exactly as pydantic would (a missing required field, a value that
fails validation, a model validator of the user's, aliases, a default factory that reads
the other fields, ``extra="allow"``) goes to pydantic's own ``__init__``, so errors and
results are pydantic's.

Keywords that name no field are refused first (``unknown_fields_error``): ``Contact(**row)``
code has no type checker to catch ``emial=``, and a value dropped without a word is lost.
"""

from __future__ import annotations

import copy
import difflib
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic_core import PydanticCustomError, PydanticUndefined, SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

if TYPE_CHECKING:
    from sobjects.orm._model import SObject

__all__ = [
    "Constructor",
    "accepted_names",
    "constructor_for",
    "own_schema",
    "unknown_fields",
    "unknown_fields_error",
]

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


def accepted_names(cls: type[SObject]) -> frozenset[str] | None:
    """The keywords a model's constructor accepts (field names and their aliases), or
    ``None`` when the model takes any (its ``extra`` setting is not ``forbid``)."""
    found = cls.__dict__.get("__sobject_accepted__", _UNSET)
    if found is _UNSET:
        if not cls.__pydantic_complete__:
            return None  # pydantic's own __init__ runs (and says what is missing)
        found = None
        if cls.model_config.get("extra", "ignore") == "forbid":
            names: set[str] = set()
            for name, info in cls.__pydantic_fields__.items():
                names.add(name)
                for alias in (info.alias, info.validation_alias):
                    if isinstance(alias, str):
                        names.add(alias)
            found = frozenset(names)
        type.__setattr__(cls, "__sobject_accepted__", found)
    return typing.cast(frozenset[str] | None, found)


def unknown_fields_error(
    cls: type[SObject], data: dict[str, Any], accepted: frozenset[str]
) -> ValidationError:
    """Pydantic's own error type, one line per unknown keyword, each with a suggestion: the
    field a misspelt name or an API name (``LastName``) most likely meant."""
    lines: list[Any] = [
        {
            # The message goes in as context, not as the template: a key may hold braces.
            "type": PydanticCustomError("unknown_field", "{message}", {"message": message}),
            "loc": (key,),
            "input": data[key],
        }
        for key, message in unknown_fields(cls, data, accepted)
    ]
    return ValidationError.from_exception_data(cls.__name__, lines)


def unknown_fields(
    cls: type[SObject], data: dict[str, Any], accepted: frozenset[str]
) -> list[tuple[Any, str]]:
    """(keyword, message) for each keyword of ``data`` that names no field."""
    from sobjects.orm._model import sobject_meta

    by_api = {fm.api_name.lower(): fm.name for fm in sobject_meta(cls).fields.values()}
    names = sorted(cls.__pydantic_fields__)
    out: list[tuple[Any, str]] = []
    for key in data:
        if key in accepted:
            continue
        guess = by_api.get(str(key).lower())
        if guess is None:
            close = difflib.get_close_matches(str(key).lower(), names, n=1, cutoff=0.6)
            guess = close[0] if close else None
        hint = f"; did you mean {guess!r}?" if guess else ""
        out.append((key, f"{cls.__name__} has no field {key!r}{hint}"))
    return out


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
    # ``forbid`` is the default: unknown keywords were refused before this runs.
    if config.get("extra", "ignore") not in ("ignore", "forbid") or config.get("validate_default"):
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

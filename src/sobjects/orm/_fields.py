"""Field declarations and Salesforce value types for sObject models.

``Field`` is both the descriptor a model field is annotated with (``last_name: Field[str]``,
so type checkers see an expression on the class and a ``str`` on instances) and the default
specifier (``= Field(None, api_name="Ext_Key__c", external_id=True)``). Plain annotations
(``last_name: str``) work too; ``Field[...]`` only adds static typing of the expressions.
"""

from __future__ import annotations

import threading
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, overload

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic import Field as PydanticField
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sobjects._ids import to_18

if TYPE_CHECKING:
    from sobjects.orm._expr import FieldExpr, RelationExpr
    from sobjects.orm._model import SObject

__all__ = [
    "Address",
    "Currency",
    "Field",
    "Id",
    "Location",
    "MultiPicklist",
    "Percent",
]

# Covariant so that ``self: Field[SObject | None]`` matches any parent relationship field
# (Field[Account | None] is then a Field[SObject | None]). A bound TypeVar on self would be
# simpler, but mypy does not check self-type bounds when it picks an overload
# (python/mypy#21646) and would treat every optional value field as a relationship.
T_co = TypeVar("T_co", covariant=True)
_MISSING: Any = object()


class _Building(threading.local):
    depth = 0


_BUILDING = _Building()


@contextmanager
def building_models() -> Iterator[None]:
    """While pydantic builds or rebuilds model classes (see ``Field.__get__``)."""
    _BUILDING.depth += 1
    try:
        yield
    finally:
        _BUILDING.depth -= 1


def _check_id(value: str) -> str:
    try:
        return to_18(value)
    except ValueError:
        raise ValueError(f"not a Salesforce id: {value!r} (15 or 18 letters and digits)") from None


Id = Annotated[str, AfterValidator(_check_id)]
"""A Salesforce record id; 15-character ids are normalised to 18 characters."""


def _split_multipicklist(value: Any) -> Any:
    if isinstance(value, str):
        return {part for part in value.split(";") if part}
    return value


MultiPicklist = Annotated[
    set[str],
    BeforeValidator(_split_multipicklist),
    PlainSerializer(lambda v: ";".join(sorted(v)), return_type=str, when_used="json"),
]
"""A multi-select picklist: ``{"a", "b"}`` in Python, ``"a;b"`` on the wire."""

Currency = Decimal
"""Currency amounts are exact: ``Decimal``."""

Percent = float
"""A percent field: ``12.5`` means 12.5 %."""


class Address(BaseModel):
    """A compound address (read-only: write the component fields, e.g. ``BillingCity``)."""

    model_config = ConfigDict(frozen=True)

    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = PydanticField(None, alias="postalCode")
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    geocode_accuracy: str | None = PydanticField(None, alias="geocodeAccuracy")
    state_code: str | None = PydanticField(None, alias="stateCode")
    country_code: str | None = PydanticField(None, alias="countryCode")


class Location(BaseModel):
    """A compound geolocation (read-only)."""

    model_config = ConfigDict(frozen=True)

    latitude: float | None = None
    longitude: float | None = None


# Compound types are read-only: Salesforce only takes their component fields.
READ_ONLY_TYPES: tuple[type, ...] = (Address, Location)


class Field(Generic[T_co]):
    """Declare a model field.

    As an annotation, ``Field[T]`` makes ``Model.field`` an expression and ``obj.field`` a
    ``T`` for type checkers. As a default, ``Field(default, *, api_name=None,
    external_id=False, read_only=False, default_factory=None)`` sets the Salesforce API name
    (by default ``inflection.camelize(python_name)``), marks an external id, or marks a field
    Salesforce computes.

    >>> from sobjects import SObject
    >>> class Contact(SObject):
    ...     last_name: Field[str]
    ...     ext_key: Field[str | None] = Field(None, api_name="Ext_Key__c", external_id=True)
    >>> Contact.ext_key.api_name
    'Ext_Key__c'
    """

    def __init__(
        self,
        default: Any = _MISSING,
        *,
        api_name: str | None = None,
        external_id: bool = False,
        read_only: bool = False,
        default_factory: Callable[[], Any] | None = None,
    ) -> None:
        if default is not _MISSING and default_factory is not None:
            raise TypeError("give a default or a default_factory, not both")
        self.default = default
        self.default_factory = default_factory
        self.api_name = api_name
        self.external_id = external_id
        self.read_only = read_only
        self.name = ""
        self.owner: type | None = None

    def to_pydantic(self) -> FieldInfo:
        if self.default_factory is not None:
            info: FieldInfo = PydanticField(default_factory=self.default_factory)
            return info
        if self.default is _MISSING:
            required: FieldInfo = PydanticField()
            return required
        with_default: FieldInfo = PydanticField(self.default)
        return with_default

    @overload
    def __get__(self: Field[SObject | None], obj: None, owner: Any) -> RelationExpr[T_co]: ...

    @overload
    def __get__(self, obj: None, owner: Any) -> FieldExpr[T_co]: ...

    @overload
    def __get__(self, obj: object, owner: Any) -> T_co: ...

    def __get__(self, obj: object, owner: Any) -> Any:
        if obj is None:
            if _BUILDING.depth:
                # Pydantic reads class attributes while it builds a subclass: an inherited
                # field must look unassigned, or its expression would become a default.
                return PydanticUndefined
            from sobjects.orm._expr import FieldExpr

            return FieldExpr.for_field(owner, self.name)
        # On a model, the metaclass installs subclasses that answer for instances.
        raise AttributeError(self.name)

    if TYPE_CHECKING:
        # For type checkers only: a value field must stay a *non-data* descriptor at run
        # time, so that reading ``obj.field`` is a plain ``__dict__`` lookup (pydantic's
        # ``__setattr__`` validates and stores assignments; it never calls ``__set__``).
        # A covariant parameter is unsound in general; a descriptor is never upcast, though.
        def __set__(self, obj: object, value: T_co) -> None: ...  # type: ignore[misc]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # ``Field[str]`` validates and serialises as ``str``.
        args = typing.get_args(source)
        if len(args) != 1:
            raise TypeError("annotate fields as Field[T] with exactly one type")
        return handler(args[0])

    def __repr__(self) -> str:
        return f"Field(api_name={self.api_name!r}, external_id={self.external_id})"


def unwrap_field_annotation(annotation: Any) -> Any:
    """``Field[T]`` -> ``T``; anything else unchanged."""
    if typing.get_origin(annotation) is Field:
        return typing.get_args(annotation)[0]
    return annotation

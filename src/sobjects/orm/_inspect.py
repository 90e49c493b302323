"""``sobjects.inspect(obj)``: where a model instance stands in its unit of work."""

# No `from __future__ import annotations`: the doctest below defines a model, and its
# annotations must be evaluated where they are written.
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sobjects.orm._model import SObject, changed_values

if TYPE_CHECKING:
    from sobjects.errors import ErrorDetail
    from sobjects.orm._operation import Operation
    from sobjects.orm._session import Session

__all__ = ["InstanceState", "inspect"]

State = Literal["transient", "pending", "persistent", "modified", "deleted", "failed"]


@dataclass(frozen=True)
class InstanceState:
    """A snapshot of one instance's unit-of-work state.

    ``state`` is one of: ``transient`` (not in Salesforce, nothing recorded), ``pending`` (an
    operation waits for the flush), ``persistent`` (in Salesforce, unchanged), ``modified``
    (in Salesforce, changed locally, not recorded), ``deleted``, ``failed`` (its last
    operation failed; it stays pending). ``changes`` maps API names to the values an update
    would send.
    """

    state: State
    created: bool | None
    last_result: Any
    errors: "list[ErrorDetail]"
    pending: "Operation | None"
    session: "Session | None"
    changes: dict[str, Any]

    @property
    def field_errors(self) -> "dict[str, list[ErrorDetail]]":
        """Errors by field API name (errors without fields under ``""``)."""
        out: dict[str, list[ErrorDetail]] = {}
        for error in self.errors:
            for name in error.fields or ("",):
                out.setdefault(name, []).append(error)
        return out


def inspect(obj: SObject) -> InstanceState:
    """The unit-of-work state of a model instance.

    >>> from sobjects import SObject, inspect
    >>> from sobjects.fields import Field
    >>> class Lead(SObject):
    ...     last_name: Field[str]
    >>> inspect(Lead(last_name="Roe")).state
    'transient'
    """
    if not isinstance(obj, SObject):
        raise TypeError(f"inspect() takes an SObject instance, got {type(obj).__name__}")
    data = obj._sobject_state
    changes = _changes(obj)
    state: State
    if data.failed:
        state = "failed"
    elif data.deleted:
        state = "deleted"
    elif data.pending is not None:
        state = "pending"
    elif data.persistent:
        state = "modified" if changes else "persistent"
    else:
        state = "transient"
    return InstanceState(
        state=state,
        created=data.created,
        last_result=data.last_result,
        errors=list(data.errors),
        pending=data.pending,
        session=data.session,
        changes=changes,
    )


def _changes(obj: SObject) -> dict[str, Any]:
    return changed_values(obj) if obj._sobject_state.persistent else {}

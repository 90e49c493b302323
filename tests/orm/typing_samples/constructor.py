"""Constructor calls with wrong arguments: both checkers should report each ``# error`` line.

Not the case yet (tests/orm/test_typing.py marks it xfail): SObject's metaclass subclasses
pydantic's ModelMetaclass without repeating its ``@dataclass_transform``, so type checkers see
``__init__(**data: Any)``.
"""

from __future__ import annotations

from .models import Contact


def build() -> None:
    Contact(last_name=3)  # error
    Contact(email="x@acme.com")  # error

"""The web app's models: one sObject model for Contact, and the request bodies.

``Contact`` is what the API returns: a typed query result is an ordinary Pydantic model, so
FastAPI serialises it (and documents it in the OpenAPI schema) as it is.

Request bodies are separate, plain Pydantic models. Taking ``Contact`` itself as a body would
let a client send an ``id``, and ``contact.save()`` on an object with an id records an
*update* of that record, not a create. The body models also forbid unknown keys, so a typo
is a 422 instead of a silently ignored field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as Body

from sobjects import SObject
from sobjects.fields import Field, Id


class Contact(SObject):
    first_name: Field[str | None] = Field(None)
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    title: Field[str | None] = Field(None)
    phone: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)


class ContactCreate(BaseModel):
    """``POST /contacts``: a new contact. ``last_name`` is required, as in Salesforce."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Body(None, max_length=40)
    last_name: str = Body(min_length=1, max_length=80)
    email: str | None = None
    title: str | None = Body(None, max_length=128)
    phone: str | None = Body(None, max_length=40)
    account_id: Id | None = None


class ContactUpdate(BaseModel):
    """``PATCH /contacts/{id}``: only the keys present are changed; ``null`` clears a field.

    ``last_name`` may be changed but not cleared (Salesforce requires it).
    """

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Body(None, max_length=40)
    last_name: str | None = Body(None, min_length=1, max_length=80)
    email: str | None = None
    title: str | None = Body(None, max_length=128)
    phone: str | None = Body(None, max_length=40)
    account_id: Id | None = None

    @field_validator("last_name")
    @classmethod
    def _last_name_cannot_be_cleared(cls, value: str | None) -> str:
        # Runs only when the key is sent: an absent last_name keeps its default.
        if value is None:
            raise ValueError("last_name is required and cannot be cleared")
        return value

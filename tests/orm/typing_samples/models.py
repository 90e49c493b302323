"""Models as a user declares them, for the type checker tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sobjects import SObject
from sobjects.fields import Field, Id, MultiPicklist


class User(SObject):
    name: Field[str | None] = Field(None)


class Account(SObject):
    name: Field[str]
    industry: Field[str | None] = Field(None)
    number_of_employees: Field[int | None] = Field(None)
    annual_revenue: Field[Decimal | None] = Field(None)
    owner: Field[User | None] = Field(None)
    contacts: Field[list[Contact]] = Field(default_factory=list)


class Contact(SObject):
    first_name: Field[str | None] = Field(None)
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)
    created_date: Field[datetime | None] = Field(None, read_only=True)
    interests: Field[MultiPicklist | None] = Field(None, api_name="Interests__c")
    ext_key: Field[str | None] = Field(None, api_name="Ext_Key__c", external_id=True)

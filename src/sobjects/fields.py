"""Field declarations and Salesforce value types for sObject models.

>>> from sobjects import SObject
>>> from sobjects.fields import Field, Id, MultiPicklist
>>> class Contact(SObject):
...     last_name: Field[str]
...     account_id: Field[Id | None] = Field(None)
...     interests: Field[MultiPicklist] = Field(default_factory=set, api_name="Interests__c")
>>> Contact(last_name="Doe", interests="Music;Travel").interests == {"Music", "Travel"}
True
"""

from sobjects.orm._fields import Address, Currency, Field, Id, Location, MultiPicklist, Percent

__all__ = ["Address", "Currency", "Field", "Id", "Location", "MultiPicklist", "Percent"]

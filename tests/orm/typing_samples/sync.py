"""User code of sobjects.sync: the same result types as the async API's.

Each ``# expect: T`` names the type both checkers must reveal on that line.
"""

from __future__ import annotations

from typing import Any, reveal_type

from sobjects.client import CreateSubrequest, QuerySubrequest, UpsertResult
from sobjects.sync import Salesforce, Session, select

from .models import Account, Contact


def blocking(sf: Salesforce) -> None:
    with Session(sf) as session:
        Contact(last_name="Doe").save()
        reveal_type(session)  # expect: Session
        contacts = session.all(select(Contact).where(Contact.last_name == "Doe"))
        reveal_type(contacts)  # expect: list[Contact]
        raw = session.all(Contact, "SELECT Id, LastName FROM Contact")
        reveal_type(raw)  # expect: list[Contact]
        first = session.first(select(Account))
        reveal_type(first)  # expect: Account | None
        one = session.one(select(Account))
        reveal_type(one)  # expect: Account
        got = session.get(Contact, "003000000000001AAA")
        reveal_type(got)  # expect: Contact
        for contact in session.stream(select(Contact)):
            reveal_type(contact)  # expect: Contact
        reveal_type(session.count(select(Contact)))  # expect: int
        found = session.search("Acme", Account, Contact)
        reveal_type(found[Account])  # expect: list[Account]
    with sf.composite.batch() as batch:
        query = batch.query("SELECT Id FROM Account")
        reveal_type(query)  # expect: QuerySubrequest
        created = batch.sobject.create("Contact", {"LastName": "Doe"})
        reveal_type(created)  # expect: CreateSubrequest
    for record in sf.query("SELECT Id FROM Account"):
        reveal_type(record)  # expect: dict[str, Any]
    for page in sf.query("SELECT Id FROM Account").pages():
        reveal_type(page)  # expect: list[dict[str, Any]]
    reveal_type(sf.sobject.create("Contact", {"LastName": "Doe"}))  # expect: str
    result = sf.sobject.upsert("Account", {"Ext__c": "1"}, external_id_field="Ext__c")
    reveal_type(result)  # expect: UpsertResult
    _: list[Any] = [CreateSubrequest, QuerySubrequest, UpsertResult]

"""User code that must type-check cleanly (mypy --strict, pyright strict).

Each ``# expect: T`` names the type both checkers must reveal on that line.
"""

from __future__ import annotations

from typing import reveal_type

from sobjects import Session, select
from sobjects.orm import Condition

from .models import Account, Contact, User


async def all_contacts(session: Session) -> list[Contact]:
    return await session.all(select(Contact))


async def reads(session: Session) -> None:
    contacts = await session.all(
        select(Contact)
        .where(Contact.last_name == "Doe", Contact.email.like("%@acme.com"))
        .order_by(Contact.created_date.desc(nulls_last=True))
        .limit(10)
        .offset(5)
    )
    reveal_type(contacts)  # expect: list[Contact]
    contact = contacts[0]
    reveal_type(contact.last_name)  # expect: str
    reveal_type(contact.last_name.upper())  # expect: str
    reveal_type(contact.email)  # expect: str | None
    reveal_type(contact.account)  # expect: Account | None
    reveal_type(contact.interests)  # expect: set[str] | None
    contact.email = "new@acme.com"
    contact.email = None
    accounts = await session.all(
        select(Account)
        .with_parent(Account.owner)
        .with_children(Account.contacts, select(Contact).where(Contact.email != None))  # noqa: E711
    )
    reveal_type(accounts)  # expect: list[Account]
    reveal_type(accounts[0].contacts)  # expect: list[Contact]
    first = await session.first(select(Contact).only(Contact.last_name, Contact.account.name))
    reveal_type(first)  # expect: Contact | None


def expressions() -> None:
    reveal_type(Contact.last_name)  # expect: FieldExpr[str]
    reveal_type(Contact.email)  # expect: FieldExpr[str | None]
    reveal_type(Contact.account)  # expect: RelationExpr[Account | None]
    reveal_type(Account.contacts)  # expect: FieldExpr[list[Contact]]
    reveal_type(Contact.last_name == "Doe")  # expect: Condition
    reveal_type(Contact.email.like("%@acme.com"))  # expect: Condition
    reveal_type(Contact.account.name)  # expect: RelationExpr[Any]
    reveal_type(Contact.account.owner.name.startswith("A"))  # expect: Condition
    reveal_type(Contact.account[Account.name])  # expect: FieldExpr[str]
    reveal_type(Contact.account[Account.owner])  # expect: RelationExpr[User | None]
    reveal_type(Contact.account[Account.owner][User.name])  # expect: FieldExpr[str | None]
    reveal_type(Contact.created_date.desc())  # expect: OrderBy
    reveal_type(select(Contact))  # expect: Select[Contact]
    reveal_type(select(Contact).where(Contact.email.is_(None)).limit(1))  # expect: Select[Contact]
    reveal_type(select(Contact).count())  # expect: CountSelect[Contact]
    reveal_type(select(Contact.account_id))  # expect: Select[Any]
    both: Condition = (Contact.last_name == "Doe") & ~Contact.email.is_(None)
    either: Condition = (Contact.last_name != "Doe") | Contact.interests.includes("Music")
    reveal_type(both | either)  # expect: Condition
    semi = Account.id.in_(select(Contact.account_id).where(Contact.last_name.startswith("D")))
    reveal_type(semi)  # expect: Condition
    reveal_type(Contact(last_name="Doe", email=None))  # expect: Contact

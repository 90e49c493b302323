"""User code with type errors: both checkers must report an error on each line marked
``# error``, and nowhere else (proof that they really check the code above)."""

from __future__ import annotations

from sobjects import Session, select

from .models import Account, Contact


async def wrong(session: Session, contact: Contact) -> None:
    contact.last_name = 5  # error
    contact.email.upper()  # error
    accounts: list[Account] = await session.all(select(Contact))  # error
    select(Contact).where(True)  # error
    select(Contact).limit("10")  # error
    Contact.last_name.like(5)  # error
    Contact.last_name.in_([1, 2])  # error
    print(Contact.last_name.lenght)  # error
    print(Contact.created_date > "2024-01-01")  # error
    select(Account).with_children(Account.contacts, select(Account))  # error
    name: int = Contact.account[Account.name]  # error
    print(accounts, name)

"""A first sobjects script: models, a session, a typed query, and what it all cost.

It runs as is, against a local org in the same process (no account, no network):

    python examples/quickstart.py

To run it against a real org, replace ``LocalOrg().client()`` by a ``Salesforce(...)``
client with your instance URL and an auth strategy (see docs/client.md).
"""

from urllib.parse import urlsplit

import anyio

from sobjects import RequestEvent, Session, SObject, select
from sobjects.emulator import LocalOrg
from sobjects.fields import Field, Id


class Account(SObject):
    name: Field[str]
    industry: Field[str | None] = Field(None)


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


async def main() -> None:
    sent: list[str] = []

    async def on_request(event: RequestEvent) -> None:
        sent.append(f"{event.method} {urlsplit(event.url).path}: {event.cost} API call(s)")

    org = LocalOrg()  # an in-process Salesforce-compatible org
    async with org.client(event_hooks={"request": [on_request]}) as sf:
        async with Session(sf) as session:
            acme = Account(name="Acme Rockets", industry="Aerospace")
            acme.save()  # recorded, not sent
            for name in ("Coyote", "Runner"):
                Contact(last_name=name, account=acme).save()
        # The block ended: one flush sent the account, then the contacts with its new id.
        print("flush:", session.last_flush)  # requests, round trips, API calls, outcomes
        print("API calls spent by this session's flushes:", session.api_calls)

        async with Session(sf) as session:
            query = select(Contact).where(Contact.account_id == acme.id)
            contacts: list[Contact] = await session.all(query.order_by(Contact.last_name))
            print("query:", [c.last_name for c in contacts])

        print("HTTP requests sent:")
        for line in sent:
            print("  ", line)
        print("API calls counted by the org:", org.api_usage)
        print("API usage the client last read:", sf.api_usage)


if __name__ == "__main__":
    anyio.run(main)

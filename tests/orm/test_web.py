"""A FastAPI handler returning typed query results, with a session per request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict

from sobjects.emulator import LocalOrg
from sobjects.fields import Field, Id
from sobjects.orm._model import SObject
from sobjects.orm._session import Session

pytestmark = pytest.mark.anyio


class Contact(SObject):
    first_name: Field[str | None] = Field(None)
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    account_id: Field[Id | None] = Field(None)


class NewContact(BaseModel):
    """The request body: a plain model, so a client cannot choose an ``id`` (an SObject
    body would let one turn a create into an update of someone else's record)."""

    model_config = ConfigDict(extra="forbid")

    last_name: str
    email: str | None = None


def make_app(org: LocalOrg) -> FastAPI:
    app = FastAPI()

    async def session() -> AsyncIterator[Session]:
        # One unit of work per request: flushed when the handler returns.
        async with org.client() as sf, Session(sf) as unit_of_work:
            yield unit_of_work

    @app.get("/contacts")
    async def list_contacts(db: Session = Depends(session)) -> list[Contact]:  # noqa: B008
        soql = "SELECT Id, FirstName, LastName, Email, AccountId FROM Contact ORDER BY LastName"
        return await db.all(Contact, soql)

    @app.post("/contacts", status_code=201)
    async def create_contact(body: NewContact, db: Session = Depends(session)) -> Contact:  # noqa: B008
        contact = Contact(last_name=body.last_name, email=body.email)
        contact.save()
        await db.flush()
        return contact

    return app


async def test_handler_returns_typed_contacts_as_json() -> None:
    org = LocalOrg()
    contacts = org.schema.require("Contact")
    org.store.insert(contacts, {"LastName": "Roe", "Email": "roe@acme.com"})
    org.store.insert(contacts, {"FirstName": "Jon", "LastName": "Doe"})
    app = make_app(org)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        created = await client.post("/contacts", json={"last_name": "Poe", "email": "p@x.com"})
        assert created.status_code == 201
        chosen_id = await client.post(
            "/contacts", json={"last_name": "Mallory", "id": created.json()["id"]}
        )
        assert chosen_id.status_code == 422  # a client cannot pick the record to overwrite
        assert created.json()["id"].startswith("003")
        response = await client.get("/contacts")
        schema = (await client.get("/openapi.json")).json()
    assert response.status_code == 200
    body = response.json()
    assert [c["last_name"] for c in body] == ["Doe", "Poe", "Roe"]
    assert body[0] == {
        "id": body[0]["id"],
        "first_name": "Jon",
        "last_name": "Doe",
        "email": None,
        "account_id": None,
    }
    # The models are the API's schema: FastAPI documents them as they are.
    properties = schema["components"]["schemas"]["Contact"]["properties"]
    assert set(properties) == {"id", "first_name", "last_name", "email", "account_id"}

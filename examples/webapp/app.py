"""A FastAPI app over Salesforce contacts: a unit of work per request.

- One ``Salesforce`` client for the app's whole life (a pooled HTTP client and one OAuth
  token), made by a factory when the app starts and closed when it stops. The factory is
  ``salesforce_from_env`` unless ``create_app`` is given another one (the tests pass
  ``LocalOrg().client``).
- One ``Session`` per request, from the async generator dependency ``get_session``.
- Handlers flush before they return: FastAPI runs a dependency's exit code *after* the
  response is sent, too late to put a new id in the response or to turn a failure into an
  HTTP error. If a handler raises, the session's block exits with the exception and nothing
  it recorded is sent.

Run it against a local org (no account needed)::

    sobjects emulator --port 8765 &
    SALESFORCE_URL=http://127.0.0.1:8765 SALESFORCE_CLIENT_ID=any SALESFORCE_CLIENT_SECRET=any \\
        uvicorn examples.webapp.app:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status

from examples.webapp.models import Contact, ContactCreate, ContactUpdate
from sobjects import FlushError, Salesforce, Session, SObject, inspect, select
from sobjects.auth import ClientCredentials
from sobjects.errors import BadRequestError, NotFoundError
from sobjects.fields import Id

SalesforceFactory = Callable[[], Salesforce]


def salesforce_from_env() -> Salesforce:
    """The production client: OAuth client credentials for an integration user."""
    return Salesforce(
        os.environ["SALESFORCE_URL"],  # My Domain URL, e.g. https://acme.my.salesforce.com
        auth=ClientCredentials(
            os.environ["SALESFORCE_CLIENT_ID"], os.environ["SALESFORCE_CLIENT_SECRET"]
        ),
    )


# -- dependencies ----------------------------------------------------------------------------


def get_salesforce(request: Request) -> Salesforce:
    """The app's client, opened by the lifespan (see ``create_app``)."""
    return cast(Salesforce, request.app.state.salesforce)


async def get_session(
    sf: Annotated[Salesforce, Depends(get_salesforce)],
) -> AsyncIterator[Session]:
    """A unit of work for one request.

    Leaving the block flushes whatever is still pending; an exception from the handler
    (an ``HTTPException`` too) discards it instead.
    """
    async with Session(sf) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def flush(session: Session) -> None:
    """Send what the handler recorded; Salesforce's validation errors become a 422."""
    try:
        await session.flush()
    except FlushError as exc:
        if not all(isinstance(error, BadRequestError) for _, error in exc.failures):
            raise  # an outage or a server error: a 500, not the client's fault
        raise HTTPException(422, detail=_salesforce_errors(exc)) from exc


def _salesforce_errors(exc: FlushError) -> list[dict[str, Any]]:
    objects: list[SObject] = [obj for obj, _ in exc.failures]
    return [
        {"code": error.code, "message": error.message, "fields": list(error.fields)}
        for obj in objects
        for error in inspect(obj).errors
    ]


# -- routes ----------------------------------------------------------------------------------

router = APIRouter(prefix="/contacts", tags=["contacts"])


@router.get("")
async def list_contacts(
    session: SessionDep,
    last_name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> list[Contact]:
    """Contacts by name; ``?last_name=`` filters (the value is escaped, never spliced)."""
    query = select(Contact).order_by(Contact.last_name, Contact.first_name).limit(limit)
    if last_name is not None:
        query = query.where(Contact.last_name == last_name)
    return await session.all(query)


@router.get("/{contact_id}")
async def get_contact(contact_id: Id, session: SessionDep) -> Contact:
    """One contact. A malformed id is a 422 (``Id`` validates it); an unknown one a 404."""
    return await _load(session, contact_id)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_contact(body: ContactCreate, session: SessionDep) -> Contact:
    """Create a contact; the response carries the id Salesforce gave it."""
    contact = Contact(**body.model_dump(exclude_unset=True))
    contact.save()  # recorded in the request's session, not sent yet
    await flush(session)  # sent: contact.id is set
    return contact


@router.patch("/{contact_id}")
async def update_contact(contact_id: Id, body: ContactUpdate, session: SessionDep) -> Contact:
    """Change the fields the body names. Only fields whose value differs are sent."""
    contact = await _load(session, contact_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(contact, name, value)  # tracked against the values just read
    contact.save()  # nothing changed: nothing is sent
    await flush(session)
    return contact


async def _load(session: Session, contact_id: str) -> Contact:
    try:
        return await session.get(Contact, contact_id)
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no Contact {contact_id}") from None


# -- the app ---------------------------------------------------------------------------------


def create_app(salesforce: SalesforceFactory = salesforce_from_env) -> FastAPI:
    """The app, with its Salesforce client made by ``salesforce`` when it starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with salesforce() as sf:  # closed at shutdown
            app.state.salesforce = sf
            yield

    app = FastAPI(title="Contacts (sobjects example)", lifespan=lifespan)
    app.include_router(router)
    return app


app = create_app()

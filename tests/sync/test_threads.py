"""One sync client shared by many threads, each with its own sessions; and a web app's sync
endpoints, which run on the worker threads of the server's running event loop."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from sobjects import sync
from sobjects.emulator import LocalOrg
from sobjects.fields import Field
from sobjects.orm import SObject, current_session, select


class Contact(SObject):
    last_name: Field[str]
    title: Field[str | None] = Field(None)


THREADS = 8
PER_THREAD = 30


def test_threads_share_a_client_and_each_session_records_only_its_own_thread() -> None:
    org = LocalOrg()
    barrier = threading.Barrier(THREADS)

    def work(number: int) -> list[str]:
        with sync.Session(sf) as session:
            barrier.wait()  # every thread is inside its own block at once
            for i in range(PER_THREAD):
                Contact(last_name=f"T{number}", title=str(i)).save()
            # Only this thread's saves went into this session.
            assert len(session.pending) == PER_THREAD
        with sync.Session(sf) as session:
            mine = session.all(select(Contact).where(Contact.last_name == f"T{number}"))
        return sorted(c.title or "" for c in mine)

    with sync.Salesforce.wrap(org.client()) as sf, ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    assert results == [sorted(str(i) for i in range(PER_THREAD))] * THREADS
    assert len(org.store.records("Contact")) == THREADS * PER_THREAD
    assert current_session() is None  # no thread's session leaked into this one


class NewContact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    last_name: str


def make_app(sf: sync.Salesforce) -> FastAPI:
    app = FastAPI()

    # Plain `def` endpoints: FastAPI runs them on worker threads of its event loop.
    @app.post("/contacts", status_code=201)
    def create_contact(body: NewContact) -> Contact:
        with sync.Session(sf):
            contact = Contact(last_name=body.last_name)
            contact.save()
        return contact

    @app.get("/contacts")
    def list_contacts() -> list[Contact]:
        with sync.Session(sf) as session:
            return session.all(select(Contact).order_by(Contact.last_name))

    return app


@pytest.mark.anyio
async def test_fastapi_sync_endpoints_inside_a_running_event_loop() -> None:
    org = LocalOrg()
    sf = sync.Salesforce.wrap(org.client())
    try:
        transport = httpx.ASGITransport(app=make_app(sf))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            statuses: list[int] = []

            async def create(name: str) -> None:
                statuses.append(
                    (await client.post("/contacts", json={"last_name": name})).status_code
                )

            async with anyio.create_task_group() as group:  # concurrent requests
                for i in range(10):
                    group.start_soon(create, f"Web {i}")
            listed = await client.get("/contacts")
    finally:
        await anyio.to_thread.run_sync(sf.close)
    assert statuses == [201] * 10
    body = listed.json()
    assert [c["last_name"] for c in body] == sorted(f"Web {i}" for i in range(10))
    assert all(c["id"].startswith("003") for c in body)

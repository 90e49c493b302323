"""examples/webapp: the FastAPI app, run in-process against a local org."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from examples.webapp.app import create_app

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio


class Calls:
    """What reached the org: every request and composite subrequest, as dispatched."""

    def __init__(self, org: LocalOrg) -> None:
        self.dispatched: list[tuple[str, str, Any]] = []
        original = org.rest.dispatch

        def spy(method: str, version: str, path: str, query: Any, body: Any, headers: Any = None):
            self.dispatched.append((method, path, body))
            return original(method, version, path, query, body, headers)

        org.rest.dispatch = spy  # type: ignore[method-assign]

    def writes(self) -> list[tuple[str, str, Any]]:
        """The record writes (method, path, body), alone or as composite subrequests."""
        return [
            (method, path.strip("/"), body)
            for method, path, body in self.dispatched
            if method in ("POST", "PATCH", "DELETE") and not path.startswith("composite")
        ]

    def clear(self) -> None:
        self.dispatched.clear()


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    contacts = org.schema.require("Contact")
    for first, last, email in [
        ("Jane", "Doe", "jane@acme.example"),
        ("Richard", "Roe", None),
        ("Ada", "Lovelace", "ada@example.com"),
    ]:
        org.store.insert(contacts, {"FirstName": first, "LastName": last, "Email": email})
    return org


@pytest.fixture
async def client(org: LocalOrg) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(salesforce=org.client)
    # httpx's ASGITransport does not send lifespan events: run the app's lifespan here, so
    # the app opens (and at the end closes) its Salesforce client as a server would.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


async def contact_id(client: httpx.AsyncClient, last_name: str) -> str:
    response = await client.get("/contacts", params={"last_name": last_name})
    (contact,) = response.json()
    return str(contact["id"])


async def test_list_returns_typed_contacts_in_order(client: httpx.AsyncClient) -> None:
    response = await client.get("/contacts")
    assert response.status_code == 200
    body = response.json()
    assert [c["last_name"] for c in body] == ["Doe", "Lovelace", "Roe"]
    assert body[0] == {
        "id": body[0]["id"],
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@acme.example",
        "title": None,
        "phone": None,
        "account_id": None,
    }
    assert body[0]["id"].startswith("003") and len(body[0]["id"]) == 18


async def test_list_filters_and_limits(client: httpx.AsyncClient) -> None:
    quoted = await client.get("/contacts", params={"last_name": "O'Hara' OR LastName != '"})
    assert quoted.status_code == 200 and quoted.json() == []  # escaped, not injected
    limited = await client.get("/contacts", params={"limit": 2})
    assert [c["last_name"] for c in limited.json()] == ["Doe", "Lovelace"]
    assert (await client.get("/contacts", params={"limit": 0})).status_code == 422


async def test_create_returns_the_contact_with_its_new_id(
    client: httpx.AsyncClient, org: LocalOrg
) -> None:
    calls = Calls(org)
    response = await client.post(
        "/contacts", json={"first_name": "Grace", "last_name": "Hopper", "title": "RADM"}
    )
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("003")
    assert created | {"id": None} == {
        "id": None,
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": None,
        "title": "RADM",
        "phone": None,
        "account_id": None,
    }
    # Only the fields the body set were sent.
    ((method, path, body),) = calls.writes()
    assert (method, path) == ("POST", "sobjects/Contact")
    assert body == {"FirstName": "Grace", "LastName": "Hopper", "Title": "RADM"}
    fetched = await client.get(f"/contacts/{created['id']}")
    assert fetched.json() == created


async def test_update_sends_only_the_changed_field(
    client: httpx.AsyncClient, org: LocalOrg
) -> None:
    doe = await contact_id(client, "Doe")
    calls = Calls(org)
    # Email is sent with the value it already has, Title with a new one.
    response = await client.patch(
        f"/contacts/{doe}", json={"email": "jane@acme.example", "title": "CTO"}
    )
    assert response.status_code == 200
    assert response.json()["title"] == "CTO" and response.json()["first_name"] == "Jane"
    ((method, path, body),) = calls.writes()
    assert (method, path, body) == ("PATCH", f"sobjects/Contact/{doe}", {"Title": "CTO"})
    after = (await client.get(f"/contacts/{doe}")).json()
    assert after["title"] == "CTO" and after["email"] == "jane@acme.example"


async def test_update_with_nothing_changed_sends_nothing(
    client: httpx.AsyncClient, org: LocalOrg
) -> None:
    doe = await contact_id(client, "Doe")
    calls = Calls(org)
    response = await client.patch(f"/contacts/{doe}", json={"first_name": "Jane"})
    assert response.status_code == 200 and response.json()["first_name"] == "Jane"
    assert calls.writes() == []


async def test_update_null_clears_a_field(client: httpx.AsyncClient, org: LocalOrg) -> None:
    doe = await contact_id(client, "Doe")
    calls = Calls(org)
    response = await client.patch(f"/contacts/{doe}", json={"email": None})
    assert response.status_code == 200 and response.json()["email"] is None
    ((_, _, body),) = calls.writes()
    assert body == {"Email": None}


async def test_a_missing_id_is_404(client: httpx.AsyncClient, org: LocalOrg) -> None:
    missing = "003000000000000AAA"  # well formed, no such record
    assert (await client.get(f"/contacts/{missing}")).status_code == 404
    calls = Calls(org)
    response = await client.patch(f"/contacts/{missing}", json={"title": "CEO"})
    assert response.status_code == 404
    assert response.json() == {"detail": f"no Contact {missing}"}
    assert calls.writes() == []


async def test_a_malformed_id_is_422(client: httpx.AsyncClient) -> None:
    response = await client.patch("/contacts/not-an-id", json={"title": "CEO"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "contact_id"]


@pytest.mark.parametrize(
    ("method", "body", "loc"),
    [
        ("POST", {"first_name": "No last name"}, ["body", "last_name"]),
        ("POST", {"last_name": "Doe", "Title": "CEO"}, ["body", "Title"]),  # unknown key
        ("POST", {"last_name": ""}, ["body", "last_name"]),
        ("POST", {"last_name": "Doe", "account_id": "nope"}, ["body", "account_id"]),
        ("PATCH", {"last_name": None}, ["body", "last_name"]),  # required: not clearable
        ("PATCH", {"titel": "CEO"}, ["body", "titel"]),
        ("PATCH", ["not", "an", "object"], ["body"]),
    ],
)
async def test_a_bad_body_is_422_and_sends_nothing(
    client: httpx.AsyncClient, org: LocalOrg, method: str, body: Any, loc: list[str]
) -> None:
    url = "/contacts" if method == "POST" else f"/contacts/{await contact_id(client, 'Doe')}"
    calls = Calls(org)
    response = await client.request(method, url, json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [loc]
    assert calls.writes() == []


async def test_salesforce_validation_errors_are_422(client: httpx.AsyncClient) -> None:
    # The body is well formed; Salesforce refuses the value (INVALID_EMAIL_ADDRESS).
    response = await client.post("/contacts", json={"last_name": "Roe", "email": "not an email"})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["code"] == "INVALID_EMAIL_ADDRESS" and error["fields"] == ["Email"]
    names = [c["last_name"] for c in (await client.get("/contacts")).json()]
    assert names == ["Doe", "Lovelace", "Roe"]  # nothing was created


async def test_the_openapi_schema_documents_the_models(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    schemas = schema["components"]["schemas"]
    assert set(schemas["Contact"]["properties"]) == {
        "id",
        "first_name",
        "last_name",
        "email",
        "title",
        "phone",
        "account_id",
    }
    assert schemas["ContactCreate"]["required"] == ["last_name"]
    assert "required" not in schemas["ContactUpdate"]

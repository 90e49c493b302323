"""Shapes the local org answers as Salesforce does (issue 11), each with the doc it follows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sobjects.emulator import LocalOrg

V = "62.0"


def call(org: LocalOrg, method: str, path: str, body: Any = None, **query: str) -> Any:
    return org.rest.dispatch(method, V, path, query, body, {})


def test_upsert_by_an_id_lookup_field() -> None:
    """SOAP API Developer Guide, upsert(): "externalIDFieldName ... you can also use any field
    with the idLookup property", and Contact.Email has idLookup in describe."""
    org = LocalOrg()
    created = call(org, "PATCH", "sobjects/Contact/Email/jane@example.com", {"LastName": "Doe"})
    assert created.status == 201 and created.body["created"] is True
    updated = call(org, "PATCH", "sobjects/Contact/Email/JANE@example.com", {"LastName": "Roe"})
    assert updated.status == 200 and updated.body["created"] is False
    assert updated.body["id"] == created.body["id"]
    assert [c["LastName"] for c in org.store.records("Contact")] == ["Roe"]
    refused = call(org, "PATCH", "sobjects/Contact/LastName/Roe", {"FirstName": "J"})
    assert refused.status == 404  # neither an external id nor idLookup


def test_collections_upsert_by_id_creates_records_without_one() -> None:
    """REST API Developer Guide, "Upsert Records Using sObject Collections": records are
    matched by the given field, Id included; a record without a value is created."""
    org = LocalOrg()
    existing = org.store.insert(org.schema.require("Account"), {"Name": "Old"})
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Account"}, "Id": existing, "Name": "Renamed"},
            {"attributes": {"type": "Account"}, "Id": None, "Name": "New one"},
            {"attributes": {"type": "Account"}, "Name": "New two"},
        ],
    }
    reply = call(org, "PATCH", "composite/sobjects/Account/Id", body)
    assert reply.status == 200
    assert [r["created"] for r in reply.body] == [False, True, True]
    assert all(r["success"] and r["errors"] == [] for r in reply.body)
    assert reply.body[0]["id"] == existing
    assert sorted(a["Name"] for a in org.store.records("Account")) == [
        "New one",
        "New two",
        "Renamed",
    ]


def test_collections_delete_needs_ids() -> None:
    """REST API Developer Guide, "Delete Records Using sObject Collections": "ids: Required";
    "If the request isn't well formed, the API returns a 400 Bad Request HTTP Status."."""
    org = LocalOrg()
    for query in ({}, {"ids": ""}):
        reply = call(org, "DELETE", "composite/sobjects", **query)
        assert reply.status == 400
        assert reply.body[0]["errorCode"] == "MISSING_ARGUMENT"


def test_a_write_to_a_deleted_record_is_a_dml_error_with_fields() -> None:
    """REST API Developer Guide, "Status Codes and Error Responses": an error body is a list
    of ``{"message", "errorCode", "fields"}`` where "fields" lists "the fields that caused the
    error, if any"; DML errors carry it even when empty. Deleting a deleted record on a real
    org (API 49.0) answers ``[{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED",
    "fields":[]}]``."""
    org = LocalOrg()
    record_id = call(org, "POST", "sobjects/Account", {"Name": "Gone"}).body["id"]
    assert call(org, "DELETE", f"sobjects/Account/{record_id}").status == 204
    deleted = [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]
    for method, body in (("DELETE", None), ("PATCH", {"Name": "Back"})):
        reply = call(org, method, f"sobjects/Account/{record_id}", body)
        assert (reply.status, reply.body) == (404, deleted)


def test_describe_carries_the_keys_and_urls_of_a_real_one() -> None:
    """REST API Developer Guide, "sObject Describe" (Account example): ``urls`` lists
    ``compactLayouts``, ``rowTemplate``, ``approvalLayouts``, ``describe``, ``quickActions``,
    ``layouts``, ``sobject`` (and ``listviews`` where listviewable); the top level carries
    ``associateEntityType``, ``defaultImplementation``, ``extendedBy``, ``implementedBy`` and
    the like, null for Account. "Describe Global" lists the same ``urls`` per object."""
    org = LocalOrg()
    describe = call(org, "GET", "sobjects/Account/describe").body
    base = f"/services/data/v{V}/sobjects/Account"
    assert describe["urls"] == {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
        "compactLayouts": f"{base}/describe/compactLayouts",
        "layouts": f"{base}/describe/layouts",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "quickActions": f"{base}/quickActions",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
    }
    for key in ("associateEntityType", "defaultImplementation", "extendedBy", "implementedBy"):
        assert key in describe and describe[key] is None
    entry = next(s for s in call(org, "GET", "sobjects").body["sobjects"] if s["name"] == "Account")
    assert entry["urls"] == describe["urls"]


def test_an_id_with_a_wrong_checksum_is_a_malformed_id() -> None:
    """REST API Developer Guide, status codes and error responses: a malformed record id answers
    400 with ``[{"fields": ["Id"], "message": "Account ID: id value of incorrect type: ...",
    "errorCode": "MALFORMED_ID"}]``."""
    org = LocalOrg()
    good = org.store.insert(org.schema.require("Account"), {"Name": "Acme"})
    bad = good[:15] + "ZZZ"
    for method in ("GET", "PATCH", "DELETE"):
        reply = call(org, method, f"sobjects/Account/{bad}", {"Name": "x"})
        assert reply.status == 400
        assert reply.body == [
            {
                "message": f"Account ID: id value of incorrect type: {bad}",
                "errorCode": "MALFORMED_ID",
                "fields": ["Id"],
            }
        ]
    assert call(org, "GET", f"sobjects/Account/{good[:15]}").status == 200
    assert call(org, "GET", "sobjects/Account/Name").status == 404  # a field name: not found


# -- the token endpoint checks logins once users and apps are configured -----------------------


async def token(org: LocalOrg, **form: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app), base_url="http://127.0.0.1"
    ) as http:
        return await http.post("/services/oauth2/token", data=form)


@pytest.mark.anyio
async def test_the_token_endpoint_refuses_what_salesforce_refuses() -> None:
    """OAuth 2.0 username-password and client-credentials flows (Salesforce Help, "OAuth
    Endpoints" and flow pages): errors come as HTTP 400 ``{"error", "error_description"}``:
    ``invalid_client_id`` / "client identifier invalid", ``invalid_client`` / "invalid client
    credentials", ``invalid_grant`` / "authentication failure"."""
    org = LocalOrg()
    anyone = await token(org, grant_type="client_credentials", client_id="x", client_secret="y")
    assert anyone.status_code == 200  # nothing configured: any well-formed login is granted
    org.add_connected_app("app-id", "app-secret")
    org.add_user("ada@example.com", "s3cret")
    cases = [
        ({"grant_type": "client_credentials", "client_id": "other", "client_secret": "x"},
         "invalid_client_id", "client identifier invalid"),
        ({"grant_type": "client_credentials", "client_id": "app-id", "client_secret": "wrong"},
         "invalid_client", "invalid client credentials"),
        ({"grant_type": "password", "client_id": "app-id", "client_secret": "app-secret",
          "username": "ada@example.com", "password": "wrong"},
         "invalid_grant", "authentication failure"),
        ({"grant_type": "password", "client_id": "app-id", "username": "bob@example.com",
          "password": "s3cret"},
         "invalid_grant", "authentication failure"),
    ]  # fmt: skip
    for form, error, description in cases:
        reply = await token(org, **form)
        assert reply.status_code == 400
        assert reply.json() == {"error": error, "error_description": description}
    good = await token(
        org,
        grant_type="password",
        client_id="app-id",
        client_secret="app-secret",
        username="ada@example.com",
        password="s3cret",
    )
    assert good.status_code == 200 and good.json()["access_token"]
    app = await token(
        org, grant_type="client_credentials", client_id="app-id", client_secret="app-secret"
    )
    assert app.status_code == 200


def test_a_large_child_subquery_comes_back_a_page_at_a_time() -> None:
    """REST API Developer Guide, "Execute a SOQL Query": when a result is cut, ``done`` is false
    and ``nextRecordsUrl`` (``/services/data/vXX.X/query/{locator}-{n}``) fetches the rest;
    relationship (child) subquery results are cut the same way inside their parent record."""
    org = LocalOrg()
    account = org.store.insert(org.schema.require("Account"), {"Name": "Acme"})
    for i in range(450):
        org.store.insert(
            org.schema.require("Contact"), {"LastName": f"C{i:03d}", "AccountId": account}
        )
    soql = "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account"
    (record,) = call(org, "GET", "query", q=soql).body["records"]
    child = record["Contacts"]
    assert (child["totalSize"], child["done"], len(child["records"])) == (450, False, 200)
    names = [r["LastName"] for r in child["records"]]
    url = child["nextRecordsUrl"]
    while url:
        assert url.startswith(f"/services/data/v{V}/query/01g")
        page = call(org, "GET", url.split(f"/services/data/v{V}/", 1)[1]).body
        names += [r["LastName"] for r in page["records"]]
        url = page.get("nextRecordsUrl")
        assert page["done"] is (url is None)
    assert names == [f"C{i:03d}" for i in range(450)]
    small = call(org, "GET", "query", q=soql.replace("LastName)", "LastName LIMIT 5)"))
    assert small.body["records"][0]["Contacts"]["done"] is True  # short lists stay whole

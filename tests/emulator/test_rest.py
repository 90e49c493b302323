"""The local org on the wire: endpoints, shapes and validation errors (salesforce-rest.md)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sobjects._ids import is_salesforce_id
from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field(
        "Account",
        {"name": "Ext_Id__c", "type": "string", "externalId": True, "unique": True, "length": 40},
    )
    org.define_field("Contact", {"name": "Code__c", "type": "string", "externalId": True})
    return org


@pytest.fixture
async def http(org: LocalOrg) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP against the org's ASGI app, authenticated."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {org.access_token}"},
    ) as client:
        yield client


async def create(http: httpx.AsyncClient, sobject: str, data: dict[str, Any]) -> str:
    response = await http.post(f"{V}/sobjects/{sobject}", json=data)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, list), body
    assert len(body) == 1, body
    return dict(body[0])


# -- directory, describe, limits, versions ---------------------------------------------------


async def test_versions_need_no_auth_and_are_not_metered(org: LocalOrg) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app), base_url="http://127.0.0.1"
    ) as anonymous:
        response = await anonymous.get("/services/data/")
    versions = response.json()
    assert response.status_code == 200
    assert "Sforce-Limit-Info" not in response.headers
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert [v["version"] for v in versions] == sorted((v["version"] for v in versions), key=float)


async def test_resources_and_global_describe(http: httpx.AsyncClient) -> None:
    resources = (await http.get(f"{V}/")).json()
    assert resources["sobjects"] == f"{V}/sobjects"
    described = (await http.get(f"{V}/sobjects")).json()
    names = {s["name"]: s for s in described["sobjects"]}
    for name, prefix in [
        ("Account", "001"),
        ("Contact", "003"),
        ("Lead", "00Q"),
        ("Opportunity", "006"),
        ("Case", "500"),
        ("User", "005"),
        ("Task", "00T"),
    ]:
        assert names[name]["keyPrefix"] == prefix
        assert names[name]["urls"]["describe"] == f"{V}/sobjects/{name}/describe"


async def test_sobject_describe(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{V}/sobjects/account/describe/")
    described = response.json()
    assert described["name"] == "Account"
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["Ext_Id__c"]["externalId"] is True
    assert fields["Id"]["type"] == "id"
    children = {r["relationshipName"] for r in described["childRelationships"]}
    assert {"Contacts", "Opportunities", "Cases"} <= children
    missing = await http.get(f"{V}/sobjects/Nope__c/describe")
    assert missing.status_code == 404
    assert only_error(missing)["errorCode"] == "NOT_FOUND"


async def test_limits_and_usage_header(http: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await http.get(f"{V}/limits")
    assert response.json()["DailyApiRequests"]["Max"] == org.daily_api_limit
    assert response.headers["Sforce-Limit-Info"] == f"api-usage=1/{org.daily_api_limit}"


async def test_usage_counts_like_salesforce(http: httpx.AsyncClient, org: LocalOrg) -> None:
    batch = {
        "batchRequests": [{"method": "GET", "url": "v62.0/limits"} for _ in range(3)],
    }
    await http.post(f"{V}/composite/batch", json=batch)
    assert org.api_usage == 3  # each batch subrequest counts one
    composite = {
        "compositeRequest": [
            {"method": "GET", "url": f"{V}/limits", "referenceId": f"r{i}"} for i in range(3)
        ]
    }
    await http.post(f"{V}/composite", json=composite)
    assert org.api_usage == 4  # a composite request counts one
    await http.post(
        f"{V}/composite/sobjects",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "x"}] * 3},
    )
    assert org.api_usage == 5  # and so does a collections call


async def test_request_limit_exceeded(org: LocalOrg) -> None:
    org.daily_api_limit = 2
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"OAuth {org.access_token}"},  # the older scheme works too
    ) as http:
        assert (await http.get(f"{V}/limits")).status_code == 200
        assert (await http.get(f"{V}/limits")).status_code == 200
        refused = await http.get(f"{V}/limits")
    assert refused.status_code == 403
    assert only_error(refused) == {
        "message": "TotalRequests Limit exceeded.",
        "errorCode": "REQUEST_LIMIT_EXCEEDED",
    }


async def test_bad_or_expired_token(http: httpx.AsyncClient, org: LocalOrg) -> None:
    bad = await http.get(f"{V}/limits", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert only_error(bad) == {
        "message": "Session expired or invalid",
        "errorCode": "INVALID_SESSION_ID",
    }
    org.expire_tokens()
    assert (await http.get(f"{V}/limits")).status_code == 401


async def test_unknown_version_and_resource(http: httpx.AsyncClient) -> None:
    assert (await http.get("/services/data/v99.0/limits")).status_code == 404
    assert (await http.get(f"{V}/nothing")).status_code == 404


# -- token endpoint ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "client_credentials", "client_id": "id", "client_secret": "s"},
        {"grant_type": "password", "client_id": "id", "username": "u", "password": "p"},
    ],
)
async def test_token_endpoint_issues_working_tokens(
    http: httpx.AsyncClient, form: dict[str, str]
) -> None:
    response = await http.post("/services/oauth2/token", data=form)
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == "http://127.0.0.1"
    assert len(body["issued_at"]) == 13
    assert "!" in body["access_token"]
    used = await http.get(
        f"{V}/limits", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert used.status_code == 200
    if form["grant_type"] == "password":
        refreshed = await http.post(
            "/services/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        )
        assert refreshed.status_code == 200


async def test_token_endpoint_errors(http: httpx.AsyncClient) -> None:
    refused = await http.post(
        "/services/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": "x"}
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    odd = await http.post("/services/oauth2/token", data={"grant_type": "magic"})
    assert odd.json()["error"] == "unsupported_grant_type"


# -- records -------------------------------------------------------------------------------------


async def test_ids_are_18_chars_with_prefix_and_checksum(http: httpx.AsyncClient) -> None:
    account_id = await create(http, "Account", {"Name": "Acme"})
    contact_id = await create(http, "Contact", {"LastName": "Doe", "AccountId": account_id[:15]})
    assert len(account_id) == 18
    assert account_id.startswith("001")
    assert contact_id.startswith("003")
    assert is_salesforce_id(account_id)
    record = (await http.get(f"{V}/sobjects/Contact/{contact_id[:15]}")).json()
    assert record["Id"] == contact_id
    assert record["AccountId"] == account_id  # a 15-char id in, 18 out


async def test_create_get_update_delete(http: httpx.AsyncClient) -> None:
    created = await http.post(f"{V}/sobjects/Account/", json={"Name": "Acme", "Industry": "Energy"})
    assert created.status_code == 201
    body = created.json()
    assert body == {"id": body["id"], "success": True, "errors": []}
    assert created.headers["Location"] == f"{V}/sobjects/Account/{body['id']}"
    url = f"{V}/sobjects/Account/{body['id']}"
    record = (await http.get(url)).json()
    assert next(iter(record)) == "attributes"
    assert record["attributes"] == {"type": "Account", "url": url}
    assert record["Name"] == "Acme"
    assert record["CreatedDate"].endswith("+0000")
    partial = (await http.get(url, params={"fields": "name,Industry"})).json()
    assert list(partial) == ["attributes", "Name", "Industry", "Id"]
    patched = await http.patch(url, json={"Industry": None, "Phone": "555"})
    assert patched.status_code == 204
    assert patched.content == b""
    after = (await http.get(url)).json()
    assert (after["Industry"], after["Phone"]) == (None, "555")
    assert (await http.delete(url)).status_code == 204
    gone = await http.get(url)
    assert gone.status_code == 404
    assert only_error(gone)["errorCode"] == "ENTITY_IS_DELETED"
    again = await http.delete(url)
    assert (again.status_code, only_error(again)["errorCode"]) == (404, "ENTITY_IS_DELETED")
    update_deleted = await http.patch(url, json={"Name": "x"})
    assert only_error(update_deleted)["errorCode"] == "ENTITY_IS_DELETED"


async def test_not_found_and_malformed_ids(http: httpx.AsyncClient) -> None:
    missing = await http.get(f"{V}/sobjects/Account/001000000000000AAA")
    assert missing.status_code == 404
    assert only_error(missing) == {
        "message": "The requested resource does not exist",
        "errorCode": "NOT_FOUND",
    }
    odd = await http.get(f"{V}/sobjects/Account/23foo")
    assert odd.status_code == 404
    assert (
        "Provided external ID field does not exist or is not accessible: 23foo"
        in (only_error(odd)["message"])
    )


async def test_upsert_by_external_id(http: httpx.AsyncClient, org: LocalOrg) -> None:
    url = f"{V}/sobjects/Account/Ext_Id__c/A-1"
    first = await http.patch(url, json={"Name": "Acme"})
    assert first.status_code == 201
    assert first.json()["created"] is True
    second = await http.patch(url, json={"Name": "Acme Corp"})
    assert second.status_code == 200
    assert second.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    by_ext = (await http.get(f"{V}/sobjects/Account/Ext_Id__c/a-1")).json()  # case-insensitive
    assert by_ext["Name"] == "Acme Corp"
    old = await http.patch("/services/data/v45.0/sobjects/Account/Ext_Id__c/A-1", json={})
    assert old.status_code == 204
    created_old = await http.patch(
        "/services/data/v45.0/sobjects/Account/Ext_Id__c/A-2", json={"Name": "Old"}
    )
    assert created_old.status_code == 201
    assert "created" not in created_old.json()  # the key exists from API 46.0 on


async def test_upsert_multiple_matches_answers_300(http: httpx.AsyncClient) -> None:
    await create(http, "Contact", {"LastName": "A", "Code__c": "same"})
    await create(http, "Contact", {"LastName": "B", "Code__c": "same"})
    response = await http.patch(f"{V}/sobjects/Contact/Code__c/same", json={"LastName": "C"})
    assert response.status_code == 300
    urls = response.json()
    assert len(urls) == 2
    assert all(u.startswith(f"{V}/sobjects/Contact/003") for u in urls)


async def test_upsert_errors(http: httpx.AsyncClient) -> None:
    not_external = await http.patch(f"{V}/sobjects/Account/Name/x", json={})
    assert not_external.status_code == 404
    assert (
        "Provided external ID field does not exist or is not accessible: Name"
        in (only_error(not_external)["message"])
    )
    with_id = await http.patch(
        f"{V}/sobjects/Account/Ext_Id__c/A-9", json={"Id": "001000000000000AAA"}
    )
    assert only_error(with_id)["errorCode"] == "INVALID_FIELD"
    mismatch = await http.patch(f"{V}/sobjects/Account/Ext_Id__c/A-9", json={"Ext_Id__c": "B"})
    assert only_error(mismatch)["errorCode"] == "INVALID_FIELD"


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sobject", "data", "status", "code", "fields"),
    [
        ("Nope__c", {"Name": "x"}, 404, "NOT_FOUND", None),
        ("Account", {"Name": "x", "Bogus__c": 1}, 400, "INVALID_FIELD", None),
        ("Contact", {"FirstName": "Jon"}, 400, "REQUIRED_FIELD_MISSING", ["LastName"]),
        (
            "Opportunity",
            {"Name": "Deal"},
            400,
            "REQUIRED_FIELD_MISSING",
            ["StageName", "CloseDate"],
        ),
        ("Account", {"Name": "x", "NumberOfEmployees": "many"}, 400, "JSON_PARSER_ERROR", None),
        ("Contact", {"LastName": "x", "DoNotCall": "maybe"}, 400, "JSON_PARSER_ERROR", None),
        ("Account", {"Name": "x" * 256}, 400, "STRING_TOO_LONG", ["Name"]),
        ("Contact", {"LastName": "x", "Email": "not-an-email"}, 400, "INVALID_EMAIL_ADDRESS",
         ["Email"]),
        (
            "Contact",
            {"LastName": "x", "Interests__c": "Music;Knitting"},
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["Interests__c"],
        ),
        ("Contact", {"LastName": "x", "AccountId": "garbage"}, 400, "MALFORMED_ID", ["AccountId"]),
        (
            "Contact",
            {"LastName": "x", "AccountId": "001000000000000AAA"},
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            ["AccountId"],
        ),
        ("Account", {"Name": "x", "CreatedDate": "2024-01-01T00:00:00Z"}, 400,
         "INVALID_FIELD_FOR_INSERT_UPDATE", ["CreatedDate"]),
        ("Account", {"Name": "x", "Id": "001000000000000AAA"}, 400,
         "INVALID_FIELD_FOR_INSERT_UPDATE", ["Id"]),
        ("Opportunity", {"Name": "D", "StageName": "Prospecting", "CloseDate": "2026-13-45"}, 400,
         "JSON_PARSER_ERROR", None),
    ],
)  # fmt: skip
async def test_create_validation_errors(
    http: httpx.AsyncClient,
    sobject: str,
    data: dict[str, Any],
    status: int,
    code: str,
    fields: list[str] | None,
) -> None:
    response = await http.post(f"{V}/sobjects/{sobject}", json=data)
    assert response.status_code == status, response.text
    error = only_error(response)
    assert error["errorCode"] == code
    assert error["message"]
    if fields is not None:
        assert error["fields"] == fields


async def test_unknown_field_message_matches_salesforce(http: httpx.AsyncClient) -> None:
    account_id = await create(http, "Account", {"Name": "x"})
    response = await http.patch(f"{V}/sobjects/Account/{account_id}", json={"foo": 1})
    assert only_error(response) == {
        "message": "No such column 'foo' on sobject of type Account",
        "errorCode": "INVALID_FIELD",
    }


async def test_duplicate_external_id(http: httpx.AsyncClient) -> None:
    first = await create(http, "Account", {"Name": "a", "Ext_Id__c": "X"})
    response = await http.post(f"{V}/sobjects/Account", json={"Name": "b", "Ext_Id__c": "X"})
    error = only_error(response)
    assert error["errorCode"] == "DUPLICATE_VALUE"
    assert first in error["message"]
    assert error["fields"] == ["Ext_Id__c"]


async def test_wrong_type_reference(http: httpx.AsyncClient) -> None:
    contact_id = await create(http, "Contact", {"LastName": "x"})
    response = await http.post(
        f"{V}/sobjects/Opportunity",
        json={
            "Name": "D",
            "StageName": "Prospecting",
            "CloseDate": "2026-01-01",
            "AccountId": contact_id,
        },
    )
    assert only_error(response)["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


async def test_values_are_normalised(http: httpx.AsyncClient) -> None:
    contact_id = await create(
        http,
        "Contact",
        {
            "LastName": "x",
            "FirstName": "Jon",
            "Birthdate": "1990-02-03",
            "Interests__c": "Music;Travel;Music",
        },
    )
    record = (await http.get(f"{V}/sobjects/Contact/{contact_id}")).json()
    assert record["Name"] == "Jon x"
    assert record["Birthdate"] == "1990-02-03"
    assert record["DoNotCall"] is False  # booleans are never null
    assert record["Interests__c"] == "Music;Travel"


async def test_defaults_and_auto_numbers(http: httpx.AsyncClient) -> None:
    case_id = await create(http, "Case", {"Subject": "Broken"})
    record = (await http.get(f"{V}/sobjects/Case/{case_id}")).json()
    assert record["Status"] == "New"
    assert record["CaseNumber"] == "00000001"


async def test_parent_by_external_id(http: httpx.AsyncClient) -> None:
    account_id = await create(http, "Account", {"Name": "Acme", "Ext_Id__c": "A-100"})
    contact_id = await create(
        http, "Contact", {"LastName": "Doe", "Account": {"Ext_Id__c": "A-100"}}
    )
    record = (await http.get(f"{V}/sobjects/Contact/{contact_id}")).json()
    assert record["AccountId"] == account_id


async def test_malformed_json_body(http: httpx.AsyncClient) -> None:
    response = await http.post(
        f"{V}/sobjects/Account", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert only_error(response)["errorCode"] == "JSON_PARSER_ERROR"


async def test_an_emulator_bug_answers_like_salesforce(
    http: httpx.AsyncClient, org: LocalOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(org.rest, "dispatch", broken)
    response = await http.get(f"{V}/limits")
    assert response.status_code == 500
    error = only_error(response)
    assert error["errorCode"] == "UNKNOWN_EXCEPTION"
    assert "ErrorId" in error["message"]


async def test_jwt_with_a_non_numeric_exp_is_an_invalid_grant(http: httpx.AsyncClient) -> None:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    assertion = f"{part({'alg': 'RS256'})}.{part({'iss': 'i', 'sub': 's', 'exp': 'soon'})}.sig"
    response = await http.post(
        "/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# -- parents by external id --------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    [
        {"attributes": "Account", "Ext_Id__c": "A-1"},  # attributes must be an object
        {"attributes": {"type": "Nope"}, "Ext_Id__c": "A-1"},  # unknown type
        {"attributes": {"type": "Contact"}, "Code__c": "C-1"},  # not in AccountId's referenceTo
    ],
)
async def test_parent_by_external_id_checks_the_reference(
    http: httpx.AsyncClient, org: LocalOrg, reference: dict[str, Any]
) -> None:
    await create(http, "Account", {"Name": "Acme", "Ext_Id__c": "A-1"})
    await create(http, "Contact", {"LastName": "Parent?", "Code__c": "C-1"})
    response = await http.post(
        f"{V}/sobjects/Contact", json={"LastName": "Child", "Account": reference}
    )
    assert response.status_code == 400, response.text
    assert only_error(response)["errorCode"] == "INVALID_FIELD"
    assert [c["LastName"] for c in org.store.records("Contact")] == ["Parent?"]


async def test_parent_by_external_id_obeys_field_permissions(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    await create(http, "Account", {"Name": "Acme", "Ext_Id__c": "A-1"})
    # MasterRecordId is read-only: naming it by its relationship does not get around that.
    response = await http.post(
        f"{V}/sobjects/Account",
        json={"Name": "Dup", "MasterRecord": {"Ext_Id__c": "A-1"}},
    )
    assert response.status_code == 400
    assert only_error(response)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert only_error(response)["fields"] == ["MasterRecordId"]


# -- numbers and datetimes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"AnnualRevenue": "nan"}, "JSON_PARSER_ERROR"),
        ({"AnnualRevenue": "Infinity"}, "JSON_PARSER_ERROR"),
        ({"AnnualRevenue": "-inf"}, "JSON_PARSER_ERROR"),
        ({"AnnualRevenue": "1e400"}, "NUMBER_OUTSIDE_VALID_RANGE"),
        ({"AnnualRevenue": 10**400}, "NUMBER_OUTSIDE_VALID_RANGE"),
        ({"NumberOfEmployees": "nan"}, "JSON_PARSER_ERROR"),
        ({"NumberOfEmployees": "inf"}, "JSON_PARSER_ERROR"),
        ({"NumberOfEmployees": "1_000"}, "JSON_PARSER_ERROR"),
        ({"NumberOfEmployees": 1e300}, "NUMBER_OUTSIDE_VALID_RANGE"),
        ({"NumberOfEmployees": 12345678901234567891}, "NUMBER_OUTSIDE_VALID_RANGE"),
        ({"NumberOfEmployees": 100_000_000}, "NUMBER_OUTSIDE_VALID_RANGE"),  # 9 of 8 digits
        ({"NumberOfEmployees": 2.5}, "NUMBER_OUTSIDE_VALID_RANGE"),
    ],
)
async def test_numbers_must_be_finite_and_in_range(
    http: httpx.AsyncClient, org: LocalOrg, data: dict[str, Any], code: str
) -> None:
    response = await http.post(f"{V}/sobjects/Account", json={"Name": "x", **data})
    assert response.status_code == 400, response.text
    assert only_error(response)["errorCode"] == code
    assert org.store.records("Account") == []


async def test_integers_are_exact(http: httpx.AsyncClient, org: LocalOrg) -> None:
    org.define_field("Account", {"name": "Big__c", "type": "long"})
    big = 2**62 + 1  # a float round trip would make it 2**62
    created = await create(
        http, "Account", {"Name": "x", "Big__c": str(big), "NumberOfEmployees": "99999999"}
    )
    record = (await http.get(f"{V}/sobjects/Account/{created}")).json()
    assert (record["Big__c"], record["NumberOfEmployees"]) == (big, 99_999_999)
    too_big = await http.patch(f"{V}/sobjects/Account/{created}", json={"Big__c": 2**63})
    assert only_error(too_big)["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
async def test_non_standard_json_numbers_are_refused(
    http: httpx.AsyncClient, org: LocalOrg, literal: bytes
) -> None:
    response = await http.post(
        f"{V}/sobjects/Account",
        content=b'{"Name": "x", "AnnualRevenue": ' + literal + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert only_error(response)["errorCode"] == "JSON_PARSER_ERROR"
    assert org.store.records("Account") == []


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-02T03:04:05+99:00",
        "2024-01-02T03:04:05+2400",
        "2024-01-02T03:04:05+01:60",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:00:00-05:00",  # after year 9999 in UTC
    ],
)
async def test_datetimes_out_of_range_are_refused(
    http: httpx.AsyncClient, org: LocalOrg, value: str
) -> None:
    org.define_field("Account", {"name": "When__c", "type": "datetime"})
    response = await http.post(f"{V}/sobjects/Account", json={"Name": "x", "When__c": value})
    assert response.status_code == 400, response.text
    assert only_error(response)["errorCode"] == "JSON_PARSER_ERROR"


@pytest.mark.parametrize(
    "condition",
    [
        "CreatedDate = LAST_N_DAYS:99999999999",
        "CreatedDate = LAST_N_DAYS:" + "9" * 5000,  # past int() digit limit
        "CreatedDate = NEXT_N_DAYS:3000000",
        "CreatedDate = NEXT_N_YEARS:99999999",
        "CreatedDate = N_MONTHS_AGO:99999999999",
        "CreatedDate < LAST_N_FISCAL_QUARTERS:99999999",
        "CreatedDate > 9999-12-31T23:59:59-14:00",
        "CreatedDate > 0001-01-01T00:00:00+14:00",
    ],
)
async def test_dates_beyond_the_calendar_are_malformed_queries(
    http: httpx.AsyncClient, condition: str
) -> None:
    await create(http, "Account", {"Name": "A"})
    query = f"SELECT Id FROM Account WHERE {condition}"
    response = await http.get(f"{V}/query", params={"q": query})
    assert response.status_code == 400, response.text
    error = only_error(response)
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in error["message"]


# -- query cursors -----------------------------------------------------------------------------

PAGES = {"Sforce-Query-Options": "batchSize=200"}


def seed_accounts(org: LocalOrg, count: int) -> None:
    account = org.schema.require("Account")
    for n in range(count):
        org.store.insert(account, {"Name": f"A{n:04d}"})


async def test_the_last_page_can_be_fetched_again(http: httpx.AsyncClient, org: LocalOrg) -> None:
    seed_accounts(org, 450)
    first = (
        await http.get(f"{V}/query", params={"q": "SELECT Name FROM Account"}, headers=PAGES)
    ).json()
    second = (await http.get(first["nextRecordsUrl"])).json()
    last_url = second["nextRecordsUrl"]
    last = await http.get(last_url)
    assert (last.status_code, last.json()["done"], len(last.json()["records"])) == (200, True, 50)
    again = await http.get(last_url)  # a client retrying a lost answer
    assert again.status_code == 200
    assert again.json() == last.json()


async def test_offsets_past_the_end_are_invalid(http: httpx.AsyncClient, org: LocalOrg) -> None:
    seed_accounts(org, 450)
    first = (
        await http.get(f"{V}/query", params={"q": "SELECT Name FROM Account"}, headers=PAGES)
    ).json()
    locator = first["nextRecordsUrl"].rsplit("-", 1)[0]
    for offset in (450, 99_999):
        response = await http.get(f"{locator}-{offset}")
        assert response.status_code == 400
        assert only_error(response)["errorCode"] == "INVALID_QUERY_LOCATOR"
    assert (await http.get(f"{locator}-449")).status_code == 200


async def test_cursors_expire_when_idle(
    http: httpx.AsyncClient, org: LocalOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_accounts(org, 450)
    now = [1000.0]
    monkeypatch.setattr(org.rest, "clock", lambda: now[0])
    query = {"q": "SELECT Name FROM Account"}
    idle = (await http.get(f"{V}/query", params=query, headers=PAGES)).json()["nextRecordsUrl"]
    busy = (await http.get(f"{V}/query", params=query, headers=PAGES)).json()["nextRecordsUrl"]
    now[0] += 14 * 60
    assert (await http.get(busy)).status_code == 200  # used: its idle time starts again
    now[0] += 2 * 60
    expired = await http.get(idle)
    assert (expired.status_code, only_error(expired)["errorCode"]) == (
        400,
        "INVALID_QUERY_LOCATOR",
    )
    assert (await http.get(busy)).status_code == 200
    assert len(org.rest._cursors) == 1


async def test_only_so_many_cursors_are_kept(
    http: httpx.AsyncClient, org: LocalOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_accounts(org, 250)
    monkeypatch.setattr("sobjects.emulator._rest.MAX_CURSORS", 3)
    query = {"q": "SELECT Name FROM Account"}
    urls = [
        (await http.get(f"{V}/query", params=query, headers=PAGES)).json()["nextRecordsUrl"]
        for _ in range(4)
    ]
    assert len(org.rest._cursors) == 3
    oldest = await http.get(urls[0])  # the least recently used one went
    assert only_error(oldest)["errorCode"] == "INVALID_QUERY_LOCATOR"
    for url in urls[1:]:
        assert (await http.get(url)).status_code == 200


# -- upsert ------------------------------------------------------------------------------------


async def test_upsert_update_only(http: httpx.AsyncClient, org: LocalOrg) -> None:
    missing = await http.patch(
        f"{V}/sobjects/Account/Ext_Id__c/U-1", params={"updateOnly": "true"}, json={"Name": "n"}
    )
    assert missing.status_code == 404
    assert only_error(missing)["errorCode"] == "NOT_FOUND"
    assert org.store.records("Account") == []
    account_id = await create(http, "Account", {"Name": "Old", "Ext_Id__c": "U-1"})
    updated = await http.patch(
        f"{V}/sobjects/Account/Ext_Id__c/U-1", params={"updateOnly": "true"}, json={"Name": "New"}
    )
    assert (updated.status_code, updated.json()["id"], updated.json()["created"]) == (
        200,
        account_id,
        False,
    )
    assert org.store.get(account_id)["Name"] == "New"  # type: ignore[index]


async def test_upsert_body_value_compares_like_matching(http: httpx.AsyncClient) -> None:
    """The URL's value matches case-insensitively, so the body's may differ in case too."""
    account_id = await create(http, "Account", {"Name": "Acme", "Ext_Id__c": "ABC-1"})
    response = await http.patch(
        f"{V}/sobjects/Account/Ext_Id__c/abc-1", json={"Ext_Id__c": "Abc-1", "Name": "Acme 2"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == account_id
    other = await http.patch(f"{V}/sobjects/Account/Ext_Id__c/abc-1", json={"Ext_Id__c": "X"})
    assert only_error(other)["errorCode"] == "INVALID_FIELD"


# -- deleting a parent -------------------------------------------------------------------------


async def test_deleting_a_parent_clears_its_childrens_lookups(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    manager = await create(http, "Contact", {"LastName": "Boss"})
    report = await create(http, "Contact", {"LastName": "K", "ReportsToId": manager})
    child_account_parent = await create(http, "Account", {"Name": "Acme"})
    child_account = await create(http, "Account", {"Name": "Sub", "ParentId": child_account_parent})
    assert (await http.delete(f"{V}/sobjects/Contact/{manager}")).status_code == 204
    contact = (await http.get(f"{V}/sobjects/Contact/{report}")).json()
    assert contact["ReportsToId"] is None
    query = await http.get(f"{V}/query", params={"q": "SELECT ReportsTo.Name FROM Contact"})
    assert query.json()["records"][0]["ReportsTo"] is None
    # The contact stays writable (no dangling reference to refuse).
    assert (
        await http.patch(f"{V}/sobjects/Contact/{report}", json={"LastName": "K2"})
    ).status_code == 204
    assert (await http.delete(f"{V}/sobjects/Account/{child_account_parent}")).status_code == 204
    assert (await http.get(f"{V}/sobjects/Account/{child_account}")).json()["ParentId"] is None


async def test_deleting_an_account_deletes_its_contacts(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    account_id = await create(http, "Account", {"Name": "Acme"})
    contact_id = await create(http, "Contact", {"LastName": "K", "AccountId": account_id})
    assert (await http.delete(f"{V}/sobjects/Account/{account_id}")).status_code == 204
    gone = await http.get(f"{V}/sobjects/Contact/{contact_id}")
    assert only_error(gone)["errorCode"] == "ENTITY_IS_DELETED"


async def test_deleting_a_parent_cascades_where_the_lookup_says_so(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    org.define({"name": "Invoice__c", "fields": [{"name": "Name", "type": "string"}]})
    org.define(
        {
            "name": "Line__c",
            "fields": [
                {"name": "Name", "type": "string"},
                {
                    "name": "Invoice__c",
                    "type": "reference",
                    "referenceTo": ["Invoice__c"],
                    "relationshipName": "Invoice__r",
                    "cascadeDelete": True,
                    "nillable": False,
                },
            ],
        }
    )
    org.define(
        {
            "name": "Note__c",
            "fields": [
                {"name": "Name", "type": "string"},
                {
                    "name": "Line__c",
                    "type": "reference",
                    "referenceTo": ["Line__c"],
                    "relationshipName": "Line__r",
                },
            ],
        }
    )
    invoice = await create(http, "Invoice__c", {"Name": "I-1"})
    other = await create(http, "Invoice__c", {"Name": "I-2"})
    lines = [
        await create(http, "Line__c", {"Name": f"L{n}", "Invoice__c": invoice}) for n in (1, 2)
    ]
    kept = await create(http, "Line__c", {"Name": "L3", "Invoice__c": other})
    note = await create(http, "Note__c", {"Name": "N", "Line__c": lines[0]})
    usage = org.api_usage
    assert (await http.delete(f"{V}/sobjects/Invoice__c/{invoice}")).status_code == 204
    assert org.api_usage == usage + 1
    for line in lines:
        gone = await http.get(f"{V}/sobjects/Line__c/{line}")
        assert only_error(gone)["errorCode"] == "ENTITY_IS_DELETED"
    assert (await http.get(f"{V}/sobjects/Line__c/{kept}")).status_code == 200
    # The grandchild's nillable lookup to a cascaded line is cleared.
    assert (await http.get(f"{V}/sobjects/Note__c/{note}")).json()["Line__c"] is None


async def test_a_rolled_back_delete_restores_the_children(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    account_id = await create(http, "Account", {"Name": "Acme"})
    contact_id = await create(http, "Contact", {"LastName": "K", "AccountId": account_id})
    response = await http.post(
        f"{V}/composite",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "DELETE",
                    "url": f"{V}/sobjects/Account/{account_id}",
                    "referenceId": "d",
                },
                {
                    "method": "POST",
                    "url": f"{V}/sobjects/Contact",
                    "referenceId": "bad",
                    "body": {},
                },
            ],
        },
    )
    assert [i["httpStatusCode"] for i in response.json()["compositeResponse"]] == [400, 400]
    assert org.store.get(contact_id)["AccountId"] == account_id  # type: ignore[index]
    assert not org.store.get(account_id)["IsDeleted"]  # type: ignore[index]


async def test_compound_address_in_get_and_query(http: httpx.AsyncClient) -> None:
    account_id = await create(
        http, "Account", {"Name": "A", "BillingCity": "Paris", "BillingPostalCode": "75001"}
    )
    record = (await http.get(f"{V}/sobjects/Account/{account_id}")).json()
    assert record["BillingAddress"]["city"] == "Paris"
    assert record["ShippingAddress"] is None
    rows = (
        await http.get(f"{V}/query", params={"q": "SELECT BillingAddress FROM Account"})
    ).json()["records"]
    assert rows[0]["BillingAddress"]["postalCode"] == "75001"
    refused = await http.patch(
        f"{V}/sobjects/Account/{account_id}", json={"BillingAddress": {"city": "Rome"}}
    )
    assert only_error(refused)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
